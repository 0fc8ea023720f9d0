"""Early audio classifier of an overlap's first fraction of a second, pure numpy.

Words from speech-to-text arrive 0.4-0.6 s after the user starts talking; many true
interruptions are plain from their first syllable ("wait", "but", "I", "well" sound nothing
like "uh huh", "yeah", "mm hmm", "right"). `OnsetModel` scores the first `horizon_s` of the
user's audio from the onset: log mel-band energies (100-3800 Hz, so wideband and telephone
audio look alike) in 10 ms hops, averaged over 20 ms chunks, relative to the clip's loudest
frame (so the level does not matter), into a one-hidden-layer network per horizon trained
on rendered train-split speech (`bench.training.onset`). Its probability is only acted on when
it is very high (threshold chosen on val): the words still decide everything else.

The speech detector reports onsets on its 20 ms frame grid, so where the speech starts
within the first window moves by up to a frame from one run to the next; windows taken at
the reported onset scored one clip 0.91-0.99 as it was shifted by 0-18 ms. A model trained
`aligned` therefore starts its windows at the sound's own rise (`align_onset`: the first
1 ms hop near the reported onset whose energy clears a level set by the coming peak and the
noise before), which moves with the speech, not with the frame grid.

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
    "CHUNK_S",
    "ONSET_MODEL_FILE",
    "OnsetAudio",
    "OnsetModel",
    "OnsetScore",
    "OnsetScorer",
    "align_onset",
    "aligned_window_start",
    "onset_features",
    "window_s",
]

ONSET_MODEL_FILE = "onset_model.npz"
HOP_S = 0.010
"""Hop between analysis frames, seconds."""
WIN_S = 0.025
"""Analysis frame length, seconds."""
CHUNK_S = 0.02
"""Frames are averaged over chunks of this length, seconds, in the models `bench.training.onset`
writes (a multiple of `HOP_S`; the model file records its own, `CHUNK_KEY`)."""
LEGACY_CHUNK_S = 0.05
"""Chunk length of model files that do not record one (written before 2026-12-02), s."""
CHUNK_KEY = "meta/chunk_s"
"""Key of the chunk length in the model file."""
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
ALIGN_KEY = "meta/aligned"
"""Key of the alignment flag in the model file (absent: windows start at the onset)."""
ALIGN_HOP_S = 0.001
"""Hop of the energy envelope `align_onset` reads, seconds."""
ALIGN_WIN_S = 0.004
"""Window of that envelope, seconds."""
ALIGN_BEFORE_S = 0.06
ALIGN_AFTER_S = 0.04
"""The rise is searched from this long before the reported onset to this long after, s."""
ALIGN_PEAK_S = 0.1
"""The peak the level is set from is the loudest hop this long after the reported onset, s."""
ALIGN_FLOOR_S = (0.16, 0.08)
"""The noise floor is the median hop from the first to the second of these before the
reported onset, seconds."""
ALIGN_DROP_DB = 20.0
"""The rise level is halfway (in dB) from the floor to the peak, and at least the peak
less this, dB."""
ALIGN_HOLD_HOPS = 8
"""Hops in a row that must clear the level (a click, under 12 ms, does not), count."""
ALIGN_LEAD_S = 0.01
"""Windows start this long before the rise found, seconds."""
ALIGN_NEEDS_S = ALIGN_PEAK_S + ALIGN_WIN_S
"""Audio after the reported onset that `align_onset` reads, seconds."""

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


def align_onset(samples: npt.NDArray[np.floating], onset_sample: int, sample_rate_hz: int) -> int:
    """Index in `samples` of the sound's rise near a reported onset at `onset_sample`: the
    first `ALIGN_HOP_S` hop from `ALIGN_BEFORE_S` before it to `ALIGN_AFTER_S` after whose
    energy (over `ALIGN_WIN_S`) stays for `ALIGN_HOLD_HOPS` at or above a level halfway in dB
    between the noise floor before the onset and the loudest hop in `ALIGN_PEAK_S` after it
    (and no lower than that peak less `ALIGN_DROP_DB`). `onset_sample` when no hop does, or
    when the audio after the onset is shorter than `ALIGN_NEEDS_S`. Audio before the
    search start is read for the floor when there is any."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if not 0 <= onset_sample <= len(x):
        raise ValueError(f"onset_sample must be in [0, {len(x)}], got {onset_sample}")
    hop = max(1, int(round(ALIGN_HOP_S * sample_rate_hz)))
    win = max(hop, int(round(ALIGN_WIN_S * sample_rate_hz)))
    if len(x) - onset_sample < int(round(ALIGN_NEEDS_S * sample_rate_hz)):
        return onset_sample
    first = max(0, onset_sample - int(round(ALIGN_FLOOR_S[0] * sample_rate_hz)))
    seg = x[first : onset_sample + int(round(ALIGN_NEEDS_S * sample_rate_hz))]
    c = np.concatenate([[0.0], np.cumsum(seg * seg)])
    starts = np.arange(0, len(seg) - win + 1, hop)
    db = 10.0 * np.log10((c[starts + win] - c[starts]) / win + 1e-12)
    at = onset_sample - first  # the onset's index in seg

    def hops(lo_s: float, hi_s: float) -> npt.NDArray[np.bool_]:
        lo = at + int(round(lo_s * sample_rate_hz))
        hi = at + int(round(hi_s * sample_rate_hz))
        return (starts >= lo) & (starts + win <= hi)

    peak = float(db[hops(0.0, ALIGN_NEEDS_S)].max())
    quiet = db[hops(-ALIGN_FLOOR_S[0], -ALIGN_FLOOR_S[1])]
    floor = float(np.median(quiet)) if len(quiet) else peak - 2.0 * ALIGN_DROP_DB
    level = max(peak - ALIGN_DROP_DB, 0.5 * (peak + floor))
    above = db >= level
    held = above.copy()
    for k in range(1, ALIGN_HOLD_HOPS):
        held[:-k] &= above[k:]
    held[len(held) - ALIGN_HOLD_HOPS + 1 :] = False
    candidates = np.flatnonzero(held & hops(-ALIGN_BEFORE_S, ALIGN_AFTER_S + ALIGN_WIN_S))
    if len(candidates) == 0:
        return onset_sample
    return first + int(starts[candidates[0]])


def aligned_window_start(
    samples: npt.NDArray[np.floating], onset_sample: int, sample_rate_hz: int
) -> int:
    """Where an aligned model's windows start: `ALIGN_LEAD_S` before `align_onset` (index
    in `samples`, never before the first sample)."""
    rise = align_onset(samples, onset_sample, sample_rate_hz)
    return max(0, rise - int(round(ALIGN_LEAD_S * sample_rate_hz)))


def whole_multiple(span_s: float, unit_s: float) -> int | None:
    """How many `unit_s` make `span_s` (None: not a whole number of them, to 1 us)."""
    n = int(round(span_s / unit_s))
    return n if abs(n * unit_s - span_s) < 1e-6 else None


def chunk_counts(horizon_s: float, chunk_s: float) -> tuple[int, int]:
    """(`HOP_S` hops per chunk, chunks per horizon) of `onset_features`; ValueError when
    `chunk_s` is not a positive whole number of hops or `horizon_s` of chunks."""
    per_chunk = whole_multiple(chunk_s, HOP_S)
    if per_chunk is None or per_chunk < 1:
        raise ValueError(f"chunk_s must be a positive multiple of {HOP_S} s, got {chunk_s}")
    n_chunks = whole_multiple(horizon_s, chunk_s)
    if n_chunks is None or n_chunks < 1:
        raise ValueError(f"horizon_s must be a positive multiple of {chunk_s} s, got {horizon_s}")
    return per_chunk, n_chunks


def window_s(horizon_s: float) -> float:
    """Audio after the onset that `onset_features` reads for `horizon_s`, seconds (the last
    analysis frame reaches past the horizon by a window minus a hop)."""
    return horizon_s + WIN_S - HOP_S


def onset_features(
    samples: npt.NDArray[np.floating],
    sample_rate_hz: int,
    horizon_s: float,
    *,
    chunk_s: float = CHUNK_S,
) -> _FloatArray:
    """Feature vector of the first `window_s(horizon_s)` of `samples` (mono, [-1, 1], any
    rate from 8 kHz): (horizon_s / chunk_s) chunks x `N_BANDS` log10 band energies relative
    to the loudest frame's in-band energy (so <= 0); shorter audio is padded with silence.
    `chunk_s` is a whole number of `HOP_S` hops and `horizon_s` a whole number of chunks."""
    if sample_rate_hz < 8000:
        raise ValueError(f"sample_rate_hz must be >= 8000, got {sample_rate_hz}")
    per_chunk, n_chunks = chunk_counts(horizon_s, chunk_s)
    win, hop, fb = _filterbank(sample_rate_hz)
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
        if frame_features(x[k * n : (k + 1) * n], sample_rate_hz, speech_band=False).voiced
    )


class OnsetModel:
    """P(interruption | first `horizon_s` of the user's audio) for a few fixed horizons.

    One standardised one-hidden-layer tanh network per horizon over `onset_features` with
    chunks of `chunk_s` seconds. An `aligned` model starts its windows `ALIGN_LEAD_S` before
    the sound's rise (`align_onset`), else at the reported onset. Load the shipped weights
    with `OnsetModel.load()` (in the worker's prewarm, not on import)."""

    def __init__(
        self,
        layers: dict[float, dict[str, npt.NDArray[np.float32]]],
        *,
        aligned: bool = False,
        chunk_s: float = CHUNK_S,
    ) -> None:
        if not layers:
            raise ModelFileError("onset model has no horizons")
        for h, p in layers.items():
            try:
                _, n_chunks = chunk_counts(h, chunk_s)
            except ValueError as exc:
                raise ModelFileError(
                    f"onset model horizon {h} s is not a whole number of {chunk_s} s chunks ({exc})"
                ) from exc
            dim = n_chunks * N_BANDS
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
        self.aligned = aligned
        self.chunk_s = chunk_s

    @property
    def horizons_s(self) -> tuple[float, ...]:
        """The horizons it scores, seconds after the onset, ascending."""
        return tuple(sorted(self.layers))

    @classmethod
    def load(cls, path: Path | None = None) -> OnsetModel:
        """Read the weights (default: the shipped `data/onset_model.npz`)."""
        p = path or DATA_DIR / ONSET_MODEL_FILE
        layers: dict[float, dict[str, npt.NDArray[np.float32]]] = {}
        aligned = False
        chunk_s = LEGACY_CHUNK_S
        with reading_npz(p, "onset model", "bench.training.onset"), np.load(p) as z:
            for key in z.files:
                if key == ALIGN_KEY:
                    aligned = bool(np.asarray(z[key]))
                    continue
                if key == CHUNK_KEY:
                    chunk_s = float(np.asarray(z[key]))
                    continue
                tag, name = key.split("/", 1)
                layers.setdefault(float(tag), {})[name] = np.asarray(z[key], np.float32)
        return cls(layers, aligned=aligned, chunk_s=chunk_s)

    def save(self, path: Path) -> None:
        """Write the weights, whether windows are aligned and the chunk length as a
        compressed .npz."""
        flat = {f"{h:g}/{k}": v for h, p in self.layers.items() for k, v in p.items()}
        flat[ALIGN_KEY] = np.asarray(self.aligned)
        flat[CHUNK_KEY] = np.asarray(self.chunk_s)
        np.savez_compressed(path, **flat)  # type: ignore[arg-type]

    def window_start(
        self, samples: npt.NDArray[np.floating], sample_rate_hz: int, onset_sample: int
    ) -> int:
        """Index in `samples` where this model's windows start for an onset reported at
        `onset_sample` (see the class doc; never before the first sample)."""
        if not self.aligned:
            return onset_sample
        return aligned_window_start(samples, onset_sample, sample_rate_hz)

    def logit_features(self, horizon_s: float, feats: npt.NDArray[np.floating]) -> float:
        """Log-odds of interruption from `onset_features(..., horizon_s)`."""
        p = self.layers[horizon_s]
        z = (np.asarray(feats, np.float32) - p["mean"]) / p["std"]
        h = np.tanh(z @ p["w1"] + p["b1"])
        return float(h @ p["w2"] + p["b2"])

    def score(
        self,
        samples: npt.NDArray[np.floating],
        sample_rate_hz: int,
        horizon_s: float,
        *,
        onset_sample: int = 0,
    ) -> OnsetScore:
        """`OnsetScore` of an onset reported at index `onset_sample` of `samples` (the
        audio before it is read by an aligned model): P(interruption) of the window
        (`probability`) and the voiced sound in its first `horizon_s`."""
        x = np.asarray(samples).reshape(-1)
        start = self.window_start(x, sample_rate_hz, onset_sample)
        return self.score_window(x[start:], sample_rate_hz, horizon_s)

    def score_window(
        self, window: npt.NDArray[np.floating], sample_rate_hz: int, horizon_s: float
    ) -> OnsetScore:
        """`OnsetScore` of audio that starts where this model's window does (`window_start`
        already applied)."""
        x = np.asarray(window).reshape(-1)
        return OnsetScore(
            horizon_s=horizon_s,
            probability=self._probability_from(x, sample_rate_hz, horizon_s),
            voiced_s=voiced_seconds(x[: int(round(horizon_s * sample_rate_hz))], sample_rate_hz),
        )

    def probability(
        self,
        samples: npt.NDArray[np.floating],
        sample_rate_hz: int,
        horizon_s: float,
        *,
        onset_sample: int = 0,
    ) -> float:
        """P(interruption) of an onset reported at index `onset_sample` of `samples`,
        scored on the `window_s(horizon_s)` from `window_start` (`horizon_s` one of
        `horizons_s`)."""
        x = np.asarray(samples).reshape(-1)
        start = self.window_start(x, sample_rate_hz, onset_sample)
        return self._probability_from(x[start:], sample_rate_hz, horizon_s)

    def _probability_from(
        self, window: npt.NDArray[np.floating], sample_rate_hz: int, horizon_s: float
    ) -> float:
        if horizon_s not in self.layers:
            raise ValueError(f"horizon_s must be one of {self.horizons_s}, got {horizon_s}")
        feats = onset_features(window, sample_rate_hz, horizon_s, chunk_s=self.chunk_s)
        z = self.logit_features(horizon_s, feats)
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
    each `start`, scores the window from the onset (0.3-7 ms of numpy per score). For an
    aligned model the window start is found once `ALIGN_NEEDS_S` of audio after the onset
    is in; a horizon is scored when its whole window is."""

    def __init__(self, model: OnsetModel, *, max_buffer_s: float = MAX_BUFFER_S) -> None:
        self.model = model
        self.audio = OnsetAudio(max_buffer_s=max_buffer_s)
        self._onset_s: float | None = None
        self._start_s: float | None = None
        self._pending: list[float] = []

    def start(self, onset_s: float) -> None:
        """The user's speech started at stream time `onset_s` (it may lie in the past)."""
        self._onset_s = onset_s
        self._start_s = None if self.model.aligned else onset_s
        self._pending = list(self.model.horizons_s)

    def stop(self) -> None:
        """Score nothing more for the current onset."""
        self._onset_s = None
        self._start_s = None
        self._pending = []

    def _context(self, onset_s: float) -> tuple[_FloatArray, int]:
        """The kept audio from before the onset (as much as alignment reads) and the
        onset's index in it."""
        kept = self.audio.since(onset_s - ALIGN_FLOOR_S[0])
        return kept, max(0, len(kept) - len(self.audio.since(onset_s)))

    def push(
        self, samples: npt.NDArray[np.floating], sample_rate_hz: int, end_s: float
    ) -> list[OnsetScore]:
        """Add a frame ending at `end_s`; returns the score of each horizon that this frame
        completed."""
        self.audio.push(samples, sample_rate_hz, end_s)
        out: list[OnsetScore] = []
        onset = self._onset_s
        if onset is None:
            return out
        rate = self.audio.sample_rate_hz
        if self._start_s is None and end_s >= onset + ALIGN_NEEDS_S - 1e-9:
            kept, at = self._context(onset)
            self._start_s = onset + (self.model.window_start(kept, rate, at) - at) / rate
        start = self._start_s
        while (
            start is not None
            and self._pending
            and end_s >= start + window_s(self._pending[0]) - 1e-9
        ):
            h = self._pending.pop(0)
            out.append(self.model.score_window(self.audio.since(start), rate, h))
        return out
