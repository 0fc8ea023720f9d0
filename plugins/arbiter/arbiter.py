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
- On any failure (exception, an overlap left undecided for `UNDECIDED_LIMIT_S`, missing
  model files) the arbiter restores the framework's VAD barge-in options on the live
  session, releases held events, logs once and steps aside.

Each decided overlap emits one `OverlapEvent` on the session as "arbiter_overlap" and on
the arbiter as "overlap", logged at DEBUG and counted in `metrics`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import Agent, AgentSession, stt
from livekit.agents.voice.events import AgentStateChangedEvent, UserStateChangedEvent

from .log import logger
from .model import (
    ArbiterDecider,
    ArbiterParams,
    ArbiterState,
    ModelFileError,
    OverlapEvent,
    TextModel,
    frame_features,
    load_params,
)

__all__ = ["ArbiterMetrics", "InterruptionArbiter", "SESSION_EVENT", "UNDECIDED_LIMIT_S"]

SESSION_EVENT = "arbiter_overlap"
"""Event name under which each `OverlapEvent` is emitted on the session."""
UNDECIDED_LIMIT_S = 5.0
"""An overlap still undecided this long after its onset means the arbiter is stuck: it
falls back to the framework's barge-in, seconds."""
DISABLED_MIN_DURATION_S = 1.0e6
"""`min_duration` that keeps the framework's VAD barge-in from ever firing, seconds."""
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


@dataclass
class ArbiterMetrics:
    """Counters of one arbiter (all sessions it was attached to)."""

    overlaps: int = 0
    backchannels: int = 0
    interruptions: int = 0
    uninterruptible: int = 0
    """Interruptions the agent's current speech refused (tool replies)."""
    dropped_transcripts: int = 0
    """STT events of backchannels kept away from the user turn."""
    fallbacks: int = 0
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
    ) -> None:
        if not 0.5 <= undecided_limit_s <= 60.0:
            raise ValueError(f"undecided_limit_s must be in [0.5, 60] s, got {undecided_limit_s}")
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

    @classmethod
    def load(cls, *, params: ArbiterParams | None = None) -> InterruptionArbiter:
        """Load the shipped text model and operating point (blocking, ~10 ms). When the files
        are missing or broken the arbiter is returned disabled: the session keeps the
        framework's VAD barge-in, and the problem is logged once."""
        try:
            model = TextModel.load()
            chosen = params or load_params()
        except ModelFileError as exc:
            arb = cls(model=None)
            arb._log_fallback(f"model unavailable: {exc}")
            return arb
        return cls(model=model, params=chosen)

    # ------------------------------------------------------------------ public API

    @property
    def active(self) -> bool:
        """False once the arbiter fell back to the framework's barge-in."""
        return not self._failed

    @property
    def state(self) -> ArbiterState:
        """The decider's state (IDLE when disabled)."""
        return self._decider.state if self._decider is not None else ArbiterState.IDLE

    def on(self, event: str, callback: Callable[[OverlapEvent], None]) -> None:
        """Register `callback` for "overlap" (one `OverlapEvent` per decided overlap)."""
        if event != "overlap":
            raise ValueError(f"unknown arbiter event {event!r}: the only event is 'overlap'")
        self._listeners.append(callback)

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
        """Install the STT and transcription taps on `agent` (call before
        `session.start(agent)`); returns the same agent."""
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
        """Follow `session`'s agent and user states; with `agent`, also `wrap_agent` it
        (then call before `session.start`)."""
        if agent is not None:
            self.wrap_agent(agent)
        self._session = session
        session.on("agent_state_changed", self._on_agent_state)
        session.on("user_state_changed", self._on_user_state)
        if self._failed:
            self._restore_framework_barge_in()

    # ------------------------------------------------------------------ event handlers

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _on_agent_state(self, ev: AgentStateChangedEvent) -> None:
        if self._decider is None or self._failed:
            return
        try:
            if ev.new_state == "speaking":
                self._decider.on_agent_speech(self._agent_text, self._now())
            elif ev.old_state == "speaking":
                self._decider.on_agent_speech_end(self._now())
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
                if self._aec_warming_up():
                    return  # the framework ignores barge-in while its echo canceller warms up
                self._handle(d.on_user_speech_start(now))
                if d.state is ArbiterState.LISTENING:
                    self.metrics.overlaps += 1
                    asyncio.get_running_loop().call_later(
                        self.undecided_limit_s, self._watchdog, d.last_event
                    )
            elif ev.old_state == "speaking":
                self._handle(d.on_user_speech_end(now))
        except Exception as exc:
            self._fail(exc)

    def _watchdog(self, last: OverlapEvent | None) -> None:
        d = self._decider
        if d is not None and not self._failed and d.state is ArbiterState.LISTENING:
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
        if d is None or self._failed or d.state is not ArbiterState.LISTENING:
            return
        if frame.samples_per_channel == 0:
            return  # an empty frame carries no evidence (and must not disable the arbiter)
        try:
            x = np.frombuffer(frame.data, dtype=np.int16).astype(np.float32) / 32768.0
            if frame.num_channels > 1:
                x = x.reshape(-1, frame.num_channels).mean(axis=1)
            self._handle(d.push_audio_features(frame_features(x, frame.sample_rate), self._now()))
        except Exception as exc:
            self._fail(exc)

    def _on_stt_event(self, ev: stt.SpeechEvent) -> None:
        d = self._decider
        if d is None or self._failed or ev.type not in _TRANSCRIPT_EVENTS:
            self._emit_out(ev)
            return
        try:
            if d.state is ArbiterState.LISTENING:
                text = ev.alternatives[0].text if ev.alternatives else ""
                final = ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT
                self._held.append(ev)
                self._handle(d.on_transcript(text, final, self._now()))
            elif d.state is ArbiterState.BACKCHANNEL:
                self.metrics.dropped_transcripts += 1
            else:
                self._emit_out(ev)
        except Exception as exc:
            self._fail(exc)

    # ------------------------------------------------------------------ acting

    def _handle(self, ev: OverlapEvent | None) -> None:
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
                self._release()
            case "backchannel":
                m.backchannels += 1
                m.dropped_transcripts += len(self._held)
                self._held.clear()
        if self._session is not None:
            self._session.emit(SESSION_EVENT, ev)  # type: ignore[arg-type]
        for cb in self._listeners:
            cb(ev)

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
