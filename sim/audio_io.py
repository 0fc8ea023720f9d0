"""Session audio I/O without devices: scheduled user audio in, a clocked "player" out.

Both run on `SimClock` (the loop's time), in real time on a normal loop and in virtual
time on a virtual-time loop.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np
from livekit import rtc
from livekit.agents.voice import io

from sim.audio import Samples, resample, to_mono_float
from sim.clock import SimClock

DEFAULT_FRAME_S = 0.02
"""Input frame length, seconds (LiveKit rooms deliver 10-20 ms frames)."""
DEFAULT_INPUT_RATE_HZ = 16_000


@dataclass(frozen=True)
class ScheduledClip:
    """A user clip placed on the input timeline (clock seconds)."""

    label: str
    start_s: float
    """Clock time of the clip's first sample."""
    end_s: float
    """Clock time just after its last sample."""
    samples: Samples
    """Mono float32 at the input's rate (leading part dropped if scheduled late)."""


class ScheduledAudioInput(io.AudioInput):
    """User microphone: silence, with clips mixed in at scheduled clock times.

    Frames of `frame_s` are delivered when their last sample is "captured" (paced on the
    clock), at `sample_rate`. `schedule` may be called at any time, even while running.
    """

    def __init__(
        self,
        *,
        clock: SimClock,
        sample_rate: int = DEFAULT_INPUT_RATE_HZ,
        frame_s: float = DEFAULT_FRAME_S,
        label: str = "ScheduledAudioInput",
    ) -> None:
        """`sample_rate` (8000..48000 Hz); `frame_s` (0.01..0.02 s)."""
        if not 8000 <= sample_rate <= 48000:
            raise ValueError(f"sample_rate must be in 8000..48000 Hz, got {sample_rate}")
        if not 0.01 <= frame_s <= 0.02:
            raise ValueError(f"frame_s must be in 0.01..0.02 s, got {frame_s}")
        super().__init__(label=label)
        self._clock = clock
        self._rate = sample_rate
        self._frame_n = int(round(frame_s * sample_rate))
        self._frame_s = self._frame_n / sample_rate
        self._index = 0
        self._clips: list[ScheduledClip] = []
        self._closed = False
        self.on_frame: Callable[[float, Samples], None] | None = None
        """Called with (clock time of the frame's start, samples) for each delivered frame."""

    @property
    def sample_rate(self) -> int:
        """Rate of the delivered frames, Hz."""
        return self._rate

    @property
    def clips(self) -> list[ScheduledClip]:
        """Clips scheduled so far."""
        return list(self._clips)

    @property
    def next_frame_start_s(self) -> float:
        """Clock time of the first sample not yet delivered."""
        return self._index * self._frame_s

    def schedule(
        self, samples: Samples, sample_rate: int, at_s: float, *, label: str = "user"
    ) -> ScheduledClip:
        """Place `samples` (mono or (n, ch), any rate 8-48 kHz) to start at clock `at_s`.

        If `at_s` is already delivered, the part before the next frame is dropped (the
        returned clip says where it really starts)."""
        audio = resample(to_mono_float(samples), sample_rate, self._rate)
        if audio.size == 0:
            raise ValueError(f"clip {label!r} is empty")
        first = self.next_frame_start_s
        if at_s < first:
            drop = int(round((first - at_s) * self._rate))
            audio = audio[drop:]
            at_s = first
        start_index = int(round(at_s * self._rate))
        start_s = start_index / self._rate
        clip = ScheduledClip(label, start_s, start_s + audio.size / self._rate, audio)
        self._clips.append(clip)
        return clip

    def close(self) -> None:
        """End the stream (the session's reader sees end of input)."""
        self._closed = True

    async def __anext__(self) -> rtc.AudioFrame:
        if self._closed:
            raise StopAsyncIteration
        start_s = self._index * self._frame_s
        await self._clock.sleep_until(start_s + self._frame_s)
        if self._closed:
            raise StopAsyncIteration
        samples = self._mix(self._index * self._frame_n)
        self._index += 1
        if self.on_frame is not None:
            self.on_frame(start_s, samples)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
        return rtc.AudioFrame(
            data=pcm.tobytes(),
            sample_rate=self._rate,
            num_channels=1,
            samples_per_channel=self._frame_n,
        )

    def _mix(self, first_sample: int) -> Samples:
        out = np.zeros(self._frame_n, dtype=np.float32)
        last_sample = first_sample + self._frame_n
        for clip in self._clips:
            c0 = int(round(clip.start_s * self._rate))
            c1 = c0 + clip.samples.size
            lo, hi = max(c0, first_sample), min(c1, last_sample)
            if lo < hi:
                out[lo - first_sample : hi - first_sample] += clip.samples[lo - c0 : hi - c0]
        return out


ROOM_QUEUE_S = 0.2
"""LiveKit 1.8.9's room output feeds an `rtc.AudioSource` that keeps this much agent audio
queued ahead of what the listener hears, seconds (`voice/room_io/_output.py`)."""
ROOM_FRAME_S = 0.05
"""The room output forwards audio to that queue in frames of this length, seconds."""


class OutputEventKind(Enum):
    """What the player did."""

    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    CLEARED = "cleared"
    FINISHED = "finished"


@dataclass(frozen=True)
class OutputEvent:
    """One player event on the clock."""

    at_s: float
    """Clock time, seconds."""
    kind: OutputEventKind
    position_s: float
    """Playback position in the current segment at that time, seconds."""
    segment: int
    """0-based index of the played segment (one per agent speech)."""
    heard_at_s: float
    """Clock time a listener behind LiveKit's room output hears it (`heard_after_s`),
    seconds."""


def heard_after_s(
    kind: OutputEventKind,
    *,
    position_s: float,
    pushed_s: float,
    flushed: bool,
    queue_s: float = ROOM_QUEUE_S,
    frame_s: float = ROOM_FRAME_S,
) -> float:
    """Seconds from a player event to when a listener behind LiveKit 1.8.9's room output
    hears it, with the segment at `position_s` of `pushed_s` seconds pushed (`flushed`:
    the segment's last frame was pushed). The room output keeps up to `queue_s` queued in
    its `AudioSource` and the rest waiting in its forwarding loop:

    - a pause does not clear that queue; the loop clears it when it takes its next frame,
      at the next `frame_s` boundary of the playhead, and when no frame waits (the
      utterance's end is queued) the queued audio plays out;
    - a clear empties the queue at once once the segment was flushed (its playout task
      watches for it); before that the loop only drops the waiting frames and the queue
      plays out;
    - anything else (a start, a resume, a natural finish) is heard when it happens."""
    remaining = max(0.0, pushed_s - position_s)
    queued = min(queue_s, remaining)
    if kind is OutputEventKind.PAUSED:
        if remaining > queue_s + 1e-9:
            # the playhead's offset into its room frame (a boundary counts as the start)
            into = position_s - math.floor(position_s / frame_s + 1e-9) * frame_s
            return frame_s - max(0.0, into)
        return queued
    if kind is OutputEventKind.CLEARED:
        return 0.0 if flushed else queued
    return 0.0


class _PlayState(Enum):
    IDLE = "idle"
    PLAYING = "playing"
    PAUSED = "paused"


class ClockAudioOutput(io.AudioOutput):
    """A pausable player with no sound card: audio "plays" at real-time pace on the clock.

    Reports `on_playback_started`, `on_playback_finished(position, interrupted)`, and
    records every start, pause, resume, clear and natural finish in `events`.
    """

    def __init__(self, *, clock: SimClock, label: str = "ClockAudioOutput") -> None:
        super().__init__(
            label=label, capabilities=io.AudioOutputCapabilities(pause=True), sample_rate=None
        )
        self._clock = clock
        self._state = _PlayState.IDLE
        self._paused = False
        self._segment = -1
        self._pushed_s = 0.0
        self._played_before_s = 0.0
        self._run_started_s: float | None = None
        self._flushed = False
        self._finish_handle: asyncio.TimerHandle | None = None
        self.events: list[OutputEvent] = []
        self.on_event: Callable[[OutputEvent], None] | None = None

    @property
    def playing(self) -> bool:
        """Whether a segment is open and not paused."""
        return self._state is _PlayState.PLAYING

    def position_s(self) -> float:
        """Current playback position in the open segment, seconds (0 if none)."""
        if self._state is _PlayState.IDLE:
            return 0.0
        run = 0.0 if self._run_started_s is None else self._clock.now() - self._run_started_s
        return min(self._pushed_s, self._played_before_s + run)

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        now = self._clock.now()
        if self._state is _PlayState.IDLE:
            self._segment += 1
            self._pushed_s = 0.0
            self._played_before_s = 0.0
            self._flushed = False
            if self._paused:
                self._state, self._run_started_s = _PlayState.PAUSED, None
            else:
                self._state, self._run_started_s = _PlayState.PLAYING, now
            self.on_playback_started(created_at=time.time())
            self._record(OutputEventKind.STARTED)
        elif self._run_started_s is not None:
            # an underrun: the player waited for audio, it did not play silence as speech
            if self._played_before_s + now - self._run_started_s > self._pushed_s:
                self._played_before_s, self._run_started_s = self._pushed_s, now
        self._pushed_s += frame.duration

    def flush(self) -> None:
        super().flush()
        if self._state is _PlayState.IDLE:
            return
        self._flushed = True
        self._arm_finish()

    def clear_buffer(self) -> None:
        if self._state is _PlayState.IDLE:
            return
        position = self.position_s()
        self._cancel_finish()
        self._record(OutputEventKind.CLEARED, position)
        self._end_segment()
        # like LiveKit's room output and transcript synchronizer, a pause outlives the
        # segment: whoever paused must resume, or the next segment stays silent
        self.on_playback_finished(playback_position=position, interrupted=True)

    def pause(self) -> None:
        super().pause()
        if self._paused:
            return
        self._paused = True
        if self._state is _PlayState.PLAYING:
            self._played_before_s = self.position_s()
            self._run_started_s = None
            self._state = _PlayState.PAUSED
            self._cancel_finish()
            self._record(OutputEventKind.PAUSED)

    def resume(self) -> None:
        super().resume()
        if not self._paused:
            return
        self._paused = False
        if self._state is _PlayState.PAUSED:
            self._state = _PlayState.PLAYING
            self._run_started_s = self._clock.now()
            self._record(OutputEventKind.RESUMED)
            self._arm_finish()

    def _arm_finish(self) -> None:
        self._cancel_finish()
        if not self._flushed or self._state is not _PlayState.PLAYING:
            return
        remaining = max(0.0, self._pushed_s - self.position_s())
        self._finish_handle = self._clock.loop.call_later(remaining, self._finish)

    def _cancel_finish(self) -> None:
        if self._finish_handle is not None:
            self._finish_handle.cancel()
            self._finish_handle = None

    def _finish(self) -> None:
        self._finish_handle = None
        position = self._pushed_s
        self._record(OutputEventKind.FINISHED, position)
        self._end_segment()
        self.on_playback_finished(playback_position=position, interrupted=False)

    def _end_segment(self) -> None:
        self._state = _PlayState.IDLE
        self._run_started_s = None
        self._pushed_s = 0.0
        self._played_before_s = 0.0
        self._flushed = False

    def _record(self, kind: OutputEventKind, position_s: float | None = None) -> None:
        now = self._clock.now()
        position = self.position_s() if position_s is None else position_s
        after = heard_after_s(
            kind, position_s=position, pushed_s=self._pushed_s, flushed=self._flushed
        )
        ev = OutputEvent(now, kind, position, self._segment, now + after)
        self.events.append(ev)
        if self.on_event is not None:
            self.on_event(ev)


class RecordingTextOutput(io.TextOutput):
    """Transcription sink: keeps the synchronized agent text of each segment."""

    def __init__(self) -> None:
        super().__init__(label="RecordingTextOutput", next_in_chain=None)
        self._pending = ""
        self.segments: list[str] = []

    async def capture_text(self, text: str) -> None:
        self._pending += text

    def flush(self) -> None:
        self.segments.append(self._pending)
        self._pending = ""
