"""LiveKit-facing interruption arbiter: backchannels keep the agent talking, true
interruptions stop it at once.

Usage (a few lines in any agent)::

    arbiter = InterruptionArbiter.load()
    session = AgentSession(..., turn_handling={**other, **arbiter.turn_handling()})
    agent = arbiter.wrap_agent(MyAgent(...))   # before session.start
    await session.start(agent)
    arbiter.attach(session)

How it sits in livekit-agents 1.8.9 (public extension points only):

- `turn_handling()` turns the framework's VAD barge-in off (huge `min_duration` and
  `min_words`, no pause/resume) while interruptions stay enabled.
- `wrap_agent` replaces the agent's `stt_node` on the instance with one that taps the
  input audio (level/voicing per frame) and the STT events. While an overlap is undecided
  its transcript events are held back; a backchannel's are dropped (its words never become
  a user turn nor reach the LLM); an interruption's are released, so they become the next
  user turn. It also taps `transcription_node` for the agent's words so far (text as
  produced, which may run slightly ahead of playback).
- `attach` listens to `agent_state_changed` and `user_state_changed` (the session's VAD)
  and calls `session.interrupt()` on a true interruption; the framework then stores the
  assistant message truncated with `interrupted=True`.
- A stop on the sound alone (`ArbiterState.PAUSED`: early audio or sustained speech, no
  word with content yet) pauses `session.output.audio` instead; the user's transcripts
  stay held. Words with content (or no words) then call `session.interrupt()`; an
  utterance of acknowledgement words only resumes the output and is dropped like any
  backchannel. An output that cannot pause, or uninterruptible speech, gets the
  interruption at once, as before.
- Echo gate: `attach` wraps the session's audio output (`session.output.audio`) in a
  pass-through tap that feeds the agent's audio, stamped with the time it plays, to an
  `echo.EchoGate` as the far-end reference. The tap sits at the output rather than in
  `tts_node` because the output is the last place the arbiter can see before the
  loudspeaker: TTS audio can run seconds ahead of playout, while an output frame's play
  time follows from the output's queue (frames play back to back from when they are
  captured, or from when the previous ones end). Clearing the output drops the queued
  reference; pausing holds it, and on resume the held audio (and what was captured
  meanwhile) is the reference again from the resume time on. Microphone frames the gate
  calls echo are no evidence of the user's speech (voiced time, sustained speech), and a
  transcript of only the agent's own words over such frames is no evidence of an
  interruption. Without a tapped output there is no reference and nothing changes.
- Early audio: while the agent speaks the input audio goes through the arbiter's front end
  (`frontend.ArbiterFrontEnd`: 20 ms analysis frames, the own level/voicing speech detector,
  the last 2 s kept by `onset.OnsetScorer`), so that when the session's VAD reports the user
  speaking, the overlap (the window of `onset.OnsetModel`, the sustained-speech span, the
  reported latency) starts at the sound's real onset. Each
  horizon of the model (0.12-0.4 s after the onset) is scored once, inline (0.3-7 ms of
  numpy, the more the higher the sample rate); a very confident score stops the agent
  before any words. Without the onset model file the arbiter runs on words and duration
  alone (logged once).
- Room noise: the front end holds each frame to the input's noise floor
  (`frontend.NoiseFloorGate`), so steady background noise, other voices' babble included,
  is no evidence of the user's speech. A VAD may report such a room as one endless run of
  speech; while the agent speaks, the user's speech therefore also ends and starts again
  where the own (gated) speech detector says, whichever comes first.
- On any failure (exception, an overlap left undecided for `UNDECIDED_LIMIT_S`, missing
  model files) the arbiter restores the framework's VAD barge-in options on the live
  session, releases held events, logs once and steps aside.

Each decided overlap emits one `OverlapEvent` on the session as "arbiter_overlap" and on
the arbiter as "overlap", logged at DEBUG and counted in `metrics`.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt
from livekit import rtc
from livekit.agents import Agent, AgentSession, llm, stt
from livekit.agents.voice import io
from livekit.agents.voice.events import (
    AgentStateChangedEvent,
    ConversationItemAddedEvent,
    UserStateChangedEvent,
)

from ..log import logger
from .echo import EchoGate, EchoVerdict
from .frontend import ArbiterFrontEnd
from .model import (
    PAUSE_LIMIT_S,
    VOICE_END_SILENCE_S,
    ArbiterDecider,
    ArbiterParams,
    ArbiterState,
    DuckFollower,
    ModelFileError,
    OverlapEvent,
    TextModel,
    load_params,
)
from .onset import OnsetModel
from .playout import (
    DEFAULT_OUTPUT_LEAD_S,
    DUCK_RAMP_S,
    RESTORE_RAMP_S,
    PlayoutTap,
    duck_audible_after_s,
)

__all__ = ["ArbiterMetrics", "InterruptionArbiter", "SESSION_EVENT", "UNDECIDED_LIMIT_S"]

SESSION_EVENT = "arbiter_overlap"
"""Event name under which each `OverlapEvent` is emitted on the session."""
UNDECIDED_LIMIT_S = 5.0
"""An overlap still undecided this long after its onset means the arbiter is stuck: it
falls back to the framework's barge-in, seconds."""
DISABLED_MIN_DURATION_S = 1.0e6
"""`min_duration` that keeps the framework's VAD barge-in from ever firing, seconds."""
ONSET_LOOKBACK_S = 1.0
"""The arbiter's own speech detector's onset (the sound's start, which the session's VAD
reports later) is taken as the overlap's onset, for the early audio window, the sustained
speech span and the reported latency, when it is at most this long before the VAD reports
speech, seconds; an older one is a run of sound (e.g. residual echo) that started long
before, and the VAD's time is used."""
ECHO_TRANSCRIPT_TAIL_S = 2.0
"""After an overlap explained by the agent's echo, transcripts made only of the agent's
own words are dropped for this long, seconds: the speech-to-text's final of the echo
arrives after the audio, possibly after the agent (and the overlap) stopped."""
UNHEARD_END_S = VOICE_END_SILENCE_S
"""A start of speech the session's VAD reports while the own speech detector (noise-gated)
hears nothing ends after this long, seconds: the same silence after which the own detector
ends a run it heard."""
YIELD_SESSION_EVENT = "arbiter_yield"
"""Event name under which each `YieldEvent` is emitted on the session."""
DEFAULT_DUCK_DB = 14.0
"""How far the agent's voice drops while an overlap is undecided by default, dB: clearly
audible as a yield (the agent softens), 4 dB past the 10 dB at which a duck counts as one."""
MIN_DUCK_DB = 10.0
"""Shallowest duck accepted, dB (a smaller drop is not heard as yielding)."""
MAX_DUCK_DB = 40.0
"""Deepest duck accepted, dB."""
DISABLED_MIN_WORDS = 1_000_000
FRAMEWORK_INTERRUPTION = {
    "mode": "vad",
    "min_duration": 0.5,
    "min_words": 0,
    "resume_false_interruption": True,
    "false_interruption_timeout": 2.0,
}
"""The framework's VAD barge-in defaults (voice/turn.py), restored on fallback."""
_TRANSCRIPT_EVENTS = frozenset(
    {
        stt.SpeechEventType.INTERIM_TRANSCRIPT,
        stt.SpeechEventType.PREFLIGHT_TRANSCRIPT,
        stt.SpeechEventType.FINAL_TRANSCRIPT,
    }
)


@dataclass(frozen=True)
class YieldEvent:
    """The agent's voice ducked for an undecided overlap, or came back to full level."""

    kind: Literal["duck", "restore"]
    """"duck": the user's voice is heard over the agent and the overlap is undecided;
    "restore": it went quiet (or the overlap was settled as a backchannel)."""
    at_s: float
    """Stream time the arbiter decided it, seconds."""
    heard_at_s: float
    """Stream time the listener hears it: when the first audio at the new gain plays (what
    had been handed to the output before plays first) and, for a duck, its ramp has passed
    `playout.AUDIBLE_DROP_DB`, seconds. The output's own buffering below the arbiter
    (LiveKit's room output: its frame in hand, up to 50 ms) comes on top."""
    gain_db: float
    """The new gain of the agent's voice, dB (0 when restored)."""


@dataclass
class ArbiterMetrics:
    """Counters of one arbiter (all sessions it was attached to)."""

    overlaps: int = 0
    backchannels: int = 0
    interruptions: int = 0
    uninterruptible: int = 0
    """Interruptions the agent's current speech refused (tool replies)."""
    pauses: int = 0
    """Overlaps whose audio evidence paused the agent before their words settled them."""
    resumed: int = 0
    """Pauses whose words were only an acknowledgement: the agent resumed (a backchannel,
    also counted in `backchannels`)."""
    dropped_transcripts: int = 0
    """STT events of backchannels kept away from the user turn."""
    fallbacks: int = 0
    ducks: int = 0
    """Times the agent's voice was ducked for an undecided overlap."""
    decision_latencies_s: list[float] = field(default_factory=list)
    """Onset to decision, per overlap, seconds."""


class InterruptionArbiter:
    """Decides, for every stretch of user speech over the agent, backchannel or
    interruption, and acts on it in a LiveKit `AgentSession`."""

    def __init__(
        self,
        *,
        model: TextModel | None,
        params: ArbiterParams | None = None,
        undecided_limit_s: float = UNDECIDED_LIMIT_S,
        echo_gate: EchoGate | None = None,
        echo_reference: bool = True,
        onset_model: OnsetModel | None = None,
        duck_db: float | None = DEFAULT_DUCK_DB,
        output_lead_s: float | None = DEFAULT_OUTPUT_LEAD_S,
    ) -> None:
        """`echo_gate`: the gate to use (default: `EchoGate()` with its defaults);
        `echo_reference`: tap the session's audio output as the echo reference (False: no
        echo gating at all); `onset_model`: the early audio classifier (None: decide on
        words and duration only); `duck_db` ([10, 40] dB, None: no duck): how far the
        agent's voice drops while the user's voice is heard over it and the overlap is
        undecided; `output_lead_s` ([0.06, 2] s, None: no pacing): how much of the agent's
        audio is handed to the output ahead of the playhead (see `playout`: a duck or a
        pause is heard within about this long; shorter risks gaps on a late event loop)."""
        if not 0.5 <= undecided_limit_s <= 60.0:
            raise ValueError(f"undecided_limit_s must be in [0.5, 60] s, got {undecided_limit_s}")
        if duck_db is not None and not MIN_DUCK_DB <= duck_db <= MAX_DUCK_DB:
            raise ValueError(
                f"duck_db must be in [{MIN_DUCK_DB}, {MAX_DUCK_DB}] dB or None, got {duck_db}"
            )
        PlayoutTap.check_lead(output_lead_s)
        self.duck_db = duck_db
        self.output_lead_s = output_lead_s
        self._duck = DuckFollower()
        self._yield_listeners: list[Callable[[YieldEvent], None]] = []
        self._gate: EchoGate | None = (echo_gate or EchoGate()) if echo_reference else None
        self._tap: PlayoutTap | None = None
        self._echo_text_until_s = float("-inf")
        self.undecided_limit_s = undecided_limit_s
        self.metrics = ArbiterMetrics()
        self._decider = ArbiterDecider(model, params=params) if model is not None else None
        self._failed = model is None
        self._fail_logged = False
        self._session: AgentSession[Any] | None = None
        self._held: list[stt.SpeechEvent] = []
        self._out: asyncio.Queue[stt.SpeechEvent | None] | None = None
        self._agent_text = ""
        self._listeners: list[Callable[[OverlapEvent], None]] = []
        # the own speech detector only places the early audio windows (and the onset they
        # report) at the sound's start: without the onset model the session VAD's time is used
        self._front = ArbiterFrontEnd(onset_model, detect_speech=onset_model is not None)
        self._paused_output: io.AudioOutput | None = None
        self._vad_speaking = False
        """Whether the session's VAD last reported the user speaking."""
        self._unheard_since_s: float | None = None
        """Stream time of a VAD start the own speech detector did not hear (None: heard,
        or no such start pending), seconds."""
        self._wrapped: weakref.WeakSet[Agent] = weakref.WeakSet()
        self.continuation_probe: Callable[[], bool] | None = None
        """Asked at each user transcript during an overlap: True while the user is going on
        with a turn committed a moment ago (set by `TurnTaking` to the adaptive
        endpointing's `AdaptiveTurnDetector.user_going_on`); their words other than an
        acknowledgement then interrupt the reply (`ArbiterDecider.on_transcript`)."""

    @classmethod
    def load(
        cls,
        *,
        params: ArbiterParams | None = None,
        duck_db: float | None = DEFAULT_DUCK_DB,
        output_lead_s: float | None = DEFAULT_OUTPUT_LEAD_S,
    ) -> InterruptionArbiter:
        """Load the shipped text model, onset model and operating point (blocking, ~20 ms).
        When the text model or parameters are missing or broken the arbiter is returned
        disabled: the session keeps the framework's VAD barge-in, and the problem is logged
        once. Without the onset model it decides on words and duration (logged once).
        `duck_db` and `output_lead_s`: see the constructor."""
        try:
            model = TextModel.load()
            chosen = params or load_params()
        except ModelFileError as exc:
            arb = cls(model=None)
            arb._log_fallback(f"model unavailable: {exc}")
            return arb
        try:
            onset: OnsetModel | None = OnsetModel.load()
        except ModelFileError as exc:
            logger.warning("arbiter early audio classifier off (words and duration only): %s", exc)
            onset = None
        return cls(
            model=model,
            params=chosen,
            onset_model=onset,
            duck_db=duck_db,
            output_lead_s=output_lead_s,
        )

    # ------------------------------------------------------------------ public API

    @property
    def active(self) -> bool:
        """False once the arbiter fell back to the framework's barge-in."""
        return not self._failed

    @property
    def state(self) -> ArbiterState:
        """The decider's state (IDLE when disabled)."""
        return self._decider.state if self._decider is not None else ArbiterState.IDLE

    @property
    def echo_gate(self) -> EchoGate | None:
        """The echo gate fed by the output tap (None: `echo_reference=False`)."""
        return self._gate

    @overload
    def on(self, event: Literal["overlap"], callback: Callable[[OverlapEvent], None]) -> None: ...

    @overload
    def on(self, event: Literal["yield"], callback: Callable[[YieldEvent], None]) -> None: ...

    def on(self, event: str, callback: Callable[[Any], None]) -> None:
        """Register `callback` for "overlap" (one `OverlapEvent` per decided overlap) or
        "yield" (a `YieldEvent` each time the agent's voice ducks or comes back)."""
        if event == "overlap":
            self._listeners.append(callback)
        elif event == "yield":
            self._yield_listeners.append(callback)
        else:
            raise ValueError(f"unknown arbiter event {event!r}: choose 'overlap' or 'yield'")

    def turn_handling(self) -> dict[str, Any]:
        """`AgentSession(turn_handling=...)` entries: the framework's barge-in off (or its
        defaults when the arbiter is disabled). Merge with other turn-handling keys."""
        if self._failed:
            return {"interruption": dict(FRAMEWORK_INTERRUPTION)}
        return {
            "interruption": {
                "mode": "vad",
                "min_duration": DISABLED_MIN_DURATION_S,
                "min_words": DISABLED_MIN_WORDS,
                "resume_false_interruption": False,
                "false_interruption_timeout": None,
            }
        }

    def wrap_agent(self, agent: Agent) -> Agent:
        """Install the STT and transcription taps on `agent`; returns the same agent. An
        attached arbiter does this itself for every agent its session activates (the first
        one and any handed-off one); a second call on the same agent changes nothing."""
        if agent in self._wrapped:
            return agent
        self._wrapped.add(agent)
        orig_stt = agent.stt_node
        orig_tn = agent.transcription_node

        async def stt_node(
            audio: AsyncIterable[rtc.AudioFrame], model_settings: Any
        ) -> AsyncIterator[stt.SpeechEvent]:
            async for ev in self._stt_filter(orig_stt, audio, model_settings):
                yield ev

        async def transcription_node(
            text: AsyncIterable[str], model_settings: Any
        ) -> AsyncIterator[str]:
            self._agent_text = ""
            result: Any = orig_tn(text, model_settings)
            if asyncio.iscoroutine(result):
                result = await result
            if result is None:
                return
            async for delta in result:
                self._agent_text += str(delta)
                self._agent_context()
                yield delta

        agent.stt_node = stt_node  # type: ignore[method-assign]
        agent.transcription_node = transcription_node  # type: ignore[method-assign]
        return agent

    def attach(self, session: AgentSession[Any], agent: Agent | None = None) -> None:
        """Follow `session`'s agent and user states (call before `session.start`). Every
        agent the session activates is tapped as it starts, handed-off agents included;
        `agent` is tapped at once."""
        if agent is not None:
            self.wrap_agent(agent)
        self._session = session
        session.on("agent_state_changed", self._on_agent_state)
        session.on("user_state_changed", self._on_user_state)
        session.on("conversation_item_added", self._on_item_added)
        session.on("close", self._on_close)
        if self._failed:
            self._restore_framework_barge_in()
        else:
            self._install_tap()

    # ------------------------------------------------------------------ event handlers

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _on_close(self, _: object) -> None:
        if self._tap is not None:
            self._tap.close()

    def _on_item_added(self, ev: ConversationItemAddedEvent) -> None:
        # The session adds an AgentHandoff item after it makes the new agent current and
        # before that agent's activity reads its `stt_node`: the place to tap it, so that
        # a handoff never leaves an agent whose backchannels would become user turns.
        if isinstance(ev.item, llm.AgentHandoff) and self._session is not None:
            self.wrap_agent(self._session.current_agent)

    def _on_agent_state(self, ev: AgentStateChangedEvent) -> None:
        if self._decider is None or self._failed:
            return
        try:
            # the output may be set (or replaced) after `attach`, e.g. by the room's I/O
            self._install_tap()
            if ev.new_state == "speaking":
                self._decider.on_agent_speech(self._agent_text, self._now())
            elif ev.old_state == "speaking":
                # the speech ended or was cleared: nothing paused is left to resume
                self._paused_output = None
                if self._decider.echo_dominated:
                    self._echo_text_until_s = self._now() + ECHO_TRANSCRIPT_TAIL_S
                self._decider.on_agent_speech_end(self._now())
                self._update_yield(self._now())  # the next speech starts at full level
                if self._decider.state is ArbiterState.IDLE:
                    # the overlap outlived the agent's speech: its words are an ordinary turn
                    self._release()
        except Exception as exc:
            self._fail(exc)

    def _agent_context(self) -> None:
        d = self._decider
        if d is None or self._failed or not d.agent_speaking:
            return
        try:
            d.on_agent_speech(self._agent_text, self._now())
        except Exception as exc:
            self._fail(exc)

    def _on_user_state(self, ev: UserStateChangedEvent) -> None:
        d = self._decider
        if d is None or self._failed:
            return
        try:
            now = self._now()
            if ev.new_state == "speaking":
                self._vad_speaking = True
                if self._aec_warming_up():
                    return  # the framework ignores barge-in while its echo canceller warms up
                own = self._front.speech_start_s
                onset = own if own is not None and 0.0 <= now - own <= ONSET_LOOKBACK_S else now
                self._user_started(onset, now)
            elif ev.old_state == "speaking":
                self._vad_speaking = False
                self._unheard_since_s = None
                if d.user_speaking:  # not ended earlier by the own speech detector
                    self._handle(d.on_user_speech_end(now))
        except Exception as exc:
            self._fail(exc)

    def _user_started(self, onset_s: float, now_s: float) -> None:
        """The user's speech started at stream time `onset_s` (known at `now_s`): a new
        overlap while the agent speaks, or the open one's speech resumed."""
        d = self._decider
        assert d is not None
        resumed = d.state in (ArbiterState.LISTENING, ArbiterState.PAUSED)
        self._unheard_since_s = None if self._front.speaking else now_s
        self._handle(d.on_user_speech_start(onset_s))
        if d.state is ArbiterState.LISTENING:
            self.metrics.overlaps += 0 if resumed else 1
            # resumed speech is scored from its own onset, as the benchmark does
            self._front.start_scoring(onset_s)
            asyncio.get_running_loop().call_later(
                self.undecided_limit_s, self._watchdog, d.last_event
            )

    def _watchdog(self, last: OverlapEvent | None) -> None:
        d = self._decider
        if d is not None and not self._failed and d.state is ArbiterState.LISTENING:
            if d.echo_dominated:
                # the agent's own voice keeps the VAD busy: nothing to decide, not stuck
                asyncio.get_running_loop().call_later(
                    self.undecided_limit_s, self._watchdog, d.last_event
                )
                return
            if d.last_event is last:
                self._fail(TimeoutError(f"overlap undecided after {self.undecided_limit_s} s"))

    async def _stt_filter(
        self,
        orig: Callable[[AsyncIterable[rtc.AudioFrame], Any], Any],
        audio: AsyncIterable[rtc.AudioFrame],
        model_settings: Any,
    ) -> AsyncIterator[stt.SpeechEvent]:
        out: asyncio.Queue[stt.SpeechEvent | None] = asyncio.Queue()
        self._out = out

        async def tapped() -> AsyncIterator[rtc.AudioFrame]:
            async for frame in audio:
                self._on_frame(frame)
                yield frame

        async def pump() -> None:
            try:
                result = orig(tapped(), model_settings)
                if asyncio.iscoroutine(result):
                    result = await result
                if result is not None:
                    async for ev in result:
                        self._on_stt_event(ev)
            finally:
                out.put_nowait(None)

        task = asyncio.create_task(pump())
        try:
            while (item := await out.get()) is not None:
                yield item
            await task  # surface the STT's own errors to the framework
        finally:
            if not task.done():
                task.cancel()
            if self._out is out:
                self._out = None

    def _on_frame(self, frame: rtc.AudioFrame) -> None:
        d = self._decider
        if d is None or self._failed:
            return
        listening = d.state is ArbiterState.LISTENING
        paused = d.state is ArbiterState.PAUSED
        gate = self._gate if self._tap is not None else None
        front = self._front
        if not listening:
            front.stop_scoring()
            if not d.agent_speaking and not paused:
                front.drop_held()
                front.end_speech()
                return
            if gate is None and not front.scoring and not paused:
                front.drop_held()
                return
        if frame.samples_per_channel == 0:
            return  # an empty frame carries no evidence (and must not disable the arbiter)
        try:
            now = self._now()
            for x, end_s in front.frames(_mono(frame), frame.sample_rate, now):
                self._analyse(
                    x, frame.sample_rate, end_s, listening=listening, paused=paused, gate=gate
                )
        except Exception as exc:
            self._fail(exc)

    def _analyse(
        self,
        x: npt.NDArray[np.float32],
        rate_hz: int,
        end_s: float,
        *,
        listening: bool,
        paused: bool,
        gate: EchoGate | None,
    ) -> None:
        """One analysis frame ending at stream time `end_s` (`gate`: the echo gate when the
        playout is tapped; `paused`: the agent is paused and the frame only times the rest
        of the utterance). A decision is stamped with its end, up to one input frame before
        the arbiter acts on it."""
        d = self._decider
        assert d is not None  # _on_frame returns early without one
        verdict: EchoVerdict | None = None
        if gate is not None:
            # fed all along the agent's speech, so the gate's window is full at an onset
            verdict = gate.push_input(x, rate_hz, end_s - len(x) / rate_hz, classify=listening)
        frame = self._front.analyse(x, rate_hz, end_s)
        if listening or paused:
            # the echo test compares the raw input with the agent's voice: a steady echo the
            # noise gate took for the room's floor is still the agent's echo, not silence
            echo = verdict is not None and verdict.is_echo
            features = frame.raw_features if echo else frame.features
            self._handle(d.push_audio_features(features, end_s, verdict))
        self._follow_own_speech(frame.edge, end_s)
        self._update_yield(end_s)
        if listening:
            for sc in frame.early:
                self._handle(
                    d.push_onset_probability(
                        sc.probability, sc.horizon_s, end_s, voiced_s=sc.voiced_s
                    )
                )

    def _follow_own_speech(self, edge: tuple[str, float] | None, end_s: float) -> None:
        """The user's speech ends and starts again where the own speech detector (fed the
        noise-gated frames) says, whichever of it and the session's VAD comes first. A VAD
        can report a noisy room (babble, traffic) as one run of speech for as long as the
        noise lasts: an overlap whose speech never ends is never settled, and no later
        start would open the next overlap, so the user's next words would be dropped as
        the settled backchannel's. This is also how the benchmark's replay places the
        user's speech."""
        d = self._decider
        front = self._front
        assert d is not None
        if not front.detects_speech:
            return
        if d.state not in (ArbiterState.LISTENING, ArbiterState.PAUSED):
            if (
                edge is not None
                and edge[0] == "start"
                and self._vad_speaking
                and d.agent_speaking
                and d.state is not ArbiterState.INTERRUPTION
                and not self._aec_warming_up()
            ):
                # a new run of speech inside one run of the VAD's
                self._user_started(edge[1], end_s)
            return
        if edge is not None and edge[0] == "start":
            self._unheard_since_s = None
            if not d.user_speaking:
                self._user_started(edge[1], end_s)
        elif edge is not None and edge[0] == "end":
            if d.user_speaking:
                self._handle(d.on_user_speech_end(end_s))
        elif (
            self._unheard_since_s is not None
            and d.user_speaking
            and not front.speaking
            and end_s - self._unheard_since_s >= UNHEARD_END_S - 1e-9
        ):
            # the VAD reported speech the own detector never heard over the room's noise
            self._unheard_since_s = None
            self._handle(d.on_user_speech_end(end_s))

    def _update_yield(self, now_s: float) -> None:
        """Duck the agent while the decider wants it (`ArbiterDecider.duck_wanted`), bring
        it back when not."""
        d = self._decider
        tap = self._tap
        if d is None or tap is None or self.duck_db is None or self._failed:
            return
        change = self._duck.step(d, now_s)
        if change is None:
            return
        if change == "duck":
            self.metrics.ducks += 1
            gain = -self.duck_db
            heard = tap.set_gain_db(gain, DUCK_RAMP_S) + duck_audible_after_s(self.duck_db)
        else:
            gain = 0.0
            heard = tap.set_gain_db(gain, RESTORE_RAMP_S)
        logger.debug("agent voice %s", "ducked" if change == "duck" else "restored")
        self._emit(
            YIELD_SESSION_EVENT, YieldEvent(change, now_s, heard, gain), self._yield_listeners
        )

    # ------------------------------------------------------------------ echo reference

    def _install_tap(self) -> None:
        s = self._session
        if s is None or (
            self._gate is None and self.duck_db is None and self.output_lead_s is None
        ):
            return
        out = s.output.audio
        if out is None or isinstance(out, PlayoutTap):
            return
        tap = PlayoutTap(_TapOwner(self), next_in_chain=out, lead_s=self.output_lead_s)
        self._tap = tap
        s.output.audio = tap

    def _on_reference(self, frame: rtc.AudioFrame, play_at_s: float) -> None:
        gate = self._gate
        if gate is None or self._failed or frame.samples_per_channel == 0:
            return
        try:
            gate.push_reference(_mono(frame), frame.sample_rate, play_at_s)
        except Exception as exc:
            self._fail(exc)

    def _on_reference_cleared(self, at_s: float) -> None:
        gate = self._gate
        if gate is None or self._failed:
            return
        try:
            gate.clear_reference(at_s)
        except Exception as exc:
            self._fail(exc)

    def _on_stt_event(self, ev: stt.SpeechEvent) -> None:
        d = self._decider
        if d is None or self._failed or ev.type not in _TRANSCRIPT_EVENTS:
            self._emit_out(ev)
            return
        try:
            text = ev.alternatives[0].text if ev.alternatives else ""
            now = self._now()
            if d.state in (ArbiterState.LISTENING, ArbiterState.PAUSED):
                final = ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT
                self._held.append(ev)
                probe = self.continuation_probe
                going_on = probe is not None and probe()
                decided = d.on_transcript(text, final, now, continues_turn=going_on)
                if d.last_transcript_echo:
                    self._held.remove(ev)
                    self.metrics.dropped_transcripts += 1
                    self._echo_text_until_s = now + ECHO_TRANSCRIPT_TAIL_S
                self._handle(decided)
            elif now < self._echo_text_until_s and d.is_agent_echo_text(text):
                self.metrics.dropped_transcripts += 1  # the late transcript of an echo
            elif d.state is ArbiterState.BACKCHANNEL:
                self.metrics.dropped_transcripts += 1
            else:
                self._emit_out(ev)
        except Exception as exc:
            self._fail(exc)

    # ------------------------------------------------------------------ acting

    def _handle(self, ev: OverlapEvent | None) -> None:
        d = self._decider
        if ev is None and d is not None and d.state is ArbiterState.PAUSED:
            if self._paused_output is None:
                ev = self._pause()
        if ev is None:
            return
        m = self.metrics
        m.decision_latencies_s.append(ev.latency_s)
        logger.debug(
            "overlap decided",
            extra={
                "label": ev.label,
                "probability": round(ev.probability, 3),
                "cues": ev.cues,
                "latency_s": round(ev.latency_s, 3),
                "word_count": ev.word_count,
            },
        )
        match ev.label:
            case "interruption":
                m.interruptions += 1
                self._interrupt()
                # the clear drops the ducked audio; the next speech starts at full level
                self._duck.ducked = False
                # the output stays paused after the clear (LiveKit's outputs keep a pause
                # across segments); the framework lifts a stale pause before it forwards the
                # next speech's audio (voice/agent_activity.py ~5052 in 1.8.9)
                self._paused_output = None
                self._release()
            case "backchannel":
                m.backchannels += 1
                m.dropped_transcripts += len(self._held)
                self._held.clear()
                self._resume()
                self._update_yield(ev.decided_at_s)
        self._emit(SESSION_EVENT, ev, self._listeners)

    def _emit(self, name: str, ev: Any, listeners: Sequence[Callable[[Any], None]]) -> None:
        """Emit `ev` on the session as `name` and hand it to each of `listeners`."""
        if self._session is not None:
            self._session.emit(name, ev)  # type: ignore[arg-type]
        for cb in listeners:
            # a listener's bug must not turn the arbiter off for the rest of the session
            try:
                cb(ev)
            except Exception:
                logger.exception("arbiter %s listener %r raised; ignored", name, cb)

    def _pause(self) -> OverlapEvent | None:
        """Pause the agent's audio for the decider's pause; when it cannot be paused (no
        pausable output, uninterruptible speech) the pause becomes the interruption now
        (returned)."""
        d = self._decider
        s = self._session
        assert d is not None
        out = s.output.audio if s is not None else None
        speech = s.current_speech if s is not None else None
        uninterruptible = speech is not None and not speech.allow_interruptions
        if out is None or not out.can_pause or uninterruptible:
            return d.confirm_pause(self._now())
        out.pause()
        self._paused_output = out
        self.metrics.pauses += 1
        logger.debug("agent paused before the words settled the overlap; waiting for them")
        # frames normally settle the pause; this settles it if the input stops
        asyncio.get_running_loop().call_later(PAUSE_LIMIT_S + 0.1, self._pause_watchdog)
        return None

    def _pause_watchdog(self) -> None:
        d = self._decider
        if d is None or self._failed or d.state is not ArbiterState.PAUSED:
            return
        try:
            self._handle(d.tick(self._now()))
        except Exception as exc:
            self._fail(exc)

    def _resume(self) -> None:
        out, self._paused_output = self._paused_output, None
        if out is None:
            return
        out.resume()
        self.metrics.resumed += 1
        logger.debug("agent resumed: the words were an acknowledgement")

    def _interrupt(self) -> None:
        s = self._session
        if s is None:
            return
        try:
            s.interrupt()
        except RuntimeError:
            # uninterruptible speech (e.g. a tool reply): the framework keeps it playing
            self.metrics.uninterruptible += 1
            logger.debug("agent speech is uninterruptible; interruption not applied")

    def _emit_out(self, ev: stt.SpeechEvent) -> None:
        if self._out is not None:
            self._out.put_nowait(ev)

    def _release(self) -> None:
        held, self._held = self._held, []
        for ev in held:
            self._emit_out(ev)

    def _aec_warming_up(self) -> bool:
        s = self._session
        # no public accessor in 1.8.9; same test as agent_activity._interrupt_by_audio_activity
        remaining = getattr(s, "_aec_warmup_remaining", 0.0) or 0.0
        return bool(remaining > 0 and getattr(s, "_aec_warmup_timer", None) is not None)

    # ------------------------------------------------------------------ fallback

    def _fail(self, exc: BaseException) -> None:
        if self._failed:
            return
        self._failed = True
        self.metrics.fallbacks += 1
        self._log_fallback(f"{type(exc).__name__}: {exc}")
        self._restore_framework_barge_in()
        if self._paused_output is not None:
            # a pause the arbiter can no longer settle: the user was taking the floor
            self._interrupt()
            self._paused_output = None
        self._release()

    def _log_fallback(self, reason: str) -> None:
        if not self._fail_logged:
            self._fail_logged = True
            logger.warning(
                "interruption arbiter disabled, falling back to the framework's VAD barge-in: %s",
                reason,
            )

    def _restore_framework_barge_in(self) -> None:
        s = self._session
        if s is None:
            return
        # the activity reads these options live on every VAD/STT event
        opts: dict[str, Any] = s.options.interruption  # type: ignore[assignment]
        opts.update(FRAMEWORK_INTERRUPTION)


def _mono(frame: rtc.AudioFrame) -> npt.NDArray[np.float32]:
    x = np.frombuffer(frame.data, dtype=np.int16).astype(np.float32) / 32768.0
    if frame.num_channels > 1:
        x = x.reshape(-1, frame.num_channels).mean(axis=1)
    return x


class _TapOwner:
    """The arbiter as the playout tap sees it (`playout.PlayoutOwner`)."""

    def __init__(self, arbiter: InterruptionArbiter) -> None:
        self._arbiter = arbiter

    def now(self) -> float:
        return self._arbiter._now()

    def reference(self, frame: rtc.AudioFrame, play_at_s: float) -> None:
        self._arbiter._on_reference(frame, play_at_s)

    def reference_cleared(self, at_s: float) -> None:
        self._arbiter._on_reference_cleared(at_s)

    def fail(self, exc: BaseException) -> None:
        self._arbiter._fail(exc)
