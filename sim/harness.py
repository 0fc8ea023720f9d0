"""A real AgentSession driven in-process: scheduled user audio in, clocked player out.

`SimHarness.start(...)` builds the session for a named stack with our I/O (the player is
wrapped in the framework's TranscriptSynchronizer so an interrupted assistant message is
stored cut to what was heard), and a `Recorder` timestamps everything on one clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from livekit.agents import AgentSession, llm
from livekit.agents import stt as lk_stt
from livekit.agents import tts as lk_tts
from livekit.agents import vad as lk_vad
from livekit.agents.voice.transcription.synchronizer import TranscriptSynchronizer
from livekit.plugins.turntaking import YIELD_SESSION_EVENT, TurnTakingModels, YieldEvent

from sim.audio import Samples
from sim.audio_io import (
    ClockAudioOutput,
    OutputEvent,
    OutputEventKind,
    RecordingTextOutput,
    ScheduledAudioInput,
    ScheduledClip,
)
from sim.clock import SimClock
from sim.llm import LLMCall, ScriptedLLM
from sim.log import logger
from sim.stacks import StackSetup, configure_stack

DEFAULT_INSTRUCTIONS = "You are a helpful voice assistant. Keep replies short."


class EventKind(Enum):
    """Kinds of timeline events."""

    USER_SPEECH_START = "user speech start"
    USER_SPEECH_END = "user speech end"
    USER_STATE = "user state"
    AGENT_STATE = "agent state"
    AUDIO_STARTED = "agent audio started"
    AUDIO_PAUSED = "agent audio paused"
    AUDIO_RESUMED = "agent audio resumed"
    AUDIO_CLEARED = "agent audio cleared (interrupt)"
    AUDIO_FINISHED = "agent audio finished"
    INTERIM = "transcript interim"
    FINAL = "transcript final"
    USER_TURN = "user turn committed"
    ASSISTANT_MESSAGE = "assistant message stored"
    FALSE_INTERRUPTION = "agent false interruption"
    AUDIO_DUCKED = "agent voice ducked"
    AUDIO_RESTORED = "agent voice restored"
    LLM_CALL = "LLM called"
    DECISION = "decision"


_OUTPUT_KINDS = {
    OutputEventKind.STARTED: EventKind.AUDIO_STARTED,
    OutputEventKind.PAUSED: EventKind.AUDIO_PAUSED,
    OutputEventKind.RESUMED: EventKind.AUDIO_RESUMED,
    OutputEventKind.CLEARED: EventKind.AUDIO_CLEARED,
    OutputEventKind.FINISHED: EventKind.AUDIO_FINISHED,
}
STOP_KINDS = (EventKind.AUDIO_PAUSED, EventKind.AUDIO_CLEARED)


@dataclass(frozen=True)
class TimelineEvent:
    """Something that happened, on the harness clock."""

    at_s: float
    """Clock time, seconds since the harness started."""
    kind: EventKind
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Recorder:
    """Collects timeline events from the session, the I/O and the LLM on one clock."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.events: list[TimelineEvent] = []

    def add(
        self, kind: EventKind, detail: str = "", *, at_s: float | None = None, **data: Any
    ) -> TimelineEvent:
        """Record an event now (or at `at_s`)."""
        ev = TimelineEvent(self.clock.now() if at_s is None else at_s, kind, detail, data)
        self.events.append(ev)
        logger.debug("%.3f %s %s", ev.at_s, kind.value, detail)
        return ev

    def sorted(self) -> list[TimelineEvent]:
        """Events in time order."""
        return sorted(self.events, key=lambda e: e.at_s)

    def of(self, *kinds: EventKind) -> list[TimelineEvent]:
        """Events of these kinds, in time order."""
        return [e for e in self.sorted() if e.kind in kinds]

    def first(self, *kinds: EventKind, after_s: float = float("-inf")) -> TimelineEvent | None:
        """First event of these kinds at or after `after_s`."""
        return next((e for e in self.of(*kinds) if e.at_s >= after_s), None)

    def attach_session(self, session: AgentSession[Any]) -> None:
        """Subscribe to the session's public events."""

        def on_user_state(ev: Any) -> None:
            self.add(EventKind.USER_STATE, ev.new_state)

        def on_agent_state(ev: Any) -> None:
            self.add(EventKind.AGENT_STATE, ev.new_state)

        def on_transcribed(ev: Any) -> None:
            kind = EventKind.FINAL if ev.is_final else EventKind.INTERIM
            self.add(kind, ev.transcript)

        def on_item(ev: Any) -> None:
            item = ev.item
            if not isinstance(item, llm.ChatMessage):
                return
            text = item.text_content or ""
            if item.role == "user":
                self.add(EventKind.USER_TURN, text)
            elif item.role == "assistant":
                self.add(
                    EventKind.ASSISTANT_MESSAGE,
                    text,
                    interrupted=bool(item.interrupted),
                )

        def on_false_interruption(ev: Any) -> None:
            self.add(EventKind.FALSE_INTERRUPTION, f"resumed={ev.resumed}", resumed=ev.resumed)

        session.on("user_state_changed", on_user_state)
        session.on("agent_state_changed", on_agent_state)
        session.on("user_input_transcribed", on_transcribed)
        session.on("conversation_item_added", on_item)
        session.on("agent_false_interruption", on_false_interruption)

        def on_yield(ev: YieldEvent) -> None:
            kind = EventKind.AUDIO_DUCKED if ev.kind == "duck" else EventKind.AUDIO_RESTORED
            # the arbiter stamps the loop's time; this recorder counts from its own zero
            shift = self.clock.now() - self.clock.loop.time()
            heard = ev.heard_at_s + shift
            self.add(
                kind,
                f"{ev.gain_db:+.0f} dB, heard at {heard:.3f} s",
                at_s=ev.at_s + shift,
                heard_at_s=heard,
                gain_db=ev.gain_db,
            )

        session.on(YIELD_SESSION_EVENT, on_yield)  # type: ignore[arg-type]

    def on_output_event(self, ev: OutputEvent) -> None:
        """Feed from `ClockAudioOutput.on_event`."""
        self.add(
            _OUTPUT_KINDS[ev.kind],
            f"segment {ev.segment} at {ev.position_s:.2f} s",
            at_s=ev.at_s,
            position_s=ev.position_s,
            segment=ev.segment,
            heard_at_s=ev.heard_at_s,
        )

    # --- derived figures -------------------------------------------------------------

    def agent_audio_intervals(self) -> list[tuple[float, float]]:
        """(start, end) clock spans during which agent audio was playing."""
        spans: list[tuple[float, float]] = []
        start: float | None = None
        for ev in self.of(*_OUTPUT_KINDS.values()):
            if ev.kind in (EventKind.AUDIO_STARTED, EventKind.AUDIO_RESUMED):
                start = ev.at_s if start is None else start
            elif start is not None:
                spans.append((start, ev.at_s))
                start = None
        if start is not None:
            spans.append((start, self.clock.now()))
        return spans

    def agent_playing_at(self, t_s: float) -> bool:
        """Whether agent audio was playing at clock time `t_s`."""
        return any(a <= t_s < b for a, b in self.agent_audio_intervals())

    def stop_latency_s(self, onset_s: float) -> float | None:
        """Onset -> first pause/clear of the agent's audio after it (None if none)."""
        ev = self.first(*STOP_KINDS, after_s=onset_s)
        return None if ev is None else ev.at_s - onset_s

    def reply_latency_s(self, speech_end_s: float) -> float | None:
        """End of user speech -> next agent audio start (None if none)."""
        ev = self.first(EventKind.AUDIO_STARTED, after_s=speech_end_s)
        return None if ev is None else ev.at_s - speech_end_s


@dataclass
class Conversation:
    """What a harness run produced, for assertions."""

    events: list[TimelineEvent]
    """Everything the recorder saw, in time order."""
    clips: list[tuple[str, float, float]]
    """(label, start, end) of the user's clips, clock seconds."""
    history: list[dict[str, Any]]
    """User and assistant chat messages at the end: role, text, interrupted."""
    llm_user_texts: list[str | None]
    """The last user message of each LLM request."""


@dataclass
class SimHarness:
    """A running session with its simulated I/O; build with `SimHarness.start`."""

    session: AgentSession[Any]
    stack: StackSetup
    clock: SimClock
    audio_in: ScheduledAudioInput
    audio_out: ClockAudioOutput
    text_out: RecordingTextOutput
    recorder: Recorder
    llm: ScriptedLLM
    tts: lk_tts.TTS[Any]
    synchronizer: TranscriptSynchronizer

    @staticmethod
    async def start(
        *,
        stack: str | StackSetup,
        stt: lk_stt.STT[Any],
        vad: lk_vad.VAD,
        llm: ScriptedLLM,
        tts: lk_tts.TTS[Any],
        instructions: str = DEFAULT_INSTRUCTIONS,
        input_rate_hz: int = 16_000,
        clock: SimClock | None = None,
        session_kwargs: dict[str, Any] | None = None,
        models: TurnTakingModels | None = None,
    ) -> SimHarness:
        """Build and start a session for `stack` (a name, configured with `models`, or a
        ready setup) with the given models (`vad` is replaced by the stack's own when it
        needs a differently tuned one).

        The AEC warm-up is off (`aec_warmup_duration=None`): the simulated microphone hears
        no echo of the agent. `session_kwargs` override other AgentSession arguments.
        """
        setup = configure_stack(stack, models) if isinstance(stack, str) else stack
        kwargs: dict[str, Any] = {
            "stt": stt,
            "vad": setup.vad(vad),
            "llm": llm,
            "tts": tts,
            "turn_handling": setup.turn_handling,
            "aec_warmup_duration": None,
            "user_away_timeout": None,
        }
        kwargs.update(session_kwargs or {})
        session: AgentSession[Any] = AgentSession(**kwargs)
        h = SimHarness.bind(
            session, stack=setup, llm=llm, tts=tts, clock=clock, input_rate_hz=input_rate_hz
        )
        if setup.install is not None:

            def note(detail: str, data: dict[str, Any]) -> None:
                h.recorder.add(EventKind.DECISION, detail, **data)

            setup.install(session, note)
        await session.start(setup.agent_factory(instructions))
        return h

    @staticmethod
    def bind(
        session: AgentSession[Any],
        *,
        stack: StackSetup,
        llm: ScriptedLLM,
        tts: lk_tts.TTS[Any],
        clock: SimClock | None = None,
        input_rate_hz: int = 16_000,
    ) -> SimHarness:
        """Give a built, not yet started `session` the simulated microphone and player (as
        a room's I/O would be set during `start`), with a recorder of what happens on
        `clock`; `stack` is what the session was built with (for reports)."""
        clock = clock or SimClock()
        recorder = Recorder(clock)
        llm.now = clock.now

        def on_llm_call(call: LLMCall) -> None:
            recorder.add(EventKind.LLM_CALL, f'user: "{call.last_user_text or ""}"', at_s=call.at_s)

        llm.on_call = on_llm_call
        audio_in = ScheduledAudioInput(clock=clock, sample_rate=input_rate_hz)
        audio_out = ClockAudioOutput(clock=clock)
        audio_out.on_event = recorder.on_output_event
        text_out = RecordingTextOutput()
        sync = TranscriptSynchronizer(next_in_chain_audio=audio_out, next_in_chain_text=text_out)
        session.input.audio = audio_in
        session.output.audio = sync.audio_output
        session.output.transcription = sync.text_output
        recorder.attach_session(session)
        return SimHarness(
            session, stack, clock, audio_in, audio_out, text_out, recorder, llm, tts, sync
        )

    def conversation(self) -> Conversation:
        """What happened so far: events, user clips, chat history and LLM requests."""
        return Conversation(
            events=self.recorder.sorted(),
            clips=[(c.label, c.start_s, c.end_s) for c in self.audio_in.clips],
            history=[
                {"role": m.role, "text": m.text_content or "", "interrupted": bool(m.interrupted)}
                for m in self.session.history.messages()
                if m.role in ("user", "assistant")
            ],
            llm_user_texts=[c.last_user_text for c in self.llm.calls],
        )

    def schedule_user(
        self,
        samples: Samples,
        sample_rate: int,
        at_s: float,
        *,
        label: str,
        speech_offset_s: float = 0.0,
        speech_end_offset_s: float | None = None,
    ) -> ScheduledClip:
        """Play a user clip from clock `at_s`; the user's speech starts `speech_offset_s`
        into it and ends `speech_end_offset_s` into it (default: the clip's end)."""
        clip = self.audio_in.schedule(samples, sample_rate, at_s, label=label)
        # a late schedule drops the clip's head: speech times move with it
        shift = clip.start_s - at_s
        onset = at_s + speech_offset_s
        end = clip.end_s if speech_end_offset_s is None else at_s + speech_end_offset_s
        self.recorder.add(EventKind.USER_SPEECH_START, label, at_s=max(onset, clip.start_s))
        self.recorder.add(EventKind.USER_SPEECH_END, label, at_s=end)
        if shift > 0:
            logger.debug("clip %s scheduled %.3f s late", label, shift)
        return clip

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        *,
        timeout_s: float,
        poll_s: float = 0.02,
    ) -> bool:
        """Poll `predicate` on the clock until true or `timeout_s` passes; returns it."""
        deadline = self.clock.now() + timeout_s
        while not predicate():
            if self.clock.now() >= deadline:
                return False
            await asyncio.sleep(poll_s)
        return True

    async def wait_idle(self, *, quiet_s: float, timeout_s: float) -> bool:
        """Wait until nothing was recorded for `quiet_s` and no agent audio plays."""

        def idle() -> bool:
            last = max((e.at_s for e in self.recorder.events), default=0.0)
            now = self.clock.now()
            return (
                now - last >= quiet_s
                and not self.audio_out.playing
                and self.audio_in.next_frame_start_s
                >= max((c.end_s for c in self.audio_in.clips), default=0.0)
            )

        return await self.wait_for(idle, timeout_s=timeout_s)

    async def aclose(self) -> None:
        """Stop the session and the input."""
        self.audio_in.close()
        await self.session.aclose()
        await self.synchronizer.aclose()
