"""Production-side fault handling: a reply that fails or hangs ends in a short apology, and a
worker that gives up on its LiveKit server exits non-zero.

When the LLM or the TTS fails after the framework's own retries, livekit-agents 1.8.9 emits
an unrecoverable "error" event and drops the reply: the agent goes from "thinking" back to
"listening" without a word. A provider that hangs leaves the agent "thinking" until the
provider's timeout (a TTS hang, indefinitely). In each case the user hears silence. The
`ReplyGuard` below turns these into one short spoken apology so the user knows to go on;
the user's committed turn is already in the chat context, so the next reply still sees it.
After `max_unrecoverable_errors` (3) consecutive failures the framework closes the session
itself; the guard does not change that.

Usage (before `session.start`)::

    guard = install_apology(session)          # options: see ReplyGuard

`ReplyGuard` is pure (timestamps in, actions out); `install_apology` wires it to a session.

When the worker cannot reach LIVEKIT_URL, livekit-agents 1.8.9 retries `max_retry` times,
then `AgentServer.run()` raises; its CLI logs "worker failed" and returns normally, so the
process would exit 0 and a supervisor would not restart it. `SupervisedServer` keeps that
error, logs one line, and `worker_exit_code` turns it into the exit code.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from livekit import rtc
from livekit.agents import AgentServer, AgentSession

from .log import logger

__all__ = [
    "DEFAULT_APOLOGY",
    "EXIT_WORKER_FAILED",
    "ApologyReason",
    "GuardState",
    "ReplyGuard",
    "SupervisedServer",
    "failure_line",
    "install_apology",
    "worker_exit_code",
]

DEFAULT_APOLOGY = "Sorry, I lost my train of thought there. Could you say that again?"
DEFAULT_STALL_TIMEOUT_S = 8.0
"""Seconds of "thinking" without any agent audio after which a reply counts as hung
(a hosted LLM's first token plus TTS's first audio is normally well under 2 s)."""
DEFAULT_MIN_INTERVAL_S = 5.0
"""Shortest gap between two apologies, seconds (one failure often raises several errors)."""
DEFAULT_MAX_CONSECUTIVE = 2
"""Apologies in a row (without a successful reply between them) before the guard goes quiet:
a dead provider should not make the agent apologize forever."""


class GuardState(Enum):
    """What the agent is doing, as far as the guard is concerned."""

    LISTENING = "listening"
    THINKING = "thinking"
    """A reply is being generated: no agent audio yet."""
    SPEAKING = "speaking"


class ApologyReason(Enum):
    """Why the guard asks for an apology."""

    ERROR = "unrecoverable provider error"
    DROPPED = "reply dropped without audio"
    STALLED = "reply stalled"


@dataclass(frozen=True)
class Apology:
    """An apology the guard wants spoken now."""

    reason: ApologyReason
    at_s: float
    """When it was decided, seconds on the caller's clock."""
    cancel_reply: bool
    """True when a hung reply must be interrupted first."""


class ReplyGuard:
    """Decides when a reply has failed. Feed it the agent's and user's states and provider
    errors with their times (seconds, any monotonic clock); each method returns the
    `Apology` to speak now, or None."""

    def __init__(
        self,
        *,
        stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
        min_interval_s: float = DEFAULT_MIN_INTERVAL_S,
        max_consecutive: int = DEFAULT_MAX_CONSECUTIVE,
    ) -> None:
        """`stall_timeout_s` in [1, 60] s; `min_interval_s` in [0, 60] s; `max_consecutive`
        in [1, 10]."""
        if not 1.0 <= stall_timeout_s <= 60.0:
            raise ValueError(f"stall_timeout_s must be in [1, 60] s, got {stall_timeout_s}")
        if not 0.0 <= min_interval_s <= 60.0:
            raise ValueError(f"min_interval_s must be in [0, 60] s, got {min_interval_s}")
        if not 1 <= max_consecutive <= 10:
            raise ValueError(f"max_consecutive must be in [1, 10], got {max_consecutive}")
        self.stall_timeout_s = stall_timeout_s
        self.min_interval_s = min_interval_s
        self.max_consecutive = max_consecutive
        self.state = GuardState.LISTENING
        self.apologies: list[Apology] = []
        self._thinking_since_s: float | None = None
        self._user_spoke_while_thinking = False
        self._user_speaking = False
        self._failed_this_reply = False
        self._in_a_row = 0
        self._apologizing = False

    @property
    def thinking_since_s(self) -> float | None:
        """When the current reply started (None when not thinking), seconds."""
        return self._thinking_since_s

    def on_agent_state(self, new_state: str, at_s: float) -> Apology | None:
        """The session's agent state changed to `new_state` at `at_s`."""
        match new_state:
            case "thinking":
                if self.state is not GuardState.THINKING:
                    self._thinking_since_s = at_s
                    self._user_spoke_while_thinking = self._user_speaking
                    self._failed_this_reply = False
                self.state = GuardState.THINKING
            case "speaking":
                if not self._apologizing:
                    self._in_a_row = 0
                self.state = GuardState.SPEAKING
                self._thinking_since_s = None
            case _:
                was_thinking = self.state is GuardState.THINKING
                if self.state is GuardState.SPEAKING:
                    self._apologizing = False  # whatever played, the apology is over
                self.state = GuardState.LISTENING
                self._thinking_since_s = None
                # thinking -> listening with no audio: the reply died, unless the user
                # spoke meanwhile (the framework cancels a reply when the user goes on)
                if was_thinking and not self._user_spoke_while_thinking:
                    return self._apologize(ApologyReason.DROPPED, at_s, cancel=False)
        return None

    def on_user_state(self, new_state: str, at_s: float) -> None:
        """The user's state (the session's VAD) changed at `at_s`."""
        del at_s
        self._user_speaking = new_state == "speaking"
        if self._user_speaking and self.state is GuardState.THINKING:
            self._user_spoke_while_thinking = True

    def on_error(self, kind: str, *, recoverable: bool, at_s: float) -> Apology | None:
        """A provider error event (`kind` "llm_error", "tts_error", "stt_error", ...)."""
        if recoverable or kind not in ("llm_error", "tts_error"):
            return None  # STT errors: the framework reconnects and the user just goes on
        return self._apologize(ApologyReason.ERROR, at_s, cancel=False)

    def check(self, now_s: float) -> Apology | None:
        """Poll: a reply that has been thinking for `stall_timeout_s` is hung."""
        since = self._thinking_since_s
        if self.state is GuardState.THINKING and since is not None:
            if now_s - since >= self.stall_timeout_s and not self._user_spoke_while_thinking:
                return self._apologize(ApologyReason.STALLED, now_s, cancel=True)
        return None

    def _apologize(self, reason: ApologyReason, at_s: float, *, cancel: bool) -> Apology | None:
        if self._failed_this_reply or self._apologizing:
            return None
        self._failed_this_reply = True
        last = self.apologies[-1].at_s if self.apologies else None
        if last is not None and at_s - last < self.min_interval_s:
            return None
        if self._in_a_row >= self.max_consecutive:
            return None
        self._in_a_row += 1
        self._apologizing = True
        apology = Apology(reason, at_s, cancel)
        self.apologies.append(apology)
        return apology


AudioFactory = Callable[[], AsyncIterable[rtc.AudioFrame]]


class _SessionGuard:
    def __init__(
        self,
        session: AgentSession[Any],
        guard: ReplyGuard,
        text: str,
        audio: AudioFactory | None,
        poll_s: float,
    ) -> None:
        self._session = session
        self._guard = guard
        self._text = text
        self._audio = audio
        self._poll_s = poll_s
        self._timer: asyncio.TimerHandle | None = None
        self._logged_reasons: set[ApologyReason] = set()

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def on_agent_state(self, ev: Any) -> None:
        self._act(self._guard.on_agent_state(str(ev.new_state), self._now()))
        if self._guard.state is GuardState.THINKING and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._poll_s, self._tick)

    def on_user_state(self, ev: Any) -> None:
        self._guard.on_user_state(str(ev.new_state), self._now())

    def on_error(self, ev: Any) -> None:
        err = ev.error
        kind = str(getattr(err, "type", ""))
        recoverable = bool(getattr(err, "recoverable", True))
        self._act(self._guard.on_error(kind, recoverable=recoverable, at_s=self._now()))

    def _tick(self) -> None:
        self._timer = None
        self._act(self._guard.check(self._now()))
        if self._guard.state is GuardState.THINKING:
            self._timer = asyncio.get_running_loop().call_later(self._poll_s, self._tick)

    def _act(self, apology: Apology | None) -> None:
        if apology is None:
            return
        level = 30 if apology.reason not in self._logged_reasons else 10  # WARNING once
        self._logged_reasons.add(apology.reason)
        logger.log(level, "reply failed (%s): apologizing to the user", apology.reason.value)
        try:
            if apology.cancel_reply:
                self._session.interrupt(force=True)
            audio = self._audio() if self._audio is not None else None
            if audio is not None:
                self._session.say(self._text, audio=audio, allow_interruptions=True)
            else:
                self._session.say(self._text, allow_interruptions=True)
        except RuntimeError as exc:
            # the session is closing: nothing can be said any more
            logger.warning("could not apologize: %s", exc)


def install_apology(
    session: AgentSession[Any],
    *,
    text: str = DEFAULT_APOLOGY,
    audio: AudioFactory | None = None,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
    min_interval_s: float = DEFAULT_MIN_INTERVAL_S,
    max_consecutive: int = DEFAULT_MAX_CONSECUTIVE,
    poll_s: float = 0.25,
) -> ReplyGuard:
    """Speak `text` when a reply fails (unrecoverable LLM/TTS error), is dropped without
    audio, or hangs for `stall_timeout_s` (the hung reply is interrupted first). `audio`
    optionally returns pre-rendered frames for the apology, so it is heard even when the
    TTS is what failed. Call before `session.start`; returns the guard (its `apologies`
    list records what happened). `poll_s` in [0.05, 2] s is how often a hang is checked."""
    if not text.strip():
        raise ValueError("text must be a non-empty apology sentence")
    if not 0.05 <= poll_s <= 2.0:
        raise ValueError(f"poll_s must be in [0.05, 2] s, got {poll_s}")
    guard = ReplyGuard(
        stall_timeout_s=stall_timeout_s,
        min_interval_s=min_interval_s,
        max_consecutive=max_consecutive,
    )
    sg = _SessionGuard(session, guard, text, audio, poll_s)
    session.on("agent_state_changed", sg.on_agent_state)
    session.on("user_state_changed", sg.on_user_state)
    session.on("error", sg.on_error)
    return guard


EXIT_WORKER_FAILED = 1
"""Exit code of a worker that stopped on its own (it gave up connecting to LIVEKIT_URL, or its
server failed to start), so that a supervisor restarts it."""


def worker_exit_code(failure: BaseException | None) -> int:
    """The process exit code for a worker whose `AgentServer.run()` ended with `failure`:
    0 when it ended without one (it was asked to stop: SIGTERM, Ctrl+C), else
    `EXIT_WORKER_FAILED`."""
    return 0 if failure is None else EXIT_WORKER_FAILED


def failure_line(failure: BaseException, *, url: str) -> str:
    """The one log line saying why the worker stopped and where it tried to connect (`url`,
    the LIVEKIT_URL in use)."""
    reason = str(failure) or type(failure).__name__
    return (
        f"worker stopped: {reason} (LIVEKIT_URL={url or 'unset'}; check that the server is "
        "up and that the URL and keys are right)"
    )


class SupervisedServer(AgentServer):
    """An `AgentServer` whose `run()` keeps the error that ended it in `failure` and logs
    `failure_line` once, instead of raising it into LiveKit's CLI (which would log it as
    "worker failed" and let the process exit 0). The CLI then shuts the server down as after a
    normal stop; agent.py passes `failure` to `worker_exit_code`. (Run by LiveKit's own
    `python -m livekit.agents start`, the process still exits 0: that exit is LiveKit's.)"""

    failure: Exception | None = None
    """What ended `run()`, or None while running or after a requested stop."""

    async def run(self, *, devmode: bool = False, unregistered: bool = False) -> None:
        try:
            await super().run(devmode=devmode, unregistered=unregistered)
        except Exception as exc:  # every failure of the server ends the process the same way
            self.note_failure(exc)

    def note_failure(self, exc: Exception) -> None:
        """Keep `exc` as the reason the worker stops (the first one wins) and log it once."""
        if self.failure is not None:
            return
        self.failure = exc
        # run() exports the URL it connects to into the environment before connecting
        logger.error(failure_line(exc, url=os.environ.get("LIVEKIT_URL", "")))
