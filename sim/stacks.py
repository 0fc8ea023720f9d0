"""Named turn-taking stacks for the in-process harness: the demo, the session tests and the
benchmark run each configuration by name, side by side.

Stacks: `framework` / `livekit-vad` (LiveKit's defaults: VAD barge-in after 0.5 s of speech,
min_words 0, pause then resume after a 2 s false interruption, fixed endpointing 0.5-3 s),
`ours-endpointing` (framework barge-in + adaptive endpointing), `ours-arbiter` (the
interruption arbiter + fixed endpointing), `ours` (both, wired together by
`turntaking.TurnTaking`, exactly as a user's agent runs them). Other settings of the
framework's barge-in are built with `framework_stack` (the benchmark's baselines) and handed
to the harness as a ready `StackSetup`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import Agent, AgentSession
from livekit.agents import vad as lk_vad
from livekit.agents.voice.turn import TurnHandlingOptions
from livekit.plugins.turntaking import (
    EndpointDecision,
    OverlapEvent,
    TurnTaking,
    TurnTakingModels,
)
from livekit.plugins.turntaking.turn_taking import FRAMEWORK_MIN_DURATION_S

STACK_NAMES = (
    "framework",
    "livekit-vad",
    "ours-endpointing",
    "ours-arbiter",
    "ours",
)

Note = Callable[[str, dict[str, Any]], None]
"""Callback a stack uses to report its decisions (detail text without transcripts, data)."""


def _plain_agent(instructions: str) -> Agent:
    return Agent(instructions=instructions)


def _same_vad(vad: lk_vad.VAD) -> lk_vad.VAD:
    return vad


@dataclass(frozen=True)
class StackSetup:
    """What a stack changes in one session."""

    name: str
    description: str
    turn_handling: TurnHandlingOptions
    agent_factory: Callable[[str], Agent] = field(default=_plain_agent)
    """Builds a plain agent from its instructions."""
    install: Callable[[AgentSession[Any], Note], object] | None = None
    """Attaches the stack's plugins to the session (call before `session.start`)."""
    vad: Callable[[lk_vad.VAD], lk_vad.VAD] = field(default=_same_vad)
    """The VAD a session of this stack uses, given the caller's."""
    turn_taking: TurnTaking | None = None
    """The plugin object of an `ours*` stack."""


def framework_stack(name: str, *, min_words: int = 0) -> StackSetup:
    """The framework's defaults under `name`, its VAD barge-in also waiting for `min_words`
    transcribed words (>= 0; 0 is LiveKit's default)."""
    if min_words < 0:
        raise ValueError(f"min_words must be >= 0, got {min_words}")
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
            "turntaking.load_models())"
        )
    return models


def _ours(name: str, models: TurnTakingModels, *, arbiter: bool, endpointing: bool) -> StackSetup:
    tt = TurnTaking(models, arbiter=arbiter, adaptive_endpointing=endpointing)

    def install(session: AgentSession[Any], note: Note) -> None:
        tt.attach(session)

        def on_decision(dec: EndpointDecision) -> None:
            note(
                f"endpoint delay {dec.delay_s:.2f} s (p_end {dec.p_end:.2f})",
                {"delay_s": dec.delay_s, "p_end": dec.p_end, "p_text": dec.p_text},
            )

        def on_overlap(ev: OverlapEvent) -> None:
            audio = (
                f", audio p {ev.onset_probability:.2f}" if ev.onset_probability is not None else ""
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

        tt.on("endpoint", on_decision)
        tt.on("overlap", on_overlap)

    return StackSetup(
        name=name,
        description=tt.description,
        turn_handling=tt.turn_handling(),
        install=install,
        vad=tt.vad,
        turn_taking=tt,
    )


def configure_stack(name: str, models: TurnTakingModels | None = None) -> StackSetup:
    """A fresh setup of stack `name` (one of STACK_NAMES); cheap, call once per session.
    The `ours*` stacks need `models` from `turntaking.load_models()`."""
    match name:
        case "framework" | "livekit-vad":
            return framework_stack(name)
        case "ours-endpointing":
            return _ours(name, _require(models, name), arbiter=False, endpointing=True)
        case "ours-arbiter":
            return _ours(name, _require(models, name), arbiter=True, endpointing=False)
        case "ours":
            return _ours(name, _require(models, name), arbiter=True, endpointing=True)
        case _:
            raise ValueError(f"unknown stack {name!r}: choose one of {', '.join(STACK_NAMES)}")
