"""Interruption arbiter: backchannel vs true interruption while the agent speaks."""

from .arbiter import (
    SESSION_EVENT,
    YIELD_SESSION_EVENT,
    ArbiterMetrics,
    InterruptionArbiter,
    YieldEvent,
)
from .model import (
    ArbiterDecider,
    ArbiterParams,
    ArbiterState,
    AudioFeatures,
    ModelFileError,
    OverlapEvent,
    TextModel,
    VoiceActivity,
    frame_features,
    load_params,
)

__all__ = [
    "SESSION_EVENT",
    "ArbiterDecider",
    "ArbiterMetrics",
    "ArbiterParams",
    "ArbiterState",
    "AudioFeatures",
    "InterruptionArbiter",
    "ModelFileError",
    "OverlapEvent",
    "TextModel",
    "VoiceActivity",
    "YIELD_SESSION_EVENT",
    "YieldEvent",
    "frame_features",
    "load_params",
]
