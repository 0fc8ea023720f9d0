"""The adaptive detector inside a real AgentSession (in-process, real VAD, virtual time).

Scene "long-pause": the user dictates "four one five", pauses 1.6 s, then "two two three,
four five six seven". The adaptive detector reads the dictation and keeps the turn open
(one commit), then commits within half a second of the whole number; the same detector at
an eager operating point commits inside the pause (two commits). Scene "code": the agent
asks for a six-digit code and the user reads "four one five", pauses 1.6 s, "two two three":
the count the agent asked for ends the dictation at the sixth digit.
"""

from __future__ import annotations

from typing import Any

import pytest
from livekit.agents import AgentSession, inference
from livekit.plugins.turntaking.endpointing import AdaptiveTurnDetector, EndpointDecision
from livekit.plugins.turntaking.endpointing.model import DEFAULT_STT_WAIT_S, DEFAULT_THRESHOLD

from sim.fake_stt import ScriptedSTT
from sim.harness import EventKind
from sim.lines import AGENT_LINES
from sim.scenes import (
    SCENES,
    SETTLE_S,
    Anchor,
    Scene,
    SceneResult,
    UserPart,
    run_scene,
    scene_transcripts,
)
from sim.stacks import StackSetup
from sim.tts import ClipLibrary, ClipTTS
from sim.virtual_time import InlineExecutor, run_virtual


def _stack(det: AdaptiveTurnDetector | None, seen: list[EndpointDecision]) -> StackSetup:
    if det is None:
        return StackSetup(
            name="fixed",
            description="framework fixed endpointing",
            turn_handling={"endpointing": {"mode": "fixed", "min_delay": 0.5, "max_delay": 3.0}},
        )

    def install(session: AgentSession[Any], note: Any) -> None:
        det.attach(session)
        det.on("decision", seen.append)

    return StackSetup(
        name="adaptive-endpointing",
        description="adaptive endpointing",
        turn_handling={"turn_detection": det, "endpointing": det.endpointing_options()},
        install=install,
    )


async def _scene(
    det: AdaptiveTurnDetector | None,
    seen: list[EndpointDecision],
    *,
    stt_stalls_s: dict[int, float] | None = None,
    name: str = "long-pause",
) -> SceneResult:
    scene = SCENES[name]
    return await run_scene(
        scene,
        stack=_stack(det, seen),
        stt=ScriptedSTT(scene_transcripts(scene), stalls_s=stt_stalls_s),
        vad=inference.VAD(executor=InlineExecutor(), min_silence_duration=0.25),
        tts=ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES)),
        # the held commit leaves > 2.5 s without events: do not call the scene over
        settle_s=5.0 if stt_stalls_s else SETTLE_S,
    )


REPLY = "Thanks, I have four one five, two two three, four five six seven."


def _commits(r: SceneResult) -> int:
    return sum(1 for e in r.events if e.kind is EventKind.USER_TURN)


def _user_turns(r: SceneResult) -> list[str]:
    return [str(m["text"]) for m in r.history if m["role"] == "user"]


@pytest.fixture(scope="module")
def adaptive() -> tuple[SceneResult, list[EndpointDecision]]:
    det = AdaptiveTurnDetector(threshold=0.9)
    det.prewarm()
    seen: list[EndpointDecision] = []
    return run_virtual(_scene(det, seen)), seen


def test_dictation_pause_keeps_the_turn_open(
    adaptive: tuple[SceneResult, list[EndpointDecision]],
) -> None:
    r, seen = adaptive
    turns = _user_turns(r)
    assert len(turns) == 1, turns
    assert "four" in turns[0].lower() and "three" in turns[0].lower()
    assert r.history[-1]["text"] == REPLY
    assert _commits(r) == 1  # no turn was committed on half a number
    # the pause was judged as dictation and given a delay longer than the 1.6 s pause
    assert any(d.cues.dictation and d.delay_s > 1.6 for d in seen)


@pytest.mark.parametrize("threshold", [DEFAULT_THRESHOLD, 0.9, 0.98])
def test_a_whole_phone_number_is_answered_at_once(threshold: float) -> None:
    # after the tenth digit the dictation is over: the delay is under half a second, at the
    # shipped default as well as at patient settings, and the turn is committed as soon as the
    # recogniser's final (0.85 s after the speech here) brings the last digits
    det = AdaptiveTurnDetector(threshold=threshold)
    det.prewarm()
    seen: list[EndpointDecision] = []
    r = run_virtual(_scene(det, seen))
    assert _commits(r) == 1
    (commit,) = [e.at_s for e in r.events if e.kind is EventKind.USER_TURN]
    final = max(e.at_s for e in r.events if e.kind is EventKind.FINAL)
    last = seen[-1]
    assert last.cues.number_complete and last.delay_s < 0.5
    planned = max(last.commit_at_s, final)
    assert planned <= commit < planned + 0.15
    assert r.history[-1]["text"] == REPLY


def test_an_eager_operating_point_commits_inside_the_pause() -> None:
    # the same detector made eager (every delay clamped to 0.1 s, under the dictation's
    # own floor) cuts the number: the scene can fail
    det = AdaptiveTurnDetector(threshold=0.05, floor_s=0.1, ceiling_s=0.1, fallback_delay_s=0.1)
    det.prewarm()
    r = run_virtual(_scene(det, []))
    assert _commits(r) == 2


@pytest.mark.parametrize("stt_wait_s", [0.0, DEFAULT_STT_WAIT_S])
def test_a_stalled_recogniser_does_not_cut_the_turn_in_two(stt_wait_s: float) -> None:
    # "two two three" is transcribed 2 s late, with no interims (the local recogniser
    # blocked on a long decode): the framework commits finals only, so a commit at the
    # planned time sends "four one five" alone and makes "two two three" a second turn
    det = AdaptiveTurnDetector(threshold=0.9, stt_wait_s=stt_wait_s)
    det.prewarm()
    r = run_virtual(_scene(det, [], stt_stalls_s={1: 2.0}))
    turns = _user_turns(r)
    if stt_wait_s == 0.0:
        assert len(turns) == 2, turns
        return
    assert len(turns) == 1 and "three" in turns[0].lower(), turns
    assert r.history[-1]["text"] == REPLY
    assert det.stt_waits_expired == 0


def test_the_code_the_agent_asked_for_is_answered_once_whole() -> None:
    # the agent's question ("the six-digit code") is heard by the detector from the
    # session's chat items: patient in the pause after three digits, quick after six
    det = AdaptiveTurnDetector()  # the shipped default threshold
    det.prewarm()
    seen: list[EndpointDecision] = []
    r = run_virtual(_scene(det, seen, name="code"))
    turns = _user_turns(r)
    assert len(turns) == 1 and "three" in turns[0].lower(), turns
    assert any(d.cues.dictation and not d.cues.number_complete and d.delay_s > 1.6 for d in seen)
    last = seen[-1]
    assert last.cues.number_complete and last.delay_s < 0.5
    (commit,) = [e.at_s for e in r.events if e.kind is EventKind.USER_TURN]
    final = max(e.at_s for e in r.events if e.kind is EventKind.FINAL)
    assert max(last.commit_at_s, final) <= commit < max(last.commit_at_s, final) + 0.15
    assert r.history[-1]["text"] == SCENES["code"].rules[0].reply


def _continuation_scene(gap_s: float) -> Scene:
    # the long-pause scene with a pause of `gap_s`, cut by an eager detector
    base = SCENES["long-pause"]
    return Scene(
        name=f"continuation-{gap_s}",
        title=base.title,
        opening=base.opening,
        parts=(
            UserPart("number_part1", 0.6, Anchor.AGENT_END),
            UserPart("number_part2", gap_s, Anchor.PREVIOUS_END),
        ),
        rules=base.rules,
        # a long answer to the half number, so that it is still playing when the user goes on
        default_reply=SCENES["backchannel"].opening,
        max_s=base.max_s,
    )


async def _continuation(
    gap_s: float, *, ttft_s: float, merge: bool, det_out: list[AdaptiveTurnDetector] | None = None
) -> SceneResult:
    # every delay clamped to 0.1 s: the turn is committed in the pause after "four one five"
    det = AdaptiveTurnDetector(
        threshold=0.05, floor_s=0.1, ceiling_s=0.1, fallback_delay_s=0.1, merge_continuations=merge
    )
    det.prewarm()
    if det_out is not None:
        det_out.append(det)
    scene = _continuation_scene(gap_s)
    return await run_scene(
        scene,
        stack=_stack(det, []),
        stt=ScriptedSTT(scene_transcripts(scene)),
        vad=inference.VAD(executor=InlineExecutor(), min_silence_duration=0.25),
        tts=ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES)),
        llm_ttft_s=ttft_s,
        settle_s=ttft_s + SETTLE_S,  # the reply to the whole turn takes as long to start
    )


def _calls_after(r: SceneResult, t_s: float) -> list[str]:
    return [str(e.detail) for e in r.events if e.kind is EventKind.LLM_CALL and e.at_s > t_s]


def _part2_start(r: SceneResult) -> float:
    starts = [e.at_s for e in r.events if e.kind is EventKind.USER_SPEECH_START]
    assert len(starts) == 2, starts
    return starts[1]


@pytest.mark.parametrize("merge", [True, False])
def test_a_reply_not_heard_yet_is_withdrawn_and_the_turn_joined(merge: bool) -> None:
    # the LLM takes 3 s: the user goes on (after 1.2 s) before the reply to "four one five"
    # is audible. Withdrawn: one user message holding the whole number, answered once.
    dets: list[AdaptiveTurnDetector] = []
    r = run_virtual(_continuation(1.2, ttft_s=3.0, merge=merge, det_out=dets))
    resumed = _part2_start(r)
    commits = [e.at_s for e in r.events if e.kind is EventKind.USER_TURN]
    assert commits and commits[0] < resumed  # the turn was committed inside the pause
    audio = [e.at_s for e in r.events if e.kind is EventKind.AUDIO_STARTED]
    turns = _user_turns(r)
    if not merge:
        # negative control: the framework answers the half number too
        assert len(turns) == 2, turns
        return
    assert len(turns) == 1, turns
    assert "four" in turns[0].lower() and "seven" in turns[0].lower(), turns
    assert r.history[-1]["text"] == REPLY
    (call,) = _calls_after(r, resumed)
    assert "four one five" in call.lower() and "seven" in call.lower()
    # no agent audio played between the commit and the end of the user's speech
    assert not [t for t in audio if commits[0] < t < resumed + 1.0]
    assert [m["role"] for m in r.history[1:]] == ["user", "assistant"]
    # one LLM call after the user went on, on the whole turn: the framework's preemptive
    # reply (started on the final transcript) stayed valid, no second call after the commit
    (call,) = _calls_after(r, resumed)
    assert "four one five" in call.lower() and "seven" in call.lower()
    # the committed silence was learnt as one of this speaker's mid-turn pauses
    ep = dets[0].endpointer
    assert ep is not None and any(1.0 < p < 1.6 for p in ep.pauses.pauses_s), ep.pauses.pauses_s


@pytest.mark.parametrize("merge", [True, False])
def test_a_reply_just_heard_is_stopped_and_the_turn_joined(merge: bool) -> None:
    # the reply to "four one five" starts playing just before the user goes on: it is
    # stopped as soon as their words arrive, and the words join the committed turn
    r = run_virtual(_continuation(1.2, ttft_s=0.3, merge=merge))
    resumed = _part2_start(r)
    started = [
        e.at_s for e in r.events if e.kind is EventKind.AUDIO_STARTED and e.at_s > resumed - 1.0
    ]
    assert started and started[0] <= resumed <= started[0] + 0.5  # heard, just
    turns = _user_turns(r)
    if not merge:
        assert len(turns) == 2, turns
        return
    cleared = [e.at_s for e in r.events if e.kind is EventKind.AUDIO_CLEARED and e.at_s > resumed]
    words = min(e.at_s for e in r.events if e.kind is EventKind.INTERIM and e.at_s > resumed)
    assert cleared and cleared[0] <= words + 0.05
    assert len(turns) == 1, turns
    assert "four" in turns[0].lower() and "seven" in turns[0].lower(), turns
    assert r.history[-1]["text"] == REPLY
    (call,) = _calls_after(r, resumed)
    assert "four one five" in call.lower() and "seven" in call.lower()
