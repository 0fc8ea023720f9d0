"""Demo scenes: what the agent says, when the user's clips play, how the LLM answers.

`run_scene` plays one scene through a real session under a named stack and returns the
recorded timeline with the scene's figures (stop latency, reply latency).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from livekit.agents import llm as lk_llm
from livekit.agents import stt as lk_stt
from livekit.agents import tts as lk_tts
from livekit.agents import vad as lk_vad
from livekit.plugins.turntaking import TurnTakingModels

from sim.assets_index import ASSETS_DIR
from sim.audio import Samples, load_clip
from sim.harness import EventKind, SimHarness, TimelineEvent
from sim.lines import USER_CLIPS
from sim.llm import DEFAULT_TTFT_S, ScriptedLLM, ScriptRule
from sim.stacks import StackSetup

USER_CLIP_RATE_HZ = 16_000
AGENT_START_TIMEOUT_S = 5.0
"""How long the scene waits for the opening line to start playing, seconds."""
SETTLE_S = 2.5
"""Quiet time after the last event before a scene is over, seconds (> the framework's
2 s false-interruption timer, so a resume is seen)."""


class Anchor(Enum):
    """What a user clip's offset is measured from."""

    AGENT_START = "agent audio start"
    AGENT_END = "agent audio end"
    PREVIOUS_END = "previous clip end"


@dataclass(frozen=True)
class UserPart:
    """A user clip (name under sim/assets/user) placed `offset_s` after `anchor`."""

    clip: str
    offset_s: float
    anchor: Anchor = Anchor.AGENT_START


@dataclass(frozen=True)
class Scene:
    """One scripted conversation moment."""

    name: str
    title: str
    opening: str
    """What the agent is saying when the scene starts (spoken with `session.say`)."""
    parts: tuple[UserPart, ...]
    rules: tuple[ScriptRule, ...]
    default_reply: str
    max_s: float
    """Hard limit on the scene's length, seconds."""


SCENES: dict[str, Scene] = {
    s.name: s
    for s in (
        Scene(
            name="backchannel",
            title='User says "uh huh" while the agent explains',
            opening=(
                "Sure, here is how to reset your router. "
                "First, unplug it from the wall and wait about thirty seconds. "
                "Then plug it back in and wait until the lights turn solid green. "
                "After that, open the app and run the connection test."
            ),
            parts=(UserPart("uh_huh", 4.6),),
            rules=(),
            default_reply="Sorry, did you want to add something?",
            max_s=30.0,
        ),
        Scene(
            name="interruption",
            title='User cuts in: "wait, stop, I meant Tuesday"',
            opening=(
                "Okay, I have booked your appointment for Monday at ten in the morning. "
                "I will send a confirmation to your email address shortly, along with "
                "directions."
            ),
            parts=(UserPart("wait_stop_tuesday", 2.6),),
            rules=(ScriptRule("tuesday", "Got it, Tuesday then. What time works for you?"),),
            default_reply="Okay.",
            max_s=25.0,
        ),
        Scene(
            name="long-pause",
            title='User pauses mid-number: "four one five ... two two three, four five six seven"',
            opening="What is the best number to reach you?",
            parts=(
                UserPart("number_part1", 0.6, Anchor.AGENT_END),
                UserPart("number_part2", 1.6, Anchor.PREVIOUS_END),
            ),
            rules=(
                ScriptRule(
                    "four five six seven|4 5 6 7|4567",
                    "Thanks, I have four one five, two two three, four five six seven.",
                ),
            ),
            default_reply="Okay.",
            max_s=25.0,
        ),
        Scene(
            name="code",
            title='User reads the 6-digit code asked for: "four one five ... two two three"',
            opening="What is the six-digit code we sent you?",
            parts=(
                UserPart("code_part1", 0.6, Anchor.AGENT_END),
                UserPart("code_part2", 1.6, Anchor.PREVIOUS_END),
            ),
            rules=(
                ScriptRule(
                    "two two three|2 2 3|223",
                    "Thanks, the code four one five, two two three is right.",
                ),
            ),
            default_reply="Okay.",
            max_s=25.0,
        ),
    )
}


def user_clip(name: str, rate_hz: int = USER_CLIP_RATE_HZ) -> Samples:
    """A committed user clip as mono float32 at `rate_hz`."""
    path = ASSETS_DIR / "user" / f"{name}.flac"
    if not path.is_file():
        raise FileNotFoundError(f"missing user clip {path}: run `python -m sim.render_clips`")
    return load_clip(path, rate_hz)


@dataclass
class SceneResult:
    """What happened in one scene under one stack."""

    scene: Scene
    stack: str
    events: list[TimelineEvent]
    agent_spans: list[tuple[float, float]]
    user_spans: list[tuple[str, float, float]]
    stop_latency_s: float | None
    """First user onset during agent audio -> agent audio paused/cleared, seconds."""
    reply_latency_s: float | None
    """End of the last user clip -> next agent audio start, seconds."""
    llm_calls: int
    history: list[dict[str, Any]]
    """Chat messages at the end: role, text, interrupted."""
    duration_s: float


async def run_scene(
    scene: Scene,
    *,
    stack: str | StackSetup,
    stt: lk_stt.STT[Any],
    vad: lk_vad.VAD,
    tts: lk_tts.TTS[Any],
    clip_loader: Callable[[str], Samples] = user_clip,
    models: TurnTakingModels | None = None,
    settle_s: float = SETTLE_S,
    llm_ttft_s: float = DEFAULT_TTFT_S,
) -> SceneResult:
    """Play `scene` in a fresh session (real time on a normal loop; `models` are needed by
    the `ours*` stacks). The scene is over once nothing happened for `settle_s` (s) after
    its last clip. `llm_ttft_s`: the scripted LLM's time to first token (s)."""
    llm = ScriptedLLM(rules=scene.rules, default_reply=scene.default_reply, ttft_s=llm_ttft_s)
    h = await SimHarness.start(stack=stack, stt=stt, vad=vad, llm=llm, tts=tts, models=models)
    try:
        h.session.say(scene.opening)
        rec = h.recorder
        if not await h.wait_for(
            lambda: rec.first(EventKind.AUDIO_STARTED) is not None,
            timeout_s=AGENT_START_TIMEOUT_S,
        ):
            raise RuntimeError(f"scene {scene.name}: the agent never started speaking")
        prev_end = 0.0
        for part in scene.parts:
            match part.anchor:
                case Anchor.AGENT_START:
                    started = rec.first(EventKind.AUDIO_STARTED)
                    assert started is not None
                    base = started.at_s
                case Anchor.AGENT_END:
                    await h.wait_for(
                        lambda: (
                            rec.first(EventKind.AUDIO_FINISHED, EventKind.AUDIO_CLEARED) is not None
                        ),
                        timeout_s=scene.max_s,
                    )
                    ended = rec.first(EventKind.AUDIO_FINISHED, EventKind.AUDIO_CLEARED)
                    base = ended.at_s if ended is not None else h.clock.now()
                case Anchor.PREVIOUS_END:
                    base = prev_end
            audio = clip_loader(part.clip)
            clip = h.schedule_user(
                audio,
                USER_CLIP_RATE_HZ,
                max(base + part.offset_s, h.clock.now()),
                label=part.clip,
            )
            prev_end = clip.end_s
        await h.wait_idle(quiet_s=settle_s, timeout_s=max(1.0, scene.max_s - h.clock.now()))
        return _result(scene, h)
    finally:
        await h.aclose()


def _result(scene: Scene, h: SimHarness) -> SceneResult:
    rec = h.recorder
    clips = h.audio_in.clips
    user_spans = [(c.label, c.start_s, c.end_s) for c in clips]
    stop: float | None = None
    for c in clips:
        if rec.agent_playing_at(c.start_s):
            stop = rec.stop_latency_s(c.start_s)
            break
    reply = rec.reply_latency_s(clips[-1].end_s) if clips else None
    history: list[dict[str, Any]] = []
    for item in h.session.history.items:
        if isinstance(item, lk_llm.ChatMessage) and item.role in ("user", "assistant"):
            history.append(
                {
                    "role": item.role,
                    "text": item.text_content or "",
                    "interrupted": bool(item.interrupted),
                }
            )
    return SceneResult(
        scene=scene,
        stack=h.stack.name,
        events=rec.sorted(),
        agent_spans=rec.agent_audio_intervals(),
        user_spans=user_spans,
        stop_latency_s=stop,
        reply_latency_s=reply,
        llm_calls=len(h.llm.calls),
        history=history,
        duration_s=h.clock.now(),
    )


def scene_transcripts(scene: Scene) -> list[str]:
    """The words of the scene's user clips, in order (for a scripted STT in tests)."""
    return [USER_CLIPS[p.clip] for p in scene.parts]


def scene_names() -> list[str]:
    """Names of the demo scenes, in demo order."""
    return list(SCENES)


__all__ = [
    "SCENES",
    "Anchor",
    "Scene",
    "SceneResult",
    "UserPart",
    "run_scene",
    "scene_names",
    "scene_transcripts",
    "user_clip",
]
