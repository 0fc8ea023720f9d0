"""The arbiter's playout tap on the agent's audio output: the echo reference's play times
across pause and resume, the paced hand-on and the duck's gain."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc
from livekit.agents.voice import io
from livekit.plugins.turntaking.arbiter.playout import PACED_PIECE_S, GainRamp, PlayoutTap

from sim.virtual_time import run_virtual

RATE_HZ = 16_000
FRAME_S = 0.1


class FakeArbiter:
    """Stands in for the arbiter: a settable clock and a record of the reference."""

    def __init__(self) -> None:
        self.now_s = 0.0
        self.reference_log: list[tuple[int, float]] = []
        """(frame number, play start s) in the order handed over."""
        self.cleared_at: list[float] = []

    def now(self) -> float:
        return self.now_s

    def reference(self, frame: rtc.AudioFrame, play_at_s: float) -> None:
        self.reference_log.append((int(np.frombuffer(frame.data, dtype=np.int16)[0]), play_at_s))

    def reference_cleared(self, at_s: float) -> None:
        self.cleared_at.append(at_s)

    def fail(self, exc: BaseException) -> None:
        raise AssertionError(f"the tap reported a failure: {exc!r}")


class Sink(io.AudioOutput):
    def __init__(self) -> None:
        super().__init__(label="sink", capabilities=io.AudioOutputCapabilities(pause=True))
        self.paused = False

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)

    def flush(self) -> None:
        super().flush()

    def clear_buffer(self) -> None:
        pass

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False


def frame(number: int) -> rtc.AudioFrame:
    """A 0.1 s frame whose first sample is its number (to follow it through the tap)."""
    n = int(FRAME_S * RATE_HZ)
    data = np.full(n, number, dtype=np.int16)
    return rtc.AudioFrame(data.tobytes(), RATE_HZ, 1, n)


def tap() -> tuple[PlayoutTap, FakeArbiter, Sink]:
    arb, sink = FakeArbiter(), Sink()
    return PlayoutTap(arb, next_in_chain=sink, lead_s=None), arb, sink


def capture(t: PlayoutTap, *numbers: int) -> None:
    async def run() -> None:
        for k in numbers:
            await t.capture_frame(frame(k))

    asyncio.run(run())


def test_a_pause_holds_the_unplayed_reference_and_resume_plays_it_from_then_on() -> None:
    t, arb, sink = tap()
    capture(t, 0, 1, 2, 3, 4)  # queued at 0 s: plays 0.0-0.5 s
    assert arb.reference_log == [(k, pytest.approx(k * FRAME_S)) for k in range(5)]
    arb.now_s = 0.25  # frame 2 is half played
    t.pause()
    assert sink.paused and arb.cleared_at == [0.25]
    arb.now_s = 0.3
    capture(t, 5, 6)  # the reply goes on arriving while paused: no play time yet
    assert len(arb.reference_log) == 5
    arb.now_s = 1.0
    t.resume()
    assert not sink.paused
    # the rest of frame 2 plays from 1.0 s, then 3, 4 and the frames captured meanwhile
    assert arb.reference_log[5:] == [
        (2, pytest.approx(0.95)),
        (3, pytest.approx(1.05)),
        (4, pytest.approx(1.15)),
        (5, pytest.approx(1.25)),
        (6, pytest.approx(1.35)),
    ]
    arb.now_s = 1.1
    capture(t, 7)  # queues behind them
    assert arb.reference_log[-1] == (7, pytest.approx(1.45))


def test_a_clear_while_paused_leaves_nothing_to_resume() -> None:
    t, arb, _ = tap()
    capture(t, 0, 1, 2)
    arb.now_s = 0.15
    t.pause()
    t.pause()  # a second pause (the framework's own) changes nothing
    t.clear_buffer()
    arb.now_s = 2.0
    t.resume()
    assert len(arb.reference_log) == 3
    capture(t, 8)  # the next reply starts now
    assert arb.reference_log[-1] == (8, pytest.approx(2.0))


def test_resume_without_a_pause_changes_nothing() -> None:
    t, arb, _ = tap()
    capture(t, 0)
    t.resume()
    assert arb.reference_log == [(0, pytest.approx(0.0))]


# ------------------------------------------------------------------ the duck's gain


def test_a_duck_ramps_down_to_its_depth_and_a_restore_ramps_back() -> None:
    ramp = GainRamp()
    ramp.set_target(-14.0, 0.02)
    g = ramp.gains_db(480, RATE_HZ)  # 30 ms
    assert g[0] == pytest.approx(-14.0 / 320) and g[319] == pytest.approx(-14.0)
    assert np.all(np.diff(g[:320]) < 0) and np.all(g[320:] == -14.0)
    ramp.set_target(0.0, 0.06)
    g = ramp.gains_db(1600, RATE_HZ)
    assert g[959] == pytest.approx(0.0) and np.all(np.diff(g[:960]) > 0)
    assert ramp.gain_db == 0.0
    with pytest.raises(ValueError, match="target_db"):
        ramp.set_target(3.0, 0.02)


def test_the_gain_scales_every_channel_and_leaves_full_level_frames_alone() -> None:
    ramp = GainRamp()
    f = frame(1000)
    assert ramp.apply(f) is f
    ramp.set_target(-20.0, 0.0)
    stereo = rtc.AudioFrame(np.full(2 * 160, 1000, np.int16).tobytes(), RATE_HZ, 2, 160)
    out = np.frombuffer(ramp.apply(stereo).data, dtype=np.int16)
    assert out.size == 320 and np.all(out == 100)


# ------------------------------------------------------------------ pacing


class LoopOwner(FakeArbiter):
    """The owner on the running loop's clock."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()


class RecordingSink(Sink):
    def __init__(self) -> None:
        super().__init__()
        self.got: list[tuple[float, int, int]] = []
        """(loop time, frame number, first sample) of each frame handed on."""
        self.calls: list[tuple[float, str]] = []

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        x = np.frombuffer(frame.data, dtype=np.int16)
        self.got.append((asyncio.get_running_loop().time(), len(self.got), int(x[-1])))

    def flush(self) -> None:
        super().flush()
        self.calls.append((asyncio.get_running_loop().time(), "flush"))

    def clear_buffer(self) -> None:
        self.calls.append((asyncio.get_running_loop().time(), "clear"))


def test_paced_frames_go_on_a_lead_ahead_of_the_playhead_and_the_flush_after_them() -> None:
    async def run() -> tuple[list[tuple[float, int, int]], list[tuple[float, str]]]:
        sink = RecordingSink()
        t = PlayoutTap(LoopOwner(), next_in_chain=sink, lead_s=0.1)
        t0 = asyncio.get_running_loop().time()
        for k in range(8):
            await t.capture_frame(frame(k))  # the TTS delivers 0.8 s at once
        t.flush()
        await asyncio.sleep(1.0)
        return [(at - t0, n, v) for at, n, v in sink.got], [(at - t0, c) for at, c in sink.calls]

    got, calls = run_virtual(run())
    # in 20 ms pieces: piece j plays from j * 0.02 s and goes on when the audio before it
    # plays out within the lead, at j * 0.02 - 0.1 s (the first six at once)
    assert [n for _, n, _ in got] == list(range(40))
    for at, n, _ in got:
        assert at == pytest.approx(max(0.0, n * PACED_PIECE_S - 0.1), abs=0.006)
    assert [v for _, _, v in got] == [k for k in range(8) for _ in range(5)]
    assert calls == [(pytest.approx(0.68, abs=0.006), "flush")]


def test_a_duck_reaches_the_audio_after_what_was_handed_on() -> None:
    async def run() -> tuple[float, list[tuple[float, int, int]]]:
        sink = RecordingSink()
        t = PlayoutTap(LoopOwner(), next_in_chain=sink, lead_s=0.1)
        t0 = asyncio.get_running_loop().time()
        for _ in range(8):
            await t.capture_frame(frame(1000))
        t.flush()
        await asyncio.sleep(0.35)
        heard = t.set_gain_db(-14.0, 0.02) - t0
        await asyncio.sleep(1.0)
        return heard, [(at - t0, n, v) for at, n, v in sink.got]

    heard, got = run_virtual(run())
    # pieces 0-22 were handed on by 0.35 s (they play until 0.46 s): the duck is heard then
    assert heard == pytest.approx(0.46, abs=0.006)
    assert [v for _, _, v in got] == [1000] * 23 + [200] * 17  # -14 dB, reached in one piece


def test_a_clear_drops_the_waiting_frames_and_ends_the_flushed_segment_below() -> None:
    async def run() -> tuple[int, list[str], float]:
        sink = RecordingSink()
        t = PlayoutTap(LoopOwner(), next_in_chain=sink, lead_s=0.1)
        for k in range(8):
            await t.capture_frame(frame(k))
        t.flush()
        await asyncio.sleep(0.15)
        t.set_gain_db(-14.0, 0.02)
        t.clear_buffer()
        waiting = t.waiting_s
        await asyncio.sleep(1.0)
        return len(sink.got), [c for _, c in sink.calls], waiting + t.gain_db

    handed, calls, rest = run_virtual(run())
    assert handed == 13 and calls == ["flush", "clear"] and rest == 0.0
