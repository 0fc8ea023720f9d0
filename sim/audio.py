"""Audio helpers: load any clip as mono float32 at a given rate; convert to frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]

MIN_RATE_HZ = 8_000
MAX_RATE_HZ = 48_000


def to_mono_float(samples: npt.NDArray[np.generic]) -> Samples:
    """Mono float32 in [-1, 1] from (n,) or (n, channels) float or int16 samples."""
    a = np.asarray(samples)
    if a.ndim == 2:
        a = a.mean(axis=1)
    elif a.ndim != 1:
        raise ValueError(f"expected (n,) or (n, channels) samples, got shape {a.shape}")
    if a.dtype == np.int16:
        return (a.astype(np.float32) / 32768.0).astype(np.float32)
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"expected float or int16 samples, got {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float32)


def resample(samples: Samples, from_hz: int, to_hz: int) -> Samples:
    """Resample mono float32 audio (soxr, high quality); identity if the rates match."""
    for name, rate in (("from_hz", from_hz), ("to_hz", to_hz)):
        if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
            raise ValueError(f"{name} must be in {MIN_RATE_HZ}..{MAX_RATE_HZ} Hz, got {rate}")
    if from_hz == to_hz:
        return samples
    import soxr

    return np.ascontiguousarray(soxr.resample(samples, from_hz, to_hz), dtype=np.float32)


def load_clip(path: Path, rate_hz: int) -> Samples:
    """Read a WAV/FLAC file as mono float32 at `rate_hz` (clear error if unreadable)."""
    import soundfile as sf

    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=False)
    except Exception as e:  # soundfile raises its own error types for bad files
        raise ValueError(f"cannot read audio {path}: {e}") from e
    if not MIN_RATE_HZ <= int(file_rate) <= MAX_RATE_HZ:
        raise ValueError(
            f"{path}: sample rate {file_rate} Hz is outside {MIN_RATE_HZ}..{MAX_RATE_HZ} Hz"
        )
    return resample(to_mono_float(data), int(file_rate), rate_hz)
