"""The echo reference tap on the agent's audio output: play times across pause and resume."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc
from livekit.agents.voice import io
from livekit.plugins.turntaking.arbiter.arbiter import _PlayoutTap

RATE_HZ = 16_000
FRAME_S = 0.1


class FakeArbiter:
    """Stands in for the arbiter: a settable clock and a record of the reference."""

    def __init__(self) -> None:
        self.now_s = 0.0
        self.reference: list[tuple[int, float]] = []
        """(frame number, play start s) in the order handed over."""
        self.cleared_at: list[float] = []

    def _now(self) -> float:
        return self.now_s

    def _on_reference(self, frame: rtc.AudioFrame, play_at_s: float) -> None:
        self.reference.append((int(np.frombuffer(frame.data, dtype=np.int16)[0]), play_at_s))

    def _on_reference_cleared(self, at_s: float) -> None:
        self.cleared_at.append(at_s)

    def _fail(self, exc: Exception) -> None:
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


def tap() -> tuple[_PlayoutTap, FakeArbiter, Sink]:
    arb, sink = FakeArbiter(), Sink()
    return _PlayoutTap(arb, next_in_chain=sink), arb, sink  # type: ignore[arg-type]


def capture(t: _PlayoutTap, *numbers: int) -> None:
    async def run() -> None:
        for k in numbers:
            await t.capture_frame(frame(k))

    asyncio.run(run())


def test_a_pause_holds_the_unplayed_reference_and_resume_plays_it_from_then_on() -> None:
    t, arb, sink = tap()
    capture(t, 0, 1, 2, 3, 4)  # queued at 0 s: plays 0.0-0.5 s
    assert arb.reference == [(k, pytest.approx(k * FRAME_S)) for k in range(5)]
    arb.now_s = 0.25  # frame 2 is half played
    t.pause()
    assert sink.paused and arb.cleared_at == [0.25]
    arb.now_s = 0.3
    capture(t, 5, 6)  # the reply goes on arriving while paused: no play time yet
    assert len(arb.reference) == 5
    arb.now_s = 1.0
    t.resume()
    assert not sink.paused
    # the rest of frame 2 plays from 1.0 s, then 3, 4 and the frames captured meanwhile
    assert arb.reference[5:] == [
        (2, pytest.approx(0.95)),
        (3, pytest.approx(1.05)),
        (4, pytest.approx(1.15)),
        (5, pytest.approx(1.25)),
        (6, pytest.approx(1.35)),
    ]
    arb.now_s = 1.1
    capture(t, 7)  # queues behind them
    assert arb.reference[-1] == (7, pytest.approx(1.45))


def test_a_clear_while_paused_leaves_nothing_to_resume() -> None:
    t, arb, _ = tap()
    capture(t, 0, 1, 2)
    arb.now_s = 0.15
    t.pause()
    t.pause()  # a second pause (the framework's own) changes nothing
    t.clear_buffer()
    arb.now_s = 2.0
    t.resume()
    assert len(arb.reference) == 3
    capture(t, 8)  # the next reply starts now
    assert arb.reference[-1] == (8, pytest.approx(2.0))


def test_resume_without_a_pause_changes_nothing() -> None:
    t, arb, _ = tap()
    capture(t, 0)
    t.resume()
    assert arb.reference == [(0, pytest.approx(0.0))]
