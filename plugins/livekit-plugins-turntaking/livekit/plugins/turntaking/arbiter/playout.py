"""The arbiter's place in the agent's audio output: the echo reference, the pace of the
audio handed on, and the audible yield (a duck).

`PlayoutTap` sits at the top of the session's audio output chain. It hands each agent frame
on with the stream time it plays (the echo gate's far-end reference), and:

- **paces** the audio it hands on (`lead_s`): frames wait in the tap and go on only when
  what was handed on before plays out within `lead_s`. LiveKit 1.8.9's room output queues
  200 ms of audio in its `rtc.AudioSource`, and everything captured before it waits in the
  room output's own buffer, beyond the reach of any later gain or pause: a reaction is
  heard only after what is queued. Paced, what is queued downstream is about `lead_s`, so
  a duck or a pause reaches the listener within about `lead_s` (plus the room's 50 ms
  framing); a clear drops what waits in the tap at once.
- **ducks** (`set_gain_db`): the gain of the frames handed on moves to the target along a
  ramp in dB (`GainRamp`), so the change does not click.

Frames play back to back: a frame starts when the previous one ends, or now if the queue
ran dry (a new segment, an underrun). A pause holds what had not played yet; on resume it
plays from the resume time on, and the reference follows it. Audio never depends on the
arbiter: the owner's errors are caught by the owner (`PlayoutOwner.fail`).
"""

from __future__ import annotations

import asyncio
import collections
import math
from typing import Protocol

import numpy as np
import numpy.typing as npt
from livekit import rtc
from livekit.agents.voice import io

__all__ = [
    "AUDIBLE_DROP_DB",
    "DEFAULT_OUTPUT_LEAD_S",
    "DUCK_RAMP_S",
    "MAX_OUTPUT_LEAD_S",
    "MIN_OUTPUT_LEAD_S",
    "RESTORE_RAMP_S",
    "GainRamp",
    "PlayoutOwner",
    "PlayoutTap",
    "duck_audible_after_s",
]

DEFAULT_OUTPUT_LEAD_S = 0.1
"""Audio handed on ahead of the playhead by default, seconds: two of the room output's 50 ms
frames, so its `AudioSource` never runs dry on an event loop that is a few tens of ms late,
while a reaction is heard within about this long."""
MIN_OUTPUT_LEAD_S = 0.06
"""Shortest lead accepted, seconds: the room output forwards whole 50 ms frames."""
MAX_OUTPUT_LEAD_S = 2.0
"""Longest lead accepted, seconds."""
DUCK_RAMP_S = 0.02
"""A duck reaches its depth over this much audio, seconds (fast, but no click)."""
RESTORE_RAMP_S = 0.06
"""The gain comes back to 0 dB over this much audio, seconds."""
AUDIBLE_DROP_DB = 10.0
"""A drop of the agent's voice this large is an audible yield, dB: a duck is heard when its
ramp passes it."""
PACED_PIECE_S = 0.02
"""Paced audio goes on in pieces of at most this long, seconds (a TTS may deliver 100 ms or
more at once)."""
_MIN_SLEEP_S = 0.005
"""The pacing loop never sleeps shorter than this, seconds."""


def duck_audible_after_s(duck_db: float) -> float:
    """Seconds of a `duck_db` duck's ramp (`DUCK_RAMP_S`) before it passes
    `AUDIBLE_DROP_DB`."""
    return DUCK_RAMP_S * AUDIBLE_DROP_DB / duck_db


class PlayoutOwner(Protocol):
    """What the tap reports to (the arbiter)."""

    def now(self) -> float:
        """Stream time, seconds."""
        ...

    def reference(self, frame: rtc.AudioFrame, play_at_s: float) -> None:
        """`frame` (as handed on) plays from stream time `play_at_s`."""
        ...

    def reference_cleared(self, at_s: float) -> None:
        """Nothing handed on plays at the times given any more (from `at_s` on)."""
        ...

    def fail(self, exc: BaseException) -> None:
        """The owner's own bookkeeping failed: it steps aside (audio goes on)."""
        ...


class GainRamp:
    """The gain of a stream of audio, moving to a target along a ramp in dB (pure)."""

    def __init__(self) -> None:
        self.gain_db = 0.0
        """The gain reached at the end of the audio applied so far, dB."""
        self.target_db = 0.0
        """Where the gain is going, dB."""
        self._slope_db_per_s = 0.0

    def set_target(self, target_db: float, ramp_s: float) -> None:
        """Move to `target_db` (<= 0 dB) over `ramp_s` seconds of audio (0: at once)."""
        if not target_db <= 0.0:
            raise ValueError(f"target_db must be <= 0 dB, got {target_db}")
        if not ramp_s >= 0.0:
            raise ValueError(f"ramp_s must be >= 0 s, got {ramp_s}")
        self.target_db = target_db
        step = abs(target_db - self.gain_db)
        self._slope_db_per_s = math.inf if ramp_s == 0.0 else step / ramp_s

    def reset(self) -> None:
        """Back to 0 dB at once."""
        self.gain_db = self.target_db = 0.0

    def gains_db(self, n: int, rate_hz: int) -> npt.NDArray[np.float64]:
        """Per-sample gain of the next `n` samples at `rate_hz`, dB; advances the ramp."""
        start, target = self.gain_db, self.target_db
        if start == target or n == 0:
            return np.full(n, target, dtype=np.float64)
        if math.isinf(self._slope_db_per_s):
            g = np.full(n, target, dtype=np.float64)
        else:
            moved = self._slope_db_per_s * np.arange(1, n + 1, dtype=np.float64) / rate_hz
            g = start + np.sign(target - start) * np.minimum(moved, abs(target - start))
        self.gain_db = float(g[-1])
        return g

    def apply(self, frame: rtc.AudioFrame) -> rtc.AudioFrame:
        """`frame` at the ramp's gain (the same frame when the gain is 0 dB throughout)."""
        n = frame.samples_per_channel
        if n == 0 or (self.gain_db == 0.0 and self.target_db == 0.0):
            return frame
        g = self.gains_db(n, frame.sample_rate)
        x = np.frombuffer(frame.data, dtype=np.int16).reshape(n, frame.num_channels)
        y = np.clip(np.round(x * (10.0 ** (g / 20.0))[:, None]), -32768, 32767).astype(np.int16)
        return rtc.AudioFrame(y.tobytes(), frame.sample_rate, frame.num_channels, n)


class PlayoutTap(io.AudioOutput):
    """Pass-through audio output: the echo reference, paced hand-on and the duck (see the
    module doc). `lead_s` None hands every frame on at once (no pacing)."""

    @staticmethod
    def check_lead(lead_s: float | None) -> None:
        """ValueError unless `lead_s` is None or in [`MIN_OUTPUT_LEAD_S`,
        `MAX_OUTPUT_LEAD_S`] seconds."""
        if lead_s is not None and not MIN_OUTPUT_LEAD_S <= lead_s <= MAX_OUTPUT_LEAD_S:
            raise ValueError(
                f"output lead must be in [{MIN_OUTPUT_LEAD_S}, {MAX_OUTPUT_LEAD_S}] s or None, "
                f"got {lead_s}"
            )

    def __init__(
        self, owner: PlayoutOwner, *, next_in_chain: io.AudioOutput, lead_s: float | None
    ) -> None:
        self.check_lead(lead_s)
        super().__init__(
            label="InterruptionArbiterPlayout",
            capabilities=io.AudioOutputCapabilities(pause=True),
            next_in_chain=next_in_chain,
        )
        self._owner = owner
        self.lead_s = lead_s
        self._gain = GainRamp()
        self._pending: collections.deque[rtc.AudioFrame] = collections.deque()
        """Frames captured and not handed on yet (paced), in order."""
        self._flush_pending = False
        """The segment was flushed while frames still waited here."""
        self._paused = False
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._queue_end_s: float | None = None
        self._scheduled: collections.deque[tuple[rtc.AudioFrame, float]] = collections.deque()
        """Frames handed on and the stream time each starts to play, until played out."""
        self._held: list[rtc.AudioFrame] | None = None
        """While paused: the frames handed on still to play, in order (None: not paused)."""
        self._held_played_s = 0.0
        """While paused: how much of the first held frame had played, seconds."""

    @property
    def sample_rate(self) -> int | None:
        nxt = self.next_in_chain
        return nxt.sample_rate if nxt is not None else self._sample_rate

    @property
    def gain_db(self) -> float:
        """The gain the next frame handed on starts at, dB."""
        return self._gain.gain_db

    @property
    def waiting_s(self) -> float:
        """Audio captured and not handed on yet, seconds."""
        return sum(f.duration for f in self._pending)

    # ------------------------------------------------------------------ the duck

    def set_gain_db(self, target_db: float, ramp_s: float) -> float:
        """Move the gain of the audio handed on from now on to `target_db` (<= 0) over
        `ramp_s` seconds of audio. Returns the stream time the first frame at the new gain
        plays (what was handed on before plays first), seconds."""
        self._gain.set_target(target_db, ramp_s)
        now = self._owner.now()
        if self._paused:
            return now
        return now if self._queue_end_s is None else max(now, self._queue_end_s)

    def close(self) -> None:
        """Stop pacing (the session closed): what still waits here is dropped."""
        self._pending.clear()
        self._flush_pending = False
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None

    # ------------------------------------------------------------------ io.AudioOutput

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self.lead_s is None:
            await self._hand_on(frame)
            return
        # in pieces, so that what goes on at a time never overshoots the lead by much
        self._pending.extend(_pieces(frame, PACED_PIECE_S))
        # the first frames go on now: the output below knows of the segment at once
        await self._release_due()
        if self._pending and (self._pump is None or self._pump.done()):
            self._pump = asyncio.create_task(self._pace(), name="arbiter-playout-pace")
        self._wake.set()

    def flush(self) -> None:
        super().flush()
        if self._pending:
            self._flush_pending = True
            self._wake.set()
        elif self.next_in_chain is not None:
            self.next_in_chain.flush()

    def clear_buffer(self) -> None:
        flushed = self._flush_pending
        self._pending.clear()
        self._flush_pending = False
        # the next speech starts at full level
        self._gain.reset()
        self._drop_queued()
        if self._held is not None:
            # the output stays paused across a clear (LiveKit's outputs keep a pause)
            self._held = []
            self._held_played_s = 0.0
        if self.next_in_chain is not None:
            if flushed:
                # the segment was flushed here but not below yet: end it below first, in
                # the order the framework itself would have (flush, then clear)
                self.next_in_chain.flush()
            self.next_in_chain.clear_buffer()

    def pause(self) -> None:
        if self._held is None:
            try:
                now = self._owner.now()
                unplayed = [(f, s) for f, s in self._scheduled if s + f.duration > now]
                self._held = [f for f, _ in unplayed]
                self._held_played_s = max(0.0, now - unplayed[0][1]) if unplayed else 0.0
            except Exception as exc:
                self._held = []
                self._owner.fail(exc)
            # the held audio will not play at the times given: until resume, no reference
            self._drop_queued()
        self._paused = True
        super().pause()  # pauses the output below

    def resume(self) -> None:
        held, self._held = self._held, None
        self._paused = False
        super().resume()  # resumes the output below
        self._wake.set()
        if not held:
            return
        try:
            now = self._owner.now()
            start = now - self._held_played_s
            for frame in held:
                self._schedule(frame, start, now)
                start += frame.duration
        except Exception as exc:
            self._owner.fail(exc)

    # ------------------------------------------------------------------ pacing

    def _due_in_s(self) -> float:
        """Seconds until the next waiting frame is due to be handed on (<= 0: now)."""
        assert self.lead_s is not None
        now = self._owner.now()
        end = self._queue_end_s
        if end is None or end <= now:
            return 0.0
        return (end - now) - self.lead_s

    async def _release_due(self) -> None:
        async with self._lock:
            while self._pending and not self._paused and self._due_in_s() <= 1e-9:
                await self._hand_on(self._pending.popleft())
            if not self._pending and self._flush_pending and not self._paused:
                self._flush_pending = False
                if self.next_in_chain is not None:
                    self.next_in_chain.flush()

    async def _pace(self) -> None:
        while self._pending or self._flush_pending:
            await self._release_due()
            if not self._pending and not self._flush_pending:
                return
            self._wake.clear()
            if self._paused or not self._pending:
                await self._wake.wait()
                continue
            try:
                await asyncio.wait_for(
                    self._wake.wait(), timeout=max(_MIN_SLEEP_S, self._due_in_s())
                )
            except TimeoutError:
                pass

    async def _hand_on(self, frame: rtc.AudioFrame) -> None:
        nxt = self.next_in_chain
        assert nxt is not None
        out = self._gain.apply(frame)
        try:
            if self._held is not None:
                # paused: it plays after the held audio, at a time known only on resume
                self._held.append(out)
            else:
                now = self._owner.now()
                start = now if self._queue_end_s is None else max(self._queue_end_s, now)
                self._schedule(out, start, now)
        except Exception as exc:
            self._owner.fail(exc)
        await nxt.capture_frame(out)

    # ------------------------------------------------------------------ the reference

    def _schedule(self, frame: rtc.AudioFrame, start_s: float, now_s: float) -> None:
        """Hand the owner `frame` as playing from `start_s` (stream time, seconds)."""
        while self._scheduled and self._scheduled[0][1] + self._scheduled[0][0].duration <= now_s:
            self._scheduled.popleft()
        self._scheduled.append((frame, start_s))
        self._queue_end_s = start_s + frame.duration
        self._owner.reference(frame, start_s)

    def _drop_queued(self) -> None:
        self._queue_end_s = None
        self._scheduled.clear()
        try:
            self._owner.reference_cleared(self._owner.now())
        except Exception as exc:
            self._owner.fail(exc)


def _pieces(frame: rtc.AudioFrame, piece_s: float) -> list[rtc.AudioFrame]:
    """`frame` cut into consecutive frames of at most `piece_s` seconds (itself if short)."""
    n = frame.samples_per_channel
    step = max(1, int(round(piece_s * frame.sample_rate)))
    if n <= step:
        return [frame]
    data = np.frombuffer(frame.data, dtype=np.int16).reshape(n, frame.num_channels)
    return [
        rtc.AudioFrame(
            data[k : k + step].tobytes(),
            frame.sample_rate,
            frame.num_channels,
            min(step, n - k),
        )
        for k in range(0, n, step)
    ]
