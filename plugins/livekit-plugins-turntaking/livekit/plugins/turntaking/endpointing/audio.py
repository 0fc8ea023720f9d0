"""The audio end-of-turn model the endpointing asks once per pause: LiveKit's
turn-detector-v1-mini, run in-process by `livekit-local-inference` (a dependency of
`livekit-agents`, so nothing extra is installed or downloaded), on the last 1.2 s of the
user's audio at 16 kHz, exactly as the framework's own local transport feeds it
(`livekit.agents.inference.eot.transports._LocalTransport`).

Its probability only ever shortens a delay the words agree with
(`model.agreed_delay_s`): a voice that sounds finished mid-sentence keeps the words' delay.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from livekit import rtc
from livekit.agents.utils import AudioArrayBuffer

from ..log import logger

__all__ = ["AudioEndOfTurnModel", "AudioWindow", "LocalEotModel"]

MODEL_SAMPLE_RATE_HZ = 16_000
"""Sample rate the model reads; other rates are resampled on the way in."""
WINDOW_SAMPLES = 19_200
"""Samples the model reads (1.2 s at 16 kHz, its receptive field; `EOT_MAX_SAMPLES`)."""


class AudioEndOfTurnModel(Protocol):
    """P(the turn is over) from the last `WINDOW_SAMPLES` of 16 kHz int16 audio; blocking,
    called off the event loop."""

    def predict(self, pcm: npt.NDArray[np.int16]) -> float: ...


class LocalEotModel:
    """LiveKit's turn-detector-v1-mini in-process (`livekit.local_inference.EOT`; 25-45 ms
    per call on two cores; the native model, ~108 MB, is shared by every instance)."""

    def __init__(self) -> None:
        self._eot: Any = None

    def load(self) -> None:
        """Load the native model (blocking; call from `prewarm`). Raises RuntimeError saying
        what to do when `livekit-local-inference` is missing or fails to start."""
        if self._eot is not None:
            return
        try:
            from livekit.local_inference import EOT
        except ImportError as exc:
            raise RuntimeError(
                "the audio end-of-turn model needs livekit-local-inference (installed with "
                "livekit-agents >= 1.8); reinstall livekit-agents, or pass "
                "audio_model=False to run on words alone"
            ) from exc
        self._eot = EOT()

    def predict(self, pcm: npt.NDArray[np.int16]) -> float:
        """P(turn over) of up to `WINDOW_SAMPLES` of 16 kHz int16 audio (blocking)."""
        if self._eot is None:
            self.load()
        return float(self._eot.predict(pcm))


class AudioWindow:
    """The last 1.2 s of one stream's audio at 16 kHz, mono: other rates are resampled and
    channels averaged as the framework's own buffer does (`AudioArrayBuffer`). A change of
    sample rate inside a stream is logged once and starts the window again."""

    def __init__(self) -> None:
        self._buf = AudioArrayBuffer(buffer_size=WINDOW_SAMPLES, sample_rate=MODEL_SAMPLE_RATE_HZ)
        self._warned = False

    def push(self, frame: rtc.AudioFrame) -> None:
        """Append one frame of the user's audio."""
        try:
            self._buf.push_frame(frame)
        except ValueError as exc:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "audio end-of-turn window restarted: %s (every frame of a stream should "
                    "have one sample rate)",
                    exc,
                )
            self._buf.reset()
            self._buf.push_frame(frame)

    def snapshot(self) -> npt.NDArray[np.int16]:
        """A copy of the window (fewer samples until 1.2 s have been heard)."""
        out: npt.NDArray[np.int16] = self._buf.read()
        return out
