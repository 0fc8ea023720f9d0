"""Harness parts: scheduled input, clocked player, recorder figures, clip TTS, scripted LLM."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import llm

from sim.audio_io import (
    ROOM_FRAME_S,
    ROOM_QUEUE_S,
    ClockAudioOutput,
    OutputEventKind,
    ScheduledAudioInput,
    heard_after_s,
)
from sim.clock import SimClock
from sim.demo import main as demo_main
from sim.harness import EventKind, Recorder
from sim.lines import AGENT_LINES
from sim.llm import ScriptedLLM, ScriptRule
from sim.stacks import configure_stack
from sim.tts import ClipLibrary, ClipTTS, synth_duration_s, synth_speech

RATE = 16_000


async def test_input_mixes_clips_at_their_times_and_resamples() -> None:
    clock = SimClock()
    mic = ScheduledAudioInput(clock=clock, sample_rate=RATE, frame_s=0.01)
    # 10 ms of a constant at 8 kHz, placed at 20 ms; a 48 kHz one overlapping it at 25 ms
    mic.schedule(np.full(80, 0.25, dtype=np.float32), 8_000, 0.02, label="a")
    mic.schedule(np.full(480, 0.25, dtype=np.float32), 48_000, 0.025, label="b")
    frames = [await mic.__anext__() for _ in range(5)]
    levels = [np.frombuffer(f.data, dtype=np.int16).astype(np.float32) / 32767 for f in frames]
    assert all(f.sample_rate == RATE and f.samples_per_channel == 160 for f in frames)
    assert np.all(levels[0] == 0) and np.all(levels[1] == 0) and np.all(levels[4] == 0)
    # middle of frame 2: both clips overlap
    assert levels[2][100] == pytest.approx(0.5, abs=0.05)
    assert levels[2][20] == pytest.approx(0.25, abs=0.05)
    # frames are paced: five 10 ms frames take about 50 ms of clock
    assert clock.now() == pytest.approx(0.05, abs=0.03)


async def test_input_drops_the_past_part_of_a_late_clip() -> None:
    mic = ScheduledAudioInput(clock=SimClock(), sample_rate=RATE, frame_s=0.01)
    for _ in range(3):
        await mic.__anext__()
    clip = mic.schedule(np.ones(RATE // 10, dtype=np.float32) * 0.1, RATE, 0.0, label="late")
    assert clip.start_s == pytest.approx(0.03)
    assert clip.samples.size == RATE // 10 - 480
    with pytest.raises(ValueError, match="empty"):
        mic.schedule(np.zeros(0, dtype=np.float32), RATE, 1.0)
    with pytest.raises(ValueError, match="sample_rate"):
        ScheduledAudioInput(clock=SimClock(), sample_rate=4_000)


def _frame(seconds: float, rate: int = 24_000) -> rtc.AudioFrame:
    n = int(seconds * rate)
    return rtc.AudioFrame(b"\x01\x00" * n, rate, 1, n)


async def test_player_finishes_at_real_time_and_reports_position() -> None:
    out = ClockAudioOutput(clock=SimClock())
    finished: list[tuple[float, bool]] = []
    out.on("playback_finished", lambda ev: finished.append((ev.playback_position, ev.interrupted)))
    await out.capture_frame(_frame(0.1))
    await out.capture_frame(_frame(0.1))
    out.flush()
    await asyncio.sleep(0.15)
    assert finished == []
    assert out.position_s() == pytest.approx(0.15, abs=0.03)
    await out.wait_for_playout()
    assert len(finished) == 1
    assert finished[0][0] == pytest.approx(0.2) and finished[0][1] is False
    assert [e.kind for e in out.events] == [OutputEventKind.STARTED, OutputEventKind.FINISHED]
    assert out.events[-1].at_s == pytest.approx(0.2, abs=0.03)


async def test_player_pause_freezes_position_and_resume_continues() -> None:
    out = ClockAudioOutput(clock=SimClock())
    assert out.can_pause
    await out.capture_frame(_frame(0.2))
    out.flush()
    await asyncio.sleep(0.05)
    out.pause()
    held = out.position_s()
    await asyncio.sleep(0.1)
    assert out.position_s() == held
    out.resume()
    ev = await out.wait_for_playout()
    assert ev.playback_position == pytest.approx(0.2) and not ev.interrupted
    kinds = [e.kind for e in out.events]
    assert kinds == [
        OutputEventKind.STARTED,
        OutputEventKind.PAUSED,
        OutputEventKind.RESUMED,
        OutputEventKind.FINISHED,
    ]
    # 0.2 s of audio plus the 0.1 s pause
    assert out.events[-1].at_s == pytest.approx(0.3, abs=0.04)


async def test_player_clear_reports_the_heard_position_as_interrupted() -> None:
    out = ClockAudioOutput(clock=SimClock())
    await out.capture_frame(_frame(1.0))
    out.flush()
    await asyncio.sleep(0.1)
    out.clear_buffer()
    ev = await out.wait_for_playout()
    assert ev.interrupted
    assert ev.playback_position == pytest.approx(0.1, abs=0.03)
    assert out.events[-1].kind is OutputEventKind.CLEARED
    assert not out.playing


async def test_recorder_latencies_from_a_literal_timeline() -> None:
    rec = Recorder(SimClock())
    rec.add(EventKind.AUDIO_STARTED, at_s=0.0)
    rec.add(EventKind.USER_SPEECH_START, at_s=2.0)
    rec.add(EventKind.AUDIO_PAUSED, at_s=2.55)
    rec.add(EventKind.AUDIO_CLEARED, at_s=2.9)
    rec.add(EventKind.USER_SPEECH_END, at_s=3.5)
    rec.add(EventKind.AUDIO_STARTED, at_s=4.3)
    rec.add(EventKind.AUDIO_FINISHED, at_s=6.0)
    assert rec.stop_latency_s(2.0) == pytest.approx(0.55)
    assert rec.reply_latency_s(3.5) == pytest.approx(0.8)
    assert rec.agent_audio_intervals() == [(0.0, 2.55), (4.3, 6.0)]
    assert rec.agent_playing_at(1.0) and not rec.agent_playing_at(3.0)
    assert rec.stop_latency_s(6.5) is None


def test_clip_tts_plays_scripted_lines_and_synthesizes_other_text() -> None:
    tts = ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES), sample_rate=RATE)
    line = AGENT_LINES[0]
    scripted = tts.render(line)
    other = tts.render("completely unscripted words here")
    assert scripted.size / RATE > 1.0
    assert other.size / RATE == pytest.approx(synth_duration_s("completely unscripted words here"))
    # synthetic speech is additive over chunks, so a sentence split does not move words
    a, b = "so the next step is to upload the file and then", "we check it together."
    assert synth_duration_s(f"{a} {b}") == pytest.approx(synth_duration_s(a) + synth_duration_s(b))
    # and it is speech-shaped, not a constant tone: energy rises and falls per syllable
    env = np.abs(synth_speech("hello", RATE))
    assert env.max() > 0.2 and env[: RATE // 100].max() < 0.1


async def test_scripted_llm_matches_alternatives_and_records_calls() -> None:
    model = ScriptedLLM(
        rules=[ScriptRule("two two three|223", "Thanks.")], default_reply="Okay.", ttft_s=0.0
    )
    assert model.reply_for("It's 223.") == "Thanks."
    assert model.reply_for("two two three") == "Thanks."
    assert model.reply_for("twenty two") == "Okay."
    ctx = llm.ChatContext()
    ctx.add_message(role="user", content="my number is two two three")
    stream = model.chat(chat_ctx=ctx)
    text = "".join([c.delta.content or "" async for c in stream if c.delta])
    await stream.aclose()
    assert text == "Thanks."
    assert len(model.calls) == 1 and model.calls[0].last_user_text == "my number is two two three"


def test_stack_names_are_validated() -> None:
    assert configure_stack("livekit-vad").turn_handling["interruption"]["min_words"] == 0
    with pytest.raises(ValueError, match="unknown stack"):
        configure_stack("nope")
    # a benchmark-only stack (bench.evaluation.stacks) is not one of the harness's names
    with pytest.raises(ValueError, match="unknown stack"):
        configure_stack("livekit-min-words-2")


def test_demo_rejects_unknown_scene(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo_main(["no-such-scene"]) == 2
    assert "unknown scene" in capsys.readouterr().err


# ------------------------------------------------------------------ the room's output queue


def test_a_pause_is_heard_at_the_next_room_frame_while_audio_waits_behind_the_queue() -> None:
    kw = {"pushed_s": 5.0, "flushed": True}
    assert heard_after_s(OutputEventKind.PAUSED, position_s=1.01, **kw) == pytest.approx(0.04)
    assert heard_after_s(OutputEventKind.PAUSED, position_s=1.0, **kw) == pytest.approx(
        ROOM_FRAME_S
    )


def test_a_pause_near_the_end_lets_the_queued_audio_play_out() -> None:
    after = heard_after_s(OutputEventKind.PAUSED, position_s=4.88, pushed_s=5.0, flushed=True)
    assert after == pytest.approx(0.12)
    after = heard_after_s(OutputEventKind.PAUSED, position_s=4.8, pushed_s=5.0, flushed=True)
    assert after == pytest.approx(ROOM_QUEUE_S)


def test_a_clear_is_heard_at_once_only_once_the_segment_was_flushed() -> None:
    kw = {"position_s": 1.0, "pushed_s": 5.0}
    assert heard_after_s(OutputEventKind.CLEARED, flushed=True, **kw) == 0.0
    assert heard_after_s(OutputEventKind.CLEARED, flushed=False, **kw) == pytest.approx(
        ROOM_QUEUE_S
    )
    assert heard_after_s(OutputEventKind.RESUMED, flushed=False, **kw) == 0.0
