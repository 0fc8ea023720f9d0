"""`smart-turn-v3`: pipecat's Smart Turn v3.2 audio end-of-turn model (BSD-2-Clause), run
with onnxruntime on features computed here in numpy.

The ONNX file comes from the `pipecat-ai==1.14.0` wheel, fetched with
`pip download --no-deps` into the bench cache (the package itself is not installed: its
protobuf pin conflicts with livekit). The feature extraction re-implements the wheel's
`pipecat/audio/turn/smart_turn/_whisper_features.py` (a numpy port of Hugging Face's
Whisper feature extractor, Apache-2.0): last 8 s of 16 kHz audio, left-padded with zeros,
waveform normalised, 400-point periodic-Hann STFT with hop 160, 80 Slaney mel bins, log10
clamped to max-8, scaled (x+4)/4, last frame dropped -> (80, 800).

Decision rule as pipecat's `BaseSmartTurn` (base_smart_turn.py): when the VAD goes quiet
(here: the framework's 0.2 s of VAD silence, the same query times as the LiveKit model) the
model sees the turn's audio from 0.5 s before its first speech (at most 8 s); a probability
above the threshold ends the turn at once, otherwise the turn ends after `STOP_SECS` (3 s)
of silence.
"""

from __future__ import annotations

import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.datasets.audio import BENCH_SAMPLE_RATE_HZ, Samples
from bench.datasets.manifest import EndpointItem
from bench.evaluation.baselines.endpoint import (
    PROBABILITY_SWEEP,
    TimedPolicy,
    eot_query_times,
    judge,
    silence_firings,
)
from bench.evaluation.baselines.vad_timeline import vad_timeline
from bench.evaluation.types import EndpointOutcome, TranscriptEvent

PIPECAT_VERSION = "1.14.0"
MODEL_MEMBER = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
MODEL_FILENAME = "smart-turn-v3.2-cpu.onnx"
WINDOW_SAMPLES = 8 * BENCH_SAMPLE_RATE_HZ
STOP_SECS = 3.0
PRE_SPEECH_S = 0.5

_N_FFT = 400
_HOP = 160
_N_MELS = 80
_MEL_FLOOR = 1e-10
_NORM_EPS = 1e-7


def _hz_to_mel(f: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    mels = 3.0 * f / 200.0
    log_region = f >= 1000.0
    mels[log_region] = 15.0 + np.log(f[log_region] / 1000.0) * (27.0 / np.log(6.4))
    return mels


def _mel_to_hz(m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    f = 200.0 * m / 3.0
    log_region = m >= 15.0
    f[log_region] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m[log_region] - 15.0))
    return f


def _mel_filters() -> npt.NDArray[np.float64]:
    n_bins = _N_FFT // 2 + 1
    lo, hi = _hz_to_mel(np.array([0.0]))[0], _hz_to_mel(np.array([8000.0]))[0]
    edges = _mel_to_hz(np.linspace(lo, hi, _N_MELS + 2))
    fft_freqs = np.linspace(0, BENCH_SAMPLE_RATE_HZ // 2, n_bins)
    diff = np.diff(edges)
    slopes = edges[None, :] - fft_freqs[:, None]
    down = -slopes[:, :-2] / diff[:-1]
    up = slopes[:, 2:] / diff[1:]
    filt = np.maximum(0.0, np.minimum(down, up))
    filt *= (2.0 / (edges[2 : _N_MELS + 2] - edges[:_N_MELS]))[None, :]
    return filt


_MEL = _mel_filters()
_HANN = np.hanning(_N_FFT + 1)[:-1]


def log_mel_features(audio: Samples) -> npt.NDArray[np.float32]:
    """(80, 800) Whisper-style log-mel features of the last 8 s of 16 kHz `audio`
    (left-padded with zeros when shorter)."""
    x = np.asarray(audio, dtype=np.float32)[-WINDOW_SAMPLES:]
    if x.size < WINDOW_SAMPLES:
        x = np.pad(x, (WINDOW_SAMPLES - x.size, 0))
    x = (x - x.mean()) / np.sqrt(x.var() + _NORM_EPS)
    pad = _N_FFT // 2
    padded = np.pad(x.astype(np.float64), (pad, pad), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP]
    power = (np.abs(np.fft.rfft(frames * _HANN, axis=-1)) ** 2).T
    log_spec = np.log10(np.maximum(_MEL_FLOOR, _MEL.T @ power))[:, :-1]
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    feats: npt.NDArray[np.float32] = ((log_spec + 4.0) / 4.0).astype(np.float32)
    return feats


def ensure_model(cache_dir: Path) -> Path:
    """Path of the Smart Turn ONNX file, fetched from the pipecat-ai wheel into `cache_dir`
    on first use (needs the package index once). Raises RuntimeError saying what to do."""
    target = cache_dir / MODEL_FILENAME
    if target.exists():
        return target
    wheel_dir = cache_dir / "wheels"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(wheel_dir.glob(f"pipecat_ai-{PIPECAT_VERSION}-*.whl"))
    if not wheels:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             f"pipecat-ai=={PIPECAT_VERSION}", "-d", str(wheel_dir)],
            capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        wheels = sorted(wheel_dir.glob(f"pipecat_ai-{PIPECAT_VERSION}-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise RuntimeError(
                f"could not fetch pipecat-ai=={PIPECAT_VERSION} for the smart-turn-v3 model "
                f"(pip exit {proc.returncode}); put the wheel in {wheel_dir} and rerun"
            )
    with zipfile.ZipFile(wheels[0]) as zf:
        tmp = target.with_suffix(".part")
        tmp.write_bytes(zf.read(MODEL_MEMBER))
        tmp.replace(target)
    return target


class SmartTurnV3Policy(TimedPolicy):
    """Smart Turn v3.2 under pipecat's rule; the swept threshold is the probability above
    which a quiet moment ends the turn (pipecat's default 0.5)."""

    def __init__(
        self,
        *,
        cache_dir: Path,
        thresholds: Sequence[float] = PROBABILITY_SWEEP,
        default_threshold: float = 0.5,
        stop_s: float = STOP_SECS,
    ) -> None:
        super().__init__()
        self._probability_sweep("smart-turn-v3", thresholds, default_threshold)
        self.stop_s = stop_s
        self.cache_dir = cache_dir
        self._session: Any = None

    def load(self) -> None:
        """Fetch (first time) and open the ONNX model with one intra-op thread."""
        if self._session is None:
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.inter_op_num_threads = 1
            so.intra_op_num_threads = 1
            self._session = ort.InferenceSession(
                str(ensure_model(self.cache_dir)), sess_options=so,
                providers=["CPUExecutionProvider"],
            )  # fmt: skip

    def predict(self, window: Samples) -> float:
        """End-of-turn probability of the audio up to now (16 kHz, last 8 s used)."""
        feats = log_mel_features(window)[None, :, :]
        out = self._session.run(None, {"input_features": feats})
        return float(np.asarray(out[0]).reshape(-1)[0])

    def run(
        self, item: EndpointItem, audio: Samples, transcript: Sequence[TranscriptEvent]
    ) -> list[EndpointOutcome]:
        tl = vad_timeline(audio)
        t0 = time.process_time()
        self.load()
        frames = [(f.t_s, f.silence_s, f.speaking) for f in tl.frames]
        turn_start = tl.segments[0].start_s - PRE_SPEECH_S if tl.segments else 0.0
        queries: list[tuple[float, float]] = []
        for t in eot_query_times(frames):
            lo = max(0, int(turn_start * BENCH_SAMPLE_RATE_HZ))
            hi = int(round(t * BENCH_SAMPLE_RATE_HZ))
            queries.append((t, self.predict(audio[lo:hi])))
        timeouts = silence_firings(frames, self.stop_s)
        out = []
        for thr in self.thresholds:
            firings = [t for t, p in queries if p > thr] + timeouts
            out.append(judge(item, firings))
        self.cpu_s += time.process_time() - t0
        return out
