"""The arbiter inside a real AgentSession (in-process, real Silero VAD, virtual time).

The STT is scripted with each clip's known words but segments the audio the session really
sends; the LLM is scripted. A scene runs in about a second of wall time.
"""

from __future__ import annotations

from typing import Any

import pytest
from livekit.agents import Agent, AgentSession, inference
from livekit.plugins.turntaking.arbiter import SESSION_EVENT, InterruptionArbiter, OverlapEvent

from sim.fake_stt import ScriptedSTT
from sim.harness import EventKind
from sim.lines import AGENT_LINES
from sim.scenes import SCENES, SceneResult, run_scene, scene_transcripts
from sim.stacks import StackSetup
from sim.tts import ClipLibrary, ClipTTS
from sim.virtual_time import InlineExecutor, run_virtual


def arbiter_stack(arbiter: InterruptionArbiter, seen: list[OverlapEvent]) -> StackSetup:
    def install(session: AgentSession[Any], note: Any) -> None:
        arbiter.attach(session)
        session.on(SESSION_EVENT, seen.append)  # type: ignore[arg-type]
        arbiter.on("overlap", lambda ev: note(f"arbiter: {ev.label}", {"cues": ev.cues}))

    def agent_factory(instructions: str) -> Agent:
        return arbiter.wrap_agent(Agent(instructions=instructions))

    return StackSetup(
        name="arbiter",
        description="interruption arbiter",
        turn_handling=arbiter.turn_handling(),  # type: ignore[arg-type]
        agent_factory=agent_factory,
        install=install,
    )


async def _scene(
    name: str, arbiter: InterruptionArbiter, stt: ScriptedSTT | None = None
) -> tuple[SceneResult, list[Any]]:
    scene = SCENES[name]
    seen: list[OverlapEvent] = []
    result = await run_scene(
        scene,
        stack=arbiter_stack(arbiter, seen),
        stt=stt or ScriptedSTT(scene_transcripts(scene)),
        vad=inference.VAD(executor=InlineExecutor()),
        tts=ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES)),
    )
    return result, seen


def _after(r: SceneResult, kinds: tuple[EventKind, ...], t: float) -> list[float]:
    return [e.at_s for e in r.events if e.kind in kinds and e.at_s > t]


@pytest.fixture(scope="module")
def backchannel() -> tuple[SceneResult, list[Any], InterruptionArbiter]:
    arb = InterruptionArbiter.load()
    r, seen = run_virtual(_scene("backchannel", arb))
    return r, seen, arb


@pytest.fixture(scope="module")
def interruption() -> tuple[SceneResult, list[Any], InterruptionArbiter]:
    arb = InterruptionArbiter.load()
    r, seen = run_virtual(_scene("interruption", arb))
    return r, seen, arb


def test_backchannel_leaves_the_agent_untouched(
    backchannel: tuple[SceneResult, list[Any], InterruptionArbiter],
) -> None:
    r, seen, arb = backchannel
    onset = r.user_spans[0][1]
    stops = (EventKind.AUDIO_CLEARED, EventKind.AUDIO_PAUSED)
    assert not _after(r, stops, onset), "the agent was stopped or paused by a backchannel"
    assert [ev.label for ev in seen] == ["backchannel"]
    assert arb.metrics.backchannels == 1 and arb.metrics.interruptions == 0
    assert arb.active
    # never a user turn, never sent to the LLM
    assert [m for m in r.history if m["role"] == "user"] == []
    assert r.llm_calls == 0
    assistant = [m for m in r.history if m["role"] == "assistant"]
    assert assistant and assistant[0]["text"] == SCENES["backchannel"].opening
    assert assistant[0]["interrupted"] is False


def test_interruption_stops_and_replans_with_the_users_words(
    interruption: tuple[SceneResult, list[Any], InterruptionArbiter],
) -> None:
    r, seen, arb = interruption
    scene = SCENES["interruption"]
    assert [ev.label for ev in seen] == ["interruption"]
    assert arb.metrics.interruptions == 1
    assert r.stop_latency_s is not None and r.stop_latency_s < 1.5
    first = r.history[0]
    assert first["role"] == "assistant" and first["interrupted"] is True
    assert scene.opening.startswith(first["text"]) and len(first["text"]) < len(scene.opening)
    assert r.history[1]["role"] == "user" and "Tuesday" in r.history[1]["text"]
    assert r.history[2]["text"] == "Got it, Tuesday then. What time works for you?"


def test_failure_falls_back_to_the_framework_barge_in() -> None:
    arb = InterruptionArbiter.load()
    assert arb._decider is not None

    def broken(at_s: float) -> None:
        raise RuntimeError("simulated arbiter failure")

    arb._decider.on_user_speech_start = broken  # type: ignore[method-assign]
    r, seen = run_virtual(_scene("interruption", arb))
    assert not arb.active and arb.metrics.fallbacks == 1
    assert seen == []
    # the framework's VAD barge-in took over: the agent stopped and the words became a turn
    assert r.stop_latency_s is not None
    assert r.history[0]["interrupted"] is True
    assert any(m["role"] == "user" and "Tuesday" in m["text"] for m in r.history)


def test_failure_while_paused_stops_the_agent_and_keeps_the_words() -> None:
    from dataclasses import replace

    from livekit.plugins.turntaking.arbiter.model import TextModel, load_params
    from livekit.plugins.turntaking.arbiter.onset import OnsetModel

    # the early audio pauses the agent; the decider then breaks on the first transcript:
    # the pause must become the interruption, and the words the next turn
    params = replace(load_params(), early_threshold=0.01, sustained_speech_s=5.0)
    arb = InterruptionArbiter(model=TextModel.load(), params=params, onset_model=OnsetModel.load())
    assert arb._decider is not None

    def broken(text: str, is_final: bool, now_s: float) -> None:
        raise RuntimeError("simulated arbiter failure")

    arb._decider.on_transcript = broken  # type: ignore[method-assign]
    r, seen = run_virtual(_scene("interruption", arb))
    assert not arb.active and arb.metrics.fallbacks == 1 and arb.metrics.pauses == 1
    assert seen == []
    onset = r.user_spans[0][1]
    paused = _after(r, (EventKind.AUDIO_PAUSED,), onset)
    cleared = _after(r, (EventKind.AUDIO_CLEARED,), onset)
    assert len(paused) == 1 and cleared and paused[0] < cleared[0]
    assert not _after(r, (EventKind.AUDIO_RESUMED,), onset)
    assert r.history[0]["interrupted"] is True
    assert any(m["role"] == "user" and "Tuesday" in m["text"] for m in r.history)


def test_missing_model_returns_a_disabled_arbiter(monkeypatch: pytest.MonkeyPatch) -> None:
    from livekit.plugins.turntaking.arbiter.model import ModelFileError, TextModel

    def missing(*_a: object, **_k: object) -> None:
        raise ModelFileError("cannot read arbiter text model x.npz")

    monkeypatch.setattr(TextModel, "load", missing)
    arb = InterruptionArbiter.load()
    assert not arb.active
    assert arb.turn_handling()["interruption"]["min_duration"] == 0.5


def test_early_audio_stops_before_the_words_and_the_words_still_make_the_turn() -> None:
    from dataclasses import replace

    from livekit.plugins.turntaking.arbiter.model import TextModel, load_params
    from livekit.plugins.turntaking.arbiter.onset import OnsetModel

    # a threshold any speech onset passes: the stop must come from the audio alone, before
    # the speech-to-text has words, and the words that follow must still become the turn
    params = replace(load_params(), early_threshold=0.01, sustained_speech_s=5.0)
    arb = InterruptionArbiter(model=TextModel.load(), params=params, onset_model=OnsetModel.load())
    r, seen = run_virtual(_scene("interruption", arb))
    assert [ev.label for ev in seen] == ["interruption"]
    # the audio paused the agent; the first words ("wait") then confirmed the interruption
    ev = seen[0]
    assert ev.cues[:2] == ("early_audio", "words") and ev.word_count >= 1
    assert ev.onset_probability is not None
    assert ev.stop_latency_s is not None and ev.stop_latency_s < ev.latency_s
    assert r.stop_latency_s is not None and r.stop_latency_s < 0.5
    assert r.stop_latency_s == pytest.approx(ev.stop_latency_s, abs=0.05)
    assert not _after(r, (EventKind.AUDIO_RESUMED,), r.user_spans[0][1])
    assert arb.metrics.pauses == 1 and arb.metrics.resumed == 0
    # the reply is heard: a pause outlives the segment in LiveKit's outputs (and in the
    # simulated one), and the framework lifts it before the next speech's audio
    assert r.history[2]["text"] == "Got it, Tuesday then. What time works for you?"
    assert r.reply_latency_s is not None
    assert r.history[0]["role"] == "assistant" and r.history[0]["interrupted"] is True
    assert r.history[1]["role"] == "user" and "Tuesday" in r.history[1]["text"]


def test_backchannel_that_paused_the_agent_resumes_it_and_never_becomes_a_turn() -> None:
    from dataclasses import replace

    from livekit.plugins.turntaking.arbiter.model import TextModel, load_params
    from livekit.plugins.turntaking.arbiter.onset import OnsetModel

    # the same threshold any onset passes: "uh huh" now pauses the agent on its sound, and
    # its words must resume it, with no user turn and no LLM call
    params = replace(load_params(), early_threshold=0.01, sustained_speech_s=5.0)
    arb = InterruptionArbiter(model=TextModel.load(), params=params, onset_model=OnsetModel.load())
    r, seen = run_virtual(_scene("backchannel", arb))
    onset = r.user_spans[0][1]
    paused = _after(r, (EventKind.AUDIO_PAUSED,), onset)
    resumed = _after(r, (EventKind.AUDIO_RESUMED,), onset)
    assert len(paused) == 1 and len(resumed) == 1 and paused[0] < resumed[0]
    assert not _after(r, (EventKind.AUDIO_CLEARED,), onset)
    assert [ev.label for ev in seen] == ["backchannel"]
    ev = seen[0]
    assert ev.cues[:2] == ("early_audio", "acknowledgement")
    assert ev.paused_at_s is not None and ev.paused_at_s - ev.onset_s < 0.5
    assert resumed[0] - paused[0] == pytest.approx(ev.decided_at_s - ev.paused_at_s, abs=0.05)
    assert arb.metrics.pauses == 1 and arb.metrics.resumed == 1
    assert arb.metrics.backchannels == 1 and arb.metrics.interruptions == 0
    # the echo gate has the agent's audio as its reference again after the resume
    gate = arb.echo_gate
    assert gate is not None and gate.reference_end_s is not None
    assert gate.reference_end_s > ev.decided_at_s + 1.0
    assert [m for m in r.history if m["role"] == "user"] == []
    assert r.llm_calls == 0
    assistant = [m for m in r.history if m["role"] == "assistant"]
    # resumed where it paused: the whole reply was played and stored uninterrupted
    assert assistant and assistant[0]["text"] == SCENES["backchannel"].opening
    assert assistant[0]["interrupted"] is False


@pytest.mark.parametrize("interim_confirm_threshold", [None, 0.0])
def test_a_misheard_interim_waits_for_the_final_while_the_agent_is_paused(
    interim_confirm_threshold: float | None,
) -> None:
    from dataclasses import replace

    from livekit.plugins.turntaking.arbiter.model import TextModel, load_params
    from livekit.plugins.turntaking.arbiter.onset import OnsetModel

    # "uh huh" pauses the agent on its sound; the recogniser's interim hears "Hot" (a word
    # with content, P(interruption) about 0.7) and its final "Uh huh.". With the shipped
    # `interim_confirm_threshold` the final settles the pause: the agent resumes and nothing
    # reaches the LLM. With 0 (before 2026-12-03) the interim confirms it and the backchannel
    # becomes a turn.
    params = replace(load_params(), early_threshold=0.01, sustained_speech_s=5.0)
    if interim_confirm_threshold is not None:
        params = replace(params, interim_confirm_threshold=interim_confirm_threshold)
    shipped = interim_confirm_threshold is None
    assert not shipped or params.interim_confirm_threshold >= 0.8
    arb = InterruptionArbiter(model=TextModel.load(), params=params, onset_model=OnsetModel.load())
    scene = SCENES["backchannel"]
    # interims every 0.2 s: the first comes after the pause (the words of an interim that
    # came before it would interrupt at once instead of pausing)
    stt = ScriptedSTT(scene_transcripts(scene), interim_interval_s=0.2, interims={0: "Hot."})
    r, seen = run_virtual(_scene("backchannel", arb, stt))
    onset = r.user_spans[0][1]
    assert len(seen) == 1 and seen[0].cues[0] == "early_audio"
    assert len(_after(r, (EventKind.AUDIO_PAUSED,), onset)) == 1
    assert stt.interims_sent >= 1
    if shipped:
        assert seen[0].label == "backchannel" and seen[0].cues[1] == "acknowledgement"
        assert len(_after(r, (EventKind.AUDIO_RESUMED,), onset)) == 1
        assert [m for m in r.history if m["role"] == "user"] == [] and r.llm_calls == 0
    else:
        assert seen[0].label == "interruption" and seen[0].cues[1] == "words"
        assert not _after(r, (EventKind.AUDIO_RESUMED,), onset)
        assert [m["text"] for m in r.history if m["role"] == "user"] == ["Uh huh."]
        assert r.llm_calls == 1


def test_missing_onset_model_keeps_the_arbiter_on_words(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from livekit.plugins.turntaking.arbiter.model import ModelFileError
    from livekit.plugins.turntaking.arbiter.onset import OnsetModel

    def missing(*_a: object, **_k: object) -> None:
        raise ModelFileError("cannot read arbiter onset model onset_model.npz")

    monkeypatch.setattr(OnsetModel, "load", missing)
    with caplog.at_level("WARNING"):
        arb = InterruptionArbiter.load()
    assert arb.active
    assert any("early audio classifier off" in rec.getMessage() for rec in caplog.records)
    r, seen = run_virtual(_scene("interruption", arb))
    assert [ev.label for ev in seen] == ["interruption"]
    assert "early_audio" not in seen[0].cues


def _yields(r: SceneResult, after_s: float) -> list[tuple[str, float]]:
    """(kind, heard at s) of the agent voice's ducks and restores after `after_s`."""
    kinds = {EventKind.AUDIO_DUCKED: "duck", EventKind.AUDIO_RESTORED: "restore"}
    return [
        (kinds[e.kind], float(e.data["heard_at_s"]))
        for e in r.events
        if e.kind in kinds and e.at_s > after_s
    ]


def test_a_backchannel_ducks_the_agent_at_once_and_restores_it_without_a_turn(
    backchannel: tuple[SceneResult, list[Any], InterruptionArbiter],
) -> None:
    r, _, arb = backchannel
    onset, end = r.user_spans[0][1], r.user_spans[0][2]
    yields = _yields(r, onset)
    assert [k for k, _ in yields] == ["duck", "restore"]
    (_, ducked), (_, restored) = yields
    assert ducked - onset <= 0.3  # an audible yield within 0.3 s of the sound
    assert restored <= end + 0.3  # back to full level as the "uh huh" ends
    assert arb.metrics.ducks == 1
    # and nothing else: no stop, no turn, no LLM call (see above)
    assert [m for m in r.history if m["role"] == "user"] == [] and r.llm_calls == 0


def test_an_interruption_ducks_the_agent_before_it_stops_it(
    interruption: tuple[SceneResult, list[Any], InterruptionArbiter],
) -> None:
    r, _, _ = interruption
    onset = r.user_spans[0][1]
    yields = _yields(r, onset)
    assert yields and yields[0][0] == "duck"
    assert yields[0][1] - onset <= 0.3
    stops = _after(r, (EventKind.AUDIO_CLEARED, EventKind.AUDIO_PAUSED), onset)
    assert stops and yields[0][1] <= stops[0] + 0.2


def test_without_a_duck_the_agent_goes_on_at_full_level() -> None:
    quiet = InterruptionArbiter.load(duck_db=None)
    r, _ = run_virtual(_scene("backchannel", quiet))
    assert _yields(r, 0.0) == [] and quiet.metrics.ducks == 0
