"""Benchmark arithmetic and the baselines' pure decision rules, on hand-computed examples."""

from __future__ import annotations

import math

import pytest

from bench.datasets.manifest import EndpointItem, OverlapLabel
from bench.evaluation.baselines.endpoint import (
    commit_times,
    delays_from_probabilities,
    eot_query_times,
    judge,
    silence_firings,
)
from bench.evaluation.baselines.livekit_overlap import first_firing
from bench.evaluation.metrics import (
    CurvePoint,
    best_cutoff_at_latency,
    best_latency_at_cutoff,
    endpoint_metrics,
    endpoint_point,
    overlap_metrics,
    quantile,
    wilson_interval,
)
from bench.evaluation.runners import SystemRun, finish_overlap_metrics
from bench.evaluation.types import EndpointOutcome, OverlapResultItem, TranscriptEvent


def test_wilson_interval_hand_values() -> None:
    # 0/10: upper bound z^2/n / (1 + z^2/n) = 0.38415/1.38415
    lo, hi = wilson_interval(0, 10) or (None, None)
    assert lo == 0.0
    assert hi == pytest.approx(0.38415 / 1.38415, abs=1e-4)
    # 5/10 is symmetric around 0.5
    lo, hi = wilson_interval(5, 10) or (0.0, 0.0)
    assert lo + hi == pytest.approx(1.0)
    assert hi == pytest.approx(0.7634, abs=1e-3)
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(3, 2)


def test_quantile_linear() -> None:
    assert quantile([3.0, 1.0, 2.0, 4.0], 0.5) == pytest.approx(2.5)
    assert quantile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95) == pytest.approx(4.8)
    assert quantile([], 0.5) is None


def _item(i: str, decision: str, at: float, **kw: object) -> OverlapResultItem:
    return OverlapResultItem(id=i, decision=decision, decided_at_s=at, **kw)  # type: ignore[arg-type]


def test_overlap_metrics_hand_computed() -> None:
    labels = {"b1": "backchannel", "b2": "backchannel", "b3": "backchannel",
              "i1": "interruption", "i2": "interruption"}  # fmt: skip
    items = [
        _item("b1", "backchannel", 0.8),
        _item("b2", "interruption", 0.4),
        _item("b3", "backchannel", 1.0),
        _item("i1", "interruption", 0.3),
        _item("i2", "backchannel", 2.0),
    ]
    m = overlap_metrics(items, labels)  # type: ignore[arg-type]
    assert m["false_stop_rate"]["value"] == pytest.approx(1 / 3)  # type: ignore[index]
    assert m["interruption_recall"]["value"] == pytest.approx(0.5)  # type: ignore[index]
    assert m["precision"] == pytest.approx(0.5)  # 1 TP, 1 FP
    assert m["f1"] == pytest.approx(0.5)
    # decided_at sorted: 0.3 0.4 0.8 1.0 2.0 -> median 0.8
    assert m["decision_latency_p50_s"] == pytest.approx(0.8)
    assert m["stop_latency_p50_s"] == pytest.approx(0.3)  # only i1 was stopped


def test_overlap_metrics_session_mode_uses_agent_stopped() -> None:
    labels = {"b1": "backchannel", "i1": "interruption"}
    items = [
        _item("b1", "interruption", 0.5, agent_stopped=False, user_turn_committed=True,
              llm_called=True),
        _item("i1", "interruption", 0.5, agent_stopped=True, stop_latency_s=0.62),
    ]  # fmt: skip
    m = overlap_metrics(items, labels, session=True)  # type: ignore[arg-type]
    assert m["false_stop_rate"]["value"] == 0.0  # type: ignore[index]
    assert m["interruption_recall"]["value"] == 1.0  # type: ignore[index]
    assert m["stop_latency_p50_s"] == pytest.approx(0.62)
    assert m["backchannels_committed_as_turns"]["count"] == 1  # type: ignore[index]
    assert m["llm_calls_from_backchannels"] == 1


def test_overlap_metrics_pauses_stop_latency_and_resumed_backchannels() -> None:
    labels = {"b1": "backchannel", "b2": "backchannel", "i1": "interruption"}
    items = [
        # paused at 0.2 s, the words resumed it at 1.0 s: not a false stop, but counted
        _item("b1", "backchannel", 1.0, extra={"stopped_at_s": 0.2, "resumed": True}),
        _item("b2", "backchannel", 0.9),
        # paused at 0.21 s, confirmed by words at 0.7 s: it stopped at 0.21 s
        _item("i1", "interruption", 0.7, stop_latency_s=0.21),
    ]
    m = overlap_metrics(items, labels)  # type: ignore[arg-type]
    assert m["false_stop_rate"]["value"] == 0.0  # type: ignore[index]
    assert m["backchannels_paused_and_resumed"]["count"] == 1  # type: ignore[index]
    assert m["backchannels_paused_and_resumed"]["value"] == pytest.approx(0.5)  # type: ignore[index]
    assert m["stop_latency_p50_s"] == pytest.approx(0.21)
    assert m["decision_latency_p50_s"] == pytest.approx(0.9)


def test_overlap_metrics_rejects_unlabelled_items() -> None:
    with pytest.raises(ValueError, match="reference label"):
        overlap_metrics([_item("x", "backchannel", 0.1)], {})


def test_endpoint_point_charges_never_fired_remaining_length() -> None:
    outs = [
        EndpointOutcome(pause_fired=(True, False), fired_at_s=5.5),
        EndpointOutcome(pause_fired=(False,), fired_at_s=None),
    ]
    p = endpoint_point(outs, speech_end_s=[5.0, 3.0], duration_s=[8.0, 4.5], threshold=0.5)
    assert p.cutoff_rate == pytest.approx(1 / 3)
    # latencies 0.5 and (4.5 - 3.0) = 1.5
    assert p.mean_latency_s == pytest.approx(1.0)
    assert p.never_fired == 1


def test_operating_point_summaries() -> None:
    curve = [
        CurvePoint(0.2, 0.20, 0.25, 0),
        CurvePoint(0.4, 0.08, 0.45, 0),
        CurvePoint(0.6, 0.04, 0.70, 0),
        CurvePoint(0.8, 0.01, 1.10, 0),
    ]
    assert best_cutoff_at_latency(curve, 0.3) == curve[0]
    assert best_cutoff_at_latency(curve, 0.6) == curve[1]
    assert best_cutoff_at_latency(curve, 0.1) is None
    assert best_latency_at_cutoff(curve, 0.05) == curve[2]
    assert best_latency_at_cutoff(curve, 0.10) == curve[1]


def test_endpoint_metrics_default_point() -> None:
    per_thr = [
        [EndpointOutcome((True,), 2.2)],
        [EndpointOutcome((False,), 3.0)],
    ]
    m = endpoint_metrics(per_thr, [0.3, 0.9], 0.9, speech_end_s=[2.0], duration_s=[4.0])
    assert m["false_cutoff_rate"]["value"] == 0.0  # type: ignore[index]
    assert m["mean_latency_s"] == pytest.approx(1.0)
    assert m["best_cutoff_at_latency_300ms"]["threshold"] == 0.3  # type: ignore[index]
    with pytest.raises(ValueError, match="default threshold"):
        endpoint_metrics(per_thr, [0.3, 0.9], 0.5, speech_end_s=[2.0], duration_s=[4.0])


def test_judge_pauses_and_first_firing_after_end() -> None:
    item = EndpointItem(id="x", audio=__import__("pathlib").Path("x.wav"), speech_end_s=6.0,
                        pauses=((1.0, 2.0), (3.0, 3.5)))  # fmt: skip
    # 2.05 is within the resume tolerance of pause 0; 4.0 is in speech; 6.4 after the end
    out = judge(item, [6.4, 2.05, 4.0, 7.0])
    assert out.pause_fired == (True, False)
    assert out.fired_at_s == 6.4
    assert judge(item, [2.5]).pause_fired == (False, False)
    assert judge(item, []).fired_at_s is None


def test_silence_firings_once_per_silence_run_after_speech() -> None:
    # (t, silence, speaking): silence before any speech must not fire
    frames = [(0.1, 0.5, False), (0.2, 0.0, True), (0.3, 0.1, True), (0.4, 0.2, True),
              (0.5, 0.3, True), (0.6, 0.0, True), (0.7, 0.1, True), (0.8, 0.2, True)]  # fmt: skip
    assert silence_firings(frames, 0.2) == [0.4, 0.8]
    assert silence_firings(frames, 0.3) == [0.5]


def test_commit_times_framework_rule() -> None:
    # (start_event, end, eos_event): commit at max(eos, end + delay) unless the next start
    # event comes first
    segs = [(0.5, 1.0, 1.55), (1.8, 3.0, 3.55), (4.0, 5.0, 5.55)]
    assert commit_times(segs, [0.5, 0.5, 0.5]) == [1.55, 3.55, 5.55]
    # 2.0 > next start 1.8 and 4.2 > 4.0: cancelled; the last commits at its EOS 5.55
    assert commit_times(segs, [1.0, 1.2, 0.2]) == [5.55]
    assert commit_times([(0.5, None, None)], [0.5]) == []


def test_eot_queries_and_delays() -> None:
    frames = [(1.0, 0.0, True), (1.1, 0.1, True), (1.2, 0.2, True), (1.3, 0.3, True),
              (1.4, 0.0, True), (1.6, 0.2, True), (2.0, 0.6, False)]  # fmt: skip
    assert eot_query_times(frames) == [1.2, 1.6]
    segs = [(0.5, 1.4, 1.95), (2.5, None, None)]
    d = delays_from_probabilities(
        segs, [(1.2, 0.9), (1.6, 0.1)], threshold=0.36, min_delay_s=0.3, max_delay_s=2.5
    )
    assert d == [2.5, 0.3]  # last prediction before EOS is 0.1 < 0.36; no EOS -> min


def _ev(at: float, text: str, final: bool) -> TranscriptEvent:
    return TranscriptEvent(at_s=at, text=text, is_final=final, audio_end_s=at - 0.2)


def _words(text: str) -> int:
    return len(text.split())


def test_livekit_rule_vad_duration_fires() -> None:
    frames = [(0.1, 0.0), (0.2, 0.1), (0.6, 0.5), (0.7, 0.6)]
    assert first_firing(frames=frames, transcript=[], min_words=0, min_duration_s=0.5,
                        word_count=_words) == 0.6  # fmt: skip


def test_livekit_rule_final_transcript_fires_without_duration() -> None:
    frames = [(0.1, 0.1), (0.2, 0.2), (0.9, 0.0)]
    tr = [_ev(0.5, "uh huh", True)]
    assert first_firing(frames=frames, transcript=tr, min_words=0, min_duration_s=0.5,
                        word_count=_words) == 0.5  # fmt: skip


def test_livekit_rule_min_words_counts_text_before_the_final() -> None:
    frames = [(0.6, 0.6), (1.0, 1.0), (1.4, 1.4)]
    # the final's own words are appended after the check (audio_recognition.py ~1281-1299):
    # at 0.5 the current transcript is the interim "yeah" (1 word) -> no firing; at 1.2 the
    # interim "right okay" makes "yeah right okay" (3 words) -> fires at the next VAD frame
    tr = [_ev(0.4, "yeah", False), _ev(0.5, "yeah", True), _ev(1.2, "right okay", False)]
    assert first_firing(frames=frames, transcript=tr, min_words=2, min_duration_s=0.5,
                        word_count=_words) == 1.4  # fmt: skip
    assert first_firing(frames=frames, transcript=tr[:2], min_words=2, min_duration_s=0.5,
                        word_count=_words) is None  # fmt: skip


def test_livekit_rule_after_audio_events_still_count() -> None:
    tr = [_ev(3.0, "no wait", True)]
    got = first_firing(frames=[(0.1, 0.0)], transcript=tr, min_words=0, min_duration_s=0.5,
                       word_count=_words)  # fmt: skip
    assert got is not None and math.isclose(got, 3.0)


def test_spread_subset_keeps_order_and_mix() -> None:
    from bench.datasets.manifest import spread_subset

    items = ["b"] * 6 + ["i"] * 6
    sub = spread_subset(items, 4)
    assert sub == ["b", "b", "i", "i"]  # indices 0, 3, 6, 9
    assert spread_subset(items, None) == items
    assert spread_subset(items, 50) == items
    with pytest.raises(ValueError, match="limit"):
        spread_subset(items, 0)


def test_noise_conditions_are_also_reported_per_snr() -> None:
    run = SystemRun(name="s", system="s")
    labels: dict[str, OverlapLabel] = {}
    snr: dict[str, float] = {}
    rows: list[tuple[OverlapLabel, OverlapLabel, float]] = [
        ("backchannel", "interruption", 10.0),
        ("backchannel", "backchannel", 10.0),
        ("interruption", "interruption", 10.0),
        ("backchannel", "backchannel", 20.0),
        ("interruption", "backchannel", 20.0),
    ]
    for k, (label, decision, db) in enumerate(rows):
        run.results.append(OverlapResultItem(id=f"i{k}", decision=decision, decided_at_s=0.5))
        labels[f"i{k}"] = label
        snr[f"i{k}"] = db
    m = finish_overlap_metrics(run, labels, snr_db=snr)
    by = m["by_snr_db"]
    assert isinstance(by, dict) and list(by) == ["10", "20"]
    assert by["10"]["false_stop_rate"]["value"] == pytest.approx(0.5) and by["10"]["n"] == 3
    assert by["20"]["interruption_recall"]["value"] == 0.0 and by["20"]["n"] == 2
    assert "by_snr_db" not in finish_overlap_metrics(run, labels)
