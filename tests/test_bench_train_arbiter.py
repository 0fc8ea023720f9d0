"""How the arbiter's operating point is kept: the grid rule on literal rows, and stages 4 to
6 (the resume threshold, the pause's wait for its final, how sure an interim must be to
confirm a pause) on literal replays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pytest
from livekit.plugins.turntaking.arbiter.model import ArbiterParams

from bench.evaluation.types import OverlapDecision
from bench.training.arbiter import (
    FALSE_STOP_TARGET,
    INTERIM_CONFIRM_THRESHOLDS,
    PAUSE_WAITS,
    RECALL_TOLERANCE_ITEMS,
    SEARCH_START,
    best_point,
    choose_interim_confirm,
    choose_pause_wait,
    choose_resume_threshold,
    choose_sustained_speech,
    main,
)


@dataclass(frozen=True)
class _Paused:
    """A paused overlap whose settled words have P(interruption) `p_words`."""

    p_words: float


class _Probe:
    """Replays a `_Paused` trace: the words resume the agent under the threshold."""

    def replay(self, tr: _Paused, params: ArbiterParams) -> OverlapDecision:
        if tr.p_words < params.resume_threshold:
            return OverlapDecision("backchannel", 1.0, tr.p_words, stopped_at_s=0.2)
        return OverlapDecision("interruption", 1.0, tr.p_words, stopped_at_s=0.2)


def _choose(traces: list[tuple[str, _Paused]]) -> dict[str, object]:
    return choose_resume_threshold(
        cast(Any, _Probe()), cast(Any, traces), ArbiterParams(confirm_audio_stops=True)
    )


def test_the_threshold_saves_backchannels_but_never_resumes_over_an_interruption() -> None:
    # 200 interruptions with confident words and one "So..." (0.24); backchannels whose
    # words are unlikely interruptions (0.07, 0.49)
    traces = [("interruption", _Paused(0.9))] * 200 + [("interruption", _Paused(0.24))]
    traces += [("backchannel", _Paused(0.07)), ("backchannel", _Paused(0.49))]
    sel = _choose(traces)
    # 0.5 would resume both backchannels but drop "So...", which is within the recall
    # tolerance of the other stages; here no interruption may be lost: 0.1 saves one
    assert RECALL_TOLERANCE_ITEMS >= 1
    assert sel["chosen"] == 0.1
    rows = cast(list[dict[str, float]], sel["rows"])
    assert [r["interruptions_lost"] for r in rows][:4] == [0, 0, 0, 1]
    assert rows[0]["stood_items"] == 2 and rows[1]["stood_items"] == 1


def test_without_a_saving_the_word_list_alone_is_kept() -> None:
    only_doubt = [("interruption", _Paused(0.05))] * 50 + [("backchannel", _Paused(0.05))]
    assert _choose(only_doubt)["chosen"] == 0.0
    confident = [("interruption", _Paused(0.9))] * 50 + [("backchannel", _Paused(0.8))]
    assert _choose(confident)["chosen"] == 0.0


@dataclass(frozen=True)
class _LateFinal:
    """A paused overlap whose final came `final_after_s` after the speech (None: never);
    `words_resume`: its words are acknowledgements (they would resume the agent)."""

    final_after_s: float | None
    words_resume: bool


class _WaitProbe:
    """Replays a `_LateFinal`: inside the wait the words decide; after it the stop stands."""

    def replay(self, tr: _LateFinal, params: ArbiterParams) -> OverlapDecision:
        in_time = tr.final_after_s is not None and tr.final_after_s <= params.pause_wait_s
        label = "backchannel" if in_time and tr.words_resume else "interruption"
        return OverlapDecision(label, 1.0, None, stopped_at_s=0.2)


def _choose_wait(traces: list[tuple[str, _LateFinal]]) -> dict[str, object]:
    return choose_pause_wait(cast(Any, _WaitProbe()), cast(Any, traces), SEARCH_START)


def test_the_shortest_wait_that_lets_late_acknowledgements_resume_is_kept() -> None:
    # "Okay." 0.84 s and 1.1 s after the speech; interruptions whose words have content
    traces = [("backchannel", _LateFinal(0.84, True)), ("backchannel", _LateFinal(1.1, True))]
    traces += [("interruption", _LateFinal(0.5, False))] * 50
    sel = _choose_wait(traces)
    assert sel["chosen"] == 1.2 and PAUSE_WAITS[0] == 0.8
    rows = cast(list[dict[str, float]], sel["rows"])
    assert [r["stood_items"] for r in rows] == [2, 1, 0, 0, 0]


def test_a_wait_that_resumes_over_an_interruption_is_never_kept() -> None:
    # a late final of acknowledgement words on an interruption: a longer wait would resume
    # the agent over it (the user's words dropped), so the first wait stays
    traces = [("backchannel", _LateFinal(1.4, True)), ("interruption", _LateFinal(0.9, True))]
    traces += [("interruption", _LateFinal(0.3, False))] * 50
    sel = _choose_wait(traces)
    assert sel["chosen"] == 0.8
    rows = cast(list[dict[str, float]], sel["rows"])
    assert rows[1]["interruptions_lost"] == 1 and rows[3]["stood_items"] == 0


@dataclass(frozen=True)
class _Interim:
    """A paused overlap whose first interim with content has P(interruption) `p_interim`;
    `final_resumes`: its final is acknowledgement words only."""

    p_interim: float
    final_resumes: bool


class _InterimProbe:
    """Replays an `_Interim`: a sure enough interim confirms the pause, else the final
    settles it."""

    def replay(self, tr: _Interim, params: ArbiterParams) -> OverlapDecision:
        confirmed = tr.p_interim >= params.interim_confirm_threshold or not tr.final_resumes
        label = "interruption" if confirmed else "backchannel"
        return OverlapDecision(label, 1.0, tr.p_interim, stopped_at_s=0.2)


def _choose_interim(traces: list[tuple[str, _Interim]]) -> dict[str, object]:
    return choose_interim_confirm(cast(Any, _InterimProbe()), cast(Any, traces), SEARCH_START)


def test_the_lowest_interim_threshold_that_lets_the_finals_resume_is_kept() -> None:
    # "Like, right." (0.5) and an interim at 0.85 of backchannels whose finals are
    # acknowledgements; interruptions with sure interims and words with content
    traces = [("backchannel", _Interim(0.5, True)), ("backchannel", _Interim(0.85, True))]
    traces += [("interruption", _Interim(0.99, False))] * 50
    sel = _choose_interim(traces)
    assert INTERIM_CONFIRM_THRESHOLDS[0] == 0.0
    assert sel["chosen"] == 0.9
    rows = cast(list[dict[str, float]], sel["rows"])
    assert [r["stood_items"] for r in rows] == [2, 2, 1, 0, 0]


def test_an_interim_threshold_that_drops_an_interruption_is_never_kept() -> None:
    # "Yeah but" (0.6) whose final came as "Yeah.": waiting for the final would resume the
    # agent over it and drop the user's words
    traces = [("backchannel", _Interim(0.85, True)), ("interruption", _Interim(0.6, True))]
    traces += [("interruption", _Interim(0.99, False))] * 50
    sel = _choose_interim(traces)
    assert sel["chosen"] == 0.0
    rows = cast(list[dict[str, float]], sel["rows"])
    assert [r["interruptions_lost"] for r in rows] == [0, 0, 1, 1, 1]
    assert rows[3]["stood_items"] == 0


@dataclass(frozen=True)
class _Running:
    """Speech that runs `span_s` with no early or word verdict before `words_at_s` (s after
    the onset; None: never), and sounds like a backchannel's words at the end when
    `acknowledgement` (a pause the words then resume)."""

    span_s: float
    words_at_s: float | None
    acknowledgement: bool = False


class _SpanProbe:
    """Replays a `_Running` trace: the sustained-speech rule stops it once it has run
    `sustained_speech_s`, unless its words came first."""

    def replay(self, tr: _Running, params: ArbiterParams) -> OverlapDecision:
        by_span = params.sustained_speech_s if tr.span_s >= params.sustained_speech_s else None
        stops = [t for t in (by_span, tr.words_at_s) if t is not None]
        if not stops:
            return OverlapDecision("backchannel", 1.5)
        label = "backchannel" if tr.acknowledgement else "interruption"
        return OverlapDecision(label, 1.5, stopped_at_s=min(stops))


def _choose_span(
    traces: list[tuple[str, _Running]], current_s: float
) -> tuple[dict[str, object], dict[float, dict[str, object]]]:
    """Stage 7's selection and its report rows by span."""
    sel = choose_sustained_speech(
        cast(Any, _SpanProbe()),
        cast(Any, traces),
        ArbiterParams(sustained_speech_s=current_s),
        values=(0.8, 0.9, 1.0, 1.2),
    )
    rows = cast(list[dict[str, object]], sel["rows"])
    return sel, {cast(float, r["sustained_speech_s"]): r for r in rows}


def test_the_span_with_the_lowest_p95_that_loses_nothing_is_kept() -> None:
    # 20 interruptions stopped early by their words, 2 that run on 1.5 s with late words;
    # a backchannel "yeah that's true" of 0.85 s whose words resume a pause
    traces = [("interruption", _Running(0.6, 0.2))] * 20
    traces += [("interruption", _Running(1.5, 1.4))] * 2
    traces += [("backchannel", _Running(0.85, None, acknowledgement=True))]
    sel, rows = _choose_span(traces, 1.0)
    # 0.8 would pause the agent for the backchannel: one stop more than 1.0 makes
    assert rows[0.8]["backchannel_stops"] == 1
    assert rows[1.0]["backchannel_stops"] == 0
    assert sel["chosen"] == 0.9
    assert cast(float, rows[0.9]["p95_latency_s"]) < cast(float, rows[1.0]["p95_latency_s"])


def test_a_span_that_misses_an_interruption_or_slows_the_median_is_never_kept() -> None:
    # a 1.1 s interruption without words: 1.2 would miss it
    traces = [("interruption", _Running(1.1, None))] + [("interruption", _Running(0.5, 0.3))] * 9
    sel, rows = _choose_span(traces, 1.2)
    assert rows[1.2]["caught"] == 9
    assert rows[1.0]["interruptions_lost"] == 0
    assert sel["chosen"] == 0.8
    # from 0.8, every longer span misses nothing but waits longer: 0.8 stays
    assert _choose_span(traces, 0.8)[0]["chosen"] == 0.8


def _row(
    name: str, false_stop: float, recall: float, p50: float | None, p95: float | None
) -> dict[str, object]:
    return {
        "name": name,
        "false_stop": false_stop,
        "recall": recall,
        "p50_latency_s": p50,
        "p95_latency_s": p95,
    }


def test_the_fastest_point_within_the_recall_tolerance_is_kept() -> None:
    n = 700
    step = 1 / n
    top = 0.97
    rows = [
        # the best recall, but slower
        _row("best-recall", 0.03, top, 0.208, 0.98),
        # exactly the tolerance below it, faster: kept
        _row("tolerated", 0.035, top - RECALL_TOLERANCE_ITEMS * step, 0.192, 1.0),
        # one more interruption lost, faster still: outside the tolerance
        _row("too-lossy", 0.02, top - (RECALL_TOLERANCE_ITEMS + 1) * step, 0.15, 0.5),
        # fastest of all, but over the false-stop target
        _row("too-many-stops", FALSE_STOP_TARGET + 0.001, 0.99, 0.1, 0.3),
    ]
    best, met = best_point(rows, n_interruptions=n)
    assert met and best["name"] == "tolerated"
    # equal medians: the lower 95th percentile, then the higher recall
    tie = [_row("a", 0.03, top, 0.19, 1.0), _row("b", 0.03, top, 0.19, 0.8)]
    assert best_point(tie, n_interruptions=n)[0]["name"] == "b"
    tie = [_row("a", 0.03, top - step, 0.19, 0.8), _row("b", 0.03, top, 0.19, 0.8)]
    assert best_point(tie, n_interruptions=n)[0]["name"] == "b"
    # a point that stopped no interruption has no latency: it is never the fastest
    none = [_row("silent", 0.0, top, None, None), _row("a", 0.03, top, 0.5, 1.0)]
    assert best_point(none, n_interruptions=n)[0]["name"] == "a"


def test_without_a_point_under_the_target_the_fewest_stops_is_kept_and_flagged() -> None:
    rows = [_row("a", 0.08, 0.99, 0.1, 0.2), _row("b", 0.06, 0.9, 0.3, 0.9)]
    best, met = best_point(rows, n_interruptions=700)
    assert not met and best["name"] == "b"
    with pytest.raises(ValueError, match="no operating points"):
        best_point([], n_interruptions=700)


def test_full_run_needs_the_corpus_folder(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--val-manifest", "val-clean.jsonl"])
    assert exc.value.code == 2
    assert "--data is required" in capsys.readouterr().err


def test_resume_only_does_not_ask_for_the_corpus_folder(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # gets past argument parsing without --data: the next check (no test split) answers
    assert main(["--resume-only", "--val-manifest", "test-clean.jsonl"]) == 2
    assert "refusing test-clean.jsonl" in capsys.readouterr().err
