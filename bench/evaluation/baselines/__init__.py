"""Reference systems the benchmark compares ours against: the framework's own barge-in and
end-of-turn rules replayed faithfully, and peer end-of-turn models."""

from bench.evaluation.baselines.endpoint import (
    FixedSilencePolicy,
    LiveKitDynamicPolicy,
    LiveKitEotV1MiniPolicy,
    judge,
)
from bench.evaluation.baselines.livekit_overlap import LiveKitBargeIn

__all__ = [
    "FixedSilencePolicy",
    "LiveKitBargeIn",
    "LiveKitDynamicPolicy",
    "LiveKitEotV1MiniPolicy",
    "judge",
]
