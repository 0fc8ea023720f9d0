"""A user who goes on with a sentence the endpointing committed a moment ago, over the
first syllables of the reply, with the whole plugin (arbiter and endpointing) in a real
AgentSession on virtual time: a one-word tail ("Can you send it to my email?" ... "Please.")
is the rest of their turn, not a backchannel, so the reply is stopped and the words join the
committed turn."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from livekit.agents import AgentSession, inference
from livekit.plugins.turntaking import TurnTakingModels, load_models

from sim.fake_stt import ScriptedSTT
from sim.harness import EventKind
from sim.lines import AGENT_LINES
from sim.scenes import SCENES, Anchor, Scene, SceneResult, UserPart, run_scene, scene_transcripts
from sim.stacks import StackSetup, configure_stack
from sim.tts import ClipLibrary, ClipTTS
from sim.virtual_time import InlineExecutor, run_virtual

GAP_S = 0.9
"""Silence between "Can you send it to my email?" and "Please." (s): the default patience
commits the question in it, and the reply starts playing while the user says the word."""


@pytest.fixture(scope="module")
def models() -> TurnTakingModels:
    return load_models(load_vad=False)


def _scene() -> Scene:
    base = SCENES["long-pause"]
    return Scene(
        name="email-please",
        title="a one-word tail over the reply's first syllables",
        opening=base.opening,
        parts=(
            UserPart("email_part1", 0.6, Anchor.AGENT_END),
            UserPart("email_part2", GAP_S, Anchor.PREVIOUS_END),
        ),
        rules=(),
        # a long reply, still playing when the user goes on
        default_reply=SCENES["backchannel"].opening,
        max_s=base.max_s,
    )


def _stack(models: TurnTakingModels, *, probe: bool) -> StackSetup:
    setup = configure_stack("ours", models)
    tt = setup.turn_taking
    assert tt is not None and tt.arbiter is not None and setup.install is not None
    install = setup.install

    def wired(session: AgentSession[Any], note: Any) -> None:
        install(session, note)
        if not probe:  # negative control: the arbiter does not know the user is going on
            assert tt.arbiter is not None
            tt.arbiter.continuation_probe = None

    return dataclasses.replace(setup, install=wired)


def _run(models: TurnTakingModels, *, probe: bool) -> SceneResult:
    scene = _scene()
    return run_virtual(
        run_scene(
            scene,
            stack=_stack(models, probe=probe),
            stt=ScriptedSTT(scene_transcripts(scene)),
            vad=inference.VAD(executor=InlineExecutor(), min_silence_duration=0.25),
            tts=ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES)),
            models=models,
        )
    )


def _user_turns(r: SceneResult) -> list[str]:
    return [str(m["text"]) for m in r.history if m["role"] == "user"]


def test_a_one_word_tail_over_the_reply_joins_the_turn(models: TurnTakingModels) -> None:
    r = _run(models, probe=True)
    tail = [(s, e) for label, s, e in r.user_spans if label == "email_part2"][0]
    commits = [e.at_s for e in r.events if e.kind is EventKind.USER_TURN]
    audio = [e.at_s for e in r.events if e.kind is EventKind.AUDIO_STARTED]
    # the scene is what it claims: the question was committed in the pause, and the reply
    # became audible while the user said "Please."
    assert len(commits) == 2 and commits[0] < tail[0], (commits, tail)
    assert [t for t in audio if tail[0] < t < tail[1]], (audio, tail)
    turns = _user_turns(r)
    assert len(turns) == 1 and "please" in turns[0].lower(), turns
    assert [e for e in r.events if e.kind is EventKind.AUDIO_CLEARED and e.at_s > tail[0]]


def test_without_the_endpointing_context_the_tail_is_dropped(models: TurnTakingModels) -> None:
    # negative control: the arbiter alone reads a short "Please." over a reply as a
    # backchannel; the words never become part of a turn
    r = _run(models, probe=False)
    turns = _user_turns(r)
    assert turns and not any("please" in t.lower() for t in turns), turns
