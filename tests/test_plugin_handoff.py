"""The plugin across an agent handoff (in-process session, real VAD, virtual time).

The session starts with a first agent, which speaks a line; the test then hands the session
to a second agent (`session.update_agent`, what a function tool returning an agent makes the
framework do), which greets the user with a long explanation. While the second agent
speaks the user says "uh huh", then "wait, stop, I meant Tuesday". `TurnTaking.attach` was
called once, before the session started: the second agent must be covered all the same.

The framework reuses the first agent's speech-to-text pipeline across a handoff only when
both agents keep the default `stt_node` and the same STT; the scenarios below also cover the
handoffs where it builds the second agent's own pipeline (its own STT, or its own
`stt_node`), which is where an arbiter that did not tap the new agent would go deaf. The
negative control runs those with the handoff tap switched off.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from livekit import rtc
from livekit.agents import Agent, ModelSettings, inference, stt
from livekit.plugins.turntaking import OverlapEvent, TurnTakingModels, load_models
from livekit.plugins.turntaking.arbiter import InterruptionArbiter

from sim.fake_stt import ScriptedSTT
from sim.harness import Conversation, EventKind, SimHarness, TimelineEvent
from sim.lines import AGENT_LINES, USER_CLIPS
from sim.llm import ScriptedLLM, ScriptRule
from sim.scenes import SCENES, USER_CLIP_RATE_HZ, user_clip
from sim.stacks import configure_stack
from sim.tts import ClipLibrary, ClipTTS
from sim.virtual_time import InlineExecutor, run_virtual

FIRST_LINE = "Okay."
"""What the first agent says before the handoff."""
OPENING = SCENES["backchannel"].opening
"""What the second agent says on entering (about 13 s of speech)."""
BACKCHANNEL_AT_S = 4.6
"""The "uh huh" starts this long after the second agent's audio starts, seconds."""
INTERRUPTION_AT_S = 8.5
"""The interruption starts this long after the second agent's audio starts, seconds."""
REPLY = "Got it, Tuesday then. What time works for you?"
USER_TEXTS = [USER_CLIPS["uh_huh"], USER_CLIPS["wait_stop_tuesday"]]
CONVERSATION_MAX_S = 40.0
SETTLE_S = 2.5


class SecondAgent(Agent):
    """The agent handed the session: greets with the long explanation on entering."""

    async def on_enter(self) -> None:
        self.session.say(OPENING)


class FilteringSecondAgent(SecondAgent):
    """A second agent with its own `stt_node` (e.g. an application's audio filter), which
    makes the framework build it a pipeline of its own."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.frames_seen = 0

    async def stt_node(
        self, audio: AsyncIterable[rtc.AudioFrame], model_settings: ModelSettings
    ) -> AsyncIterator[stt.SpeechEvent | str]:
        async def counted() -> AsyncIterator[rtc.AudioFrame]:
            async for frame in audio:
                self.frames_seen += 1
                yield frame

        result = Agent.default.stt_node(self, counted(), model_settings)
        async for ev in result:
            yield ev


SCENARIOS = ("shared-pipeline", "own-stt", "own-stt-node")
"""How the second agent hears the user: through the first agent's pipeline, which the
framework hands over (both keep the default `stt_node` and the session's STT), through a
pipeline of its own with its own STT, or through its own `stt_node`."""
OWN_PIPELINE = SCENARIOS[1:]


@dataclass
class Run(Conversation):
    """What one conversation produced."""

    overlaps: list[OverlapEvent]
    arbiter: InterruptionArbiter
    second: Agent
    session_stt: ScriptedSTT
    second_stt: ScriptedSTT | None
    second_started_s: float
    """Clock time the second agent's audio started, seconds."""


def _second_agent(scenario: str) -> tuple[Agent, ScriptedSTT | None]:
    instructions = "You help with appointments."
    match scenario:
        case "shared-pipeline":
            return SecondAgent(instructions=instructions), None
        case "own-stt":
            own = ScriptedSTT(USER_TEXTS)
            return SecondAgent(instructions=instructions, stt=own), own
        case "own-stt-node":
            return FilteringSecondAgent(instructions=instructions), None
    raise ValueError(f"unknown scenario {scenario!r}: choose one of {', '.join(SCENARIOS)}")


async def _conversation(scenario: str, models: TurnTakingModels) -> Run:
    # the plugin exactly as a user's agent runs it: TurnTaking attached once, before start
    stack = configure_stack("ours", models)
    tt = stack.turn_taking
    assert tt is not None and tt.arbiter is not None
    overlaps: list[OverlapEvent] = []
    tt.on("overlap", overlaps.append)
    session_stt = ScriptedSTT([] if scenario == "own-stt" else USER_TEXTS)
    h = await SimHarness.start(
        stack=stack,
        stt=session_stt,
        vad=inference.VAD(executor=InlineExecutor()),
        llm=ScriptedLLM(rules=[ScriptRule("tuesday", REPLY)], default_reply="Okay."),
        tts=ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES)),
    )
    try:
        rec = h.recorder
        first = h.session.current_agent
        h.session.say(FIRST_LINE)
        assert await h.wait_for(
            lambda: rec.first(EventKind.AUDIO_FINISHED) is not None, timeout_s=5.0
        ), "the first agent never finished its line"
        second, second_stt = _second_agent(scenario)
        h.session.update_agent(second)
        assert await h.wait_for(lambda: len(rec.of(EventKind.AUDIO_STARTED)) == 2, timeout_s=5.0), (
            "the second agent never spoke"
        )
        assert h.session.current_agent is second and first is not second
        started = rec.of(EventKind.AUDIO_STARTED)[1].at_s
        for clip, offset_s in (
            ("uh_huh", BACKCHANNEL_AT_S),
            ("wait_stop_tuesday", INTERRUPTION_AT_S),
        ):
            h.schedule_user(user_clip(clip), USER_CLIP_RATE_HZ, started + offset_s, label=clip)
        await h.wait_idle(quiet_s=SETTLE_S, timeout_s=CONVERSATION_MAX_S)
        return Run(
            **vars(h.conversation()),
            overlaps=overlaps,
            arbiter=tt.arbiter,
            second=second,
            session_stt=session_stt,
            second_stt=second_stt,
            second_started_s=started,
        )
    finally:
        await h.aclose()


def _stops_between(run: Run, t0: float, t1: float) -> list[TimelineEvent]:
    kinds = (EventKind.AUDIO_CLEARED, EventKind.AUDIO_PAUSED)
    return [e for e in run.events if e.kind in kinds and t0 <= e.at_s < t1]


def _before(run: Run, kind: EventKind, t: float) -> list[TimelineEvent]:
    return [e for e in run.events if e.kind is kind and e.at_s < t]


@pytest.fixture(scope="module")
def models() -> TurnTakingModels:
    return load_models(load_vad=False)


@pytest.fixture(scope="module")
def runs(models: TurnTakingModels) -> dict[str, Run]:
    return {name: run_virtual(_conversation(name, models)) for name in SCENARIOS}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_second_agent_hears_through_the_pipeline_the_scenario_names(
    scenario: str, runs: dict[str, Run]
) -> None:
    run = runs[scenario]
    match scenario:
        case "shared-pipeline":
            assert run.session_stt.segments_seen == 2
        case "own-stt":
            assert run.second_stt is not None and run.second_stt.segments_seen == 2
            assert run.session_stt.segments_seen == 0
        case "own-stt-node":
            assert isinstance(run.second, FilteringSecondAgent) and run.second.frames_seen > 0


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_backchannel_over_the_second_agent_is_not_a_turn(
    scenario: str, runs: dict[str, Run]
) -> None:
    run = runs[scenario]
    (_, bc_start, _), (_, int_start, _) = run.clips
    assert bc_start > run.second_started_s
    assert not _stops_between(run, bc_start, int_start), "the backchannel stopped the agent"
    assert not _before(run, EventKind.USER_TURN, int_start)
    assert not _before(run, EventKind.LLM_CALL, int_start)
    assert [ev.label for ev in run.overlaps][:1] == ["backchannel"]
    # never part of a user message or of what the LLM was asked
    users = [m["text"] for m in run.history if m["role"] == "user"]
    assert all("uh huh" not in str(t).lower() for t in users)
    assert all("uh huh" not in (t or "").lower() for t in run.llm_user_texts)
    assert run.arbiter.active and run.arbiter.metrics.fallbacks == 0


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_an_interruption_stops_the_second_agent(scenario: str, runs: dict[str, Run]) -> None:
    run = runs[scenario]
    int_start = run.clips[1][1]
    assert _stops_between(run, int_start, int_start + 1.5), "the interruption did not stop it"
    assert [ev.label for ev in run.overlaps] == ["backchannel", "interruption"]
    assistant = [m for m in run.history if m["role"] == "assistant"]
    assert [m["text"] for m in assistant][0] == FIRST_LINE
    heard = str(assistant[1]["text"])
    assert assistant[1]["interrupted"] is True
    assert OPENING.startswith(heard) and len(heard) < len(OPENING)
    assert [m["text"] for m in run.history if m["role"] == "user"] == [USER_TEXTS[1]]
    assert run.llm_user_texts == [USER_TEXTS[1]]
    assert assistant[2]["text"] == REPLY


@pytest.mark.parametrize("scenario", OWN_PIPELINE)
def test_an_arbiter_that_did_not_tap_the_new_agent_lets_the_backchannel_through(
    scenario: str, models: TurnTakingModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    # negative control: the arbiter without its handoff tap (the first agent only is tapped)
    monkeypatch.setattr(InterruptionArbiter, "_on_item_added", lambda self, ev: None)
    run = run_virtual(_conversation(scenario, models))
    # deaf to the second agent's words: no verdict, and it gave up on the overlap
    assert run.overlaps == []
    assert not run.arbiter.active and run.arbiter.metrics.fallbacks == 1
    # the "uh huh" reached the session as the user's words and the LLM was asked about them
    users = [m["text"] for m in run.history if m["role"] == "user"]
    assert any("uh huh" in str(t).lower() for t in users)
    assert any("uh huh" in (t or "").lower() for t in run.llm_user_texts)
