"""LiveKit-facing adaptive turn detector (streaming turn-detector protocol of 1.8.9).

How it sits in the framework (`voice/audio_recognition.py` ~1480-1500 and ~1600-1830): after
0.2 s of VAD silence the framework calls `stream.predict()`; at VAD end of speech it awaits
that future (up to `prediction_timeout`), then sleeps `endpointing_delay - (now - last
speaking time)` and commits; `endpointing_delay` is `min_delay`, or `max_delay` when the
probability is below `unlikely_threshold`. Speech cancels the future and the pending commit.

So the per-pause delay goes through the framework's own gates: with `min_delay` = our floor
and `max_delay` = our ceiling (`endpointing_options()`), the stream resolves the future
with probability 1.0 at `pause start + chosen delay` (the remaining sleep is then <= 0 and
the framework commits at once), re-planning when a transcript arrives; when the chosen delay
is the ceiling it answers 0.0 at once and the framework waits `max_delay` itself. The VAD
must report end of speech before the shortest delay: use `silero.VAD.load(
min_silence_duration=0.25)` (the framework's lower bound for a streaming detector).
If the models cannot be loaded, predictions resolve after `fallback_delay_s`, i.e. fixed
endpointing, and this is logged once.

The framework commits only the turn's final transcripts (`_bounce_eou_task` reads
`_audio_transcript`): a commit planned before the recogniser finalised the last speech would
send the earlier words alone and make the late ones a second turn. So while no final has
arrived since the pause began, the future stays open (a transcript re-plans it at once) for
at most until `stt_wait_s` after the pause began, never before the planned commit
(`AdaptiveEndpointer.stt_hold_until_s`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Literal

from livekit import rtc
from livekit.agents.language import LanguageCode
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from livekit.agents.voice.turn import EndpointingOptions, TurnDetectionEvent

from ..log import logger
from .audio import AudioEndOfTurnModel, AudioWindow, LocalEotModel
from .continuation import DEFAULT_QUICK_STOP_S, ContinuationGuard, GuardAction
from .model import (
    AUDIO_AGREE_PROBABILITY,
    DEFAULT_CEILING_S,
    DEFAULT_FLOOR_S,
    DEFAULT_STT_WAIT_S,
    DEFAULT_THRESHOLD,
    MAX_STT_WAIT_S,
    MIN_PAUSE_S,
    AdaptiveEndpointer,
    CompletenessModel,
    EndpointDecision,
    EndpointState,
    ModelFileError,
    PausePrior,
    SpeakerPauseModel,
)

__all__ = ["AdaptiveTurnDetector", "AdaptiveTurnDetectorStream"]

FRAMEWORK_QUERY_SILENCE_S = MIN_PAUSE_S
"""Silence after which the framework asks for a prediction (`MIN_SILENCE_DURATION_MS`)."""
PREDICTION_MARGIN_S = 0.5
"""Added to the ceiling and `stt_wait_s` for `prediction_timeout`, so the framework never
times out on us."""
FALLBACK_DELAY_S = 0.5
"""Fixed delay used when the models are unavailable (the framework's default min_delay)."""
VAD_MIN_SILENCE_S = 0.25
"""VAD `min_silence_duration` this detector is meant to run with (framework lower bound)."""

EventName = Literal["decision"]


class AdaptiveTurnDetector(rtc.EventEmitter[EventName]):
    """Streaming turn detector choosing a delay per pause (pass as
    `turn_handling={"turn_detection": det, "endpointing": det.endpointing_options()}`).

    Emits "decision" with an `EndpointDecision` each time a pause's delay is (re)planned.
    Call `prewarm()` before the session, and `attach(session)` after constructing it so the
    detector hears the user's transcripts and the agent's speaking state.

    `threshold` in (0, 1); `floor_s` <= `fallback_delay_s` <= `ceiling_s` <= 3 s;
    `stt_wait_s` (0-5 s, 0 = off): longest a commit waits, from the pause's start, for the
    final transcript of the speech that ended the pause (never less than its plan).
    `merge_continuations`: when the user goes on right after a commit, withdraw the reply
    and make their words part of the same turn (`continuation.ContinuationGuard`;
    `quick_stop_s` in [0, 2] s: how long the reply may have been audible for that).
    `audio_model`: True asks LiveKit's turn-detector-v1-mini (in-process, `audio.
    LocalEotModel`) once per pause, at the framework's 0.2 s query, off the event loop;
    when it and the words agree the turn is over, the commit comes at 0.25 s
    (`model.agreed_delay_s`); it never delays a commit. False: words and pauses alone; or
    any `audio.AudioEndOfTurnModel`."""

    def __init__(
        self,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        floor_s: float = DEFAULT_FLOOR_S,
        ceiling_s: float = DEFAULT_CEILING_S,
        fallback_delay_s: float = FALLBACK_DELAY_S,
        stt_wait_s: float = DEFAULT_STT_WAIT_S,
        merge_continuations: bool = True,
        quick_stop_s: float = DEFAULT_QUICK_STOP_S,
        audio_model: AudioEndOfTurnModel | bool = True,
        completeness: CompletenessModel | None = None,
        prior: PausePrior | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        if not 0.0 <= floor_s <= ceiling_s <= 3.0:
            raise ValueError(f"need 0 <= floor_s <= ceiling_s <= 3.0 s, got {floor_s}, {ceiling_s}")
        if not floor_s <= fallback_delay_s <= ceiling_s:
            raise ValueError(
                f"fallback_delay_s must be in [floor_s, ceiling_s] = [{floor_s}, {ceiling_s}]"
            )
        if not 0.0 <= stt_wait_s <= MAX_STT_WAIT_S:
            raise ValueError(f"stt_wait_s must be in [0, {MAX_STT_WAIT_S}] s, got {stt_wait_s}")
        if audio_model is True:
            audio: AudioEndOfTurnModel | None = LocalEotModel()
        elif audio_model is False:
            audio = None
        elif callable(getattr(audio_model, "predict", None)):
            audio = audio_model
        else:
            raise TypeError(
                "audio_model must be True, False or an object with predict(pcm) -> float, "
                f"got {audio_model!r}"
            )
        self._audio_model = audio
        self._audio_tasks: set[asyncio.Future[float]] = set()
        self._threshold = threshold
        self._stt_wait_s = stt_wait_s
        self._floor_s = floor_s
        self._ceiling_s = ceiling_s
        self._fallback_delay_s = fallback_delay_s
        self._completeness = completeness
        self._prior = prior
        self._clock = clock
        self._guard: ContinuationGuard | None = (
            ContinuationGuard(quick_stop_s=quick_stop_s) if merge_continuations else None
        )
        self._session: Any = None
        self._committed_pause_s: float | None = None
        """Start of the pause in which the last turn was committed (s, detector clock)."""
        self._merged_agents: set[int] = set()
        self._joined_text: str | None = None
        """Text of the committed turn the next one continues, once joined early."""
        self._joined_ids: set[str] = set()
        """Chat items the early join took out (the committed message, the withdrawn reply)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self.merged_turns = 0
        """User turns joined to the one committed before them (count)."""
        self._endpointer: AdaptiveEndpointer | None = None
        self._failed = False
        self._streams: list[AdaptiveTurnDetectorStream] = []
        self.stt_waits_expired = 0
        """Commits made at the `stt_wait_s` cap, without the last speech's final."""

    # -- framework protocol ------------------------------------------------------------

    @property
    def model(self) -> str:
        return "adaptive-endpointing"

    @property
    def provider(self) -> str:
        return "turntaking"

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> AdaptiveTurnDetectorStream:
        """A stream for one session's audio (the framework opens one per activity)."""
        del conn_options  # local model: no connection
        if self._endpointer is None and not self._failed:
            # on the event loop: the small files only; an audio model not loaded by prewarm()
            # loads on its first call, off the loop (2-3 s the first time in a process)
            self._load_words_models()
        s = AdaptiveTurnDetectorStream(self)
        self._streams.append(s)
        return s

    # -- setup -------------------------------------------------------------------------

    def prewarm(self) -> None:
        """Load the shipped models (small numpy files) and the audio model. On failure of
        the former, logs once and falls back to fixed endpointing at `fallback_delay_s`; of
        the audio model, logs once and decides on words and pauses alone."""
        if isinstance(self._audio_model, LocalEotModel):
            try:
                self._audio_model.load()
            except Exception as exc:
                self._audio_failed(exc)
        self._load_words_models()

    def _load_words_models(self) -> None:
        try:
            completeness = self._completeness or CompletenessModel.load()
            prior = self._prior or PausePrior.load()
        except ModelFileError as exc:
            if not self._failed:
                logger.error("adaptive endpointing unavailable, fixed delay used: %s", exc)
            self._failed = True
            return
        self._endpointer = AdaptiveEndpointer(
            completeness=completeness,
            pauses=SpeakerPauseModel(prior),
            threshold=self._threshold,
            floor_s=self._floor_s,
            ceiling_s=self._ceiling_s,
            audio_agree_probability=AUDIO_AGREE_PROBABILITY if self._audio_model else None,
            stt_wait_s=self._stt_wait_s,
        )

    def _audio_failed(self, exc: BaseException) -> None:
        """The audio model failed: log once, go on with words and pauses alone."""
        if self._audio_model is None:
            return
        self._audio_model = None
        if self._endpointer is not None:
            self._endpointer.audio_agree_probability = None
        logger.warning(
            "audio end-of-turn model unavailable, deciding on words and pauses alone: %s", exc
        )

    @property
    def audio_model(self) -> AudioEndOfTurnModel | None:
        """The audio end-of-turn model asked once per pause (None: off or failed)."""
        return self._audio_model

    def endpointing_options(self) -> EndpointingOptions:
        """The session's endpointing options this detector needs (floor and ceiling)."""
        return {"mode": "fixed", "min_delay": self._floor_s, "max_delay": self._ceiling_s}

    def attach(self, session: Any) -> None:
        """Listen to a session's user transcripts, agent state and agent messages (an
        `AgentSession`); with `merge_continuations`, also to the user's state and every
        agent the session activates (to join a continuation to the turn before it)."""
        self._session = session
        session.on("user_input_transcribed", self._on_transcribed)
        session.on("agent_state_changed", self._on_agent_state)
        session.on("conversation_item_added", self._on_item_added)
        if self._guard is not None:
            session.on("user_state_changed", self._on_user_state)

    @property
    def continuation_guard(self) -> ContinuationGuard | None:
        """The continuation logic (None when `merge_continuations` is off)."""
        return self._guard

    def user_going_on(self) -> bool:
        """Whether the user is going on with the turn just committed (`ContinuationGuard.
        going_on`; False without `merge_continuations`). The interruption arbiter asks it so
        that the rest of their sentence over the reply's first syllables is not taken for a
        backchannel."""
        return self._guard is not None and self._guard.going_on

    @property
    def is_fallback(self) -> bool:
        """True when the models failed to load and a fixed delay is used."""
        return self._failed

    @property
    def endpointer(self) -> AdaptiveEndpointer | None:
        """The pure decision logic (None in fallback)."""
        return self._endpointer

    def now(self) -> float:
        """Current time (s) on the detector's clock (the event loop's by default)."""
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    # -- inputs from the session / the interruption arbiter ------------------------------

    def on_transcript(self, text: str, *, is_final: bool) -> None:
        """A user transcript (interim or final) of the open turn."""
        if self._endpointer is None:
            return
        try:
            self._endpointer.on_transcript(text, self.now(), is_final=is_final)
        except Exception as exc:
            self._model_failed(exc)
            return
        logger.debug("transcript update", extra={"is_final": is_final, "text": text})
        for s in self._streams:
            s._replan()

    def on_backchannel(self) -> None:
        """The user's last speech was a backchannel over the agent: not a turn, not the end
        of a pause (called by the interruption arbiter)."""
        if self._endpointer is not None:
            try:
                self._endpointer.discard_speech()
            except Exception as exc:
                self._model_failed(exc)

    def _on_transcribed(self, ev: Any) -> None:
        text = str(ev.transcript)
        self.on_transcript(text, is_final=bool(ev.is_final))
        if self._guard is not None and text.strip():
            if self._guard.on_user_words(self.now()) is GuardAction.WITHDRAW:
                self._withdraw_reply()

    def _on_user_state(self, ev: Any) -> None:
        if self._guard is None or ev.new_state != "speaking":
            return
        now = self.now()
        self._guard.on_user_speech_start(now)
        start, self._committed_pause_s = self._committed_pause_s, None
        ep = self._endpointer
        if self._guard.resumed_at_s == now and start is not None and ep is not None:
            # the user went on after the commit: that silence was one of their mid-turn
            # pauses, the kind a fast commit never lets the curve learn otherwise
            try:
                ep.pauses.observe(now - start)
            except Exception as exc:
                self._model_failed(exc)

    def _withdraw_reply(self) -> None:
        session = self._session
        if session is None:
            return
        logger.debug("the user went on after the commit: reply withdrawn")
        try:
            session.interrupt()
        except RuntimeError:
            # an uninterruptible reply plays on; the continuation stays a turn of its own
            if self._guard is not None:
                self._guard.take_merge()
            return
        self._join_now()

    def _join_now(self) -> None:
        """Take the committed turn out of the chat and put its words before the framework's
        transcript of the turn now being spoken, so that the turn is committed whole: the
        preemptive reply the framework starts on the user's final transcript then stays
        valid (editing the message in `on_user_turn_completed` would discard it and cost
        the LLM's time to first token). Without the framework's transcript buffer
        (`_audio_transcript`, private in 1.8.9) the join happens at the commit instead."""
        session, guard = self._session, self._guard
        if session is None or guard is None or self._joined_text is not None:
            return
        try:
            agent = session.current_agent
            items = list(agent.chat_ctx.items)
        except RuntimeError:
            return
        committed = committed_turn(items)
        if committed is None:
            guard.take_merge()  # nothing to join, or a turn that ran a tool: never joined
            return
        prev, ids = committed
        rec = getattr(getattr(session, "_activity", None), "_audio_recognition", None)
        pending = getattr(rec, "_audio_transcript", None)
        if rec is None or not isinstance(pending, str):
            return  # joined in on_user_turn_completed
        text = (prev.text_content or "").strip()
        rec._audio_transcript = f"{text} {pending}".strip()
        self._joined_text = text
        self._joined_ids = ids
        self._drop_joined(agent)

    def _drop_joined(self, agent: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._remove(agent, set(self._joined_ids)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _remove(self, agent: Any, ids: set[str]) -> Coroutine[Any, Any, None]:
        """Take the chat items `ids` out of the session history at once; returns the update
        of the agent's context without them, to await or schedule."""
        if self._session is not None:
            history = self._session.history.items
            history[:] = [it for it in history if it.id not in ids]
        ctx = agent.chat_ctx.copy()
        ctx.items[:] = [it for it in ctx.items if it.id not in ids]
        return agent.update_chat_ctx(ctx)  # type: ignore[no-any-return]

    def on_agent_message(self, text: str) -> None:
        """The agent's latest whole message, as heard (a count of digits it asks for ends
        the user's next dictation at that count: `AdaptiveEndpointer.on_agent_message`)."""
        if self._endpointer is None:
            return
        try:
            self._endpointer.on_agent_message(text)
        except Exception as exc:
            self._model_failed(exc)
            return
        logger.debug("agent message", extra={"expected_digits": self._endpointer.expected_digits})
        for s in self._streams:
            s._replan()

    def _on_item_added(self, ev: Any) -> None:
        item = getattr(ev, "item", None)
        kind = getattr(item, "type", None)
        role = getattr(item, "role", None)
        if kind == "agent_handoff" and self._guard is not None and self._session is not None:
            # added once the new agent is current, before it hears the user
            self._wrap_agent(self._session.current_agent)
        if role == "assistant":
            self.on_agent_message(str(getattr(item, "text_content", None) or ""))
            if self._guard is not None:
                if (
                    self._joined_text is not None
                    and item is not None
                    and getattr(item, "interrupted", False)
                ):
                    # the withdrawn reply's fragment, stored after the join
                    self._joined_ids.add(item.id)
                    if self._session is not None:
                        self._drop_joined(self._session.current_agent)
                elif getattr(item, "interrupted", False):
                    self._guard.on_reply_interrupted()
                    if self._guard.merge_pending:
                        self._join_now()
                else:
                    self._guard.on_reply_done()
        elif role == "user" and self._guard is not None:
            self._guard.on_commit(self.now())

    def _on_agent_state(self, ev: Any) -> None:
        if ev.new_state == "speaking" and self._guard is not None:
            self._guard.on_agent_audible(self.now())
        if self._endpointer is not None and ev.new_state == "speaking":
            try:
                self._endpointer.on_agent_speech()
            except Exception as exc:
                self._model_failed(exc)

    def _wrap_agent(self, agent: Any) -> None:
        if id(agent) in self._merged_agents:
            return
        self._merged_agents.add(id(agent))
        orig = agent.on_user_turn_completed

        async def on_user_turn_completed(turn_ctx: Any, new_message: Any) -> None:
            if self._guard is not None and self._guard.take_merge():
                await self._merge(agent, turn_ctx, new_message)
            await orig(turn_ctx, new_message=new_message)

        agent.on_user_turn_completed = on_user_turn_completed

    async def _merge(self, agent: Any, turn_ctx: Any, new_message: Any) -> None:
        joined, self._joined_text = self._joined_text, None
        ids, self._joined_ids = self._joined_ids, set()
        if joined is not None and (new_message.text_content or "").startswith(joined):
            # joined early: the message is whole; drop what is still in the turn's copy
            if any(it.id in ids for it in turn_ctx.items):
                turn_ctx.items[:] = [it for it in turn_ctx.items if it.id not in ids]
            self.merged_turns += 1
            logger.debug("continuation joined to the turn before it")
            return
        removed = join_continuation(turn_ctx, new_message)
        if not removed:
            return
        self.merged_turns += 1
        await self._remove(agent, removed)
        logger.debug("continuation joined to the turn before it")

    def _model_failed(self, exc: Exception) -> None:
        # an exception escaping into the framework would kill its VAD task (no more user
        # states, no barge-in): degrade to the fixed delay for the rest of the process
        if not self._failed:
            logger.error(
                "adaptive endpointing failed, fixed delay %.2f s used from now on: %s: %s",
                self._fallback_delay_s,
                type(exc).__name__,
                exc,
            )
        self._failed = True
        self._endpointer = None

    def _emit_decision(self, dec: EndpointDecision) -> None:
        logger.debug(
            "endpoint decision",
            extra={
                "delay_s": round(dec.delay_s, 3),
                "p_text": dec.p_text,
                "p_end": round(dec.p_end, 3),
                "speaker_p90_s": dec.speaker_p90_s,
                "dictation": dec.cues.dictation,
                "filler": dec.cues.trailing_filler,
            },
        )
        self.emit("decision", dec)


class AdaptiveTurnDetectorStream:
    """One session's stream: the framework's `_StreamingTurnDetectorStream` protocol."""

    def __init__(self, detector: AdaptiveTurnDetector) -> None:
        self._det = detector
        self._fut: asyncio.Future[TurnDetectionEvent] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._pause_start_s: float | None = None
        self._closed = False
        self._window: AudioWindow | None = (
            AudioWindow() if detector._audio_model is not None else None
        )

    @property
    def model(self) -> str:
        return self._det.model

    @property
    def provider(self) -> str:
        return self._det.provider

    @property
    def is_fallback(self) -> bool:
        return self._det.is_fallback

    @property
    def prediction_timeout(self) -> float:
        return self._det._ceiling_s + self._det._stt_wait_s + PREDICTION_MARGIN_S

    async def unlikely_threshold(self, language: LanguageCode | None) -> float | None:
        # probabilities are 1.0 (commit now) or 0.0 (wait the ceiling): any cut in between
        return 0.5

    async def backchannel_threshold(self, language: LanguageCode | None) -> float | None:
        return None

    async def supports_language(self, language: LanguageCode | None) -> bool:
        return language is None or str(language).lower().startswith("en")

    def push_audio(self, frame: rtc.AudioFrame) -> None:
        """The user's audio: its last 1.2 s go to the audio end-of-turn model at each pause
        (the pause timing itself comes from the framework's VAD)."""
        if self._window is not None and self._det._audio_model is not None:
            self._window.push(frame)

    def predict(self) -> asyncio.Future[TurnDetectionEvent]:
        """Called after 0.2 s of silence: plan the commit of this pause."""
        loop = asyncio.get_running_loop()
        self._drop_plan()
        fut: asyncio.Future[TurnDetectionEvent] = loop.create_future()
        self._fut = fut
        if self._closed:
            fut.set_result(_event(1.0))
            return fut
        now = self._det.now()
        self._pause_start_s = now - FRAMEWORK_QUERY_SILENCE_S
        ep = self._det.endpointer
        if ep is not None:
            try:
                if ep.state is EndpointState.IDLE:
                    ep.on_speech_start(self._pause_start_s)  # a turn opens with this speech
                ep.on_speech_end(self._pause_start_s)
            except Exception as exc:
                self._det._model_failed(exc)
        self._replan()
        if not fut.done():
            self._ask_audio(fut)
        return fut

    def _ask_audio(self, fut: asyncio.Future[TurnDetectionEvent]) -> None:
        """Ask the audio model about this pause, off the loop; its answer re-plans the
        pause if the pause is still open (`_audio_answered`)."""
        model = self._det._audio_model
        if model is None or self._window is None or self._det.endpointer is None:
            return
        pcm = self._window.snapshot()
        if pcm.size == 0:
            return
        task: asyncio.Future[float] = asyncio.ensure_future(asyncio.to_thread(model.predict, pcm))
        self._det._audio_tasks.add(task)
        task.add_done_callback(lambda t: self._audio_answered(t, fut))

    def _audio_answered(
        self, task: asyncio.Future[float], fut: asyncio.Future[TurnDetectionEvent]
    ) -> None:
        self._det._audio_tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._det._audio_failed(exc)
            return
        ep = self._det.endpointer
        if fut is not self._fut or fut.done() or ep is None:
            return  # the user went on, or the pause was already committed
        try:
            ep.on_audio_probability(task.result())
        except ValueError as bad:
            self._det._audio_failed(bad)
            return
        self._replan()

    def _replan(self) -> None:
        fut = self._fut
        if fut is None or fut.done() or self._pause_start_s is None:
            return
        ep = self._det.endpointer
        hold_until: float | None = None
        if ep is None:
            delay = self._det._fallback_delay_s
        else:
            try:
                dec = ep.decision()
            except Exception as exc:
                self._det._model_failed(exc)
                self._replan()  # now with the fallback delay
                return
            if dec is None:
                return
            self._det._emit_decision(dec)
            delay = dec.delay_s
            hold_until = ep.stt_hold_until_s()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if hold_until is not None:
            # the recogniser is behind: a transcript re-plans; past the cap, commit anyway
            logger.debug("commit held for the final transcript", extra={"until_s": hold_until})
            wait = hold_until - self._det.now()
            self._timer = asyncio.get_running_loop().call_later(
                max(wait, 0.0), self._stt_wait_over, fut
            )
            return
        if delay >= self._det._ceiling_s:
            fut.set_result(_event(0.0))  # the framework waits max_delay (= ceiling) itself
            return
        wait = self._pause_start_s + delay - self._det.now()
        if wait <= 0:
            fut.set_result(_event(1.0))
            return
        self._timer = asyncio.get_running_loop().call_later(wait, _resolve, fut, 1.0)

    def _stt_wait_over(self, fut: asyncio.Future[TurnDetectionEvent]) -> None:
        if fut.done():
            return
        self._det.stt_waits_expired += 1
        logger.info(
            "no final transcript %.1f s into the pause: committing without it",
            self._det._stt_wait_s,
        )
        fut.set_result(_event(1.0))

    def _drop_plan(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._fut is not None and not self._fut.done():
            self._fut.set_result(_event(0.0))
        self._fut = None

    def cancel_inference(self, *, timed_out: bool = False) -> None:
        """Speech resumed (or the framework gave up): drop the plan; learn the pause."""
        self._drop_plan()
        ep = self._det.endpointer
        if self._pause_start_s is not None and ep is not None and not timed_out:
            try:
                ep.on_speech_start(self._det.now())
            except Exception as exc:
                self._det._model_failed(exc)
        self._pause_start_s = None

    def flush(self, reason: str | None = None) -> None:
        """The turn was committed or cleared: close it without learning a pause (the
        detector learns it if the user goes on at once)."""
        self._drop_plan()
        self._det._committed_pause_s = self._pause_start_s
        self._pause_start_s = None
        ep = self._det.endpointer
        if ep is not None:
            try:
                ep.end_turn()
            except Exception as exc:
                self._det._model_failed(exc)

    def end_input(self) -> None:
        self.flush(reason="end_input")
        self._closed = True

    async def aclose(self) -> None:
        self.end_input()
        if self in self._det._streams:
            self._det._streams.remove(self)


def committed_turn(items: Sequence[Any]) -> tuple[Any, set[str]] | None:
    """The last user message of a chat's `items` and the ids a join takes out (that message
    and the withdrawn reply's assistant messages after it); None when there is no user
    message or a tool ran after it (such a turn is never joined)."""
    idx = next(
        (
            k
            for k in range(len(items) - 1, -1, -1)
            if items[k].type == "message" and items[k].role == "user"
        ),
        None,
    )
    if idx is None:
        return None
    tail = items[idx + 1 :]
    if any(it.type in ("function_call", "function_call_output") for it in tail):
        return None
    prev = items[idx]
    return prev, {prev.id} | {
        it.id for it in tail if it.type == "message" and it.role == "assistant"
    }


def join_continuation(turn_ctx: Any, new_message: Any) -> set[str]:
    """Make `new_message` (a user turn being committed) the whole turn: the text of the last
    user message in `turn_ctx` goes before its own, and that message and the withdrawn
    reply's assistant messages after it leave `turn_ctx`. Returns the ids removed (empty,
    and nothing changed, when there is no earlier user message or a tool ran after it)."""
    committed = committed_turn(turn_ctx.items)
    if committed is None:
        return set()
    prev, drop = committed
    before = (prev.text_content or "").strip()
    content = new_message.content
    if before:
        if content and isinstance(content[0], str):
            content[0] = f"{before} {content[0]}".strip()
        else:
            content.insert(0, before)
    turn_ctx.items[:] = [it for it in turn_ctx.items if it.id not in drop]
    return drop


def _event(p: float) -> TurnDetectionEvent:
    return TurnDetectionEvent(
        type="eot_prediction",
        end_of_turn_probability=p,
        last_speaking_time=time.time(),
    )


def _resolve(fut: asyncio.Future[TurnDetectionEvent], p: float) -> None:
    if not fut.done():
        fut.set_result(_event(p))
