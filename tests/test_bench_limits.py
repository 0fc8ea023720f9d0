"""The limit reports' pure parts, on literal scores, events and decisions."""

from __future__ import annotations

from pathlib import Path

import pytest
from livekit.plugins.turntaking.arbiter.model import ArbiterParams
from livekit.plugins.turntaking.arbiter.onset import OnsetScore

from bench.limits import (
    band_aucs,
    early_score_by,
    main,
    overlap_point,
    stop_tradeoff,
    words_heard,
)
from bench.metrics import auc
from bench.ours_overlap import OverlapTrace
from bench.types import OverlapDecision, TranscriptEvent


def test_auc_orders_ties_and_empty_sides() -> None:
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.1], [0.9]) == 0.0
    assert auc([0.5], [0.5]) == 0.5
    # 0.6 beats 0.2 and ties 0.6: (1 + 0.5) / 2
    assert auc([0.6], [0.2, 0.6]) == pytest.approx(0.75)
    assert auc([], [0.1]) is None
    assert auc([0.1], []) is None


def test_stop_tradeoff_reads_the_shares_off_the_scores() -> None:
    # 20 backchannels scoring 0.00 .. 0.95; 10 interruptions scoring 0.5 .. 0.95
    bcs = [k / 20 for k in range(20)]
    ints = [0.5 + k / 20 for k in range(10)]
    t = stop_tradeoff(ints, bcs, needed_share=0.9, backchannel_shares=(0.05, 0.1, 0.2))
    # 5 % of 20 backchannels: one may stop (0.95), so stop above 0.90: only 0.95 does
    assert t.interruptions_stopped[0.05] == pytest.approx(0.1)
    # 10 %: two may stop (0.95, 0.90): stop above 0.85
    assert t.interruptions_stopped[0.1] == pytest.approx(0.2)
    # 20 %: four may stop: stop above 0.75 -> 0.80 .. 0.95
    assert t.interruptions_stopped[0.2] == pytest.approx(0.4)
    # 90 % of the interruptions (9 of 10) stop at >= 0.55, and so do 9 of 20 backchannels
    assert t.needed_share == 0.9
    assert t.backchannels_stopped_for_needed == pytest.approx(9 / 20)
    assert t.auc is not None and 0.5 < t.auc < 1.0


def test_stop_tradeoff_separable_scores() -> None:
    t = stop_tradeoff([0.9, 0.95, 0.99], [0.1, 0.2, 0.3, 0.4], needed_share=1.0)
    assert t.auc == 1.0
    assert t.backchannels_stopped_for_needed == 0.0
    assert all(v == 1.0 for v in t.interruptions_stopped.values())


@pytest.mark.parametrize(
    ("ints", "bcs", "share"),
    [([], [0.1], 0.9), ([0.1], [], 0.9), ([0.1], [0.1], 0.0), ([0.1], [0.1], 1.5)],
)
def test_stop_tradeoff_rejects_empty_sides_and_bad_shares(
    ints: list[float], bcs: list[float], share: float
) -> None:
    with pytest.raises(ValueError):
        stop_tradeoff(ints, bcs, needed_share=share)


def _score(horizon_s: float, p: float) -> OnsetScore:
    return OnsetScore(horizon_s=horizon_s, probability=p, voiced_s=horizon_s)


def test_early_score_is_the_mean_of_the_horizons_scored_by_then() -> None:
    events: list[tuple[float, str, object]] = [
        (1.00, "start", 0.98),
        (1.10, "early", _score(0.12, 0.9)),
        (1.14, "early", _score(0.16, 0.5)),
        (1.18, "early", _score(0.2, 0.7)),
        (1.50, "text", ("Wait.", False)),
    ]
    assert early_score_by(events, 1.05) == 0.0
    assert early_score_by(events, 1.10) == pytest.approx(0.9)
    assert early_score_by(events, 1.16) == pytest.approx(0.7)
    assert early_score_by(events, 1.28) == pytest.approx(0.7)


def _ev(at_s: float, text: str, *, final: bool = False, heard_s: float) -> TranscriptEvent:
    return TranscriptEvent(at_s=at_s, text=text, is_final=final, audio_end_s=heard_s)


def test_words_heard_needs_a_hypothesis_that_heard_the_silence_start() -> None:
    events = [
        _ev(0.9, "so we", heard_s=0.8),
        _ev(1.6, "So we should.", final=True, heard_s=1.4),
        _ev(2.3, "and then", heard_s=2.1),
    ]
    # the silence starts at 1.45 s: the 0.9 s hypothesis heard only up to 0.8 s
    assert words_heard(events, at_s=1.2, silence_start_s=1.45) == ""
    # the final heard up to 1.4 s, within the 0.1 s tolerance
    assert words_heard(events, at_s=1.7, silence_start_s=1.45) == "So we should."
    assert words_heard(events, at_s=2.5, silence_start_s=2.15) == "So we should. and then"
    assert words_heard(events, at_s=2.5, silence_start_s=2.5) == ""


def test_band_aucs_split_the_pauses_by_length() -> None:
    ends = [0.6, 0.7]
    pauses = [(0.3, 0.1), (0.8, 0.2), (1.2, 0.65), (2.0, 0.9)]
    rows = band_aucs(ends, pauses, bands_s=((0.0, 1.0), (1.0, 99.0)))
    assert [r["pause_s"] for r in rows] == [[0.0, 99.0], [0.0, 1.0], [1.0, 99.0]]
    assert [r["pauses"] for r in rows] == [4, 2, 2]
    assert rows[1]["auc"] == 1.0  # short pauses score below every end
    assert rows[2]["auc"] == pytest.approx(0.25)  # 0.7 beats 0.65 only
    assert rows[0]["auc"] == pytest.approx(0.625)
    assert band_aucs(ends, [], bands_s=())[0]["auc"] is None


class _Fake:
    """Replays each trace to a fixed decision (keyed by the trace's agent text)."""

    def __init__(self, decisions: dict[str, OverlapDecision]) -> None:
        self.decisions = decisions

    def replay(self, tr: OverlapTrace, params: ArbiterParams) -> OverlapDecision:
        return self.decisions[tr.agent_text]


def _trace(key: str) -> OverlapTrace:
    return OverlapTrace(events=(), onset_s=0.0, agent_text=key, duration_s=2.0)


def test_overlap_point_counts_stood_and_resumed_stops_and_latency() -> None:
    fake = _Fake(
        {
            "b-stood": OverlapDecision("interruption", 0.7, stopped_at_s=0.2),
            "b-resumed": OverlapDecision("backchannel", 1.1, stopped_at_s=0.25),
            "b-kept": OverlapDecision("backchannel", 0.9),
            "i-early": OverlapDecision("interruption", 0.6, stopped_at_s=0.18),
            "i-words": OverlapDecision("interruption", 0.66),  # stopped at its decision
            "i-missed": OverlapDecision("backchannel", 0.9),
        }
    )
    traces = [
        ("backchannel", _trace("b-stood")),
        ("backchannel", _trace("b-resumed")),
        ("backchannel", _trace("b-kept")),
        ("interruption", _trace("i-early")),
        ("interruption", _trace("i-words")),
        ("interruption", _trace("i-missed")),
    ]
    row = overlap_point(fake, traces, ArbiterParams(), 0.3)
    assert row["backchannels_stood"] == 1
    assert row["backchannels_resumed"] == 1
    assert row["interruptions_caught"] == 2
    assert row["interruptions"] == 3
    assert row["p50_stop_s"] == pytest.approx(0.42)
    assert row["share_stopped_by_budget"] == pytest.approx(0.5)


def test_main_refuses_test_manifests_and_bad_budgets(tmp_path: Path) -> None:
    assert main(["overlap", "--manifest", str(tmp_path / "test-clean.jsonl")]) == 2
    val = tmp_path / "val-clean.jsonl"
    assert main(["overlap", "--manifest", str(val), "--budget-s", "0"]) == 2
    assert main(["endpoint", "--manifest", str(val), "--text-at-s", "-1"]) == 2


def test_main_says_what_is_wrong_with_a_missing_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["endpoint", "--manifest", str(tmp_path / "val-none.jsonl")]) == 2
    assert "val-none.jsonl" in capsys.readouterr().err
