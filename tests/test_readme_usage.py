"""The README's usage snippet, run as written against the in-process harness.

The python block between the README's usage markers is executed in a fresh module namespace,
as a worker module would be. Its `prewarm` gets a stand-in job process and its `entrypoint`
a stand-in job context; the network providers it builds (Deepgram STT, OpenAI LLM and TTS)
and the Silero VAD it loads are replaced, on their modules, by the harness's local ones
(scripted STT, scripted LLM, clip TTS, LiveKit's local VAD on an inline executor so that
virtual time works), and `session.start(..., room=...)` gets the harness's simulated
microphone and player where a room would give it the room's tracks. Everything else (the
plugin, the session, the turn handling) is the snippet's own.

One conversation: the agent explains, the user says "uh huh" over it, then "wait, stop, I
meant Tuesday". A negative control runs the same with the snippet's `tt.attach(session)`
removed, so a broken wiring cannot pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from livekit.agents import AgentSession, inference
from livekit.agents.types import NOT_GIVEN
from livekit.plugins import deepgram, openai, silero
from livekit.plugins.turntaking import (
    EndpointDecision,
    OverlapEvent,
    TurnTaking,
    TurnTakingModels,
    load_models,
)
from livekit.plugins.turntaking.endpointing.model import (
    DEFAULT_FLOOR_S,
    DEFAULT_THRESHOLD,
    patience_floor_s,
)

from sim.fake_stt import ScriptedSTT
from sim.harness import Conversation, EventKind, SimHarness, TimelineEvent
from sim.lines import AGENT_LINES, USER_CLIPS
from sim.llm import ScriptedLLM, ScriptRule
from sim.scenes import (
    SCENES,
    USER_CLIP_RATE_HZ,
    SceneResult,
    run_scene,
    scene_transcripts,
    user_clip,
)
from sim.stacks import StackSetup, configure_stack
from sim.tts import ClipLibrary, ClipTTS
from sim.virtual_time import InlineExecutor, run_virtual

README = Path(__file__).resolve().parents[1] / "README.md"
START_MARK, END_MARK = "<!-- usage:start -->", "<!-- usage:end -->"
ATTACH_LINE = "tt.attach(session)"

OPENING = SCENES["backchannel"].opening
"""What the agent says (about 13 s of speech)."""
BACKCHANNEL_AT_S = 4.6
"""The "uh huh" starts this long after the agent's audio starts, seconds."""
INTERRUPTION_AT_S = 8.5
""""Wait, stop, I meant Tuesday" starts this long after the agent's audio starts, seconds
(past the framework's 3 s echo-canceller warm-up, during which no barge-in counts)."""
REPLY = "Got it, Tuesday then. What time works for you?"
DEFAULT_REPLY = "Sorry, did you want to add something?"
CONVERSATION_MAX_S = 40.0
SETTLE_S = 2.5


def usage_source() -> str:
    """The python block between the README's usage markers."""
    text = README.read_text(encoding="utf-8")
    assert text.count(START_MARK) == 1 and text.count(END_MARK) == 1, "usage markers"
    block = text[text.index(START_MARK) + len(START_MARK) : text.index(END_MARK)]
    m = re.fullmatch(r"\s*```python\n(.*?)```\s*", block, re.S)
    assert m is not None, "the usage block must be exactly one ```python block"
    return m.group(1)


class StandInRoom:
    """What `ctx.room` is in the test: `session.start(..., room=<this>)` gets the harness's
    simulated microphone and player instead of the room's tracks."""

    def __init__(self) -> None:
        self.harness: SimHarness | None = None
        self.llm: ScriptedLLM | None = None
        self.tts: ClipTTS | None = None

    def bind(self, session: AgentSession[Any]) -> None:
        """Set the session's I/O as the room's I/O would be set during `start`."""
        assert self.llm is not None and self.tts is not None
        self.harness = SimHarness.bind(
            session,
            stack=StackSetup(name="readme", description="README usage", turn_handling={}),
            llm=self.llm,
            tts=self.tts,
            input_rate_hz=USER_CLIP_RATE_HZ,
        )


@dataclass
class Run(Conversation):
    """What one conversation under the snippet produced."""

    printed: list[str]
    """Lines the snippet's `arbiter_overlap` listener printed."""
    provider_calls: dict[str, int] = field(default_factory=dict)


def _patch_providers(
    monkeypatch: pytest.MonkeyPatch, room: StandInRoom, calls: dict[str, int]
) -> None:
    """Replace the network providers and the Silero VAD the snippet builds by local ones,
    and route `session.start(room=<stand-in>)` to the simulated I/O."""

    def counted(name: str, make: Callable[[], Any]) -> Callable[..., Any]:
        def factory(*_a: object, **_k: object) -> Any:
            calls[name] = calls.get(name, 0) + 1
            return make()

        return factory

    def stt() -> ScriptedSTT:
        return ScriptedSTT([USER_CLIPS["uh_huh"], USER_CLIPS["wait_stop_tuesday"]])

    def llm() -> ScriptedLLM:
        room.llm = ScriptedLLM(rules=[ScriptRule("tuesday", REPLY)], default_reply=DEFAULT_REPLY)
        return room.llm

    def tts() -> ClipTTS:
        room.tts = ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES))
        return room.tts

    def vad_load(**kwargs: Any) -> inference.VAD:
        calls["silero.VAD.load"] = calls.get("silero.VAD.load", 0) + 1
        opts = {k: v for k, v in kwargs.items() if k == "min_silence_duration"}
        return inference.VAD(executor=InlineExecutor(), **opts)

    monkeypatch.setattr(deepgram, "STT", counted("deepgram.STT", stt))
    monkeypatch.setattr(openai, "LLM", counted("openai.LLM", llm))
    monkeypatch.setattr(openai, "TTS", counted("openai.TTS", tts))
    monkeypatch.setattr(silero.VAD, "load", vad_load)

    original_start = AgentSession.start

    async def start(self: AgentSession[Any], agent: Any, **kwargs: Any) -> Any:
        if kwargs.get("room") is room:
            room.bind(self)
            kwargs["room"] = NOT_GIVEN
        return await original_start(self, agent, **kwargs)

    monkeypatch.setattr(AgentSession, "start", start)


def run_snippet(
    source: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Run:
    """Exec `source` as a worker module, prewarm it, run its entrypoint for one job and
    play the conversation."""
    room = StandInRoom()
    calls: dict[str, int] = {}
    _patch_providers(monkeypatch, room, calls)
    namespace: dict[str, Any] = {"__name__": "readme_worker"}
    exec(compile(source, str(README), "exec"), namespace)
    server = namespace["server"]
    assert server.setup_fnc is namespace["prewarm"]
    proc = SimpleNamespace(userdata={})
    server.setup_fnc(proc)
    capsys.readouterr()

    async def conversation() -> Run:
        ctx = SimpleNamespace(proc=proc, room=room)
        await namespace["entrypoint"](ctx)
        h = room.harness
        assert h is not None, "the entrypoint did not start the session with ctx.room"
        try:
            rec = h.recorder
            h.session.say(OPENING)
            assert await h.wait_for(
                lambda: rec.first(EventKind.AUDIO_STARTED) is not None, timeout_s=5.0
            )
            started = rec.first(EventKind.AUDIO_STARTED)
            assert started is not None
            for clip, offset_s in (
                ("uh_huh", BACKCHANNEL_AT_S),
                ("wait_stop_tuesday", INTERRUPTION_AT_S),
            ):
                audio = user_clip(clip)
                h.schedule_user(audio, USER_CLIP_RATE_HZ, started.at_s + offset_s, label=clip)
            await h.wait_idle(quiet_s=SETTLE_S, timeout_s=CONVERSATION_MAX_S)
            return Run(
                **vars(h.conversation()),
                printed=[],
                provider_calls=dict(calls),
            )
        finally:
            await h.aclose()

    run = run_virtual(conversation())
    run.printed = capsys.readouterr().out.splitlines()
    return run


def _stops_between(run: Run, t0: float, t1: float) -> list[TimelineEvent]:
    kinds = (EventKind.AUDIO_CLEARED, EventKind.AUDIO_PAUSED)
    return [e for e in run.events if e.kind in kinds and t0 <= e.at_s < t1]


@pytest.fixture(scope="module")
def source() -> str:
    return usage_source()


def test_the_usage_block_is_the_documented_wiring(source: str) -> None:
    # the test below runs this block; it must hold the calls the plugin's use rests on
    for call in (
        "turntaking.load_models()",
        "turntaking.TurnTaking(",
        "tt.vad(",
        "tt.turn_handling()",
        ATTACH_LINE,
        "session.start(",
    ):
        assert call in source, call
    assert source.index(ATTACH_LINE) < source.index("session.start(")


def test_readme_snippet_keeps_a_backchannel_and_stops_for_an_interruption(
    source: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_snippet(source, monkeypatch, capsys)
    # every provider the snippet builds was the harness's local one
    assert run.provider_calls == {
        "silero.VAD.load": 2,  # the snippet's own, and load_models()'s tuned one
        "deepgram.STT": 1,
        "openai.LLM": 1,
        "openai.TTS": 1,
    }
    (_, bc_start, _), (_, int_start, _) = run.clips
    # the backchannel: the agent kept talking, no user turn, no LLM call before the
    # interruption
    assert not _stops_between(run, bc_start, int_start), "the backchannel stopped the agent"
    assert not [e for e in run.events if e.kind is EventKind.USER_TURN and e.at_s < int_start]
    assert not [e for e in run.events if e.kind is EventKind.LLM_CALL and e.at_s < int_start]
    # the interruption: the agent stopped within a second and a half
    stops = _stops_between(run, int_start, int_start + 1.5)
    assert stops, "the interruption did not stop the agent"
    # its words are the next user message, and the only one; the LLM answered them
    users = [m["text"] for m in run.history if m["role"] == "user"]
    assert users == [USER_CLIPS["wait_stop_tuesday"]]
    assert run.llm_user_texts == [USER_CLIPS["wait_stop_tuesday"]]
    assistant = [m for m in run.history if m["role"] == "assistant"]
    assert assistant[0]["interrupted"] is True
    heard = str(assistant[0]["text"])
    # cut to what was heard: past the backchannel, before the end
    assert OPENING.startswith(heard) and "unplug it from the wall" in heard
    assert len(heard) < len(OPENING)
    assert assistant[1]["text"] == REPLY and assistant[1]["interrupted"] is False
    # the snippet's listener printed one line per decided overlap: label and latency (s)
    labels = [line.split()[0] for line in run.printed]
    assert labels == ["backchannel", "interruption"]
    for line in run.printed:
        latency_s = float(line.split()[1])
        assert 0.0 < latency_s < 1.5


def test_without_attach_the_snippet_would_not_hold(
    source: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # negative control: the same conversation with the snippet's attach line removed
    assert source.count(ATTACH_LINE) == 1
    broken = "\n".join(line for line in source.splitlines() if ATTACH_LINE not in line)
    run = run_snippet(broken, monkeypatch, capsys)
    int_start = run.clips[1][1]
    # no verdicts, the agent talked on over "wait, stop", and the "uh huh" became words of
    # the user's turn, sent to the LLM
    assert run.printed == []
    assert not _stops_between(run, int_start, int_start + 1.5)
    users = [m["text"] for m in run.history if m["role"] == "user"]
    assert any("uh huh" in str(t).lower() for t in users)
    assert any("uh huh" in (t or "").lower() for t in run.llm_user_texts)


# ------------------------------------------------------ what the snippet's calls promise


@pytest.fixture(scope="module")
def models() -> TurnTakingModels:
    return load_models(load_vad=False)


def test_tt_vad_keeps_the_users_vad_settings(models: TurnTakingModels) -> None:
    # `vad=tt.vad(ctx.proc.userdata["vad"])`: the user's tuning survives, only the silence
    # the endpointing needs changes, and the process-wide VAD is left as it was
    tt = TurnTaking(models)
    base = silero.VAD.load(activation_threshold=0.7, min_speech_duration=0.1)
    assert isinstance(base, silero.VAD)
    tuned = tt.vad(base)
    assert isinstance(tuned, silero.VAD) and tuned is not base
    assert tuned._opts.activation_threshold == 0.7 and tuned._opts.min_speech_duration == 0.1
    assert tuned.min_silence_duration == tt.vad_min_silence_s == 0.25
    assert tuned._onnx_session is base._onnx_session  # no second model load
    assert base.min_silence_duration == 0.55

    executor = InlineExecutor()
    local = inference.VAD(activation_threshold=0.7, prefix_padding_duration=0.3, executor=executor)
    tuned_local = tt.vad(local)
    assert isinstance(tuned_local, inference.VAD) and tuned_local is not local
    assert tuned_local._executor is executor
    assert tuned_local._opts.activation_threshold == 0.7
    assert tuned_local._opts.prefix_padding_duration == 0.3
    assert tuned_local._opts.min_silence_duration == 0.25

    # without the adaptive endpointing the user's VAD is used as it is
    assert TurnTaking(models, adaptive_endpointing=False).vad(base) is base


def test_turn_taking_rejects_bad_arguments(models: TurnTakingModels) -> None:
    with pytest.raises(TypeError, match="load_models"):
        TurnTaking({"turntaking": models})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="arbiter must be True or False"):
        TurnTaking(models, arbiter="off")  # type: ignore[arg-type]
    tt = TurnTaking(models)
    with pytest.raises(TypeError, match="callable"):
        tt.on("overlap", None)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="'overlap', 'yield' or 'endpoint'"):
        tt.on("turn", print)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match=r"duck_db must be in \[10.0, 40.0\] dB"):
        TurnTaking(models, duck_db=3.0)
    with pytest.raises(ValueError, match=r"output lead must be in \[0.06, 2.0\] s"):
        TurnTaking(models, output_lead_s=0.01)
    with pytest.raises(ValueError, match="cannot be tuned|Silero"):
        tt.vad(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"patience must be in \[0.3, 0.995\]"):
        TurnTaking(models, patience=0.2)
    with pytest.raises(TypeError, match="patience must be a number"):
        TurnTaking(models, patience=True)


def test_patience_sets_the_commit_threshold_and_its_shortest_wait(models: TurnTakingModels) -> None:
    quick, patient = TurnTaking(models), TurnTaking(models, patience=0.9)
    assert quick.endpointing is not None and patient.endpointing is not None
    q, p = quick.endpointing.endpointer, patient.endpointing.endpointer
    assert q is not None and p is not None
    assert q.threshold == DEFAULT_THRESHOLD and q.floor_s == DEFAULT_FLOOR_S
    assert p.threshold == 0.9 and p.floor_s == pytest.approx(patience_floor_s(0.9))
    assert 1.0 < p.floor_s < 1.3  # a patient user is never answered within a second
    # the framework's shortest delay follows (and the model-less fallback is not shorter)
    assert patient.turn_handling()["endpointing"]["min_delay"] == p.floor_s  # type: ignore[index]


def test_attach_is_before_start_and_once(models: TurnTakingModels) -> None:
    async def run() -> None:
        h = await SimHarness.start(
            stack="framework",
            stt=ScriptedSTT([]),
            vad=inference.VAD(executor=InlineExecutor()),
            llm=ScriptedLLM(),
            tts=ClipTTS(),
        )
        try:
            # a started session's first agent already hears the user without the arbiter
            with pytest.raises(RuntimeError, match="attach before start"):
                TurnTaking(models).attach(h.session)
        finally:
            await h.aclose()

    run_virtual(run())

    async def twice() -> None:
        # an AgentSession is built inside a running loop, as in a worker
        tt = TurnTaking(models)
        session: AgentSession[Any] = AgentSession(turn_handling=tt.turn_handling())
        tt.attach(session)
        with pytest.raises(RuntimeError, match="already attached"):
            tt.attach(session)

    run_virtual(twice())


def test_a_raising_callback_does_not_turn_the_plugin_off(
    models: TurnTakingModels, caplog: pytest.LogCaptureFixture
) -> None:
    # an application's buggy listener is logged; the arbiter keeps deciding (before, its
    # exception made the arbiter fall back to the framework's barge-in for the session)
    stack = configure_stack("ours", models)
    tt = stack.turn_taking
    assert tt is not None and tt.arbiter is not None
    raised: list[str] = []

    def on_overlap(ev: OverlapEvent) -> None:
        raised.append(ev.label)
        raise KeyError("application bug")

    def on_endpoint(dec: EndpointDecision) -> None:
        raised.append("endpoint")
        raise TypeError("application bug")

    tt.on("overlap", on_overlap)
    tt.on("endpoint", on_endpoint)
    scene = SCENES["backchannel"]

    async def run() -> SceneResult:
        return await run_scene(
            scene,
            stack=stack,
            stt=ScriptedSTT(scene_transcripts(scene)),
            vad=inference.VAD(executor=InlineExecutor()),
            tts=ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES)),
        )

    with caplog.at_level("ERROR"):
        r = run_virtual(run())
    assert "backchannel" in raised and "endpoint" in raised
    assert tt.arbiter.active and tt.arbiter.metrics.fallbacks == 0
    assert [m for m in r.history if m["role"] == "user"] == [] and r.llm_calls == 0
    assert any("callback" in rec.getMessage() for rec in caplog.records)


def test_the_arbiter_asks_the_endpointing_whether_the_user_is_going_on(
    models: TurnTakingModels,
) -> None:
    async def run() -> None:
        tt = TurnTaking(models)
        session: AgentSession[Any] = AgentSession(turn_handling=tt.turn_handling())
        tt.attach(session)
        assert tt.arbiter is not None and tt.endpointing is not None
        assert tt.arbiter.continuation_probe == tt.endpointing.user_going_on
        assert tt.arbiter.continuation_probe() is False  # no turn committed yet
        words_only = TurnTaking(models, adaptive_endpointing=False)
        words_only.attach(AgentSession(turn_handling=words_only.turn_handling()))
        assert words_only.arbiter is not None and words_only.arbiter.continuation_probe is None

    run_virtual(run())
