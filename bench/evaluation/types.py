"""Data types of running systems on the sets: what a system hears (transcript events),
what it returns (decisions, endpoint outcomes), the report items, and the system protocols.

The manifest items they are run on (`OverlapItem`, `EndpointItem`) are the set format
(`bench.datasets.manifest`); the contract fixes both, fields beyond it are optional
extensions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bench.datasets.audio import Samples
from bench.datasets.manifest import EndpointItem, OverlapItem, OverlapLabel


@dataclass(frozen=True)
class TranscriptEvent:
    """A streaming speech-to-text result as a system would receive it."""

    at_s: float
    """Stream time (s, from the start of the item's audio) when the result is available:
    end of the audio it covers plus the measured inference time."""
    text: str
    """Full hypothesis of the current utterance so far."""
    is_final: bool
    audio_end_s: float
    """Stream time (s) of the last audio the hypothesis covers."""


@dataclass(frozen=True)
class OverlapDecision:
    """A system's verdict on one overlap item."""

    decision: OverlapLabel
    decided_at_s: float
    """Seconds after `onset_s` at which the final decision was taken."""
    probability: float | None = None
    """Optional: the system's interruption probability at the decision."""
    stopped_at_s: float | None = None
    """Optional: seconds after `onset_s` at which the agent's audio stopped (paused or
    cleared), when a system stops before its final decision (the arbiter pauses on audio
    evidence and lets the words confirm or resume). With decision "backchannel" the agent
    paused and resumed at `decided_at_s`. None: it stopped at `decided_at_s` if at all."""
    yield_at_s: float | None = None
    """Optional: seconds after `onset_s` at which the agent audibly yielded (a duck, a
    pause or a stop) as a listener hears it, for a system that models its output."""
    duck_s: float | None = None
    """Optional: how long that system kept the agent ducked, seconds (None: no duck)."""

    @property
    def stop_s(self) -> float | None:
        """Seconds after `onset_s` at which the agent's audio stopped, for a good or for a
        pause it resumed from (`stopped_at_s`, else `decided_at_s` for an interruption);
        None when it never stopped."""
        if self.stopped_at_s is not None:
            return self.stopped_at_s
        return self.decided_at_s if self.decision == "interruption" else None


@dataclass
class OverlapResultItem:
    """One item of the `overlap`/`session` report (the contract's fields)."""

    id: str
    decision: OverlapLabel
    decided_at_s: float | None
    agent_stopped: bool = False
    stop_latency_s: float | None = None
    user_turn_committed: bool = False
    llm_called: bool = False
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class EndpointOutcome:
    """What an end-of-turn policy did on one item at one operating point."""

    pause_fired: tuple[bool, ...]
    """Per manifest pause: whether the policy declared the turn over inside it."""
    fired_at_s: float | None
    """First moment after `speech_end_s` the policy declared the turn over (None: never)."""


class OverlapSystem(Protocol):
    """A backchannel/interruption classifier that hears the audio as a stream."""

    name: str

    def decide(
        self, item: OverlapItem, audio: Samples, transcript: Sequence[TranscriptEvent]
    ) -> OverlapDecision:
        """Stream `audio` (16 kHz) in 10-20 ms frames, reading only the transcript events
        whose `at_s` is not later than the current stream time, and decide."""
        ...


class EndpointPolicy(Protocol):
    """An end-of-turn policy, evaluated at several operating points in one pass."""

    name: str
    thresholds: Sequence[float]
    """Operating points swept for the trade-off curve (meaning is policy-specific)."""
    default_threshold: float
    """The operating point used for the headline figures (chosen on val, never on test)."""

    def reset(self) -> None:
        """Forget all per-speaker state (called once before a manifest is run)."""
        ...

    def run(
        self, item: EndpointItem, audio: Samples, transcript: Sequence[TranscriptEvent]
    ) -> list[EndpointOutcome]:
        """One outcome per entry of `thresholds`, in the same order. Items arrive in
        manifest order; a policy may learn from earlier items of the same speaker."""
        ...
