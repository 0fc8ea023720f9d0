"""Endpoint baselines: the framework's end-of-turn rules, replayed on the VAD timeline.

All policies detect pauses from the audio (`vad_timeline`), never from the manifest. Each
produces, per operating point, the stream times at which it would declare the turn over;
`judge` turns those into the contract's per-pause verdicts and `fired_at_s`.

The framework's commit timing (`voice/audio_recognition.py` ~1499-1520 and ~1600-1830):
on VAD `END_OF_SPEECH` the end-of-utterance task starts with `last_speaking_time` = speech
end (event time minus its silence), sleeps `endpointing_delay - (now - last_speaking_time)`
and commits; a new `START_OF_SPEECH` cancels it (~1440-1475). So a turn commits at
`max(EOS event time, speech end + delay)` unless the VAD sees speech start before then.
The delay is `min_delay`, or `max_delay` when a turn detector's probability is below its
`unlikely_threshold` (~1684-1690). A commit also waits for an STT transcript; the replay
assumes one has arrived (the STT timelines here finalise well within these delays).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.datasets.audio import BENCH_SAMPLE_RATE_HZ, Samples
from bench.datasets.manifest import EndpointItem
from bench.evaluation.baselines.vad_timeline import VadTimeline, vad_timeline
from bench.evaluation.types import EndpointOutcome, TranscriptEvent

RESUME_TOLERANCE_S = 0.1
"""A firing up to this long after a manifest pause ends still counts as inside it: the VAD
needs a few windows to see the speaker resume, and the agent would already be talking."""

SILENCE_WINDOWS_S: tuple[float, ...] = tuple(round(0.1 + 0.05 * k, 2) for k in range(59))
"""Windows swept for `fixed-500ms` (the silence window) and `min_delay` values for
`livekit-dynamic` (from 0.2 s), seconds: 0.05 s steps from 0.1 to 3.0 s since 2026-12-03. The
latency at a cut-off budget is read at the swept points, and the grid before (0.1-0.6 s in
0.1 s steps, then 0.8, 1.0, 1.25, 1.5, 2.0) had no point between 1.5 and 2.0 s, where the
5 % budget falls: it read the fixed window's 5 % point at 2.0 s."""

EOT_SILENCE_S = 0.2
"""`MIN_SILENCE_DURATION_MS` (inference/eot/base.py): VAD silence before the EOT model is asked."""

EOT_WINDOW_SAMPLES = 19_200
"""The local transport's audio buffer (`_CLIENT_BUFFER_SECONDS` 1.2 s at 16 kHz)."""


def judge(
    item: EndpointItem, firings: Sequence[float], *, tolerance_s: float = RESUME_TOLERANCE_S
) -> EndpointOutcome:
    """Contract verdicts from firing times (stream seconds, any order).

    Pause i fired when a firing lies in [start_i, end_i + tolerance_s]; `fired_at_s` is the
    first firing at or after `speech_end_s` (None: never fired before the clip ended).
    """
    fs = sorted(firings)
    pause_fired = tuple(any(ps <= t <= pe + tolerance_s for t in fs) for ps, pe in item.pauses)
    fired_at = next((t for t in fs if t >= item.speech_end_s), None)
    return EndpointOutcome(pause_fired=pause_fired, fired_at_s=fired_at)


def commit_times(
    tl_segments: Sequence[tuple[float, float | None, float | None]],
    delays_s: Sequence[float],
) -> list[float]:
    """Framework commit times for VAD segments (start_event_s, end_s, eos_event_s) with the
    delay chosen for each segment (s). A commit is cancelled when the next segment's start
    event comes first. Pure."""
    out: list[float] = []
    for k, (seg, delay) in enumerate(zip(tl_segments, delays_s, strict=True)):
        _, end_s, eos_s = seg
        if end_s is None or eos_s is None:
            continue
        at = max(eos_s, end_s + delay)
        nxt = tl_segments[k + 1][0] if k + 1 < len(tl_segments) else None
        if nxt is None or nxt > at:
            out.append(at)
    return out


def _segments(tl: VadTimeline) -> list[tuple[float, float | None, float | None]]:
    return [(s.start_event_s, s.end_s, s.eos_event_s) for s in tl.segments]


class TimedPolicy:
    """Shared bookkeeping: CPU time of the policy's own work (VAD timeline included when
    this policy computed it; the runner attributes shared work)."""

    name: str
    thresholds: Sequence[float]
    default_threshold: float

    def __init__(self) -> None:
        self.cpu_s = 0.0

    def reset(self) -> None:
        """No per-speaker state."""

    def _probability_sweep(
        self, name: str, thresholds: Sequence[float], default_threshold: float
    ) -> None:
        """Name the policy and set its swept end-of-turn probabilities (each in (0, 1))."""
        if not thresholds or any(not 0 < t < 1 for t in thresholds):
            raise ValueError("thresholds must be probabilities in (0, 1)")
        self.name = name
        self.thresholds = tuple(thresholds)
        self.default_threshold = default_threshold


class FixedSilencePolicy(TimedPolicy):
    """`fixed-500ms`: declare the turn over after a fixed window of VAD silence.

    Fires at the first VAD window where the raw accumulated silence (below-threshold audio
    since the last speech window) reaches the window, once per silence run, and only after
    the VAD has reported speech. The window is the swept threshold (s).
    """

    def __init__(
        self,
        *,
        thresholds: Sequence[float] = SILENCE_WINDOWS_S,
        default_threshold: float = 0.5,
    ) -> None:
        super().__init__()
        if not thresholds or any(t <= 0 for t in thresholds):
            raise ValueError("thresholds must be positive silence windows in seconds")
        self.name = "fixed-500ms"
        self.thresholds = tuple(thresholds)
        self.default_threshold = default_threshold

    def run(
        self, item: EndpointItem, audio: Samples, transcript: Sequence[TranscriptEvent]
    ) -> list[EndpointOutcome]:
        t0 = time.process_time()
        tl = vad_timeline(audio)
        frames = [(f.t_s, f.silence_s, f.speaking) for f in tl.frames]
        out = [judge(item, silence_firings(frames, w)) for w in self.thresholds]
        self.cpu_s += time.process_time() - t0
        return out


def silence_firings(frames: Sequence[tuple[float, float, bool]], window_s: float) -> list[float]:
    """Times (s) at which (t_s, silence_s, speaking) frames first reach `window_s` of
    silence in each silence run that follows speech. Pure."""
    out: list[float] = []
    armed = False
    for t, silence_s, speaking in frames:
        if silence_s == 0.0 and speaking:
            armed = True
        if armed and silence_s >= window_s:
            out.append(t)
            armed = False
    return out


class LiveKitDynamicPolicy(TimedPolicy):
    """`livekit-dynamic`: the framework's `DynamicEndpointing` (voice/endpointing.py) fed the
    VAD's start/end of speech the way `audio_recognition.py` does (`_on_start_of_speech`
    ~600-610, `_on_end_of_speech` ~661-670), committing per `commit_times` with the delay
    it reports after each end of speech. Items of the same `speaker` share one instance, as
    one session would: they are laid end to end on its clock with an agent reply between
    them (`on_start_of_agent_speech`/`on_end_of_agent_speech`), so the class itself decides
    which pauses it learns from. Items without a speaker get a fresh instance. The swept
    threshold is `min_delay` (s); `max_delay` stays 3.0 s.
    """

    AGENT_REPLY_S = 2.0
    """Agent turn inserted between two items of one speaker on the session clock, s."""

    def __init__(
        self,
        *,
        thresholds: Sequence[float] = SILENCE_WINDOWS_S[2:],
        default_threshold: float = 0.5,
        max_delay_s: float = 3.0,
    ) -> None:
        super().__init__()
        if not thresholds or any(t <= 0 or t > max_delay_s for t in thresholds):
            raise ValueError(f"thresholds must be min_delay values in (0, {max_delay_s}] s")
        self.name = "livekit-dynamic"
        self.thresholds = tuple(thresholds)
        self.default_threshold = default_threshold
        self.max_delay_s = max_delay_s
        self._speakers: dict[str, tuple[list[Any], float]] = {}

    def reset(self) -> None:
        """Forget every speaker's learned pause statistics."""
        self._speakers.clear()

    def run(
        self, item: EndpointItem, audio: Samples, transcript: Sequence[TranscriptEvent]
    ) -> list[EndpointOutcome]:
        from livekit.agents.voice.endpointing import DynamicEndpointing

        t0 = time.process_time()
        segs = _segments(vad_timeline(audio))
        known = self._speakers.get(item.speaker) if item.speaker is not None else None
        if known is None:
            eps = [
                DynamicEndpointing(min_delay=d, max_delay=self.max_delay_s) for d in self.thresholds
            ]
            base = 0.0
        else:
            eps, base = known
            for ep in eps:
                ep.on_start_of_agent_speech(started_at=base)
                ep.on_end_of_agent_speech(ended_at=base + self.AGENT_REPLY_S)
            base += self.AGENT_REPLY_S
        out: list[EndpointOutcome] = []
        for ep in eps:
            delays: list[float] = []
            for start_event_s, end_s, _ in segs:
                ep.on_start_of_speech(started_at=base + start_event_s, overlapping=False)
                if end_s is None:
                    delays.append(self.max_delay_s)
                    continue
                ep.on_end_of_speech(ended_at=base + end_s)
                delays.append(ep.min_delay)
            out.append(judge(item, commit_times(segs, delays)))
        if item.speaker is not None:
            self._speakers[item.speaker] = (eps, base + len(audio) / BENCH_SAMPLE_RATE_HZ)
        self.cpu_s += time.process_time() - t0
        return out


def eot_query_times(frames: Sequence[tuple[float, float, bool]]) -> list[float]:
    """Times (s) at which the framework asks the streaming turn detector: the first window
    of each silence run reaching `EOT_SILENCE_S` while the VAD is speaking
    (audio_recognition.py ~1483-1497: speech cancels the pending prediction). Pure."""
    out: list[float] = []
    asked = False
    for t, silence_s, speaking in frames:
        if silence_s < EOT_SILENCE_S:
            asked = False
        elif speaking and not asked:
            out.append(t)
            asked = True
    return out


def delays_from_probabilities(
    segments: Sequence[tuple[float, float | None, float | None]],
    queries: Sequence[tuple[float, float]],
    *,
    threshold: float,
    min_delay_s: float,
    max_delay_s: float,
) -> list[float]:
    """Per segment: `min_delay_s`, or `max_delay_s` when the last prediction (t_s, p) asked
    before its end-of-speech event has p < threshold; `min_delay_s` when none was asked. Pure."""
    delays: list[float] = []
    for _, _, eos_s in segments:
        p: float | None = None
        if eos_s is not None:
            for t, prob in queries:
                if t <= eos_s:
                    p = prob
        delays.append(max_delay_s if p is not None and p < threshold else min_delay_s)
    return delays


class _ModelPolicy(TimedPolicy):
    """Asks an audio end-of-turn model at the framework's query times, then commits with
    `min_delay`/`max_delay` by threshold. Subclasses provide `_predict(window) -> p`."""

    min_delay_s: float
    max_delay_s: float

    def _predict(self, pcm16k: Samples) -> float:
        raise NotImplementedError

    def load(self) -> None:
        """Load the model (called once before the first item)."""

    def run(
        self, item: EndpointItem, audio: Samples, transcript: Sequence[TranscriptEvent]
    ) -> list[EndpointOutcome]:
        tl = vad_timeline(audio)
        t0 = time.process_time()
        self.load()
        segs = _segments(tl)
        queries: list[tuple[float, float]] = []
        for t in eot_query_times([(f.t_s, f.silence_s, f.speaking) for f in tl.frames]):
            end = int(round(t * BENCH_SAMPLE_RATE_HZ))
            window = audio[max(0, end - EOT_WINDOW_SAMPLES) : end]
            queries.append((t, self._predict(window)))
        out = [
            judge(
                item,
                commit_times(
                    segs,
                    delays_from_probabilities(
                        segs,
                        queries,
                        threshold=thr,
                        min_delay_s=self.min_delay_s,
                        max_delay_s=self.max_delay_s,
                    ),
                ),
            )
            for thr in self.thresholds
        ]
        self.cpu_s += time.process_time() - t0
        return out


PROBABILITY_SWEEP = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.36, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


class LiveKitEotV1MiniPolicy(_ModelPolicy):
    """`livekit-eot-v1-mini`: LiveKit's local audio turn detector (`inference.TurnDetector(
    version="v1-mini")`, whose `_LocalTransport` (inference/eot/transports.py ~384-438)
    calls `livekit.local_inference.EOT().predict` on the last 1.2 s of int16 audio). Called
    here directly with the same window, outside a session. Delays are the framework's
    streaming-detector defaults (`voice/turn.py` ~142-147: min 0.3 s, max 2.5 s); the
    swept threshold is `unlikely_threshold` (default 0.36 for English, languages.py)."""

    def __init__(
        self,
        *,
        thresholds: Sequence[float] = PROBABILITY_SWEEP,
        default_threshold: float = 0.36,
        min_delay_s: float = 0.3,
        max_delay_s: float = 2.5,
    ) -> None:
        super().__init__()
        self._probability_sweep("livekit-eot-v1-mini", thresholds, default_threshold)
        self.min_delay_s = min_delay_s
        self.max_delay_s = max_delay_s
        self._eot: Any = None

    def load(self) -> None:
        if self._eot is None:
            from livekit.local_inference import EOT

            self._eot = EOT()

    def _predict(self, pcm16k: Samples) -> float:
        pcm = (np.clip(pcm16k, -1.0, 1.0) * 32767.0).astype(np.int16)
        return float(self._eot.predict(pcm))
