"""Turn-taking for LiveKit Agents: a local interruption arbiter (backchannel or true
interruption, while the agent talks) and adaptive endpointing (when the user's turn is
really over).

    from livekit.plugins import turntaking

    models = turntaking.load_models()            # once per process, e.g. in prewarm
    tt = turntaking.TurnTaking(models)           # per session
    session = AgentSession(stt=..., llm=..., tts=...,
                           vad=tt.vad(), turn_handling=tt.turn_handling())
    tt.attach(session)                           # before session.start
    await session.start(agent=MyAgent(), room=ctx.room)
"""

from livekit.agents import Plugin

from .arbiter import SESSION_EVENT as OVERLAP_SESSION_EVENT
from .arbiter import (
    YIELD_SESSION_EVENT,
    ArbiterMetrics,
    ArbiterParams,
    InterruptionArbiter,
    OverlapEvent,
    YieldEvent,
)
from .endpointing import AdaptiveTurnDetector, EndpointDecision
from .log import logger
from .turn_taking import (
    ENDPOINT_SESSION_EVENT,
    TurnTaking,
    TurnTakingModels,
    load_models,
)
from .version import __version__

__all__ = [
    "ENDPOINT_SESSION_EVENT",
    "OVERLAP_SESSION_EVENT",
    "YIELD_SESSION_EVENT",
    "AdaptiveTurnDetector",
    "ArbiterMetrics",
    "ArbiterParams",
    "EndpointDecision",
    "InterruptionArbiter",
    "OverlapEvent",
    "TurnTaking",
    "TurnTakingModels",
    "YieldEvent",
    "__version__",
    "load_models",
]


class TurnTakingPlugin(Plugin):
    def __init__(self) -> None:
        super().__init__(__name__, __version__, __package__, logger)


Plugin.register_plugin(TurnTakingPlugin())
