"""What to do when the user goes on speaking after their turn was committed (pure logic,
never reads a clock).

A fast endpointing commits some turns in a pause the user had not finished with. That
costs little if the reply is withdrawn as soon as the user is heard going on, and the words
that follow join the same turn: the agent then answers the whole of it once, as if it had
waited. `ContinuationGuard` follows one session's timeline and says when to withdraw the
reply and when the next user turn continues the committed one:

- the reply is not audible yet (the agent is thinking) and the user's words arrive: cancel
  it; the next turn continues the last one;
- the reply had been audible for at most `quick_stop_s` when the user started again, and
  their words arrive: stop it at once; the same;
- later speech over the reply is an ordinary overlap (the interruption arbiter's, or the
  framework's barge-in); if the reply is then interrupted while the user's speech started
  within `quick_stop_s` of the reply's first audio, the next turn continues the last one;
- once the reply has played to its end, or the agent has spoken longer, nothing is merged.

Only words withdraw a reply: a cough or a door heard by the VAD
makes no transcript, so it neither cancels the reply nor opens a turn that would answer it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "DEFAULT_QUICK_STOP_S",
    "MAX_QUICK_STOP_S",
    "ContinuationGuard",
    "GuardAction",
    "GuardState",
]

DEFAULT_QUICK_STOP_S = 0.5
"""Longest the reply may have been audible when the user starts speaking again for that
speech to still continue the committed turn (s): people who resume a sentence the agent cut
into do so within a syllable or two of hearing it; later speech answers what the agent
said."""
MAX_QUICK_STOP_S = 2.0


class GuardState(Enum):
    """Where the last committed turn's reply stands."""

    IDLE = "idle"
    """No committed turn awaits its reply (nothing to withdraw)."""
    PENDING = "pending"
    """A turn was committed; its reply is not audible yet."""
    AUDIBLE = "audible"
    """The reply has started playing."""


class GuardAction(Enum):
    """What the session should do now."""

    NONE = "none"
    WITHDRAW = "withdraw"
    """Interrupt the reply at once (cancel it, or stop its audio); the next user turn
    continues the committed one."""


@dataclass
class ContinuationGuard:
    """One session's continuation state, fed literal timestamps (s, any monotonic clock).

    `quick_stop_s` in [0, `MAX_QUICK_STOP_S`]: see `DEFAULT_QUICK_STOP_S`."""

    quick_stop_s: float = DEFAULT_QUICK_STOP_S

    def __post_init__(self) -> None:
        if not 0.0 <= self.quick_stop_s <= MAX_QUICK_STOP_S:
            raise ValueError(
                f"quick_stop_s must be in [0, {MAX_QUICK_STOP_S}] s, got {self.quick_stop_s}"
            )
        self.state = GuardState.IDLE
        self.committed_at_s: float | None = None
        """When the last user turn was committed (s)."""
        self.audible_at_s: float | None = None
        """When its reply started playing (s)."""
        self.resumed_at_s: float | None = None
        """When the user started speaking again after the commit, while it counted as going
        on with the turn (s)."""
        self._merge = False
        self.withdrawn = 0
        """Replies withdrawn so far (count)."""

    def on_commit(self, at_s: float) -> None:
        """A user turn was committed at `at_s` (its message reached the chat context)."""
        self.state = GuardState.PENDING
        self.committed_at_s = at_s
        self.audible_at_s = None
        self.resumed_at_s = None

    def on_agent_audible(self, at_s: float) -> None:
        """The agent's audio started at `at_s`."""
        if self.state is GuardState.PENDING:
            self.state = GuardState.AUDIBLE
            self.audible_at_s = at_s

    def on_reply_done(self) -> None:
        """The reply played to its end (or another speech took over): nothing to withdraw."""
        self.state = GuardState.IDLE
        self.resumed_at_s = None

    def on_user_speech_start(self, at_s: float) -> None:
        """The VAD heard the user start at `at_s`: remembered when it can go on with the
        turn (the reply is not audible yet, or has been for at most `quick_stop_s`). Only
        words act on it (`on_user_words`)."""
        if self.state is GuardState.PENDING or (
            self.state is GuardState.AUDIBLE and self._within_quick_stop(at_s)
        ):
            self.resumed_at_s = at_s

    def on_user_words(self, at_s: float) -> GuardAction:
        """A transcript with words arrived at `at_s`. Withdraws a reply that is not audible
        yet (or has just become audible, when the speech began within the quick window)."""
        if self.state is GuardState.PENDING:
            if self.resumed_at_s is None:
                self.resumed_at_s = at_s
            return self._withdraw()
        if (
            self.state is GuardState.AUDIBLE
            and self.resumed_at_s is not None
            and self._within_quick_stop(self.resumed_at_s)
        ):
            return self._withdraw()
        return GuardAction.NONE

    def on_reply_interrupted(self) -> None:
        """The reply was interrupted by someone else (the arbiter, the framework): the next
        turn continues the committed one when the user's speech began within the quick
        window of the reply's first audio (or before it)."""
        if self.state is GuardState.IDLE:
            return
        if self.resumed_at_s is not None and (
            self.audible_at_s is None or self._within_quick_stop(self.resumed_at_s)
        ):
            self._merge = True
        self.state = GuardState.IDLE

    @property
    def going_on(self) -> bool:
        """Whether the user started speaking again while it counted as going on with the
        committed turn (before its reply was audible, or within `quick_stop_s` of it), and
        the reply has not finished or been withdrawn yet."""
        return self.resumed_at_s is not None and self.state is not GuardState.IDLE

    @property
    def merge_pending(self) -> bool:
        """Whether the next user turn continues the committed one (not yet taken)."""
        return self._merge

    def take_merge(self) -> bool:
        """True once when the user turn being committed continues the previous one."""
        merge, self._merge = self._merge, False
        return merge

    def _within_quick_stop(self, at_s: float) -> bool:
        return self.audible_at_s is None or at_s - self.audible_at_s <= self.quick_stop_s

    def _withdraw(self) -> GuardAction:
        self.state = GuardState.IDLE
        self._merge = True
        self.withdrawn += 1
        return GuardAction.WITHDRAW
