"""Audio loading for the benchmark: any WAV/FLAC the contract accepts, as 16 kHz mono float32.

The contract lets users bring mono or stereo WAV or FLAC at 8-48 kHz; every system under
test receives the same 16 kHz mono float32 samples, produced here once per item.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

__all__ = [
    "BENCH_SAMPLE_RATE_HZ",
    "MAX_RATE_HZ",
    "MIN_RATE_HZ",
    "AudioError",
    "Samples",
    "load_audio",
    "resample",
]

Samples = npt.NDArray[np.float32]
"""Mono float32 samples in [-1, 1]."""

BENCH_SAMPLE_RATE_HZ = 16_000
"""Every system receives audio resampled to this rate (the loader does it once per item)."""

MIN_RATE_HZ = 8_000
MAX_RATE_HZ = 48_000
_SUPPORTED_FORMATS = {"WAV", "FLAC"}


class AudioError(ValueError):
    """An audio file is unusable; the message names the file and what to do."""


def resample(samples: Samples, from_rate_hz: int, to_rate_hz: int) -> Samples:
    """Resample mono float32 `samples` from `from_rate_hz` to `to_rate_hz` (soxr, HQ)."""
    if from_rate_hz == to_rate_hz:
        return samples.astype(np.float32, copy=False)
    out = soxr.resample(samples, from_rate_hz, to_rate_hz, quality="HQ")
    return np.asarray(out, dtype=np.float32)


def load_audio(path: Path | str) -> Samples:
    """Read a WAV or FLAC file as mono float32 samples at 16 kHz.

    Stereo (or more channels) is averaged to mono; rates from 8 kHz to 48 kHz are resampled
    with soxr. Raises `AudioError` naming the file when it is missing, not WAV/FLAC,
    unreadable, empty, or at a rate outside 8-48 kHz.
    """
    p = Path(path)
    if not p.is_file():
        raise AudioError(f"{p}: audio file not found (check the manifest's 'audio' path)")
    try:
        info = sf.info(str(p))
    except Exception as exc:  # soundfile raises a bare RuntimeError subclass
        raise AudioError(f"{p}: unreadable audio ({exc}); give a WAV or FLAC file") from exc
    if info.format not in _SUPPORTED_FORMATS:
        raise AudioError(f"{p}: format {info.format} not supported; convert to WAV or FLAC")
    rate = int(info.samplerate)
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise AudioError(
            f"{p}: sample rate {rate} Hz out of range; resample to {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz"
        )
    try:
        data, _ = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(f"{p}: unreadable audio ({exc}); give a WAV or FLAC file") from exc
    if data.shape[0] == 0:
        raise AudioError(f"{p}: audio file is empty (0 samples); re-export it with content")
    mono: Samples = np.asarray(data.mean(axis=1), dtype=np.float32)
    return resample(mono, rate, BENCH_SAMPLE_RATE_HZ)
