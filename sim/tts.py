"""Agent speech for the harness: pre-rendered clips of scripted lines, speech-shaped audio else.

Scripted sentences play their committed FLAC clip (rendered once with piper by
`sim/render_clips.py`). Any other text (e.g. benchmark agent lines) becomes syllable-like
voiced audio of a realistic duration, word by word, so that the framework's transcript
synchronizer can truncate it at the word that was playing (a pure tone would not work).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from livekit.agents import tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from sim.assets_index import ASSETS_DIR, clip_file_name, normalize_text
from sim.audio import load_clip

Samples = npt.NDArray[np.float32]

TTS_SAMPLE_RATE_HZ = 24_000
SYLLABLE_S = 0.19
"""Duration of one synthetic syllable, seconds (about 4.5 syllables/s with the gaps)."""
WORD_GAP_S = 0.035
"""Silence after each synthetic word, seconds."""
SENTENCE_GAP_S = 0.25
"""Extra silence after a word ending a sentence or clause (. ! ? , ;), seconds."""
SENTENCE_PAUSE_S = 0.2
"""Silence appended after each scripted clip, seconds (piper clips are trimmed)."""
SYNTH_LEVEL = 0.25
"""Peak amplitude of synthetic syllables (about -15 dBFS RMS)."""


def count_syllables(word: str) -> int:
    """Vowel groups in `word` (at least 1): a cheap syllable count for durations."""
    groups = re.findall(r"[aeiouy]+", word.lower())
    n = len(groups)
    if word.lower().endswith("e") and n > 1:
        n -= 1
    return max(1, n)


def _syllable(f0_hz: float, rate: int) -> Samples:
    n = int(SYLLABLE_S * rate)
    t = np.arange(n, dtype=np.float64) / rate
    # a glottal-like harmonic stack with a vowel-ish spectral tilt and a smooth envelope
    wave = sum(np.sin(2 * np.pi * f0_hz * k * t) / k**1.2 for k in range(1, 12))
    env = np.sin(np.pi * np.arange(n) / n) ** 0.6
    out = (wave * env).astype(np.float32)
    scaled: Samples = (out / np.max(np.abs(out)) * SYNTH_LEVEL).astype(np.float32)
    return scaled


def synth_word_audio(word: str, rate: int = TTS_SAMPLE_RATE_HZ) -> Samples:
    """Speech-shaped audio for one word (deterministic: same word, same samples)."""
    parts: list[Samples] = []
    syllables = count_syllables(word)
    seed = sum(map(ord, word))
    for i in range(syllables):
        f0 = 105.0 + ((seed + 17 * i) % 40)
        parts.append(_syllable(f0, rate))
    gap = WORD_GAP_S + (SENTENCE_GAP_S if re.search(r"[.!?,;:]$", word) else 0.0)
    parts.append(np.zeros(int(gap * rate), dtype=np.float32))
    return np.concatenate(parts)


def synth_speech(text: str, rate: int = TTS_SAMPLE_RATE_HZ) -> Samples:
    """Speech-shaped audio for arbitrary text: the concatenation of its words' audio."""
    words = text.split()
    if not words:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([synth_word_audio(w, rate) for w in words])


def synth_duration_s(text: str) -> float:
    """Duration `synth_speech(text)` has, seconds (additive over words, so over chunks)."""
    rate = TTS_SAMPLE_RATE_HZ
    total = 0
    for w in text.split():
        total += count_syllables(w) * int(SYLLABLE_S * rate)
        gap = WORD_GAP_S + (SENTENCE_GAP_S if re.search(r"[.!?,;:]$", w) else 0.0)
        total += int(gap * rate)
    return total / rate


@dataclass(frozen=True)
class ClipLibrary:
    """Agent sentence clips by normalized text."""

    clips: dict[str, Path]

    @staticmethod
    def from_lines(lines: tuple[str, ...], folder: Path | None = None) -> ClipLibrary:
        """Clips of `lines` under `folder` (default `sim/assets/agent`); a missing file
        raises FileNotFoundError naming the render command."""
        base = folder or ASSETS_DIR / "agent"
        clips: dict[str, Path] = {}
        for line in lines:
            path = base / clip_file_name(line)
            if not path.is_file():
                raise FileNotFoundError(
                    f"missing agent clip {path} for {line!r}: run `python -m sim.render_clips`"
                )
            clips[normalize_text(line)] = path
        return ClipLibrary(clips)


@lru_cache(maxsize=64)
def _clip_audio(path: Path, rate: int) -> Samples:
    audio = load_clip(path, rate)
    pause = np.zeros(int(SENTENCE_PAUSE_S * rate), dtype=np.float32)
    return np.concatenate([audio, pause])


class ClipTTS(tts.TTS[Any]):
    """Non-streaming TTS (the session wraps it in its sentence stream adapter).

    A chunk of text is matched greedily, sentence by sentence, against the clip library;
    unmatched text is synthesized as speech-shaped audio. `synthesized` lists every request
    (text, duration in seconds).
    """

    def __init__(
        self, *, library: ClipLibrary | None = None, sample_rate: int = TTS_SAMPLE_RATE_HZ
    ) -> None:
        """`sample_rate` (8000..48000 Hz) of the produced audio."""
        if not 8000 <= sample_rate <= 48000:
            raise ValueError(f"sample_rate must be in 8000..48000 Hz, got {sample_rate}")
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=sample_rate,
            num_channels=1,
        )
        self._library = library or ClipLibrary({})
        self.synthesized: list[tuple[str, float]] = []

    @property
    def model(self) -> str:
        return "clips+synthetic"

    def render(self, text: str) -> Samples:
        """The audio this TTS produces for `text` (float32 mono at `sample_rate`)."""
        parts: list[Samples] = []
        pending: list[str] = []
        for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
            if not sentence:
                continue
            path = self._library.clips.get(normalize_text(sentence))
            if path is None:
                pending.append(sentence)
                continue
            if pending:
                parts.append(synth_speech(" ".join(pending), self.sample_rate))
                pending = []
            parts.append(_clip_audio(path, self.sample_rate))
        if pending:
            parts.append(synth_speech(" ".join(pending), self.sample_rate))
        if not parts:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(parts)

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _ClipStream(tts=self, input_text=text, conn_options=conn_options)


class _ClipStream(tts.ChunkedStream):
    def __init__(self, *, tts: ClipTTS, input_text: str, conn_options: APIConnectOptions):
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._clip_tts = tts

    async def _run(self, output_emitter: Any) -> None:
        audio = self._clip_tts.render(self._input_text)
        self._clip_tts.synthesized.append(
            (self._input_text, audio.size / self._clip_tts.sample_rate)
        )
        output_emitter.initialize(
            request_id=uuid.uuid4().hex[:12],
            sample_rate=self._clip_tts.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)
        output_emitter.push(pcm.tobytes())
        output_emitter.flush()
