"""Early audio classifier of an overlap's first fraction of a second, pure numpy.

Words from speech-to-text arrive 0.4-0.6 s after the user starts talking; many true
interruptions are plain from their first syllable ("wait", "but", "I", "well" sound nothing
like "uh huh", "yeah", "mm hmm", "right"). `OnsetModel` scores the first `horizon_s` of the
user's audio from the onset: log mel-band energies (100-3800 Hz, so wideband and telephone
audio look alike) in 10 ms hops, averaged over 50 ms chunks, relative to the clip's loudest
frame (so the level does not matter), into a one-hidden-layer network per horizon trained
on rendered train-split speech (`bench.train_onset`). Its probability is only acted on when
it is very high (threshold chosen on val): the words still decide everything else.

`OnsetAudio` keeps the recent input audio so the window can start at the onset, which the
speech detector reports after the fact.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .model import DATA_DIR, ModelFileError, frame_features, reading_npz

__all__ = [
    "ONSET_MODEL_FILE",
    "OnsetAudio",
    "OnsetModel",
    "OnsetScore",
    "OnsetScorer",
    "onset_features",
    "window_s",
]

ONSET_MODEL_FILE = "onset_model.npz"
HOP_S = 0.010
"""Hop between analysis frames, seconds."""
WIN_S = 0.025
"""Analysis frame length, seconds."""
CHUNK_S = 0.05
"""Frames are averaged over chunks of this length, seconds."""
N_BANDS = 24
"""Mel bands between `LOW_HZ` and `HIGH_HZ`."""
LOW_HZ = 100.0
HIGH_HZ = 3800.0
"""Band edges, Hz: below the 4 kHz of telephone audio, so 8 kHz input is covered."""
FLOOR_DECADES = 8.0
"""Band energies more than this many decades (80 dB) below the loudest frame are floored."""
VOICED_BLOCK_S = 0.02
"""Block length of the voiced-sound count of a scored window, seconds."""
MAX_BUFFER_S = 2.0
"""Audio `OnsetAudio` keeps, seconds."""

_FloatArray = npt.NDArray[np.float32]
_filterbanks: dict[int, tuple[int, int, npt.NDArray[np.float64]]] = {}


def _mel(hz: npt.NDArray[np.float64] | float) -> npt.NDArray[np.float64]:
    return np.asarray(2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0))


def _filterbank(rate_hz: int) -> tuple[int, int, npt.NDArray[np.float64]]:
    """(window samples, hop samples, mel matrix bins x bands) for a sample rate (cached)."""
    fb = _filterbanks.get(rate_hz)
    if fb is not None:
        return fb
    win = int(round(WIN_S * rate_hz))
    hop = int(round(HOP_S * rate_hz))
    nfft = 1 << (win - 1).bit_length()
    freqs = np.fft.rfftfreq(nfft, 1.0 / rate_hz)
    edges_mel = np.linspace(_mel(LOW_HZ), _mel(HIGH_HZ), N_BANDS + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    m = np.zeros((len(freqs), N_BANDS))
    for b in range(N_BANDS):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        up = (freqs - lo) / (mid - lo)
        down = (hi - freqs) / (hi - mid)
        m[:, b] = np.clip(np.minimum(up, down), 0.0, None)
    m /= np.maximum(m.sum(axis=0, keepdims=True), 1e-12)
    fb = (win, hop, m)
    _filterbanks[rate_hz] = fb
    return fb


def window_s(horizon_s: float) -> float:
    """Audio after the onset that `onset_features` reads for `horizon_s`, seconds (the last
    analysis frame reaches past the horizon by a window minus a hop)."""
    return horizon_s + WIN_S - HOP_S


def onset_features(
    samples: npt.NDArray[np.floating], sample_rate_hz: int, horizon_s: float
) -> _FloatArray:
    """Feature vector of the first `window_s(horizon_s)` of `samples` (mono, [-1, 1], any
    rate from 8 kHz): (horizon_s / 50 ms) chunks x `N_BANDS` log10 band energies relative to
    the loudest frame's in-band energy (so <= 0); shorter audio is padded with silence."""
    if sample_rate_hz < 8000:
        raise ValueError(f"sample_rate_hz must be >= 8000, got {sample_rate_hz}")
    n_chunks = int(round(horizon_s / CHUNK_S))
    if n_chunks < 1:
        raise ValueError(f"horizon_s must be >= {CHUNK_S} s, got {horizon_s}")
    win, hop, fb = _filterbank(sample_rate_hz)
    per_chunk = int(round(CHUNK_S / HOP_S))
    n_frames = n_chunks * per_chunk
    need = (n_frames - 1) * hop + win
    x = np.zeros(need, dtype=np.float64)
    src = np.asarray(samples, dtype=np.float64).reshape(-1)[:need]
    x[: len(src)] = src
    idx = np.arange(win)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = x[idx] * np.hanning(win)[None, :]
    nfft = (fb.shape[0] - 1) * 2
    power = np.abs(np.fft.rfft(frames, n=nfft, axis=1)) ** 2 / win
    band_power = power @ fb
    # relative to the loudest frame's total in-band energy: the level drops out
    ref = float(np.log10(band_power.sum(axis=1).max() + 1e-12))
    bands = np.maximum(np.log10(band_power + 1e-12) - ref, -FLOOR_DECADES)
    pooled = bands.reshape(n_chunks, per_chunk, N_BANDS).mean(axis=1)
    out: _FloatArray = pooled.reshape(-1).astype(np.float32)
    return out


@dataclass(frozen=True)
class OnsetScore:
    """The early audio classifier's verdict on one horizon of an onset."""

    horizon_s: float
    """Audio after the onset that was scored, seconds."""
    probability: float
    """P(interruption) (0..1)."""
    voiced_s: float
    """Voiced sound in the scored audio (`model.AudioFeatures.voiced` per 20 ms), seconds."""


def voiced_seconds(samples: npt.NDArray[np.floating], sample_rate_hz: int) -> float:
    """Seconds of voiced 20 ms blocks (level and voicing as `model.AudioFeatures.voiced`)."""
    n = max(1, int(round(VOICED_BLOCK_S * sample_rate_hz)))
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    return sum(
        VOICED_BLOCK_S
        for k in range(len(x) // n)
        if frame_features(x[k * n : (k + 1) * n], sample_rate_hz).voiced
    )


class OnsetModel:
    """P(interruption | first `horizon_s` of the user's audio) for a few fixed horizons.

    One standardised one-hidden-layer tanh network per horizon. Load the shipped weights
    with `OnsetModel.load()` (in the worker's prewarm, not on import)."""

    def __init__(self, layers: dict[float, dict[str, npt.NDArray[np.float32]]]) -> None:
        if not layers:
            raise ModelFileError("onset model has no horizons")
        for h, p in layers.items():
            dim = int(round(h / CHUNK_S)) * N_BANDS
            shapes = {k: v.shape for k, v in p.items()}
            hidden = p["w1"].shape[1] if p.get("w1") is not None and p["w1"].ndim == 2 else -1
            want = {
                "mean": (dim,),
                "std": (dim,),
                "w1": (dim, hidden),
                "b1": (hidden,),
                "w2": (hidden,),
                "b2": (),
            }
            if hidden < 1 or shapes != want:
                raise ModelFileError(f"onset model horizon {h} s: shapes {shapes}, want {want}")
        self.layers = {float(h): p for h, p in layers.items()}

    @property
    def horizons_s(self) -> tuple[float, ...]:
        """The horizons it scores, seconds after the onset, ascending."""
        return tuple(sorted(self.layers))

    @classmethod
    def load(cls, path: Path | None = None) -> OnsetModel:
        """Read the weights (default: the shipped `data/onset_model.npz`)."""
        p = path or DATA_DIR / ONSET_MODEL_FILE
        layers: dict[float, dict[str, npt.NDArray[np.float32]]] = {}
        with reading_npz(p, "onset model", "bench.train_onset"), np.load(p) as z:
            for key in z.files:
                tag, name = key.split("/", 1)
                layers.setdefault(float(tag), {})[name] = np.asarray(z[key], np.float32)
        return cls(layers)

    def save(self, path: Path) -> None:
        """Write the weights as a compressed .npz."""
        flat = {f"{h:g}/{k}": v for h, p in self.layers.items() for k, v in p.items()}
        np.savez_compressed(path, **flat)  # type: ignore[arg-type]

    def logit_features(self, horizon_s: float, feats: npt.NDArray[np.floating]) -> float:
        """Log-odds of interruption from `onset_features(..., horizon_s)`."""
        p = self.layers[horizon_s]
        z = (np.asarray(feats, np.float32) - p["mean"]) / p["std"]
        h = np.tanh(z @ p["w1"] + p["b1"])
        return float(h @ p["w2"] + p["b2"])

    def score(
        self, samples: npt.NDArray[np.floating], sample_rate_hz: int, horizon_s: float
    ) -> OnsetScore:
        """`OnsetScore` of audio starting at the onset: P(interruption) of its first
        `window_s(horizon_s)` and the voiced sound in its first `horizon_s`."""
        x = np.asarray(samples).reshape(-1)[: int(round(window_s(horizon_s) * sample_rate_hz))]
        return OnsetScore(
            horizon_s=horizon_s,
            probability=self.probability(x, sample_rate_hz, horizon_s),
            voiced_s=voiced_seconds(x[: int(round(horizon_s * sample_rate_hz))], sample_rate_hz),
        )

    def probability(
        self, samples: npt.NDArray[np.floating], sample_rate_hz: int, horizon_s: float
    ) -> float:
        """P(interruption) of audio starting at the onset, scored on its first `horizon_s`
        (one of `horizons_s`)."""
        if horizon_s not in self.layers:
            raise ValueError(f"horizon_s must be one of {self.horizons_s}, got {horizon_s}")
        z = self.logit_features(horizon_s, onset_features(samples, sample_rate_hz, horizon_s))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


class OnsetAudio:
    """The last `MAX_BUFFER_S` of input audio, so a window can start at an onset that the
    speech detector reports later. Frames are mono float in [-1, 1]; a change of sample
    rate drops what was kept (it would not be one signal)."""

    def __init__(self, *, max_buffer_s: float = MAX_BUFFER_S) -> None:
        if not 0.5 <= max_buffer_s <= 10.0:
            raise ValueError(f"max_buffer_s must be in [0.5, 10] s, got {max_buffer_s}")
        self.max_buffer_s = max_buffer_s
        self.sample_rate_hz = 0
        self._frames: deque[tuple[float, _FloatArray]] = deque()
        self._kept = 0

    def push(self, samples: npt.NDArray[np.floating], sample_rate_hz: int, end_s: float) -> None:
        """Add a frame ending at stream time `end_s`."""
        if sample_rate_hz != self.sample_rate_hz:
            self._frames.clear()
            self._kept = 0
            self.sample_rate_hz = sample_rate_hz
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._frames.append((end_s, x))
        self._kept += len(x)
        limit = int(self.max_buffer_s * sample_rate_hz)
        while self._frames and self._kept - len(self._frames[0][1]) >= limit:
            self._kept -= len(self._frames.popleft()[1])

    def since(self, start_s: float) -> _FloatArray:
        """The kept audio from stream time `start_s` on (from the oldest kept sample if it
        is older than that)."""
        if not self._frames:
            return np.zeros(0, dtype=np.float32)
        rate = self.sample_rate_hz
        parts: list[_FloatArray] = []
        for end_s, x in self._frames:
            begin_s = end_s - len(x) / rate
            if end_s <= start_s:
                continue
            skip = max(0, int(round((start_s - begin_s) * rate)))
            parts.append(x[skip:])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def clear(self) -> None:
        """Forget the kept audio."""
        self._frames.clear()
        self._kept = 0


class OnsetScorer:
    """Runs an `OnsetModel` on a stream: keeps the recent audio and, once per horizon after
    each `start`, scores the audio from the onset (0.3-7 ms of numpy per score)."""

    def __init__(self, model: OnsetModel, *, max_buffer_s: float = MAX_BUFFER_S) -> None:
        self.model = model
        self.audio = OnsetAudio(max_buffer_s=max_buffer_s)
        self._onset_s: float | None = None
        self._pending: list[float] = []

    def start(self, onset_s: float) -> None:
        """The user's speech started at stream time `onset_s` (it may lie in the past)."""
        self._onset_s = onset_s
        self._pending = list(self.model.horizons_s)

    def stop(self) -> None:
        """Score nothing more for the current onset."""
        self._onset_s = None
        self._pending = []

    def push(
        self, samples: npt.NDArray[np.floating], sample_rate_hz: int, end_s: float
    ) -> list[OnsetScore]:
        """Add a frame ending at `end_s`; returns the score of each horizon that this frame
        completed."""
        self.audio.push(samples, sample_rate_hz, end_s)
        out: list[OnsetScore] = []
        onset = self._onset_s
        while (
            onset is not None
            and self._pending
            and end_s >= onset + window_s(self._pending[0]) - 1e-9
        ):
            h = self._pending.pop(0)
            out.append(self.model.score(self.audio.since(onset), self.audio.sample_rate_hz, h))
        return out
