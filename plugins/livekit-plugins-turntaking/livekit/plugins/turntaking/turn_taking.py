"""The plugin's front door: the arbiter and the adaptive endpointing wired into one
`AgentSession`, working together.

    models = load_models()                       # once per process (prewarm)
    tt = TurnTaking(models)                      # per session: fresh conversation state
    session = AgentSession(..., vad=tt.vad(), turn_handling=tt.turn_handling())
    tt.attach(session)                           # before session.start
    await session.start(agent=MyAgent(), room=ctx.room)

`attach` covers every agent the session runs, handed-off agents included: the arbiter taps
each agent's speech-to-text as the session activates it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

from livekit.agents import AgentSession, telemetry
from livekit.agents import vad as lk_vad
from livekit.agents.voice.turn import TurnHandlingOptions

from .arbiter import InterruptionArbiter, OverlapEvent
from .arbiter.arbiter import DEFAULT_DUCK_DB, YieldEvent
from .arbiter.model import ArbiterParams, TextModel, load_params
from .arbiter.model import ModelFileError as ArbiterFileError
from .arbiter.onset import OnsetModel
from .arbiter.playout import DEFAULT_OUTPUT_LEAD_S
from .endpointing import AdaptiveTurnDetector, EndpointDecision
from .endpointing.audio import LocalEotModel
from .endpointing.detector import FALLBACK_DELAY_S, VAD_MIN_SILENCE_S
from .endpointing.model import (
    DEFAULT_THRESHOLD,
    MAX_PATIENCE,
    MIN_PATIENCE,
    CompletenessModel,
    PausePrior,
    patience_floor_s,
)
from .endpointing.model import ModelFileError as EndpointingFileError
from .log import logger

if TYPE_CHECKING:
    from livekit.agents import Agent

__all__ = [
    "ENDPOINT_SESSION_EVENT",
    "FRAMEWORK_MIN_DURATION_S",
    "TurnTaking",
    "TurnTakingModels",
    "load_models",
]

FRAMEWORK_MIN_DURATION_S = 0.5
"""LiveKit's default `interruption.min_duration`, seconds (the barge-in used when the
arbiter is off)."""
OVERLAP_SPAN = "turntaking.overlap"
"""OpenTelemetry span (framework tracer) recorded for each decided overlap; attributes
`turntaking.label`, `.probability`, `.latency_s` (s), `.cues`, `.onset_probability`,
`.stop_latency_s` (s)."""
ENDPOINT_SPAN = "turntaking.endpoint_decision"
"""OpenTelemetry span recorded for each planned pause; attributes `turntaking.delay_s` (s),
`.p_end`, `.words`."""
ENDPOINT_SESSION_EVENT = "endpoint_decision"
"""Event name under which each `EndpointDecision` is emitted on the session."""

EventName = Literal["overlap", "yield", "endpoint"]
OverlapCallback = Callable[[OverlapEvent], object]
YieldCallback = Callable[[YieldEvent], object]
EndpointCallback = Callable[[EndpointDecision], object]


@dataclass(frozen=True)
class TurnTakingModels:
    """Weights shared by every session of a process (load once with `load_models`, e.g. in
    the worker's prewarm)."""

    arbiter_model: TextModel | None = None
    """The arbiter's text model (None: the arbiter is off, the framework's barge-in is used)."""
    arbiter_params: ArbiterParams | None = None
    """The arbiter's shipped operating point."""
    arbiter_onset: OnsetModel | None = None
    """The arbiter's early audio classifier (None: it decides on words and duration only)."""
    completeness: CompletenessModel | None = None
    """The endpointing's completeness model (None: fixed endpointing)."""
    pause_prior: PausePrior | None = None
    """The endpointing's prior over a speaker's pauses."""
    audio_eot: LocalEotModel | None = None
    """The audio end-of-turn model the endpointing asks once per pause (LiveKit's
    turn-detector-v1-mini, in-process; None: not loaded, words and pauses alone)."""
    vad: lk_vad.VAD | None = None
    """Silero VAD tuned for the adaptive endpointing (`min_silence_duration` 0.25 s), or None
    when not loaded."""
    problems: tuple[str, ...] = ()
    """What could not be loaded (the plugin concerned falls back to framework behaviour)."""


def load_models(*, load_vad: bool = True, load_audio_eot: bool = True) -> TurnTakingModels:
    """Load the arbiter's and the endpointing's weights (blocking: well under a second, and
    2-3 s the first time a process loads the audio end-of-turn model).

    A missing or broken file does not raise: it is logged and recorded in `problems`, and
    the plugin concerned falls back to the framework's behaviour. `load_vad` also loads the
    Silero VAD the endpointing needs (skip it when the session builds its own);
    `load_audio_eot` the audio end-of-turn model (skip it to decide on words and pauses
    alone)."""
    problems: list[str] = []
    arbiter_model: TextModel | None = None
    arbiter_params: ArbiterParams | None = None
    onset: OnsetModel | None = None
    try:
        arbiter_model, arbiter_params = TextModel.load(), load_params()
    except ArbiterFileError as e:
        problems.append(f"arbiter: {e}")
    try:
        onset = OnsetModel.load()
    except ArbiterFileError as e:
        problems.append(f"arbiter early audio classifier: {e}")
    completeness: CompletenessModel | None = None
    prior: PausePrior | None = None
    try:
        completeness, prior = CompletenessModel.load(), PausePrior.load()
    except EndpointingFileError as e:
        problems.append(f"endpointing: {e}")
    audio_eot: LocalEotModel | None = None
    if load_audio_eot:
        try:
            audio_eot = LocalEotModel()
            audio_eot.load()
        except Exception as e:
            audio_eot = None
            problems.append(f"endpointing audio end-of-turn model: {e}")
    vad = _silero_vad(VAD_MIN_SILENCE_S) if load_vad else None
    for p in problems:
        logger.error("turn-taking model unavailable, framework behaviour used: %s", p)
    return TurnTakingModels(
        arbiter_model=arbiter_model,
        arbiter_params=arbiter_params,
        arbiter_onset=onset,
        completeness=completeness,
        pause_prior=prior,
        audio_eot=audio_eot,
        vad=vad,
        problems=tuple(problems),
    )


def _silero_vad(min_silence_s: float | None) -> lk_vad.VAD:
    """Silero VAD with `min_silence_s` (None: Silero's defaults)."""
    from livekit.plugins import silero

    if min_silence_s is None:
        return silero.VAD.load()
    return silero.VAD.load(min_silence_duration=min_silence_s)


class TurnTaking:
    """The interruption arbiter and the adaptive endpointing for one `AgentSession`.

    Build one per session (it holds that conversation's state) from the process's
    `TurnTakingModels`. `arbiter=False` keeps the framework's VAD barge-in (0.5 s of speech);
    `adaptive_endpointing=False` keeps its fixed endpointing (0.5-3 s).

    `patience` (MIN_PATIENCE..MAX_PATIENCE) is how sure the endpointing must be that the
    user's turn is over before it commits it: the posterior probability of a turn end
    given the words so far, this speaker's pauses and the silence; above 0.55 it also sets
    a shortest wait (`endpointing.model.patience_floor_s`: 0.57 s at 0.7, 1.13 s at 0.9).
    The default answers about as fast as the framework's 0.5 s window with fewer cut-offs;
    raise it to interrupt fewer unfinished sentences. The README shows its curve. A turn
    committed too early costs little: when the user goes on at once, the reply is withdrawn
    and their words join the same turn.

    `duck_db` ([10, 40] dB, None: off) is how far the agent's voice drops while the user's
    voice is heard over it and the arbiter is still unsure (an audible yield within about
    0.2 s; a backchannel restores it, an interruption stops it). `output_lead_s` ([0.06, 2]
    s, None: off) is how much of the agent's audio goes to the room ahead of the playhead:
    the duck, a pause and a stop are heard within about that long (LiveKit's room output
    otherwise holds up to 200 ms queued, and all the rest of a reply buffered, out of their
    reach); shorter risks gaps when the event loop runs late.

    Decisions are reported on the session (`"arbiter_overlap"` with an `OverlapEvent`,
    `"arbiter_yield"` with a `YieldEvent`, `"endpoint_decision"` with an
    `EndpointDecision`), on this object (`on("overlap", ...)`, `on("yield", ...)`,
    `on("endpoint", ...)`), and as DEBUG log lines without transcripts.

    Raises `TypeError` when `models` is not a `TurnTakingModels` or an option is not a
    bool."""

    def __init__(
        self,
        models: TurnTakingModels,
        *,
        arbiter: bool = True,
        adaptive_endpointing: bool = True,
        patience: float = DEFAULT_THRESHOLD,
        duck_db: float | None = DEFAULT_DUCK_DB,
        output_lead_s: float | None = DEFAULT_OUTPUT_LEAD_S,
    ) -> None:
        if not isinstance(models, TurnTakingModels):
            raise TypeError(
                "TurnTaking needs the TurnTakingModels returned by load_models(), got "
                f"{type(models).__name__}"
            )
        for name, value in (("arbiter", arbiter), ("adaptive_endpointing", adaptive_endpointing)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False, got {value!r}")
        if isinstance(patience, bool) or not isinstance(patience, int | float):
            raise TypeError(f"patience must be a number, got {patience!r}")
        if not MIN_PATIENCE <= patience <= MAX_PATIENCE:
            raise ValueError(
                f"patience must be in [{MIN_PATIENCE}, {MAX_PATIENCE}], got {patience}"
            )
        self._models = models
        self.arbiter: InterruptionArbiter | None = (
            InterruptionArbiter(
                model=models.arbiter_model,
                params=models.arbiter_params,
                onset_model=models.arbiter_onset,
                duck_db=duck_db,
                output_lead_s=output_lead_s,
            )
            if arbiter
            else None
        )
        """The interruption arbiter (None: the framework's barge-in)."""
        self.endpointing: AdaptiveTurnDetector | None = None
        """The adaptive turn detector (None: the framework's fixed endpointing)."""
        if adaptive_endpointing:
            floor_s = patience_floor_s(float(patience))
            self.endpointing = AdaptiveTurnDetector(
                threshold=float(patience),
                floor_s=floor_s,
                fallback_delay_s=max(FALLBACK_DELAY_S, floor_s),
                audio_model=models.audio_eot or False,
                completeness=models.completeness,
                prior=models.pause_prior,
            )
            self.endpointing.prewarm()
        self._overlap_listeners: list[OverlapCallback] = []
        self._yield_listeners: list[YieldCallback] = []
        self._endpoint_listeners: list[EndpointCallback] = []
        self._session: AgentSession[Any] | None = None

    @property
    def description(self) -> str:
        """One line saying what this session runs (for a start-up log line)."""
        parts = [
            "interruption arbiter" if self.arbiter is not None else "LiveKit VAD barge-in",
            "adaptive endpointing" if self.endpointing is not None else "fixed endpointing 0.5-3 s",
        ]
        if self._models.problems:
            parts.append("DEGRADED: " + "; ".join(self._models.problems))
        return " + ".join(parts)

    @property
    def vad_min_silence_s(self) -> float | None:
        """Silero `min_silence_duration` the session's VAD needs, seconds (None: any)."""
        return VAD_MIN_SILENCE_S if self.endpointing is not None else None

    def turn_handling(self) -> TurnHandlingOptions:
        """`AgentSession(turn_handling=...)` for this configuration. The interruption mode
        is pinned to "vad" so that the framework's development mode does not switch to its
        cloud detector."""
        handling: dict[str, Any] = {
            "interruption": {
                "mode": "vad",
                "min_duration": FRAMEWORK_MIN_DURATION_S,
                "min_words": 0,
            },
            "turn_detection": "vad",
        }
        if self.endpointing is not None:
            handling["turn_detection"] = self.endpointing
            handling["endpointing"] = self.endpointing.endpointing_options()
        if self.arbiter is not None:
            handling.update(self.arbiter.turn_handling())
        return handling  # type: ignore[return-value]

    def vad(self, base: lk_vad.VAD | None = None) -> lk_vad.VAD:
        """The VAD the session must use: `base` when the endpointing is off; otherwise a
        VAD like `base`, with all its settings, but `min_silence_duration` 0.25 s (the
        endpointing must hear the end of speech before its shortest delay). `base` is not
        changed (it may be shared by every session of the process); a Silero copy shares
        its loaded model. `base` None: the Silero VAD from `load_models`, or a new one.

        Raises `ValueError` for a VAD that cannot be tuned (not Silero nor LiveKit's
        local-inference VAD)."""
        need = self.vad_min_silence_s
        if need is None:
            return base if base is not None else _silero_vad(None)
        if base is None:
            return self._models.vad if self._models.vad is not None else _silero_vad(need)
        from livekit.agents import inference

        if isinstance(base, inference.VAD):
            return _tuned_inference_vad(base, need)
        from livekit.plugins import silero

        if isinstance(base, silero.VAD):
            return _tuned_silero_vad(base, need)
        raise ValueError(
            f"adaptive endpointing needs a Silero VAD with min_silence_duration={need} s; "
            "pass livekit.plugins.silero.VAD or livekit.agents.inference.VAD, not "
            f"{type(base).__name__}"
        )

    @overload
    def on(self, event: Literal["overlap"], callback: OverlapCallback) -> None: ...

    @overload
    def on(self, event: Literal["yield"], callback: YieldCallback) -> None: ...

    @overload
    def on(self, event: Literal["endpoint"], callback: EndpointCallback) -> None: ...

    def on(self, event: EventName, callback: Callable[[Any], object]) -> None:
        """Register `callback` for "overlap" (`OverlapEvent`, one per decided overlap) or
        "endpoint" (`EndpointDecision`, each time a pause's delay is planned). Callbacks
        run on the event loop, inside the decision: keep them short. One that raises is
        logged and skipped; the session's turn-taking goes on.

        Raises `ValueError` for another event, `TypeError` for a callback that is not
        callable."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        if event == "overlap":
            self._overlap_listeners.append(callback)
        elif event == "yield":
            self._yield_listeners.append(callback)
        elif event == "endpoint":
            self._endpoint_listeners.append(callback)
        else:
            raise ValueError(f"unknown event {event!r}: choose 'overlap', 'yield' or 'endpoint'")

    def attach(self, session: AgentSession[Any], agent: Agent | None = None) -> None:
        """Attach to `session` before `session.start`. Every agent the session runs is
        covered (the first and any handed-off one); `agent` is accepted for symmetry with
        `InterruptionArbiter.attach` and tapped at once.

        Raises `RuntimeError` when called twice, or once the session has started (its
        first agent would already hear the user without the arbiter)."""
        if self._session is not None:
            raise RuntimeError("TurnTaking.attach: already attached; build one per session")
        if _started(session):
            raise RuntimeError("TurnTaking.attach: the session has started; attach before start")
        self._session = session
        det, arb = self.endpointing, self.arbiter
        if det is not None:
            det.attach(session)
            det.on("decision", self._on_decision)
        if arb is not None:
            if det is not None:
                arb.continuation_probe = det.user_going_on
            arb.attach(session, agent)
            arb.on("overlap", self._on_overlap)
            arb.on("yield", self._on_yield)

    def _on_decision(self, dec: EndpointDecision) -> None:
        if self._session is not None:
            self._session.emit(ENDPOINT_SESSION_EVENT, dec)  # type: ignore[arg-type]
        _trace(
            ENDPOINT_SPAN,
            {
                "turntaking.delay_s": dec.delay_s,
                "turntaking.p_end": dec.p_end,
                "turntaking.words": dec.words,
            },
        )
        for cb in self._endpoint_listeners:
            _notify(cb, dec, "endpoint")

    def _on_overlap(self, ev: OverlapEvent) -> None:
        # a backchannel over the agent is not the end of a pause in the user's turn
        if self.endpointing is not None and ev.label == "backchannel":
            self.endpointing.on_backchannel()
        attributes: dict[str, Any] = {
            "turntaking.label": ev.label,
            "turntaking.probability": ev.probability,
            "turntaking.latency_s": ev.latency_s,
            "turntaking.cues": list(ev.cues),
        }
        if ev.onset_probability is not None:
            attributes["turntaking.onset_probability"] = ev.onset_probability
        if ev.stop_latency_s is not None:
            attributes["turntaking.stop_latency_s"] = ev.stop_latency_s
        _trace(OVERLAP_SPAN, attributes)
        for cb in self._overlap_listeners:
            _notify(cb, ev, "overlap")

    def _on_yield(self, ev: YieldEvent) -> None:
        for cb in self._yield_listeners:
            _notify(cb, ev, "yield")


def _trace(name: str, attributes: dict[str, Any]) -> None:
    # one short span per decision under the framework's tracer: exported wherever the
    # application sent LiveKit's traces (`telemetry.set_tracer_provider`), a no-op otherwise;
    # numbers and labels only, never the user's words
    try:
        with telemetry.tracer.detached_span(name, attributes=attributes):
            pass
    except Exception:
        logger.debug("could not record the %s span", name, exc_info=True)


def _notify(callback: Callable[[Any], object], event: object, name: str) -> None:
    # an application's callback must not take the decision down with it: the arbiter
    # would fall back to the framework's barge-in for the rest of the session
    try:
        callback(event)
    except Exception:
        logger.exception("TurnTaking %r callback %r raised; ignored", name, callback)


def _started(session: AgentSession[Any]) -> bool:
    """Whether `session.start` has begun (1.8.9 has no public accessor: `_activity` is set
    while it starts, `_started` once it has)."""
    return (
        bool(getattr(session, "_started", False)) or getattr(session, "_activity", None) is not None
    )


def _tuned_inference_vad(base: Any, min_silence_s: float) -> lk_vad.VAD:
    """A LiveKit local-inference VAD with `base`'s model, settings and executor (an inline
    one keeps virtual-time tests working) but `min_silence_s`."""
    from livekit.agents import inference

    o = base._opts
    return inference.VAD(
        model=base._model,
        min_speech_duration=o.min_speech_duration,
        min_silence_duration=min_silence_s,
        prefix_padding_duration=o.prefix_padding_duration,
        max_buffered_speech=o.max_buffered_speech,
        activation_threshold=o.activation_threshold,
        deactivation_threshold=o.deactivation_threshold,
        executor=base._executor,
    )


def _tuned_silero_vad(base: Any, min_silence_s: float) -> lk_vad.VAD:
    """A Silero VAD sharing `base`'s loaded model, with its settings but `min_silence_s`
    (silero 1.8.x keeps both on the instance, as `_onnx_session` and `_opts`)."""
    from livekit.plugins import silero

    opts = dataclasses.replace(base._opts, min_silence_duration=min_silence_s)
    return silero.VAD(session=base._onnx_session, opts=opts)
