"""Session episodes of `bench session`: one overlap item through a real AgentSession.

An episode runs on whatever loop awaits it: in real time on a normal loop, or on a
virtual-time loop (`sim.virtual_time`) with a `ChargedExecutor` for the models' off-loop work.

The agent is speaking (the tail of `agent_text`, then a continuation so it is still talking)
when the user's audio arrives, aligned so that the user's speech starts (`onset_s` into the
clip) just as the agent finishes saying `agent_text`. The result says what the session did.

    runner = EpisodeRunner()
    runner.load()                       # Silero VAD + Whisper, once per process
    result = await runner.run(agent_text=..., user_audio=..., user_sample_rate=16000,
                              onset_s=0.4, stack="livekit-vad")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from livekit.agents import stt as lk_stt
from livekit.agents import vad as lk_vad
from livekit.plugins.turntaking import TurnTakingModels, load_models

from bench.evaluation.stacks import MIN_WORDS_2, session_stack
from sim.audio import Samples
from sim.harness import EventKind, SimHarness
from sim.llm import ScriptedLLM
from sim.tts import ClipTTS, synth_duration_s

EPISODE_STACKS = ("livekit-vad", MIN_WORDS_2, "ours", "ours-arbiter", "ours-endpointing")
DEFAULT_MAX_LEAD_S = 3.0
"""At most this much of `agent_text` (its tail) is spoken before the onset, seconds."""
MIN_LEAD_S = 1.2
"""At least this much agent speech precedes the onset, seconds (the framework treats the
first second of agent speech specially)."""
SETTLE_S = 3.0
"""Observation time after the user's audio ends, seconds (> the framework's 2 s
false-interruption timer and its endpointing delay)."""
AGENT_START_TIMEOUT_S = 5.0
CONTINUATION = (
    "and after that we can go through the remaining details together one step at a time "
    "so that nothing important gets missed along the way and you have everything you need"
)
"""Words the agent keeps saying after `agent_text` (repeated as needed)."""
EPISODE_REPLY = "Okay, let me stop there. What would you like to change?"
ROOM_BED_GUARD_S = 0.1
"""The room's sound before an episode's clip is the clip's own audio up to this long before
the user's onset, looped (see `_with_room_bed`), seconds."""


@dataclass
class EpisodeResult:
    """What the session did with one overlap episode (times relative to the onset)."""

    agent_stopped: bool
    """The agent's audio was cleared, or paused and not resumed, after the onset."""
    stop_latency_s: float | None
    """Onset -> first pause/clear of the agent's audio, seconds (None if not stopped)."""
    user_turn_committed: bool
    """The user's speech became a user message in the chat history."""
    llm_called: bool
    """The LLM was asked for a reply after the onset (includes preemptive generation)."""
    reply_spoken: bool
    """A new agent reply started playing after the onset."""
    resumed: bool
    """The agent's audio was paused and then resumed (a false interruption)."""
    decision: Literal["backchannel", "interruption"]
    """The stack's own verdict on the first overlap after the onset when it reports one (the
    arbiter); else interruption if the agent stopped, backchannel otherwise."""
    decided_at_s: float | None
    """Onset -> the stack's verdict when it reports one; else interruption: onset -> the
    clear (or the unresumed pause); backchannel: onset -> the resume if the audio paused,
    else None (the floor was never in question)."""
    yield_latency_s: float | None = None
    """Onset -> the agent audibly yielded (its first duck, pause or clear after the onset)
    as a listener behind LiveKit's room output hears it, seconds (None: it never did)."""
    heard_stop_latency_s: float | None = None
    """`stop_latency_s` as that listener hears it, seconds (None if not stopped)."""
    ducked: bool = False
    """The agent's voice was ducked after the onset (the arbiter's audible yield)."""
    duck_s: float | None = None
    """How long the first duck was heard before it was restored, paused or stopped (or the
    episode ended), seconds (None: not ducked)."""
    transcripts: list[str] = field(default_factory=list)
    """Final user transcripts seen by the session (text; keep out of logs)."""
    extra: dict[str, Any] = field(default_factory=dict)


def _lead_text(agent_text: str, max_lead_s: float) -> str:
    words = agent_text.split()
    kept: list[str] = []
    for w in reversed(words):
        if kept and synth_duration_s(" ".join([w, *kept])) > max_lead_s:
            break
        kept.insert(0, w)
    return " ".join(kept)


def _continuation(min_s: float) -> str:
    words = CONTINUATION.split()
    out: list[str] = []
    while synth_duration_s(" ".join(out)) < min_s:
        out.extend(words)
    return " ".join(out)


class EpisodeRunner:
    """Runs overlap episodes; models are loaded once and shared by all episodes."""

    def __init__(
        self,
        *,
        stt: lk_stt.STT[Any] | None = None,
        vad: lk_vad.VAD | None = None,
        max_lead_s: float = DEFAULT_MAX_LEAD_S,
        settle_s: float = SETTLE_S,
        close_transcript_timeout_s: float | None = None,
    ) -> None:
        """`stt` default LocalSTT (Whisper); `vad` default Silero; `max_lead_s`
        (MIN_LEAD_S..30) agent speech before the onset; `settle_s` (2.5..10) observation
        after the user's audio; `close_transcript_timeout_s` (>= 0) how long closing a
        session waits for a pending user transcript, seconds (None: the framework's default,
        2 s). The result is read before the close, so the wait only costs time: a
        benchmark passes 0."""
        if not MIN_LEAD_S <= max_lead_s <= 30.0:
            raise ValueError(f"max_lead_s must be in {MIN_LEAD_S}..30, got {max_lead_s}")
        if not 2.5 <= settle_s <= 10.0:
            raise ValueError(f"settle_s must be in 2.5..10, got {settle_s}")
        self._stt = stt
        self._vad = vad
        self._max_lead_s = max_lead_s
        self._settle_s = settle_s
        if close_transcript_timeout_s is not None and close_transcript_timeout_s < 0:
            raise ValueError(
                f"close_transcript_timeout_s must be >= 0, got {close_transcript_timeout_s}"
            )
        self._session_kwargs: dict[str, Any] = (
            {}
            if close_transcript_timeout_s is None
            else {"session_close_transcript_timeout": close_transcript_timeout_s}
        )
        self._tts = ClipTTS()
        self._models: TurnTakingModels | None = None

    def load(self) -> None:
        """Load the default models and the turn-taking plugins' weights (blocking, ~1 s);
        idempotent."""
        if self._models is None:
            self._models = load_models(load_vad=False)
        if self._stt is None:
            from livekit.plugins.local_whisper import LocalSTT

            local = LocalSTT()
            local.prewarm()
            self._stt = local
        if self._vad is None:
            from livekit.plugins import silero

            self._vad = silero.VAD.load()

    async def run(
        self,
        *,
        agent_text: str,
        user_audio: Samples,
        user_sample_rate: int,
        onset_s: float,
        stack: str = "livekit-vad",
    ) -> EpisodeResult:
        """Play one episode in a fresh session (about lead + clip + settle s of loop time)."""
        if stack not in EPISODE_STACKS:
            raise ValueError(f"unknown stack {stack!r}: choose one of {', '.join(EPISODE_STACKS)}")
        if user_audio.size == 0:
            raise ValueError("user_audio is empty")
        clip_s = user_audio.shape[0] / user_sample_rate
        if not 0.0 <= onset_s < clip_s:
            raise ValueError(f"onset_s must be in 0..{clip_s:.2f} (the clip length), got {onset_s}")
        self.load()
        assert self._stt is not None and self._vad is not None
        lead = _lead_text(agent_text.strip(), self._max_lead_s) if agent_text.strip() else ""
        lead_s = synth_duration_s(lead)
        if lead_s < MIN_LEAD_S:
            pad = _continuation(MIN_LEAD_S - lead_s)
            lead = f"{pad} {lead}".strip()
            lead_s = synth_duration_s(lead)
        tail_s = clip_s - onset_s + self._settle_s + 1.0
        speech = f"{lead} {_continuation(tail_s)}"
        llm = ScriptedLLM(default_reply=EPISODE_REPLY)
        h = await SimHarness.start(
            stack=session_stack(stack),
            stt=self._stt,
            vad=self._vad,
            llm=llm,
            tts=self._tts,
            models=self._models,
            session_kwargs=self._session_kwargs,
        )
        try:
            h.session.say(speech)
            rec = h.recorder
            if not await h.wait_for(
                lambda: rec.first(EventKind.AUDIO_STARTED) is not None,
                timeout_s=AGENT_START_TIMEOUT_S,
            ):
                raise RuntimeError("episode: the agent never started speaking")
            started = rec.first(EventKind.AUDIO_STARTED)
            assert started is not None
            onset_at = started.at_s + lead_s
            audio, bed_s = _with_room_bed(
                user_audio, user_sample_rate, onset_s, onset_at - onset_s - h.clock.now()
            )
            clip = h.schedule_user(
                audio,
                user_sample_rate,
                onset_at - onset_s - bed_s,
                label="user",
                speech_offset_s=onset_s + bed_s,
            )
            await h.clock.sleep_until(clip.end_s + self._settle_s)
            # read before the close: nothing the session does while closing counts
            return episode_result(h, onset_at, lead_s, clip_s)
        finally:
            await h.aclose()


def _with_room_bed(
    audio: Samples, rate_hz: int, onset_s: float, room_s: float
) -> tuple[Samples, float]:
    """`audio` with up to `room_s` seconds of its own sound before the user's onset (the
    room: silence for a clean clip, the noise for a noisy one; the last
    `ROOM_BED_GUARD_S` before the onset left out) looped in front of it, and how long that
    bed is, seconds. A room's steady noise is there all call long, not from a moment
    before the user speaks: the arbiter (and a VAD) have heard it while the agent spoke."""
    n = int(max(0.0, onset_s - ROOM_BED_GUARD_S) * rate_hz)
    fill = int(max(0.0, room_s) * rate_hz)
    if n == 0 or fill == 0:
        return audio, 0.0
    bed = np.resize(audio[:n], (fill, *audio.shape[1:]))
    return np.concatenate([bed, audio]), fill / rate_hz


def episode_result(h: SimHarness, onset: float, lead_s: float, clip_s: float) -> EpisodeResult:
    """What the session of `h` did from stream time `onset` (s) on; `lead_s` and `clip_s`
    (the agent's speech before the onset and the user's clip, s) are reported as given."""
    rec = h.recorder
    after = [e for e in rec.sorted() if e.at_s >= onset]
    stops = [e for e in after if e.kind in (EventKind.AUDIO_PAUSED, EventKind.AUDIO_CLEARED)]
    cleared = next((e for e in after if e.kind is EventKind.AUDIO_CLEARED), None)
    paused = next((e for e in after if e.kind is EventKind.AUDIO_PAUSED), None)
    resumed_ev = (
        None
        if paused is None
        else next(
            (e for e in after if e.kind is EventKind.AUDIO_RESUMED and e.at_s >= paused.at_s),
            None,
        )
    )
    first_segment = 0
    stopped = cleared is not None or (paused is not None and resumed_ev is None)
    stop_latency = stops[0].at_s - onset if stops and stopped else None
    heard_stop_at = float(stops[0].data["heard_at_s"]) if stops else None
    heard_stop = heard_stop_at - onset if heard_stop_at is not None and stopped else None
    # a duck (the arbiter's audible yield) is heard when its first ducked audio plays
    duck = next((e for e in after if e.kind is EventKind.AUDIO_DUCKED), None)
    duck_at = None if duck is None else float(duck.data["heard_at_s"])
    heard = [t for t in (duck_at, heard_stop_at) if t is not None]
    heard_yield = min(heard) - onset if heard else None
    duck_s: float | None = None
    if duck is not None and duck_at is not None:
        ends = [
            float(e.data["heard_at_s"])
            for e in after
            if e.at_s >= duck.at_s
            and e.kind
            in (EventKind.AUDIO_RESTORED, EventKind.AUDIO_PAUSED, EventKind.AUDIO_CLEARED)
        ]
        duck_s = max(0.0, (min(ends) if ends else h.clock.now()) - duck_at)
    if stopped:
        decider = cleared if cleared is not None else paused
        decided = None if decider is None else decider.at_s - onset
    else:
        decided = None if resumed_ev is None else resumed_ev.at_s - onset
    # a stack that decides explicitly (the arbiter) reports its own verdict and timing
    verdicts = [e for e in after if e.kind is EventKind.DECISION and "label" in e.data]
    decision: Literal["backchannel", "interruption"] = "interruption" if stopped else "backchannel"
    if verdicts:
        label = verdicts[0].data["label"]
        decision = "interruption" if label == "interruption" else "backchannel"
        decided = verdicts[0].at_s - onset
    reply_spoken = any(
        e.kind is EventKind.AUDIO_STARTED and e.data.get("segment", 0) > first_segment
        for e in after
    )
    return EpisodeResult(
        agent_stopped=stopped,
        stop_latency_s=stop_latency,
        user_turn_committed=any(e.kind is EventKind.USER_TURN for e in after),
        llm_called=any(c.at_s >= onset for c in h.llm.calls),
        reply_spoken=reply_spoken,
        resumed=resumed_ev is not None,
        decision=decision,
        decided_at_s=decided,
        yield_latency_s=heard_yield,
        heard_stop_latency_s=heard_stop,
        ducked=duck is not None,
        duck_s=duck_s,
        transcripts=[e.detail for e in after if e.kind is EventKind.FINAL],
        extra={
            "stack": h.stack.name,
            "lead_s": lead_s,
            "clip_s": clip_s,
            "paused_at_s": None if paused is None else paused.at_s - onset,
            "false_interruption": any(e.kind is EventKind.FALSE_INTERRUPTION for e in after),
            "llm_calls": sum(1 for c in h.llm.calls if c.at_s >= onset),
            "decisions": [
                {"at_s": e.at_s - onset, "detail": e.detail, **e.data}
                for e in after
                if e.kind is EventKind.DECISION
            ],
        },
    )


async def run_overlap_episode(
    *,
    agent_text: str,
    user_audio: Samples,
    user_sample_rate: int,
    onset_s: float,
    stack: str = "livekit-vad",
    runner: EpisodeRunner | None = None,
) -> EpisodeResult:
    """One episode with `runner` (default: a new EpisodeRunner; pass one to reuse models)."""
    runner = runner or EpisodeRunner()
    return await runner.run(
        agent_text=agent_text,
        user_audio=user_audio,
        user_sample_rate=user_sample_rate,
        onset_s=onset_s,
        stack=stack,
    )
