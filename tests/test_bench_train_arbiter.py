"""How the arbiter's operating point is kept: the grid rule on literal rows, and stage 4 (the
resume threshold) on literal replays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pytest

from bench.train_arbiter import (
    FALSE_STOP_TARGET,
    RECALL_TOLERANCE_ITEMS,
    best_point,
    choose_resume_threshold,
    main,
)
from bench.types import OverlapDecision
from plugins.arbiter.model import ArbiterParams


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
