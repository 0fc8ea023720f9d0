"""The framework's voice-activity view of an item: Silero VAD run through its own stream.

Every livekit-* baseline and the audio-driven pause detection of every endpoint policy see
the audio through this one timeline, computed once per item with the default settings of
`livekit-plugins-silero` (`silero.VAD.load()`: min_speech 0.05 s, min_silence 0.55 s,
activation 0.5), streamed in 20 ms frames as a session would push them. Stream times are the
plugin's own `timestamp` (seconds of audio consumed), so they do not depend on the machine.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.datasets.audio import BENCH_SAMPLE_RATE_HZ, Samples

FRAME_S = 0.02
"""Frame length pushed into the VAD stream, seconds (the framework's input is 10-20 ms)."""


@dataclass(frozen=True)
class VadFrame:
    """One VAD inference (`INFERENCE_DONE` event) of the plugin."""

    t_s: float
    """Stream time at the end of the inference window, seconds."""
    probability: float
    speaking: bool
    """The plugin's debounced speaking state after this window."""
    speech_duration_s: float
    """Duration of the current speech segment, seconds (0 when not speaking)."""
    silence_s: float
    """`raw_accumulated_silence`: consecutive below-threshold audio, seconds."""


@dataclass(frozen=True)
class VadSegment:
    """One speech segment as the plugin reported it."""

    start_event_s: float
    """Stream time of `START_OF_SPEECH`, seconds."""
    start_s: float
    """Estimated start of the speech (event time minus its speech duration), seconds."""
    end_s: float | None
    """End of speech (`END_OF_SPEECH` time minus its silence duration), seconds; None when the
    clip ended while speaking."""
    eos_event_s: float | None
    """Stream time of `END_OF_SPEECH`, seconds (None: never emitted)."""


@dataclass(frozen=True)
class VadTimeline:
    frames: tuple[VadFrame, ...]
    segments: tuple[VadSegment, ...]
    duration_s: float
    cpu_s: float
    """Process CPU time spent computing this timeline, seconds."""


_cache: dict[str, VadTimeline] = {}
_reused_cpu_s = 0.0
_cache_lock = threading.Lock()
_vad_model: Any = None


def audio_key(audio: Samples) -> str:
    """Content hash of 16 kHz samples (the in-process cache key)."""
    return hashlib.sha1(np.ascontiguousarray(audio).tobytes()).hexdigest()


def _load_vad() -> Any:
    global _vad_model
    if _vad_model is None:
        from livekit.plugins import silero

        _vad_model = silero.VAD.load()
    return _vad_model


async def _run_stream(audio: Samples) -> tuple[list[VadFrame], list[VadSegment]]:
    from livekit import rtc
    from livekit.agents import vad as lk_vad

    model = _load_vad()
    stream = model.stream()
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)
    frame_samples = int(FRAME_S * BENCH_SAMPLE_RATE_HZ)
    frames: list[VadFrame] = []
    segments: list[VadSegment] = []
    open_start: tuple[float, float] | None = None

    async def feed() -> None:
        for i in range(0, len(pcm), frame_samples):
            chunk = pcm[i : i + frame_samples]
            if len(chunk) < frame_samples:
                chunk = np.concatenate([chunk, np.zeros(frame_samples - len(chunk), np.int16)])
            stream.push_frame(
                rtc.AudioFrame(
                    data=chunk.tobytes(),
                    sample_rate=BENCH_SAMPLE_RATE_HZ,
                    num_channels=1,
                    samples_per_channel=frame_samples,
                )
            )
            if i % (frame_samples * 50) == 0:
                await asyncio.sleep(0)
        stream.end_input()

    feeder = asyncio.create_task(feed())
    try:
        async for ev in stream:
            match ev.type:
                case lk_vad.VADEventType.INFERENCE_DONE:
                    frames.append(
                        VadFrame(
                            t_s=float(ev.timestamp),
                            probability=float(ev.probability),
                            speaking=bool(ev.speaking),
                            speech_duration_s=float(ev.speech_duration),
                            silence_s=float(ev.raw_accumulated_silence),
                        )
                    )
                case lk_vad.VADEventType.START_OF_SPEECH:
                    t = float(ev.timestamp)
                    open_start = (t, max(0.0, t - float(ev.speech_duration)))
                case lk_vad.VADEventType.END_OF_SPEECH:
                    t = float(ev.timestamp)
                    if open_start is not None:
                        segments.append(
                            VadSegment(
                                start_event_s=open_start[0],
                                start_s=open_start[1],
                                end_s=t - float(ev.silence_duration),
                                eos_event_s=t,
                            )
                        )
                    open_start = None
    finally:
        await feeder
        await stream.aclose()
    if open_start is not None:
        segments.append(VadSegment(open_start[0], open_start[1], None, None))
    return frames, segments


def vad_timeline(audio: Samples) -> VadTimeline:
    """Silero VAD events of `audio` (16 kHz mono), computed once per distinct audio.

    A reused timeline adds the CPU time its computation took to `reused_cpu_s()`, so each
    system that reads it can be charged the same VAD cost as the one that computed it.

    Runs its own event loop, so call it from synchronous code (the runners call systems
    from a worker thread or plain code, never from inside a running loop).
    """
    global _reused_cpu_s
    key = audio_key(audio)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _reused_cpu_s += hit.cpu_s
    if hit is not None:
        return hit
    t0 = time.process_time()
    frames, segments = asyncio.run(_run_stream(audio))
    tl = VadTimeline(
        frames=tuple(frames),
        segments=tuple(segments),
        duration_s=len(audio) / BENCH_SAMPLE_RATE_HZ,
        cpu_s=time.process_time() - t0,
    )
    with _cache_lock:
        _cache[key] = tl
    return tl


def reused_cpu_s() -> float:
    """Total CPU seconds of VAD timelines served from the cache instead of recomputed (a
    running counter: take the difference around a call)."""
    with _cache_lock:
        return _reused_cpu_s


def clear_cache() -> None:
    """Drop the in-process timelines (the runners do it between items, to bound memory)."""
    with _cache_lock:
        _cache.clear()
