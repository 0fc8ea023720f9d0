"""System names -> factories, per command.

Our systems live in other modules and are imported only when asked for, so one missing or
broken system yields a one-line error for that system instead of ending the run. A name of
the form `package.module:function` is imported and called as a factory (for custom systems
and tests).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

OVERLAP_BASELINES = ("livekit-vad", "livekit-min-words-2")
ENDPOINT_BASELINES = ("fixed-500ms", "livekit-dynamic", "livekit-eot-v1-mini", "smart-turn-v3")
SESSION_STACKS = ("ours", "livekit-vad", "livekit-min-words-2")
TURNS_BASELINES = ("framework",)
"""Default baselines of `bench turns`: LiveKit's defaults (`sim.stacks`)."""
OURS_OVERLAP = "bench.evaluation.ours_overlap"
OURS_ENDPOINT = "bench.evaluation.ours_endpoint"
"""Modules of our systems, imported only when asked for."""


class SystemUnavailable(Exception):
    """A system could not be constructed; the message is one line saying why."""


def _import_factory(spec: str) -> Callable[[], Any]:
    mod_name, _, attr = spec.partition(":")
    try:
        mod = importlib.import_module(mod_name)
        factory = getattr(mod, attr)
    except (ImportError, AttributeError) as exc:
        raise SystemUnavailable(f"{spec}: cannot import ({exc})") from exc
    if not callable(factory):
        raise SystemUnavailable(f"{spec}: not callable")
    return factory  # type: ignore[no-any-return]


def _call(factory: Callable[[], Any], name: str) -> Any:
    try:
        system = factory()
    except SystemUnavailable:
        raise
    except Exception as exc:  # a broken system must not end the run
        reason = f"{type(exc).__name__}: {exc}"
        raise SystemUnavailable(f"{name}: construction failed ({reason})") from exc
    if not hasattr(system, "name"):
        raise SystemUnavailable(f"{name}: factory returned an object without a name")
    return system


def make_overlap_system(name: str) -> Any:
    """An `OverlapSystem` by name: ours, ours-wordlist, livekit-vad, livekit-min-words-2."""
    from bench.evaluation.baselines.livekit_overlap import LiveKitBargeIn

    match name:
        case "ours":
            return _call(_import_factory("bench.evaluation.ours_overlap:make_system"), name)
        case "ours-wordlist":
            return _call(
                _import_factory("bench.evaluation.ours_overlap:make_wordlist_system"), name
            )
        case "livekit-vad":
            return LiveKitBargeIn(name=name, min_words=0)
        case "livekit-min-words-2":
            return LiveKitBargeIn(name=name, min_words=2)
        case _ if ":" in name:
            return _call(_import_factory(name), name)
        case _:
            raise SystemUnavailable(
                f"unknown overlap system {name!r}; known: ours, ours-wordlist, "
                + ", ".join(OVERLAP_BASELINES)
            )


def make_endpoint_policy(name: str, *, cache_dir: Path) -> Any:
    """An `EndpointPolicy` by name: ours, fixed-500ms, livekit-dynamic,
    livekit-eot-v1-mini, smart-turn-v3 (model files cached under `cache_dir`)."""
    from bench.evaluation.baselines.endpoint import (
        FixedSilencePolicy,
        LiveKitDynamicPolicy,
        LiveKitEotV1MiniPolicy,
    )

    match name:
        case "ours":
            return _call(_import_factory(f"{OURS_ENDPOINT}:make_policy"), name)
        case "fixed-500ms":
            return FixedSilencePolicy()
        case "livekit-dynamic":
            return LiveKitDynamicPolicy()
        case "livekit-eot-v1-mini":
            policy = LiveKitEotV1MiniPolicy()
            try:
                policy.load()
            except Exception as exc:
                raise SystemUnavailable(f"{name}: local EOT model unavailable ({exc})") from exc
            return policy
        case "smart-turn-v3":
            from bench.evaluation.baselines.smart_turn import SmartTurnV3Policy

            st = SmartTurnV3Policy(cache_dir=cache_dir)
            try:
                st.load()
            except Exception as exc:
                raise SystemUnavailable(f"{name}: {exc}") from exc
            return st
        case _ if ":" in name:
            return _call(_import_factory(name), name)
        case _:
            raise SystemUnavailable(
                f"unknown endpoint system {name!r}; known: ours, " + ", ".join(ENDPOINT_BASELINES)
            )
