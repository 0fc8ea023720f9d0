"""`ours` overlap systems: the interruption arbiter, and a plain word-list rule beside it.

Both hear an item the same way: the audio streamed through the arbiter's own front end
(`turntaking.arbiter.frontend.ArbiterFrontEnd`: 20 ms analysis frames, level/voicing
features, its speech detector and, for the arbiter, the early audio scores), and only the
transcript events whose `at_s` has passed. The agent is taken to be speaking
`item.agent_text` for the whole clip. The reported decision is the last one taken in the
clip (a backchannel followed by a later interruption stops the agent at the later time);
`decided_at_s` is seconds after `item.onset_s`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from livekit.plugins.turntaking.arbiter.arbiter import DEFAULT_DUCK_DB
from livekit.plugins.turntaking.arbiter.frontend import ArbiterFrontEnd
from livekit.plugins.turntaking.arbiter.model import (
    ACKNOWLEDGEMENT_WORDS,
    ArbiterDecider,
    ArbiterParams,
    AudioFeatures,
    DuckFollower,
    OverlapEvent,
    TextModel,
    load_params,
    normalize_words,
)
from livekit.plugins.turntaking.arbiter.onset import OnsetModel, OnsetScore
from livekit.plugins.turntaking.arbiter.playout import DEFAULT_OUTPUT_LEAD_S, duck_audible_after_s

from bench.datasets.audio import BENCH_SAMPLE_RATE_HZ, Samples
from bench.datasets.manifest import OverlapItem
from bench.evaluation.types import OverlapDecision, TranscriptEvent

BACKCHANNEL_WORDS = ACKNOWLEDGEMENT_WORDS
"""Words of the word-list rule: an utterance made only of these is a backchannel (the
arbiter's own list of acknowledgement words)."""


@dataclass(frozen=True)
class OverlapTrace:
    """An item's evidence as timed events, computed once and replayed under many params."""

    events: tuple[tuple[float, str, object], ...]
    """(stream time s, kind, payload): kind "start"/"end" (speech edges), "frame"
    (AudioFeatures), "text" ((text, is_final)), "early" (`OnsetScore` of the early audio
    classifier)."""
    onset_s: float
    agent_text: str
    duration_s: float


def trace_item(
    item: OverlapItem,
    audio: Samples,
    transcript: Sequence[TranscriptEvent],
    onset_model: OnsetModel | None = None,
) -> OverlapTrace:
    """Stream the audio through the arbiter's front end (`ArbiterFrontEnd.clip`: features and
    speech detector, and the early audio classifier, when given, scored from each onset the
    detector reports), merged with the transcript events by time (a transcript is applied
    before a frame ending at the same time: it was already delivered)."""
    front = ArbiterFrontEnd(onset_model, score_own_onsets=True)
    evs: list[tuple[float, int, str, object]] = []
    duration = 0.0
    for frame in front.clip(audio, BENCH_SAMPLE_RATE_HZ):
        now = duration = frame.end_s
        evs.append((now, 1, "frame", frame.features))
        if frame.edge is not None:
            # the edge is known when this frame is processed, not at the onset it reports
            evs.append((now, 2, frame.edge[0], frame.edge[1]))
        for sc in frame.early:
            evs.append((now, 3, "early", sc))
    for ev in transcript:
        evs.append((ev.at_s, 0, "text", (ev.text, ev.is_final)))
    if front.speaking:
        evs.append((duration, 2, "end", duration))
    evs.sort(key=lambda e: (e[0], e[1]))
    return OverlapTrace(
        events=tuple((t, kind, payload) for t, _, kind, payload in evs),
        onset_s=item.onset_s,
        agent_text=item.agent_text or "",
        duration_s=duration,
    )


class _DuckTrace:
    """When the replayed decider would have ducked the agent and restored it (stream
    times, seconds), and what a listener behind the arbiter's paced output hears of it."""

    def __init__(self) -> None:
        self.duck_at_s: float | None = None
        self.restore_at_s: float | None = None
        self._follower = DuckFollower()

    def follow(self, d: ArbiterDecider, t: float) -> None:
        """Step the live arbiter's duck rules (`DuckFollower`) at stream time `t`; the first
        duck and the first restore are kept."""
        change = self._follower.step(d, t)
        if change == "duck" and self.duck_at_s is None:
            self.duck_at_s = t
        elif change == "restore" and self.restore_at_s is None:
            self.restore_at_s = t

    def heard(self, onset_s: float, stop_s: float | None, end_s: float) -> dict[str, float | None]:
        """`yield_at_s` and `duck_s` of an `OverlapDecision` for a replay whose agent
        stopped (paused or cleared) at stream time `stop_s` (None: never) and whose clip ends
        at `end_s` (a duck still on then lasted until it). The output hands
        audio on `DEFAULT_OUTPUT_LEAD_S` ahead, so what the arbiter does is heard that much
        later, and a duck once its ramp passes the audible 10 dB."""
        lead = DEFAULT_OUTPUT_LEAD_S
        ramp = duck_audible_after_s(DEFAULT_DUCK_DB)
        duck = None if self.duck_at_s is None else self.duck_at_s + lead + ramp
        stop = None if stop_s is None else stop_s + lead
        heard = [t for t in (duck, stop) if t is not None]
        out: dict[str, float | None] = {
            "yield_at_s": max(0.0, min(heard) - onset_s) if heard else None,
            "duck_s": None,
        }
        if duck is not None:
            ends = [t + lead for t in (self.restore_at_s, stop_s) if t is not None]
            out["duck_s"] = max(0.0, (min(ends) if ends else end_s) - duck)
        return out


class ArbiterOverlapSystem:
    """The arbiter's decision logic (`ArbiterDecider`) on one streamed item."""

    def __init__(
        self,
        *,
        model: TextModel | None = None,
        params: ArbiterParams | None = None,
        onset_model: OnsetModel | None = None,
        use_onset_model: bool = True,
    ) -> None:
        self.name = "ours"
        self.model = model or TextModel.load()
        self.params = params or load_params()
        self.onset_model = (onset_model or OnsetModel.load()) if use_onset_model else None

    def decide(
        self, item: OverlapItem, audio: Samples, transcript: Sequence[TranscriptEvent]
    ) -> OverlapDecision:
        return self.replay(self.trace(item, audio, transcript), self.params)

    def trace(
        self, item: OverlapItem, audio: Samples, transcript: Sequence[TranscriptEvent]
    ) -> OverlapTrace:
        """The item's evidence (see `trace_item`)."""
        return trace_item(item, audio, transcript, self.onset_model)

    def replay(self, tr: OverlapTrace, params: ArbiterParams) -> OverlapDecision:
        """Run a fresh decider with `params` over a trace."""
        d = ArbiterDecider(self.model, params=params)
        d.on_agent_speech(tr.agent_text, 0.0)
        last: OverlapEvent | None = None
        duck = _DuckTrace()
        for t, kind, payload in tr.events:
            ev: OverlapEvent | None
            match kind:
                case "frame":
                    assert isinstance(payload, AudioFeatures)
                    ev = d.push_audio_features(payload, t)
                case "start":
                    assert isinstance(payload, float)
                    ev = d.on_user_speech_start(payload)
                case "end":
                    ev = d.on_user_speech_end(t)
                case "text":
                    assert isinstance(payload, tuple)
                    ev = d.on_transcript(str(payload[0]), bool(payload[1]), t)
                case "early":
                    assert isinstance(payload, OnsetScore)
                    ev = d.push_onset_probability(
                        payload.probability, payload.horizon_s, t, voiced_s=payload.voiced_s
                    )
                case _:
                    raise ValueError(f"unknown trace event {kind!r}")
            duck.follow(d, t)
            if ev is not None:
                last = ev
                if ev.label == "interruption":
                    break
        if last is None or last.label != "interruption":
            # settle anything still open once no more evidence can arrive
            end = tr.duration_s + max(params.final_wait_s, params.pause_wait_s)
            ev = d.on_user_speech_end(tr.duration_s) or d.tick(end)
            last = ev or last
            duck.follow(d, end)
            paused = d.paused_at_s
            if paused is not None:
                # a pause the clip's end left open: the agent stayed stopped
                return OverlapDecision(
                    "interruption",
                    max(0.0, end - tr.onset_s),
                    0.5,
                    stopped_at_s=max(0.0, paused - tr.onset_s),
                    **duck.heard(tr.onset_s, paused, tr.duration_s),
                )
        if last is None:
            return OverlapDecision(
                "backchannel",
                max(0.0, tr.duration_s - tr.onset_s),
                0.0,
                **duck.heard(tr.onset_s, None, tr.duration_s),
            )
        paused_at = last.stopped_at_s
        # the agent fell silent at the pause, else (an interruption) at the decision
        silent_at = last.decided_at_s if last.label == "interruption" else None
        return OverlapDecision(
            last.label,
            max(0.0, last.decided_at_s - tr.onset_s),
            last.probability,
            stopped_at_s=None if paused_at is None else max(0.0, paused_at - tr.onset_s),
            **duck.heard(
                tr.onset_s, paused_at if paused_at is not None else silent_at, tr.duration_s
            ),
        )


class WordListOverlapSystem:
    """Word-list rule: stop as soon as the transcript holds a word outside
    `BACKCHANNEL_WORDS`; otherwise keep talking (backchannel once the speech ended)."""

    def __init__(self) -> None:
        self.name = "ours-wordlist"

    def decide(
        self, item: OverlapItem, audio: Samples, transcript: Sequence[TranscriptEvent]
    ) -> OverlapDecision:
        tr = trace_item(item, audio, transcript)
        last_end: float | None = None
        last_text = 0.0
        for t, kind, payload in tr.events:
            if kind == "text":
                assert isinstance(payload, tuple)
                words = normalize_words(str(payload[0]))
                if any(w not in BACKCHANNEL_WORDS for w in words):
                    return OverlapDecision("interruption", max(0.0, t - tr.onset_s), 1.0)
                last_text = t
            elif kind == "end":
                last_end = t
        settled = max(last_end if last_end is not None else tr.duration_s, last_text)
        return OverlapDecision("backchannel", max(0.0, settled - tr.onset_s), 0.0)


def make_system() -> ArbiterOverlapSystem:
    """The arbiter with its shipped text model and val-chosen operating point."""
    return ArbiterOverlapSystem()


def make_wordlist_system() -> WordListOverlapSystem:
    """The plain word-list rule, reported beside the arbiter."""
    return WordListOverlapSystem()
