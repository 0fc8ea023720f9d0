"""Faults injected into a real AgentSession (in-process, real Silero VAD, virtual time).

Each test breaks one component (STT, LLM, TTS, the arbiter, the endpointing, a model file)
and checks that the conversation goes on: the user hears a short apology when a reply
fails (`worker.reliability.install_apology`), and the words of every committed user turn
reach the next LLM call. The STT is scripted (known words, real audio segmentation), the
LLM is scripted; a scene runs in a few seconds of wall time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import APIConnectionError, APIStatusError, inference, llm, stt, tts
from livekit.plugins.turntaking import TurnTakingModels, load_models

from sim.fake_stt import ScriptedSTT
from sim.harness import EventKind, SimHarness
from sim.lines import AGENT_LINES
from sim.llm import ScriptedLLM, ScriptRule
from sim.scenes import SCENES, run_scene, scene_transcripts, user_clip
from sim.stacks import configure_stack
from sim.tts import ClipLibrary, ClipTTS
from sim.virtual_time import InlineExecutor, run_virtual
from worker.reliability import DEFAULT_APOLOGY, ApologyReason, ReplyGuard, install_apology

FIRST = "wait_stop_tuesday"
FIRST_TEXT = "Wait, stop, I meant Tuesday."
SECOND = "number_part2"
SECOND_TEXT = "Two two three."
RATE = 16_000
TUESDAY_REPLY = "Got it, Tuesday then."


# --------------------------------------------------------------------------- fault doubles


class FaultyLLM(ScriptedLLM):
    """Scripted LLM whose call number `i` fails as `faults[i]`: "raise" (a plain exception),
    "api" (a non-retryable provider error), "stall" (never answers)."""

    def __init__(self, *, faults: dict[int, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.faults = faults

    def chat(self, **kwargs: Any) -> llm.LLMStream:
        stream = super().chat(**kwargs)
        mode = self.faults.get(len(self.calls) - 1)
        if mode is not None:

            async def broken_run() -> None:
                match mode:
                    case "raise":
                        raise RuntimeError("simulated LLM crash")
                    case "api":
                        raise APIStatusError("simulated 500", status_code=500, retryable=False)
                    case _:
                        await asyncio.Event().wait()  # hangs until the reply is cancelled

            stream._run = broken_run  # type: ignore[method-assign]
        return stream


class StallingTTS(ClipTTS):
    """Clip TTS whose first synthesis (or every one, `dead`) never produces audio
    ("stall") or fails with a non-retryable provider error ("raise")."""

    def __init__(self, mode: str = "stall", *, dead: bool = False) -> None:
        super().__init__(library=ClipLibrary.from_lines(AGENT_LINES))
        self.mode = mode
        self.dead = dead
        self.requests = 0

    def synthesize(self, text: str, **kwargs: Any) -> tts.ChunkedStream:
        stream = super().synthesize(text, **kwargs)
        self.requests += 1
        if self.requests == 1 or self.dead:

            async def broken(output_emitter: Any) -> None:
                if self.mode == "raise":
                    raise APIStatusError("simulated TTS 503", status_code=503, retryable=False)
                await asyncio.Event().wait()

            stream._run = broken  # type: ignore[method-assign]
        return stream


class FaultySTT(ScriptedSTT):
    """Scripted STT whose first stream fails ("error": a retryable connection error) or
    freezes for `stall_s` ("stall") once `after_frames` frames have been consumed."""

    def __init__(
        self, texts: list[str], *, mode: str, after_frames: int, stall_s: float = 2.0
    ) -> None:
        super().__init__(texts)
        self.mode = mode
        self.after_frames = after_frames
        self.stall_s = stall_s
        self.faults_fired = 0

    def stream(self, **kwargs: Any) -> stt.RecognizeStream:
        s = super().stream(**kwargs)
        orig_run = s._run
        owner = self
        frames = 0

        async def run() -> None:
            nonlocal frames
            if owner.faults_fired == 0:
                # consume part of the utterance, then break
                async for item in s._input_ch:
                    if not isinstance(item, s._FlushSentinel):
                        for ev in s._segmenter.push(_frame_samples(item)):  # type: ignore[attr-defined]
                            s._handle(ev)  # type: ignore[attr-defined]
                        frames += 1
                    if frames >= owner.after_frames:
                        break
                owner.faults_fired += 1
                if owner.mode == "error":
                    raise APIConnectionError("simulated STT disconnect")
                await asyncio.sleep(owner.stall_s)
            await orig_run()

        s._run = run  # type: ignore[method-assign]
        return s


def _frame_samples(frame: Any) -> Any:
    from livekit.plugins.local_whisper.stt import frame_to_samples_16k

    return frame_to_samples_16k(frame)


# --------------------------------------------------------------------------- helpers


def _vad() -> inference.VAD:
    return inference.VAD(executor=InlineExecutor())


def _clip_tts() -> ClipTTS:
    return ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES))


async def _two_turns(
    *,
    llm_: ScriptedLLM,
    tts_: ClipTTS,
    stt_: stt.STT[Any] | None = None,
    stack: Any = "framework",
    models: TurnTakingModels | None = None,
    apology: dict[str, Any] | None = None,
) -> tuple[SimHarness, ReplyGuard, list[Any]]:
    """The user says FIRST; once the agent has answered (or apologized) and gone quiet, the
    user says SECOND. Returns the closed harness, the guard, and the recorded events."""
    h = await SimHarness.start(
        stack=stack,
        stt=stt_ or ScriptedSTT([FIRST_TEXT, SECOND_TEXT]),
        vad=_vad(),
        llm=llm_,
        tts=tts_,
        models=models,
    )
    guard = install_apology(h.session, **(apology or {}))
    try:
        h.schedule_user(user_clip(FIRST), RATE, 0.5, label="first")
        rec = h.recorder
        # the agent speaks (a reply or an apology) and finishes
        await h.wait_for(lambda: rec.first(EventKind.AUDIO_FINISHED) is not None, timeout_s=30)
        await h.wait_idle(quiet_s=1.0, timeout_s=10)
        h.schedule_user(user_clip(SECOND), RATE, h.clock.now() + 0.3, label="second")
        await h.wait_idle(quiet_s=3.0, timeout_s=30)
        return h, guard, rec.sorted()
    finally:
        await h.aclose()


def _spoken(t: ClipTTS) -> str:
    return " ".join(text for text, _ in t.synthesized)


def _user_texts(call: Any) -> list[str]:
    return [text for role, text in call.items if role == "user"]


# --------------------------------------------------------------------------- LLM / TTS


@pytest.mark.parametrize("mode", ["raise", "api"])
def test_llm_failure_apologizes_and_keeps_the_users_words(mode: str) -> None:
    llm_ = FaultyLLM(faults={0: mode}, rules=(ScriptRule("tuesday", TUESDAY_REPLY),))
    t = _clip_tts()
    h, guard, _ = run_virtual(_two_turns(llm_=llm_, tts_=t))
    assert [a.reason for a in guard.apologies] == [ApologyReason.ERROR]
    assert _spoken(t).startswith(DEFAULT_APOLOGY)
    # the failed turn's words are still in the context of the next call, which is answered
    assert len(llm_.calls) == 2
    assert _user_texts(llm_.calls[1]) == [FIRST_TEXT, SECOND_TEXT]
    assert TUESDAY_REPLY not in _spoken(t)  # the failed reply never played
    assert _spoken(t).endswith("Okay.")


def test_llm_stall_is_cut_and_apologized_for() -> None:
    llm_ = FaultyLLM(faults={0: "stall"})
    t = _clip_tts()
    h, guard, events = run_virtual(_two_turns(llm_=llm_, tts_=t))
    (apology,) = guard.apologies
    assert apology.reason is ApologyReason.STALLED and apology.cancel_reply
    (commit, *_) = [e.at_s for e in events if e.kind is EventKind.USER_TURN]
    assert apology.at_s - commit == pytest.approx(guard.stall_timeout_s, abs=0.5)
    assert _spoken(t).startswith(DEFAULT_APOLOGY)
    assert _user_texts(llm_.calls[-1]) == [FIRST_TEXT, SECOND_TEXT]


@pytest.mark.parametrize(
    ("mode", "reason"), [("stall", ApologyReason.STALLED), ("raise", ApologyReason.ERROR)]
)
def test_tts_failure_is_apologized_for(mode: str, reason: ApologyReason) -> None:
    llm_ = ScriptedLLM(rules=(ScriptRule("tuesday", TUESDAY_REPLY),))
    t = StallingTTS(mode)
    h, guard, events = run_virtual(_two_turns(llm_=llm_, tts_=t))
    assert [a.reason for a in guard.apologies] == [reason]
    # the hung reply was synthesized (and hung), then the apology was heard
    assert t.requests >= 2
    assert any(DEFAULT_APOLOGY.startswith(text) for text, _ in t.synthesized)
    assert _user_texts(llm_.calls[-1]) == [FIRST_TEXT, SECOND_TEXT]
    assert any(e.kind is EventKind.AUDIO_FINISHED for e in events)


def test_a_healthy_conversation_gets_no_apology() -> None:
    llm_ = ScriptedLLM(rules=(ScriptRule("tuesday", TUESDAY_REPLY),))
    t = _clip_tts()
    h, guard, _ = run_virtual(_two_turns(llm_=llm_, tts_=t))
    assert guard.apologies == []
    assert DEFAULT_APOLOGY not in _spoken(t)
    assert _spoken(t).startswith(TUESDAY_REPLY)


def test_repeated_failures_apologize_at_most_max_consecutive_times() -> None:
    g = ReplyGuard(stall_timeout_s=2.0, min_interval_s=0.0, max_consecutive=2)
    said = []
    for i in range(4):
        t0 = 10.0 * i
        assert g.on_agent_state("thinking", t0) is None
        said.append(g.on_error("llm_error", recoverable=False, at_s=t0 + 1))
        # the failed reply ends without audio; then the apology (if any) plays
        assert g.on_agent_state("listening", t0 + 1.2) is None
        if said[-1] is not None:
            g.on_agent_state("speaking", t0 + 1.5)
            g.on_agent_state("listening", t0 + 3)
    assert [a is not None for a in said] == [True, True, False, False]
    # a reply that plays resets the count
    g.on_agent_state("thinking", 50.0)
    g.on_agent_state("speaking", 50.5)
    g.on_agent_state("listening", 52.0)
    g.on_agent_state("thinking", 60.0)
    assert g.check(62.5) is not None


def test_guard_ignores_recoverable_errors_stt_errors_and_user_barge_in() -> None:
    g = ReplyGuard(stall_timeout_s=2.0)
    g.on_agent_state("thinking", 1.0)
    assert g.on_error("llm_error", recoverable=True, at_s=1.1) is None
    assert g.on_error("stt_error", recoverable=False, at_s=1.2) is None
    g.on_user_state("speaking", 1.3)
    # the framework cancels a reply when the user goes on: not a failure
    assert g.check(5.0) is None
    assert g.on_agent_state("listening", 5.1) is None
    assert g.apologies == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"stall_timeout_s": 0.5}, r"stall_timeout_s must be in \[1, 60\]"),
        ({"min_interval_s": -1.0}, r"min_interval_s must be in \[0, 60\]"),
        ({"max_consecutive": 0}, r"max_consecutive must be in \[1, 10\]"),
    ],
)
def test_guard_options_are_validated(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ReplyGuard(**kwargs)


# --------------------------------------------------------------------------- STT


@pytest.mark.parametrize("mode", ["error", "stall"])
def test_stt_error_or_stall_mid_utterance_keeps_the_conversation(mode: str) -> None:
    # the fault hits 1 s into the first utterance (100 frames of 10 ms)
    s = FaultySTT([FIRST_TEXT, SECOND_TEXT], mode=mode, after_frames=100)
    llm_ = ScriptedLLM(rules=(ScriptRule("tuesday", TUESDAY_REPLY),))
    t = _clip_tts()
    h, guard, events = run_virtual(_two_turns(llm_=llm_, tts_=t, stt_=s))
    assert s.faults_fired == 1
    # the reconnected stream resumes from the buffered audio: both turns reach the LLM
    users = [e.detail for e in events if e.kind is EventKind.USER_TURN]
    assert users == [FIRST_TEXT, SECOND_TEXT]
    assert _user_texts(llm_.calls[-1]) == [FIRST_TEXT, SECOND_TEXT]
    assert guard.apologies == []


# --------------------------------------------------------------------------- our plugins


@pytest.fixture(scope="module")
def models() -> TurnTakingModels:
    loaded = load_models(load_vad=False)
    assert not loaded.problems
    return loaded


def test_endpointing_model_failure_falls_back_to_a_fixed_delay(
    models: TurnTakingModels, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from livekit.plugins.turntaking.endpointing.model import AdaptiveEndpointer

    def broken(self: AdaptiveEndpointer) -> None:
        raise RuntimeError("simulated endpointing failure")

    monkeypatch.setattr(AdaptiveEndpointer, "decision", broken)
    llm_ = ScriptedLLM(rules=(ScriptRule("tuesday", TUESDAY_REPLY),))
    with caplog.at_level(logging.DEBUG):
        h, guard, events = run_virtual(
            _two_turns(llm_=llm_, tts_=_clip_tts(), stack="ours", models=models)
        )
    failures = [r for r in caplog.records if "adaptive endpointing failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].levelno == logging.ERROR
    # the framework's VAD task survived: user states keep coming after the failure
    later = [
        e for e in events if e.kind is EventKind.USER_STATE and e.at_s > _first_turn_at(events)
    ]
    assert later, "no user state after the failure: the session's VAD task died"
    users = [e.detail for e in events if e.kind is EventKind.USER_TURN]
    assert users == [FIRST_TEXT, SECOND_TEXT]
    assert _user_texts(llm_.calls[-1]) == [FIRST_TEXT, SECOND_TEXT]


def _first_turn_at(events: list[Any]) -> float:
    """Time of the first user turn (the failure hits at the first pause, before it)."""
    return float(next(e.at_s for e in events if e.kind is EventKind.USER_TURN))


@pytest.mark.parametrize("mode", ["raises", "hangs"])
def test_broken_arbiter_falls_back_to_vad_barge_in_once(
    mode: str,
    models: TurnTakingModels,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from livekit.plugins.turntaking.arbiter import ArbiterDecider
    from livekit.plugins.turntaking.arbiter.arbiter import UNDECIDED_LIMIT_S

    def never(self: ArbiterDecider, *args: Any, **kwargs: Any) -> None:
        return None  # the decider hangs: it never reaches a verdict

    def boom(self: ArbiterDecider, *args: Any) -> None:
        raise RuntimeError("simulated arbiter failure")

    if mode == "hangs":
        for name in (
            "push_audio_features",
            "push_onset_probability",
            "on_transcript",
            "on_user_speech_end",
            "tick",
        ):
            monkeypatch.setattr(ArbiterDecider, name, never)
    else:
        monkeypatch.setattr(ArbiterDecider, "push_audio_features", boom)
    scene = SCENES["interruption"]

    async def run() -> Any:
        return await run_scene(
            scene,
            stack=configure_stack("ours", models),
            stt=ScriptedSTT(scene_transcripts(scene)),
            vad=_vad(),
            tts=_clip_tts(),
        )

    with caplog.at_level(logging.DEBUG):
        r = run_virtual(run())
    fallbacks = [r_ for r_ in caplog.records if "arbiter disabled" in r_.getMessage()]
    assert len(fallbacks) == 1 and fallbacks[0].levelno == logging.WARNING
    assert r.stop_latency_s is not None
    if mode == "hangs":
        assert "undecided" in fallbacks[0].getMessage()
        # the held words are released when the watchdog fires: they become the user's turn,
        # which interrupts the agent (the framework's own rule for a final transcript)
        assert r.stop_latency_s == pytest.approx(UNDECIDED_LIMIT_S, abs=0.5)
    else:
        assert "simulated arbiter failure" in fallbacks[0].getMessage()
        # the framework's VAD barge-in is back at once (0.5 s of speech)
        assert r.stop_latency_s < 1.5
    assert [m["text"] for m in r.history if m["role"] == "user"] == [FIRST_TEXT]
    assert r.history[0]["interrupted"] is True
    assert any(m["text"] == "Got it, Tuesday then. What time works for you?" for m in r.history)


def _corrupt_data_dir(tmp: Path, src: Path, kind: str) -> Path:
    tmp.mkdir()
    for f in src.iterdir():
        data = f.read_bytes()
        match kind:
            case "truncated":
                data = data[: len(data) // 2]
            case "empty":
                data = b""
            case "garbage":
                data = bytes(range(256)) * 4
        (tmp / f.name).write_bytes(data)
    return tmp


@pytest.mark.parametrize("kind", ["missing", "truncated", "empty", "garbage"])
def test_broken_model_files_name_the_file_and_the_fix_and_fall_back(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import livekit.plugins.turntaking.arbiter.model as arbiter_model
    import livekit.plugins.turntaking.endpointing.model as endpointing_model

    for mod in (arbiter_model, endpointing_model):
        bad = tmp_path / mod.__name__.split(".")[-2]
        if kind == "missing":
            bad.mkdir()
        else:
            _corrupt_data_dir(bad, mod.DATA_DIR, kind)
        monkeypatch.setattr(mod, "DATA_DIR", bad)
    degraded = load_models(load_vad=False)
    arb, end = degraded.problems
    assert str(tmp_path / "arbiter" / "text_model.npz") in arb
    assert "reinstall livekit-plugins-turntaking" in arb
    assert "python -m bench.training.arbiter" in arb
    assert str(tmp_path / "endpointing" / "completeness.npz") in end
    assert "reinstall livekit-plugins-turntaking" in end
    assert "python -m bench.training.endpointing" in end
    setup = configure_stack("ours", degraded)
    assert "DEGRADED" in setup.description
    # the session still runs, with the framework's barge-in and a fixed endpointing delay
    scene = SCENES["interruption"]

    async def run() -> Any:
        return await run_scene(
            scene,
            stack=setup,
            stt=ScriptedSTT(scene_transcripts(scene)),
            vad=_vad(),
            tts=_clip_tts(),
        )

    r = run_virtual(run())
    assert r.stop_latency_s is not None and r.stop_latency_s < 1.5
    assert [m["text"] for m in r.history if m["role"] == "user"] == [FIRST_TEXT]


def test_apology_plays_from_prerendered_audio_when_the_tts_is_dead() -> None:
    apology_pcm = (np.sin(np.arange(24_000) * 0.05) * 8000).astype(np.int16)

    async def frames() -> AsyncIterator[rtc.AudioFrame]:
        for i in range(0, apology_pcm.size, 2400):
            chunk = apology_pcm[i : i + 2400]
            yield rtc.AudioFrame(chunk.tobytes(), 24_000, 1, chunk.size)

    llm_ = ScriptedLLM(rules=(ScriptRule("tuesday", TUESDAY_REPLY),))
    t = StallingTTS("raise", dead=True)
    h, guard, events = run_virtual(_two_turns(llm_=llm_, tts_=t, apology={"audio": frames}))
    assert guard.apologies and guard.apologies[0].reason is ApologyReason.ERROR
    # one second of pre-rendered apology audio played although every synthesis failed
    played = [e for e in events if e.kind is EventKind.AUDIO_FINISHED]
    assert played and played[0].data["position_s"] == pytest.approx(1.0, abs=0.05)
    assert t.synthesized == []
    assert _user_texts(llm_.calls[-1]) == [FIRST_TEXT, SECOND_TEXT]
