"""Named turn-taking stacks: the one place that wires turn-taking into an AgentSession.

Used by the worker, the offline demo, the session tests and the benchmark's episodes, so
all of them run the same configuration:

    models = load_turn_taking_models()          # once per process (prewarm)
    setup = configure_stack("ours", models)      # per session: fresh per-conversation state
    session = AgentSession(..., vad=vad_for_stack(setup, vad, models),
                           turn_handling=setup.turn_handling)
    setup.install(session, note)                 # before session.start
    await session.start(setup.wrap_agent(MyAgent(...)))

Stacks: `framework` / `livekit-vad` (LiveKit's defaults: VAD barge-in after 0.5 s of speech,
min_words 0, pause then resume after a 2 s false interruption, fixed endpointing 0.5-3 s),
`livekit-min-words-2` (barge-in also needs two transcribed words), `ours-endpointing`
(framework barge-in + the adaptive endpointing plugin), `ours-arbiter` (the interruption
arbiter + fixed endpointing), `ours` (arbiter + adaptive endpointing, wired together: a
backchannel is not the end of a pause).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from livekit.agents import Agent, AgentSession
from livekit.agents import vad as lk_vad
from livekit.agents.voice.turn import TurnHandlingOptions

from worker.log import logger

if TYPE_CHECKING:
    from plugins.arbiter.model import ArbiterParams, TextModel
    from plugins.arbiter.onset import OnsetModel
    from plugins.endpointing.model import CompletenessModel, PausePrior

STACK_NAMES = (
    "framework",
    "livekit-vad",
    "livekit-min-words-2",
    "ours-endpointing",
    "ours-arbiter",
    "ours",
)
FRAMEWORK_MIN_DURATION_S = 0.5
"""LiveKit's default `interruption.min_duration` (s)."""

Note = Callable[[str, dict[str, Any]], None]
"""Callback a stack uses to report its decisions (detail text without transcripts, data)."""


def _identity(agent: Agent) -> Agent:
    return agent


def _plain_agent(instructions: str) -> Agent:
    return Agent(instructions=instructions)


@dataclass(frozen=True)
class StackSetup:
    """What a stack changes in one session."""

    name: str
    description: str
    turn_handling: TurnHandlingOptions
    agent_factory: Callable[[str], Agent] = field(default=_plain_agent)
    """Builds a plain agent from its instructions (used by the offline harness)."""
    wrap_agent: Callable[[Agent], Agent] = field(default=_identity)
    """Prepares any agent for this stack (call before `session.start`)."""
    install: Callable[[AgentSession[Any], Note], object] | None = None
    """Attaches the stack's plugins to the session (call before `session.start`)."""
    vad_min_silence_s: float | None = None
    """Silero `min_silence_duration` this stack needs, if not the caller's VAD's (s)."""


@dataclass(frozen=True)
class TurnTakingModels:
    """Weights shared by every session of a process (load once with
    `load_turn_taking_models`)."""

    arbiter_model: TextModel | None = None
    arbiter_params: ArbiterParams | None = None
    completeness: CompletenessModel | None = None
    pause_prior: PausePrior | None = None
    arbiter_onset: OnsetModel | None = None
    """The arbiter's early audio classifier (None: the arbiter decides on words and
    duration only)."""
    endpointing_vad: lk_vad.VAD | None = None
    """Silero (plugin) tuned for the adaptive endpointing, or None if not loaded."""
    problems: tuple[str, ...] = ()
    """What could not be loaded (the affected plugin falls back to framework behaviour)."""


def load_turn_taking_models(*, load_vad: bool = True) -> TurnTakingModels:
    """Load the arbiter's and the endpointing's weights (blocking, well under a second).

    A missing or broken file does not raise: it is logged and recorded in `problems`, and the
    plugin concerned falls back to the framework's behaviour. `load_vad` also loads the
    Silero VAD the endpointing needs (skip it when the caller builds its own VAD)."""
    from plugins.arbiter.model import ModelFileError as ArbiterFileError
    from plugins.arbiter.model import TextModel, load_params
    from plugins.arbiter.onset import OnsetModel
    from plugins.endpointing.model import CompletenessModel, PausePrior
    from plugins.endpointing.model import ModelFileError as EndpointingFileError

    problems: list[str] = []
    arbiter_model: TextModel | None = None
    arbiter_params: ArbiterParams | None = None
    onset: OnsetModel | None = None
    try:
        arbiter_model, arbiter_params = TextModel.load(), load_params()
    except ArbiterFileError as e:
        problems.append(f"arbiter: {e}")
    try:
        onset = OnsetModel.load()
    except ArbiterFileError as e:
        problems.append(f"arbiter early audio classifier: {e}")
    completeness: CompletenessModel | None = None
    prior: PausePrior | None = None
    try:
        completeness, prior = CompletenessModel.load(), PausePrior.load()
    except EndpointingFileError as e:
        problems.append(f"endpointing: {e}")
    vad = _silero_plugin_vad(_endpointing_vad_silence_s()) if load_vad else None
    for p in problems:
        logger.error("turn-taking model unavailable, framework behaviour used: %s", p)
    return TurnTakingModels(
        arbiter_model,
        arbiter_params,
        completeness,
        prior,
        arbiter_onset=onset,
        endpointing_vad=vad,
        problems=tuple(problems),
    )


def _endpointing_vad_silence_s() -> float:
    from plugins.endpointing.detector import VAD_MIN_SILENCE_S

    return VAD_MIN_SILENCE_S


def _silero_plugin_vad(min_silence_s: float) -> lk_vad.VAD:
    from livekit.plugins import silero

    return silero.VAD.load(min_silence_duration=min_silence_s)


def vad_for_stack(
    setup: StackSetup, default: lk_vad.VAD, models: TurnTakingModels | None = None
) -> lk_vad.VAD:
    """The VAD a session of `setup` uses: `default`, or a Silero VAD of the same kind tuned
    to the stack's `vad_min_silence_s` (the local-inference one keeps the default's executor,
    so virtual-time tests keep working; the plugin one comes from `models` when loaded)."""
    if setup.vad_min_silence_s is None:
        return default
    from livekit.agents import inference

    if isinstance(default, inference.VAD):
        return inference.VAD(
            min_silence_duration=setup.vad_min_silence_s,
            executor=default._executor,  # keep the caller's threading model
        )
    if models is not None and models.endpointing_vad is not None:
        return models.endpointing_vad
    from livekit.plugins import silero

    if isinstance(default, silero.VAD):
        return _silero_plugin_vad(setup.vad_min_silence_s)
    raise ValueError(
        f"stack {setup.name!r} needs a Silero VAD with min_silence_duration="
        f"{setup.vad_min_silence_s} s; pass livekit.plugins.silero.VAD or "
        f"livekit.agents.inference.VAD, not {type(default).__name__}"
    )


def _framework(name: str, min_words: int) -> StackSetup:
    return StackSetup(
        name=name,
        description=(
            f"LiveKit defaults: VAD barge-in (min_duration {FRAMEWORK_MIN_DURATION_S} s"
            + (f", min_words {min_words}" if min_words else "")
            + "), pause + resume on false interruption, fixed endpointing 0.5-3 s"
        ),
        # mode is pinned to "vad": in dev mode the session would otherwise pick the cloud
        # adaptive detector
        turn_handling={
            "turn_detection": "vad",
            "interruption": {
                "mode": "vad",
                "min_duration": FRAMEWORK_MIN_DURATION_S,
                "min_words": min_words,
            },
        },
    )


def _require(models: TurnTakingModels | None, name: str) -> TurnTakingModels:
    if models is None:
        raise ValueError(
            f"stack {name!r} needs loaded models: pass configure_stack({name!r}, "
            "load_turn_taking_models())"
        )
    return models


def _ours(name: str, models: TurnTakingModels, *, arbiter: bool, endpointing: bool) -> StackSetup:
    from plugins.arbiter import InterruptionArbiter, OverlapEvent
    from plugins.endpointing import AdaptiveTurnDetector, EndpointDecision

    arb = (
        InterruptionArbiter(
            model=models.arbiter_model,
            params=models.arbiter_params,
            onset_model=models.arbiter_onset,
        )
        if arbiter
        else None
    )
    det: AdaptiveTurnDetector | None = None
    if endpointing:
        det = AdaptiveTurnDetector(completeness=models.completeness, prior=models.pause_prior)
        det.prewarm()

    turn_handling: dict[str, Any] = {
        "interruption": {
            "mode": "vad",
            "min_duration": FRAMEWORK_MIN_DURATION_S,
            "min_words": 0,
        },
        "turn_detection": "vad",
    }
    if det is not None:
        turn_handling["turn_detection"] = det
        turn_handling["endpointing"] = det.endpointing_options()
    if arb is not None:
        turn_handling.update(arb.turn_handling())

    def install(session: AgentSession[Any], note: Note) -> None:
        if det is not None:
            det.attach(session)

            def on_decision(dec: EndpointDecision) -> None:
                note(
                    f"endpoint delay {dec.delay_s:.2f} s (p_end {dec.p_end:.2f})",
                    {"delay_s": dec.delay_s, "p_end": dec.p_end, "p_text": dec.p_text},
                )

            det.on("decision", on_decision)
        if arb is not None:
            arb.attach(session)

            def on_overlap(ev: OverlapEvent) -> None:
                if det is not None and ev.label == "backchannel":
                    det.on_backchannel()
                audio = (
                    f", audio p {ev.onset_probability:.2f}"
                    if ev.onset_probability is not None
                    else ""
                )
                note(
                    f"arbiter: {ev.label} (words p {ev.probability:.2f}{audio}, "
                    f"{ev.latency_s * 1000:.0f} ms, {', '.join(ev.cues)})",
                    {
                        "label": ev.label,
                        "probability": ev.probability,
                        "onset_probability": ev.onset_probability,
                        "latency_s": ev.latency_s,
                        "cues": list(ev.cues),
                    },
                )

            arb.on("overlap", on_overlap)

    parts = []
    parts.append("interruption arbiter" if arb is not None else "LiveKit VAD barge-in")
    parts.append("adaptive endpointing" if det is not None else "fixed endpointing 0.5-3 s")
    if models.problems:
        parts.append("DEGRADED: " + "; ".join(models.problems))
    return StackSetup(
        name=name,
        description=" + ".join(parts),
        turn_handling=turn_handling,  # type: ignore[arg-type]
        wrap_agent=arb.wrap_agent if arb is not None else _identity,
        install=install,
        vad_min_silence_s=_endpointing_vad_silence_s() if det is not None else None,
    )


def configure_stack(name: str, models: TurnTakingModels | None = None) -> StackSetup:
    """A fresh setup of stack `name` (one of STACK_NAMES); cheap, call once per session.
    The `ours*` stacks need `models` from `load_turn_taking_models()`."""
    match name:
        case "framework" | "livekit-vad":
            return _framework(name, 0)
        case "livekit-min-words-2":
            return _framework(name, 2)
        case "ours-endpointing":
            return _ours(name, _require(models, name), arbiter=False, endpointing=True)
        case "ours-arbiter":
            return _ours(name, _require(models, name), arbiter=True, endpointing=False)
        case "ours":
            return _ours(name, _require(models, name), arbiter=True, endpointing=True)
        case _:
            raise ValueError(f"unknown stack {name!r}: choose one of {', '.join(STACK_NAMES)}")
