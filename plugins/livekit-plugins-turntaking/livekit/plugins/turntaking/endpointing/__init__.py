"""Adaptive endpointing: commit the user's turn after a per-pause delay set by what they
said, how this speaker pauses and (optionally) how it sounded."""

from .detector import AdaptiveTurnDetector, AdaptiveTurnDetectorStream
from .model import (
    AdaptiveEndpointer,
    CompletenessModel,
    EndpointDecision,
    EndpointState,
    ModelFileError,
    PausePrior,
    SpeakerPauseModel,
    TurnCues,
    commit_delay,
    end_probability,
    normalize_words,
    turn_cues,
)

__all__ = [
    "AdaptiveEndpointer",
    "AdaptiveTurnDetector",
    "AdaptiveTurnDetectorStream",
    "CompletenessModel",
    "EndpointDecision",
    "EndpointState",
    "ModelFileError",
    "PausePrior",
    "SpeakerPauseModel",
    "TurnCues",
    "commit_delay",
    "end_probability",
    "normalize_words",
    "turn_cues",
]
