"""Echo gate: is the microphone input explained by the agent's own audio coming back?

On a speakerphone (or any device without working echo cancellation) the agent's voice
leaks back into the microphone a few tens to hundreds of milliseconds late and attenuated.
To a voice-activity detector and a speech-to-text service it is speech; it must not stop
the agent. `EchoGate` keeps the agent's audio as played (the far-end reference) and, for
each microphone frame, tests whether the input is the reference delayed and scaled:

- features: every `FRAME_S` (10 ms) the power in `len(BAND_EDGES_HZ) - 1` bands (a 20 ms
  Hann-windowed FFT), kept on a shared stream-time grid for both signals;
- the lag: the best of 0..`max_lag_s` by the correlation of the input's log band-energy
  trajectory over the last `window_s` with the lagged reference's (each band's mean
  removed, so a speakerphone's colouring and gain do not matter);
- the syllables: over the hops where both the input and the lagged reference are active
  (at least `JOINT_MIN_FRAMES`, fewer once an echo path is learnt), their band
  trajectories alone must correlate too. Over a window that is mostly silence, the
  whole-window correlation only says that sound started at about the same time in both;
  a user who starts talking just as the agent resumes after a pause matches that by
  chance, an echo also matches what follows;
- the level: the input's level relative to the lagged reference (the echo gain, a median
  over the window) must be plausible for an echo, and the current frame must not be
  louder than the echo the reference predicts: a voice starting over the echo (double
  talk) is new energy the reference does not explain.

Pure numpy, no clock: every method takes stream times (seconds, one origin shared by the
reference and the input) as arguments.

`transcript_is_echo` is the matching text check: a transcript whose words all occur in
the agent's own recent words may be the speech-to-text hearing the agent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "BAND_EDGES_HZ",
    "FRAME_S",
    "JOINT_MIN_FRAMES",
    "JOINT_MIN_FRAMES_LEARNT",
    "EchoGate",
    "EchoVerdict",
    "transcript_is_echo",
]

FRAME_S = 0.01
"""Feature hop of both signals, seconds (also the lag resolution)."""
BAND_EDGES_HZ = (100.0, 400.0, 1000.0, 2500.0, 6000.0)
"""Edges of the analysis bands, Hz (bands above a signal's Nyquist frequency stay empty)."""
POWER_FLOOR = 1e-10
"""Band power of digital silence (-100 dB re full scale), so logs stay finite."""
DYNAMIC_RANGE_DB = 30.0
"""Log band energies are clipped this far below their window maximum, dB: a microphone's
room noise and the reference's digital silence then both read as "quiet"."""
REF_ACTIVE_DB = -55.0
"""The lagged reference must reach this band-total power in the window to explain
anything, dB re full scale (below it the agent is silent)."""
GAIN_FRAMES_DB = 20.0
"""Frames within this of the lagged reference's loudest frame estimate the echo gain, dB."""
TAIL_FRAMES = 1
"""Reference frames before the matched one whose echo may still ring in the current input
frame (10 ms: lag rounding and a short reverberation tail). Kept short: a longer tail lets
a user's voice hide under the prediction."""
JOINT_MIN_FRAMES = 12
"""Hops of the window in which the input and the lagged reference must both be active
(within `DYNAMIC_RANGE_DB` of their window maximum; the reference also above
`REF_ACTIVE_DB`) for their trajectories over those hops to be compared, before an echo
path is learnt; fewer: not echo. Their correlation must then reach `TRACK_CORRELATION`.
With 10 hops (at 0.8 or at 0.9) the start of a user's speech still matched the agent's
voice by chance at some of the 223 onsets of `tests/test_arbiter_echo.py`."""
JOINT_MIN_FRAMES_LEARNT = 3
"""The same once an echo path has been learnt, with `min_correlation` as the bar: searched
only near the learnt delay, a chance match is much rarer, and the first hops of each echo
burst are still gated."""
TRACK_CORRELATION = 0.9
"""Correlation at which a window is taken as echo alone and teaches the echo gain."""
LAG_TOLERANCE_FRAMES = 2
"""Once learnt, the echo delay is searched only this many hops either side (20 ms)."""
RELEARN_CORRELATION = 0.97
"""A correlation elsewhere in the lag range this high (and `RELEARN_MARGIN` above the
learnt lag's) means the echo path really changed."""
RELEARN_MARGIN = 0.1
GAIN_SMOOTHING = 0.2
"""Weight of each clear-echo frame in the learnt echo gain (an exponential average)."""
PRUNE_EVERY_FRAMES = 50
"""Old features are dropped once per this many hops (not per frame: it scans the store)."""
MAX_LAG_RANGE_S = (0.0, 2.0)
WINDOW_RANGE_S = (0.1, 1.0)
HISTORY_MARGIN_S = 0.2
"""Reference kept beyond `max_lag_s + window_s`, seconds."""

Samples = npt.NDArray[np.float32]
_Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class EchoVerdict:
    """The gate's verdict on the latest input frame."""

    is_echo: bool
    """The input is explained by the delayed, attenuated reference."""
    lag_s: float | None
    """Best reference-to-input delay, seconds (None: no reference to compare with)."""
    correlation: float
    """Correlation of the input's band-energy trajectory with the lagged reference (-1..1;
    0 without a reference)."""
    gain_db: float | None = None
    """Input level relative to the lagged reference, dB (None: no reference)."""
    excess_db: float | None = None
    """How much louder the current frame is than the echo the reference predicts, dB."""
    joint_correlation: float | None = None
    """Correlation of the two band trajectories over the hops where both are active (-1..1;
    None: no reference, or too few such hops: `JOINT_MIN_FRAMES`)."""


_NO_REFERENCE = EchoVerdict(is_echo=False, lag_s=None, correlation=0.0)


def transcript_is_echo(user_words: Sequence[str], agent_words: Sequence[str]) -> bool:
    """Whether every one of `user_words` (normalized, at least one) occurs in
    `agent_words`: a transcript the agent's own voice coming back would produce."""
    if not user_words:
        return False
    known = set(agent_words)
    return all(w in known for w in user_words)


class _Stream:
    """Cuts one signal into `FRAME_S` hops on the stream-time grid and measures the band
    power of each (20 ms analysis window: the hop and the one before)."""

    def __init__(self) -> None:
        self.rate = 0
        self.start_s: float | None = None
        self.pending: _Floats = np.zeros(0)
        self.prev: _Floats = np.zeros(0)
        self._bins: list[tuple[int, int]] = []
        self._window: _Floats = np.zeros(0)
        self._hop = 1
        self._scale = 1.0

    def reset(self) -> None:
        self.start_s = None
        self.pending = np.zeros(0)
        self.prev = np.zeros(0)

    def push(self, samples: Samples, rate: int, start_s: float) -> list[tuple[int, _Floats]]:
        """Append samples whose first plays/was captured at `start_s`; returns the
        (grid index, band powers) of every hop completed."""
        x = np.asarray(samples, dtype=np.float64).reshape(-1)
        if rate != self.rate:
            self._configure(rate)
            self.reset()
        if self.start_s is None or abs(start_s - self._end_s()) > 0.5 * FRAME_S:
            # a gap or an overlap in the stream (a new segment): start a new run there
            self.reset()
            self.start_s = start_s
        self.pending = np.concatenate([self.pending, x]) if self.pending.size else x
        hop = self._hop
        out: list[tuple[int, _Floats]] = []
        consumed = 0
        while self.pending.size - consumed >= hop:
            cur = self.pending[consumed : consumed + hop]
            block = np.concatenate([self.prev, cur]) if self.prev.size == hop else cur
            hop_start = self._start() + consumed / rate
            out.append((round(hop_start / FRAME_S), self._bands(block)))
            self.prev = cur
            consumed += hop
        self.pending = self.pending[consumed:]
        self.start_s = self._start() + consumed / rate
        return out

    def _start(self) -> float:
        assert self.start_s is not None
        return self.start_s

    def _end_s(self) -> float:
        return self._start() + self.pending.size / max(1, self.rate)

    def _configure(self, rate: int) -> None:
        self.rate = rate
        self._hop = max(1, round(FRAME_S * rate))
        n = 2 * self._hop
        self._window = np.hanning(n)
        freqs = np.fft.rfftfreq(n, 1.0 / rate)
        self._bins = []
        for lo, hi in zip(BAND_EDGES_HZ, BAND_EDGES_HZ[1:], strict=False):
            idx = np.nonzero((freqs >= lo) & (freqs < hi))[0]
            self._bins.append((int(idx[0]), int(idx[-1]) + 1) if idx.size else (0, 0))
        # one-sided spectrum of a Hann-windowed block -> mean power, independent of the rate
        self._scale = 2.0 / float(np.sum(self._window**2) * n)

    def _bands(self, block: _Floats) -> _Floats:
        n = 2 * self._hop
        if block.size < n:
            block = np.concatenate([np.zeros(n - block.size), block])
        spec = np.abs(np.fft.rfft(block * self._window)) ** 2 * self._scale
        return np.array([spec[a:b].sum() for a, b in self._bins], dtype=np.float64)


class EchoGate:
    """Decides per input frame whether the microphone hears the agent's own voice.

    Feed the agent's audio as it plays with `push_reference` (stream time at which its
    first sample plays), drop what will never play with `clear_reference`, and classify
    each microphone frame with `push_input` (stream time of its first sample). Frames are
    any length; 10-20 ms recommended. Without a reference the verdict is never echo.
    """

    def __init__(
        self,
        *,
        max_lag_s: float = 0.5,
        window_s: float = 0.3,
        min_correlation: float = 0.8,
        max_gain_db: float = 10.0,
        max_excess_db: float = 6.0,
    ) -> None:
        lo, hi = MAX_LAG_RANGE_S
        if not lo <= max_lag_s <= hi:
            raise ValueError(f"max_lag_s must be in [{lo:g}, {hi:g}] s, got {max_lag_s}")
        lo, hi = WINDOW_RANGE_S
        if not lo <= window_s <= hi:
            raise ValueError(f"window_s must be in [{lo:g}, {hi:g}] s, got {window_s}")
        if not 0.0 < min_correlation < 1.0:
            raise ValueError(f"min_correlation must be in (0, 1), got {min_correlation}")
        if not -40.0 <= max_gain_db <= 20.0:
            raise ValueError(f"max_gain_db must be in [-40, 20] dB, got {max_gain_db}")
        if not 0.0 <= max_excess_db <= 30.0:
            raise ValueError(f"max_excess_db must be in [0, 30] dB, got {max_excess_db}")
        self.max_lag_s = max_lag_s
        self.window_s = window_s
        self.min_correlation = min_correlation
        self.max_gain_db = max_gain_db
        self.max_excess_db = max_excess_db
        self._lag_frames = round(max_lag_s / FRAME_S)
        self._win_frames = max(2, round(window_s / FRAME_S))
        self._keep_frames = self._lag_frames + self._win_frames + round(HISTORY_MARGIN_S / FRAME_S)
        self._ref = _Stream()
        self._mic = _Stream()
        self._ref_bands: dict[int, _Floats] = {}
        self._mic_bands: dict[int, _Floats] = {}
        self._n_bands = len(BAND_EDGES_HZ) - 1
        self._echo_gain_db: float | None = None
        self._echo_lag: int | None = None
        self._pruned_at = 0
        self._floor_row = np.full(self._n_bands, POWER_FLOOR)

    # ------------------------------------------------------------------ reference

    def push_reference(self, samples: Samples, sample_rate_hz: int, start_s: float) -> None:
        """Agent audio (mono float in [-1, 1]) whose first sample plays at stream time
        `start_s`, seconds; it may lie in the future (audio queued ahead of playout)."""
        if sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz}")
        if np.asarray(samples).size == 0:
            return
        for k, bands in self._ref.push(samples, sample_rate_hz, start_s):
            self._ref_bands[k] = bands

    def clear_reference(self, after_s: float) -> None:
        """Forget reference audio scheduled to play at or after `after_s`, seconds (playback
        was cleared or paused: the queued audio will not play then)."""
        first = math.floor(after_s / FRAME_S)
        for k in [k for k in self._ref_bands if k >= first]:
            del self._ref_bands[k]
        self._ref.reset()

    @property
    def reference_end_s(self) -> float | None:
        """Stream time at which the latest reference audio known ends, seconds (None: none
        kept)."""
        return (max(self._ref_bands) + 1) * FRAME_S if self._ref_bands else None

    def has_reference(self, at_s: float) -> bool:
        """Whether any reference audio is known within the lag range before `at_s`."""
        k = round(at_s / FRAME_S)
        lo = k - self._lag_frames - self._win_frames
        return any(j in self._ref_bands for j in range(lo, k + 1))

    # ------------------------------------------------------------------ input

    def push_input(
        self, samples: Samples, sample_rate_hz: int, start_s: float, *, classify: bool = True
    ) -> EchoVerdict:
        """Classify a microphone frame (mono float in [-1, 1]) whose first sample was
        captured at stream time `start_s`, seconds. The verdict is about the frame's last
        complete `FRAME_S` hop (a frame completing no hop is never echo). With
        `classify=False` the frame only fills the history (cheap) and the verdict is
        never echo: feed every frame, classify those that matter."""
        if sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz}")
        if np.asarray(samples).size == 0:
            return _NO_REFERENCE
        hops = self._mic.push(samples, sample_rate_hz, start_s)
        for k, bands in hops:
            self._mic_bands[k] = bands
        if not hops or not classify:
            return _NO_REFERENCE
        last = hops[-1][0]
        self._prune(last)
        return self._verdict(last)

    def reset(self) -> None:
        """Forget both signals."""
        self._ref.reset()
        self._mic.reset()
        self._ref_bands.clear()
        self._mic_bands.clear()
        self._echo_gain_db = None
        self._echo_lag = None

    # ------------------------------------------------------------------ internals

    def _prune(self, k_now: int) -> None:
        if abs(k_now - self._pruned_at) < PRUNE_EVERY_FRAMES:
            return
        self._pruned_at = k_now
        old = k_now - self._keep_frames
        for store in (self._ref_bands, self._mic_bands):
            stale = [k for k in store if k < old]
            for k in stale:
                del store[k]

    def _matrix(self, store: dict[int, _Floats], first: int, count: int) -> _Floats | None:
        """Band powers of grid frames first..first+count-1 (missing: silence), or None when
        none of them is known."""
        floor = self._floor_row
        rows = [store.get(k, floor) for k in range(first, first + count)]
        if all(r is floor for r in rows):
            return None
        return np.stack(rows)

    def _verdict(self, m: int) -> EchoVerdict:
        w, lmax = self._win_frames, self._lag_frames
        first_ref = m - w + 1 - lmax
        ref_p = self._matrix(self._ref_bands, first_ref, w + lmax)
        mic_p = self._matrix(self._mic_bands, m - w + 1, w)
        if ref_p is None or mic_p is None:
            return _NO_REFERENCE
        mic_db = 10.0 * np.log10(mic_p + POWER_FLOOR)
        ref_db = 10.0 * np.log10(ref_p + POWER_FLOOR)
        ref_tot_db = 10.0 * np.log10(ref_p.sum(axis=1) + POWER_FLOOR)
        mic_tot = 10.0 * np.log10(mic_p.sum(axis=1) + POWER_FLOOR)

        # trajectories: clipped to a common dynamic range, each band's mean removed
        mic_clip = np.maximum(mic_db, mic_db.max() - DYNAMIC_RANGE_DB)
        mc = mic_clip - mic_clip.mean(axis=0)
        rc_all = np.maximum(ref_db, ref_db.max() - DYNAMIC_RANGE_DB)
        # windows[j] covers reference frames first_ref + j .. + w - 1: lag = lmax - j
        windows = np.lib.stride_tricks.sliding_window_view(rc_all, w, axis=0)  # (lmax+1, B, w)
        windows = windows - windows.mean(axis=2, keepdims=True)
        mct = mc.T  # (B, w)
        num = np.einsum("jbt,bt->j", windows, mct)
        den = np.sqrt(np.einsum("jbt,jbt->j", windows, windows) * float(np.sum(mct * mct)))
        corr = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        j = int(np.argmax(corr))
        learnt = self._echo_lag
        if learnt is not None:
            # the echo path's delay is stable: a user's voice can match the reference by
            # chance at some other lag, so only look near the learnt one, unless a clear
            # echo shows up elsewhere (the path changed)
            near = slice(
                max(0, lmax - learnt - LAG_TOLERANCE_FRAMES),
                lmax - learnt + LAG_TOLERANCE_FRAMES + 1,
            )
            j_near = near.start + int(np.argmax(corr[near]))
            if corr[j] < RELEARN_CORRELATION or corr[j] - corr[j_near] < RELEARN_MARGIN:
                j = j_near
        lag = lmax - j
        r = float(corr[j])

        lagged_tot = ref_tot_db[j : j + w]
        loud = lagged_tot.max()
        if loud < REF_ACTIVE_DB:
            return EchoVerdict(False, lag * FRAME_S, r)
        sel = lagged_tot >= loud - GAIN_FRAMES_DB
        gain_db = float(np.median(mic_tot[sel] - lagged_tot[sel]))
        # before any echo path is known the syllables must match as closely as a learnt
        # path needs; after, a few hops near the learnt delay will do
        need, bar = (
            (JOINT_MIN_FRAMES, TRACK_CORRELATION)
            if learnt is None
            else (JOINT_MIN_FRAMES_LEARNT, self.min_correlation)
        )
        joint_r = _joint_correlation(mic_clip, mic_tot, rc_all[j : j + w], lagged_tot, need)
        syllables = joint_r is not None and joint_r >= bar
        if syllables and r >= TRACK_CORRELATION and gain_db <= self.max_gain_db:
            # a clear echo: learn the echo path's delay and gain (they change slowly)
            self._echo_lag = lag
            g = self._echo_gain_db
            self._echo_gain_db = gain_db if g is None else g + GAIN_SMOOTHING * (gain_db - g)
        # double talk inflates the window's gain; the learnt one predicts the echo alone
        path_db = self._echo_gain_db if self._echo_gain_db is not None else gain_db
        # the echo of the current frame comes from the matched reference frame, its
        # neighbour (lag rounding) and a short reverberation tail behind it
        cur = j + w - 1  # index of the matched reference frame of the current input frame
        lo, hi = max(0, cur - TAIL_FRAMES), min(ref_tot_db.size, cur + 2)
        predicted_db = float(ref_tot_db[lo:hi].max()) + path_db
        excess_db = float(mic_tot[-1]) - predicted_db
        is_echo = (
            r >= self.min_correlation
            and syllables
            and gain_db <= self.max_gain_db
            and excess_db <= self.max_excess_db
        )
        return EchoVerdict(is_echo, lag * FRAME_S, r, gain_db, excess_db, joint_r)


def _joint_correlation(
    mic_db: _Floats, mic_tot_db: _Floats, ref_db: _Floats, ref_tot_db: _Floats, min_hops: int
) -> float | None:
    """Correlation of the input's and the lagged reference's band energies (hops x bands,
    dB, each clipped to `DYNAMIC_RANGE_DB` below its maximum; each band's mean removed) over
    the hops where both are active, or None when fewer than `min_hops` are."""
    loud = float(ref_tot_db.max())
    both = (mic_tot_db >= mic_tot_db.max() - DYNAMIC_RANGE_DB) & (
        ref_tot_db >= max(loud - DYNAMIC_RANGE_DB, REF_ACTIVE_DB)
    )
    if int(both.sum()) < min_hops:
        return None
    a = mic_db[both] - mic_db[both].mean(axis=0)
    b = ref_db[both] - ref_db[both].mean(axis=0)
    den = math.sqrt(float(np.sum(a * a)) * float(np.sum(b * b)))
    return float(np.sum(a * b)) / den if den > 0 else 0.0
