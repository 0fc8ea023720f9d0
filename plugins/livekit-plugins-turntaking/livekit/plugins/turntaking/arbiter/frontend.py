"""The arbiter's per-frame audio front end, one pipeline for the live arbiter, the benchmark's
replay of it and the training of the early audio classifier.

Input of any frame size and sample rate is cut into `ANALYSIS_FRAME_S` analysis frames. Each
analysis frame gets its level and voicing features (`model.frame_features`), is held to the
room's noise floor (`NoiseFloorGate`: steady background noise, other voices' babble
included, is never the user's voice), goes through
the arbiter's own speech detector (`model.VoiceActivity`, whose onset is the sound's start,
earlier than a VAD reports it) and, with an onset model, into the early audio scorer
(`onset.OnsetScorer`: it keeps the recent audio, starts each window at the sound's rise near
the onset for an aligned model, and scores each horizon once its window is in).

Two ways in: `frames` / `push` for a stream of frames of any size, stamped with the stream
time each ends (what a room sends), and `clip` for a whole clip from stream time 0 (the
benchmark's replay and training). Pure numpy, no clock: the caller gives the times.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .model import VOICED_MIN_DBFS, AudioFeatures, VoiceActivity, frame_features
from .onset import OnsetModel, OnsetScore, OnsetScorer, aligned_window_start

__all__ = [
    "ANALYSIS_FRAME_S",
    "AnalysisFrame",
    "ArbiterFrontEnd",
    "NoiseFloorGate",
    "frame_samples",
]

ANALYSIS_FRAME_S = 0.02
"""The input is analysed in frames of this length, seconds, whatever size the room's frames
are: the features, speech detector, thresholds and every figure were built and measured on
20 ms frames (replayed on val in 50 ms frames, the false stops went from 4.0 % to 9.1 %).
Samples past the last whole frame wait for the next input frame."""

_Samples = npt.NDArray[np.float32]

NOISE_GATE_MARGIN_DB = 15.0
"""A frame counts as voiced only this far above the noise floor at most, dB. Chosen on val
among 10, 12 and 15 dB with babble at 20 dB SNR: 15 dB took the false stops there from 67.8
to 15.2 % and changed no clean decision."""
NOISE_SPREAD_MARGIN_DB = 8.0
"""The margin is the noise's own spread (its 90th percentile level over its median, in the
floor's window) plus this much, dB, between `MIN_NOISE_GATE_MARGIN_DB` and
`NOISE_GATE_MARGIN_DB`: steady noise (traffic, an engine, hum) needs little margin, and a
fixed 15 dB held back most of a caller's voice at 10-15 dB SNR; babble rises and falls
like speech and keeps the full margin. Chosen on val among 4, 6 and 8 dB: the one that added
at most 1 point of false stops in any val condition (street noise recall 70.4 -> 80.1 %,
babble at 10-20 dB 79.6 -> 82.1 %)."""
MIN_NOISE_GATE_MARGIN_DB = 6.0
"""The margin is never below this, dB."""
STEADY_BAND_SPREAD_DB = 8.0
"""Noise whose speech-band level spreads at most this much (90th percentile over median, in
the floor's window) is steady: a frame clear of the speech band's floor is voiced too, dB.
On val rooms the median spread was 0.6 dB (hum), 2.0 (street), 2.9 (car) and 12.6 (babble).
Chosen on val among 6, 8 and 10 dB (with the speech band alone): the largest that left
babble's false stops at or under the whole-band gate's. With both bands (val, false stops /
recall against the whole band alone): street 2.5 / 91.3 % (1.0 / 80.1), car 2.9 / 93.4
(1.5 / 82.7), hum 3.4 / 95.4 (1.5 / 89.3), babble 27.5 / 84.2 (27.5 / 82.1); clean and
telephony unchanged (the speech band alone lost a clean interruption: a soft onset frame
held back moved the early audio's window)."""
NOISE_FLOOR_WINDOW_S = 1.5
"""The floor is the median level of the last this many seconds of frames the gate held
back (minimum statistics over the noise alone: a floor that took the user's speech in cut
clean recall to 53-64 % on val), seconds."""
NOISE_FLOOR_MIN_HISTORY_S = 0.2
"""Below this much noise history the floor is `QUIET_FLOOR_DBFS`, seconds."""
QUIET_FLOOR_DBFS = -70.0
"""Floor assumed before any noise was heard, dBFS (a quiet room)."""
DIGITAL_SILENCE_DBFS = -90.0
"""Frames at or under this level are gaps in the input, not a room's noise, dBFS."""
NOISE_GATE_WARMUP_S = 0.3
"""The stream's first frames only measure the floor (nothing in them is voiced), seconds."""
NOISE_STEP_S = 3.0
"""After this long with every frame above the floor, the frames count as noise too, seconds:
a room that got louder (a car passing by, a fan switched on) moves the floor up within
`NOISE_FLOOR_WINDOW_S` after it, instead of reading as endless speech."""


def frame_samples(rate_hz: int) -> int:
    """Samples in one analysis frame at `rate_hz` (at least one)."""
    return max(1, int(round(ANALYSIS_FRAME_S * rate_hz)))


@dataclass(frozen=True)
class AnalysisFrame:
    """What the front end made of one analysis frame."""

    samples: _Samples
    """The frame's mono samples in [-1, 1]."""
    end_s: float
    """Stream time at which the frame ends, seconds."""
    features: AudioFeatures
    """The frame's features held to the noise floor (`NoiseFloorGate`): what the speech
    detector heard and what is evidence of the user's voice."""
    raw_features: AudioFeatures
    """The frame's features before the gate (what the echo gate compares with the agent's
    voice: residual echo sits at a steady level and the gate may take it for the floor)."""
    edge: tuple[str, float] | None
    """The speech detector's ("start", onset_s) or ("end", now_s) at this frame, else None
    (always None when the detector is off)."""
    early: tuple[OnsetScore, ...]
    """The early audio scores this frame completed (none without an onset model)."""


def _floor_and_margin(median_dbfs: float, p90_dbfs: float) -> tuple[float, float]:
    """(floor dBFS, margin dB) of noise levels with this median and 90th percentile (see
    `NOISE_SPREAD_MARGIN_DB`)."""
    spread = p90_dbfs - median_dbfs
    margin = min(
        NOISE_GATE_MARGIN_DB, max(MIN_NOISE_GATE_MARGIN_DB, spread + NOISE_SPREAD_MARGIN_DB)
    )
    return median_dbfs, margin


class NoiseFloorGate:
    """Holds frame features to the input's noise floor (pure, fed stream times).

    The voicing test of `AudioFeatures` is absolute (`VOICED_MIN_DBFS`): babble and street
    noise at a caller's level pass it, open overlaps on nothing and keep a backchannel's run
    of speech going until its pause stands. Here a frame stays voiced only when it is at
    least `margin_db` above the floor; else it is passed on at a level under the
    voicing threshold, so the speech detector, the sustained-speech span and the decider
    all treat it as silence.

    In steady noise (an engine, traffic, hum: `STEADY_BAND_SPREAD_DB`) a frame is also clear
    when it clears the floor of the speech band (`AudioFeatures.floor_level_dbfs`), where
    such noise is weak and a voice is not; babble fills that band as a voice does and rises
    and falls more there, so in babble only the whole band counts."""

    def __init__(self) -> None:
        # (whole-band, speech-band) levels of the frames held back, dBFS
        self._levels: deque[tuple[float, float]] = deque(
            maxlen=round(NOISE_FLOOR_WINDOW_S / ANALYSIS_FRAME_S)
        )
        self._min_history = round(NOISE_FLOOR_MIN_HISTORY_S / ANALYSIS_FRAME_S)
        self._started_s: float | None = None
        self._passing_since_s: float | None = None

    @property
    def margin_db(self) -> float:
        """How far above the floor a frame must be to count as voiced now, dB (see
        `NOISE_SPREAD_MARGIN_DB`)."""
        return self._floors()[0][1]

    @property
    def floor_dbfs(self) -> float:
        """The current noise floor over the whole band, dBFS."""
        return self._floors()[0][0]

    @property
    def band_floor_dbfs(self) -> float:
        """The current noise floor in the speech band, dBFS."""
        return self._floors()[1][0]

    @property
    def in_speech_band(self) -> bool:
        """Whether the noise is steady, so a frame clear of the speech band's floor is
        voiced too."""
        return self._floors()[2]

    def _floors(self) -> tuple[tuple[float, float], tuple[float, float], bool]:
        """((floor dBFS, margin dB) over the whole band, the same in the speech band,
        steady noise?) from one pass over the noise history."""
        if len(self._levels) < self._min_history:
            quiet = (QUIET_FLOOR_DBFS, NOISE_GATE_MARGIN_DB)
            return quiet, quiet, True
        medians, p90s = np.percentile(
            np.array(self._levels, dtype=np.float64), [50.0, 90.0], axis=0
        )
        broad = _floor_and_margin(float(medians[0]), float(p90s[0]))
        band = _floor_and_margin(float(medians[1]), float(p90s[1]))
        return broad, band, float(p90s[1] - medians[1]) <= STEADY_BAND_SPREAD_DB

    def gate(self, features: AudioFeatures, end_s: float) -> AudioFeatures:
        """`features` of the frame ending at stream time `end_s` (s), or the same frame made
        unvoiced when it is not clear of the noise floor."""
        start_s = end_s - features.duration_s
        if self._started_s is None:
            self._started_s = start_s
        warming = end_s - self._started_s <= NOISE_GATE_WARMUP_S + 1e-9
        (floor, margin), (band_floor, band_margin), steady = self._floors()
        clear = features.level_dbfs >= floor + margin or (
            steady and features.floor_level_dbfs >= band_floor + band_margin
        )
        if clear and not warming:
            if self._passing_since_s is None:
                self._passing_since_s = start_s
        else:
            self._passing_since_s = None
        stepped = self._passing_since_s is not None and end_s - self._passing_since_s > NOISE_STEP_S
        if features.level_dbfs > DIGITAL_SILENCE_DBFS and (warming or not clear or stepped):
            self._levels.append((features.level_dbfs, features.floor_level_dbfs))
        if features.voiced and (warming or not clear):
            return AudioFeatures(
                VOICED_MIN_DBFS - 1.0, features.zcr, features.duration_s, features.band_dbfs
            )
        return features


class ArbiterFrontEnd:
    """Analysis frames, features, the own speech detector and the early audio scorer of one
    input stream (see the module doc)."""

    def __init__(
        self,
        onset_model: OnsetModel | None = None,
        *,
        detect_speech: bool = True,
        score_own_onsets: bool = False,
    ) -> None:
        """`onset_model`: score early audio windows with it (None: no early scores);
        `detect_speech`: run the own speech detector; `score_own_onsets`: start the early
        scores at every onset the own detector reports (a replay with no session VAD; needs
        `detect_speech`), else only at `start_scoring`."""
        if score_own_onsets and not detect_speech:
            raise ValueError("score_own_onsets needs detect_speech")
        self._detector = VoiceActivity() if detect_speech else None
        self._scorer = OnsetScorer(onset_model) if onset_model is not None else None
        self._score_own_onsets = score_own_onsets
        self._speech_start_s: float | None = None
        self._noise = NoiseFloorGate()
        self._held = np.zeros(0, dtype=np.float32)
        self._held_rate_hz = 0

    @property
    def scoring(self) -> bool:
        """Whether there is an onset model (early audio scores)."""
        return self._scorer is not None

    @property
    def detects_speech(self) -> bool:
        """Whether the own speech detector runs (its edges come with the frames)."""
        return self._detector is not None

    @property
    def speaking(self) -> bool:
        """Whether the own speech detector is in a run of speech."""
        return self._detector is not None and self._detector.speaking

    @property
    def speech_start_s(self) -> float | None:
        """Stream time the own detector's current run of speech started, seconds (None: no
        run open, or the detector is off)."""
        return self._speech_start_s

    # ------------------------------------------------------------------ framing

    def frames(self, samples: _Samples, rate_hz: int, end_s: float) -> list[tuple[_Samples, float]]:
        """The whole analysis frames of the held-over samples and `samples` (mono, ending at
        stream time `end_s`), each with the stream time it ends; the rest is held over. A
        change of sample rate drops what was held (it would not be one signal)."""
        if rate_hz != self._held_rate_hz:
            self._held = np.zeros(0, dtype=np.float32)
            self._held_rate_hz = rate_hz
        buf = np.concatenate([self._held, samples]) if len(self._held) else samples
        n = frame_samples(rate_hz)
        whole = len(buf) // n
        self._held = buf[whole * n :].copy()
        return [
            (buf[k * n : (k + 1) * n], end_s - (len(buf) - (k + 1) * n) / rate_hz)
            for k in range(whole)
        ]

    def drop_held(self) -> None:
        """Forget the samples held over for the next frame (the stream paused)."""
        self._held = self._held[:0]

    # ------------------------------------------------------------------ analysis

    def analyse(self, samples: _Samples, rate_hz: int, end_s: float) -> AnalysisFrame:
        """One analysis frame (mono, ending at stream time `end_s`) through the features,
        the noise-floor gate, the speech detector and the scorer."""
        raw = frame_features(samples, rate_hz)
        features = self._noise.gate(raw, end_s)
        edge: tuple[str, float] | None = None
        if self._detector is not None:
            edge = self._detector.push(features, end_s)
            if edge is not None:
                self._speech_start_s = edge[1] if edge[0] == "start" else None
        early: tuple[OnsetScore, ...] = ()
        if self._scorer is not None:
            if self._score_own_onsets and edge is not None and edge[0] == "start":
                self._scorer.start(edge[1])
            early = tuple(self._scorer.push(samples, rate_hz, end_s))
        return AnalysisFrame(samples, end_s, features, raw, edge, early)

    def push(self, samples: _Samples, rate_hz: int, end_s: float) -> list[AnalysisFrame]:
        """`analyse` each whole analysis frame of a stream frame (see `frames`)."""
        return [self.analyse(x, rate_hz, t) for x, t in self.frames(samples, rate_hz, end_s)]

    def clip(self, samples: npt.NDArray[np.floating], rate_hz: int) -> Iterator[AnalysisFrame]:
        """`analyse` a whole clip from stream time 0: frame k ends at (k + 1) *
        `ANALYSIS_FRAME_S`; samples past the last whole frame are left out. ValueError
        unless an analysis frame is a whole number of samples at `rate_hz`."""
        n = frame_samples(rate_hz)
        if abs(n - ANALYSIS_FRAME_S * rate_hz) > 1e-6:
            raise ValueError(
                f"rate_hz must make {ANALYSIS_FRAME_S} s a whole number of samples, got {rate_hz}"
            )
        for k in range(len(samples) // n):
            frame = np.asarray(samples[k * n : (k + 1) * n], dtype=np.float32)
            yield self.analyse(frame, rate_hz, (k + 1) * ANALYSIS_FRAME_S)

    # ------------------------------------------------------------------ control

    def start_scoring(self, onset_s: float) -> None:
        """Score the early audio from an onset at stream time `onset_s` (it may lie in the
        past); nothing without an onset model."""
        if self._scorer is not None:
            self._scorer.start(onset_s)

    def stop_scoring(self) -> None:
        """Score nothing more for the current onset."""
        if self._scorer is not None:
            self._scorer.stop()

    def end_speech(self) -> None:
        """Close the own detector's current run of speech, if any: a run left open (the
        agent stopped talking over it) must not hide the next onset, as no "start" would
        come. The detector's noise floor is kept when no run was open."""
        self._speech_start_s = None
        if self._detector is not None and self._detector.speaking:
            self._detector = VoiceActivity()

    # ------------------------------------------------------------------ whole clips

    @classmethod
    def onset_sample(cls, samples: npt.NDArray[np.floating], rate_hz: int) -> int | None:
        """Index of the first onset the own speech detector reports in a clip (`clip`
        framing), None when it hears no speech."""
        for frame in cls().clip(samples, rate_hz):
            if frame.edge is not None and frame.edge[0] == "start":
                return int(round(frame.edge[1] * rate_hz))
        return None

    @classmethod
    def window_start(cls, samples: npt.NDArray[np.floating], rate_hz: int) -> int | None:
        """Index where an aligned onset model's windows start in a clip: at the sound's rise
        near the first onset the own detector reports (`onset.aligned_window_start`), None
        when it hears no speech."""
        at = cls.onset_sample(samples, rate_hz)
        return None if at is None else aligned_window_start(samples, at, rate_hz)
