"""`bench turns`: the item rules on literal output changes (talk-over in a pause, the reply
and its latency, user turns), the metrics, the transcript replay on the session's clock,
and the command end to end on the committed endpoint clip through real sessions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from livekit.agents import stt as lk_stt

from bench.cli import main
from bench.evaluation import transcripts
from bench.evaluation.runners import SystemRun
from bench.evaluation.turns import (
    TimelineSTT,
    TurnObservation,
    _merge,
    _StackPart,
    first_audible_s,
    playing_spans,
    turn_item,
    turns_metrics,
)
from bench.evaluation.types import TranscriptEvent
from sim.clock import SimClock
from sim.virtual_time import run_virtual

FIXTURES = Path(__file__).parent / "fixtures" / "bench_cli"
PAUSES = ((1.0, 2.0), (3.0, 3.5))
SPEECH_END_S = 4.0
CLIP_S = 6.0


def _item(*changes: tuple[float, int, bool], user_turns: int = 1) -> dict[str, object]:
    obs = TurnObservation(changes=changes, end_s=CLIP_S + 3.0, user_turns=user_turns)
    return turn_item("t", pauses=PAUSES, speech_end_s=SPEECH_END_S, clip_s=CLIP_S, observation=obs)


# --- spans and first audible moments --------------------------------------------------


def test_spans_follow_audible_changes_and_close_at_the_end() -> None:
    changes = [(1.0, 0, True), (1.5, 0, False), (1.7, 0, True), (2.0, 0, False), (5.0, 1, True)]
    assert playing_spans(changes, 6.0) == [(1.0, 1.5), (1.7, 2.0), (5.0, 6.0)]
    assert first_audible_s(changes) == {0: 1.0, 1: 5.0}


def test_a_segment_started_while_paused_is_heard_from_its_resume() -> None:
    changes = [(1.0, 0, False), (1.4, 0, True), (2.0, 0, False)]
    assert playing_spans(changes, 6.0) == [(1.4, 2.0)]
    assert first_audible_s(changes) == {0: 1.4}
    # started and cleared while paused: never heard
    assert first_audible_s([(1.0, 0, False), (1.2, 0, False)]) == {}


# --- talk-over in a pause -------------------------------------------------------------


def test_audio_inside_a_pause_is_talk_over() -> None:
    item = _item((1.8, 0, True), (2.6, 0, False))
    assert item["agent_spoke_in_pause"] == [True, False]
    assert item["agent_spoke_before_end"] is True


def test_audio_touching_a_pause_edge_is_not_talk_over() -> None:
    # ends exactly where pause 0 starts; starts exactly where it ends
    item = _item((0.5, 0, True), (1.0, 0, False), (2.0, 1, True), (2.5, 1, False))
    assert item["agent_spoke_in_pause"] == [False, False]


def test_a_span_of_no_length_is_not_talk_over() -> None:
    item = _item((1.5, 0, True), (1.5, 0, False))
    assert item["agent_spoke_in_pause"] == [False, False]
    assert item["agent_spoke_before_end"] is False


def test_one_utterance_over_both_pauses_flags_both() -> None:
    item = _item((1.9, 0, True), (3.2, 0, False))
    assert item["agent_spoke_in_pause"] == [True, True]


# --- the reply and its latency --------------------------------------------------------


def test_reply_latency_is_from_the_end_to_the_next_utterance() -> None:
    item = _item((4.3, 0, True), (5.0, 0, False))
    assert item["reply_latency_s"] == pytest.approx(0.3)
    assert item["agent_spoke_in_pause"] == [False, False]
    assert item["agent_spoke_before_end"] is False
    assert _item((4.0, 0, True), (4.6, 0, False))["reply_latency_s"] == 0.0


def test_talk_over_still_playing_at_the_end_is_not_the_reply() -> None:
    item = _item((3.2, 0, True), (4.5, 0, False))
    assert item["agent_spoke_in_pause"] == [False, True]
    assert item["reply_latency_s"] is None
    # the next utterance is the reply
    item = _item((3.2, 0, True), (4.5, 0, False), (4.9, 1, True), (5.5, 1, False))
    assert item["reply_latency_s"] == pytest.approx(0.9)


def test_talk_over_resumed_after_the_end_is_not_the_reply() -> None:
    item = _item((3.2, 0, True), (3.4, 0, False), (4.5, 0, True), (5.0, 0, False))
    assert item["reply_latency_s"] is None


def test_a_reply_after_the_clip_ends_counts_as_none() -> None:
    assert _item((6.2, 0, True), (6.8, 0, False))["reply_latency_s"] is None
    assert _item((5.9, 0, True), (6.5, 0, False))["reply_latency_s"] == pytest.approx(1.9)


def test_user_turns_are_reported_as_observed() -> None:
    assert _item(user_turns=0)["user_turns"] == 0
    assert _item((1.8, 0, True), (2.4, 0, False), user_turns=2)["user_turns"] == 2


# --- metrics ---------------------------------------------------------------------------


def _row(flags: list[bool], latency: float | None, turns: int) -> dict[str, object]:
    return {
        "id": "x",
        "agent_spoke_in_pause": flags,
        "reply_latency_s": latency,
        "user_turns": turns,
        "agent_spoke_before_end": any(flags),
    }


def test_metrics_count_turns_pauses_latencies_and_user_turns() -> None:
    items = [
        _row([False, True], 0.5, 2),
        _row([False], 1.0, 1),
        _row([], None, 1),
        _row([False, False, False], 2.0, 0),
    ]
    m: dict[str, Any] = turns_metrics(items)
    assert m["n"] == 4 and m["n_pauses"] == 6
    assert m["talk_over_turns"]["value"] == 0.25 and m["talk_over_turns"]["count"] == 1
    assert m["talk_over_pauses"]["count"] == 1 and m["talk_over_pauses"]["of"] == 6
    assert m["replied"]["count"] == 3
    assert m["reply_latency_p50_s"] == 1.0
    assert m["reply_latency_p90_s"] == pytest.approx(1.8)  # 1.0 + 0.8 * (2.0 - 1.0)
    assert m["reply_latency_mean_s"] == pytest.approx(3.5 / 3)
    assert m["user_turns"]["exactly_one"]["value"] == 0.5
    assert m["user_turns"]["mean"] == 1.0
    assert m["user_turns"]["histogram"] == {"0": 1, "1": 2, "2": 1}
    lo, hi = m["talk_over_turns"]["ci95"]
    assert lo < 0.25 < hi


def test_metrics_of_no_replies_are_none() -> None:
    m: dict[str, Any] = turns_metrics([_row([True], None, 2)])
    assert m["reply_latency_p50_s"] is None and m["reply_latency_mean_s"] is None
    assert m["replied"]["value"] == 0.0


def test_merge_restores_order_and_stops_at_the_first_failure() -> None:
    a = _StackPart(rows=[(0, {"id": "i0"}, 1.0, 2.0), (2, {"id": "i2"}, 1.0, 2.0)])
    b = _StackPart(rows=[(1, {"id": "i1"}, 1.0, 2.0)], failed=(3, "s failed on i3: boom"))
    a.rows.append((4, {"id": "i4"}, 1.0, 2.0))
    run = SystemRun(name="s", system="s")
    _merge(run, [a, b])
    assert [it["id"] for it in run.items] == ["i0", "i1", "i2"]
    assert run.error == "s failed on i3: boom"
    assert run.cpu_s == pytest.approx(3.0) and run.audio_s == pytest.approx(6.0)


# --- the transcript replay ------------------------------------------------------------


def test_timeline_stt_sends_each_result_at_its_time_in_segments() -> None:
    timeline = [
        TranscriptEvent(0.6, "so I", False, 0.5),
        TranscriptEvent(1.1, "so I was", True, 1.0),
        TranscriptEvent(1.5, "", False, 1.4),  # nothing heard yet: not sent
        TranscriptEvent(2.2, "going", True, 2.0),
    ]

    async def scenario() -> list[tuple[float, str, str]]:
        clock = SimClock()
        stt = TimelineSTT(clock=clock)
        stream = stt.stream()
        got: list[tuple[float, str, str]] = []

        async def read() -> None:
            async for ev in stream:
                text = ev.alternatives[0].text if ev.alternatives else ""
                got.append((round(clock.now(), 6), ev.type.value, text))

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.2)
        stt.play(timeline, start_s=0.5)
        await clock.sleep_until(3.0)
        stream.end_input()
        await reader
        await stream.aclose()
        return got

    got = run_virtual(scenario())
    t = lk_stt.SpeechEventType
    assert [(at, kind) for at, kind, _ in got] == [
        (1.1, t.START_OF_SPEECH.value),
        (1.1, t.INTERIM_TRANSCRIPT.value),
        (1.6, t.FINAL_TRANSCRIPT.value),
        (1.6, t.END_OF_SPEECH.value),
        (2.7, t.START_OF_SPEECH.value),
        (2.7, t.FINAL_TRANSCRIPT.value),
        (2.7, t.END_OF_SPEECH.value),
    ]
    assert [text for _, kind, text in got if kind == t.FINAL_TRANSCRIPT.value] == [
        "so I was",
        "going",
    ]


def test_timeline_stt_plays_once() -> None:
    async def scenario() -> None:
        stt = TimelineSTT(clock=SimClock())
        stt.play([], start_s=0.0)
        with pytest.raises(RuntimeError, match="once"):
            stt.play([], start_s=1.0)

    run_virtual(scenario())


# --- the command end to end -------------------------------------------------------------


def _scripted_stt(_interim_every_s: float, _min_window_s: float) -> Any:
    """Stands in for the Whisper timeline of tests/fixtures/bench_cli/turn.flac (speech
    0.4-1.657 s and 2.557-3.825 s): one segment per stretch of speech, finals shortly after
    each."""

    def run(_audio: Any) -> list[TranscriptEvent]:
        return [
            TranscriptEvent(1.2, "so I was", False, 1.0),
            TranscriptEvent(1.9, "so I was thinking", True, 1.65),
            TranscriptEvent(3.2, "that we", False, 3.0),
            TranscriptEvent(4.1, "that we could go", True, 3.85),
        ]

    return run


@pytest.fixture
def scripted_transcripts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transcripts, "_project_impl", _scripted_stt)


def test_turns_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scripted_transcripts: None
) -> None:
    out = tmp_path / "r.json"
    code = main(["turns", "--manifest", str(FIXTURES / "endpoint.jsonl"), "--out", str(out),
                 "--baseline", "framework", "--baseline", "nope",
                 "--cache", str(tmp_path / "cache")])  # fmt: skip
    assert code == 0
    rep = json.loads(out.read_text())
    assert rep["command"] == "turns" and rep["system"] == "ours"
    assert set(rep) >= {"items", "metrics", "baselines", "environment"}
    assert set(rep["baselines"]) == {"framework", "nope"}
    fields = {"id", "agent_spoke_in_pause", "reply_latency_s", "user_turns"}
    for items in (rep["items"], rep["baselines"]["framework"]["items"]):
        assert len(items) == 1 and set(items[0]) >= fields
        assert items[0]["id"] == "turn-1" and len(items[0]["agent_spoke_in_pause"]) == 1
        assert items[0]["user_turns"] >= 1
    # LiveKit's fixed 0.5 s endpointing and 0.3 s to the first token fit in the 0.9 s
    # pause: the framework answers the first half, the user goes on, a second turn follows
    fw = rep["baselines"]["framework"]["items"][0]
    assert fw["agent_spoke_in_pause"] == [True]
    assert fw["user_turns"] == 2
    assert fw["reply_latency_s"] is not None and 0.5 <= fw["reply_latency_s"] <= 1.5
    fm = rep["baselines"]["framework"]["metrics"]
    assert fm["talk_over_turns"]["value"] == 1.0 and fm["user_turns"]["exactly_one"]["value"] == 0
    assert "cpu" in fm and "error" not in fm and "error" not in rep["metrics"]
    assert "unknown stack" in rep["baselines"]["nope"]["metrics"]["error"]
    assert rep["transcripts"]["source"] == "project-local-stt" and rep["clock"] == "virtual"
    printed = capsys.readouterr().out
    assert "talk-over turns" in printed and "unavailable" in printed
    assert out.with_suffix(".latency.png").stat().st_size > 1000


def test_malformed_line_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = json.loads((FIXTURES / "endpoint.jsonl").read_text())
    good["audio"] = str(FIXTURES / "turn.flac")
    (tmp_path / "m.jsonl").write_text(json.dumps(good) + "\n" + '{"id": "x", "speech_end_s": \n')
    code = main(["turns", "--manifest", str(tmp_path / "m.jsonl"),
                 "--out", str(tmp_path / "r.json"), "--stt", "none"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("bench: error:")]
    assert len(lines) == 1 and "m.jsonl:2" in lines[0] and "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


def test_missing_manifest_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["turns", "--manifest", str(tmp_path / "nope.jsonl"),
                 "--out", str(tmp_path / "r.json"), "--stt", "none"])  # fmt: skip
    assert code == 2
    assert "nope.jsonl" in capsys.readouterr().err
