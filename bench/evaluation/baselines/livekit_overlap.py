"""The framework's own barge-in rule (VAD mode), replayed on one item.

Reproduces livekit-agents 1.8.9 `voice/agent_activity.py`:

- `on_vad_inference_done` (~2502-2517): every VAD inference whose `speech_duration` is at
  least `interruption.min_duration` (default 0.5 s) calls `_interrupt_by_audio_activity`.
- `on_final_transcript` (~2586-2610): every non-empty final transcript calls it too, with no
  duration check (`audio_recognition.py` ~1270-1285 returns early on an empty final and
  calls the hook *before* appending the final to `_audio_transcript`).
- `on_interim_transcript` (~2552-2575) only interrupts when there is no VAD, so interims
  never interrupt here.
- `_interrupt_by_audio_activity` (~2362-2429): when `min_words > 0`, it returns unless
  `len(split_words(_current_transcript, split_character=True)) >= min_words`, where
  `_current_transcript` (`audio_recognition.py` ~1175-1182) is the finals so far plus the
  latest interim.

The agent is taken to be speaking, interruptible and past its AEC warm-up for the whole
clip. The first call that passes the checks pauses/interrupts the agent: that moment is the
`interruption` decision. When nothing fires, the decision is `backchannel` and it is
committed when no further evidence can arrive: the later of the VAD's last end of speech
and the last transcript event (or the end of the audio if the VAD never closed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bench.datasets.audio import Samples
from bench.datasets.manifest import OverlapItem
from bench.evaluation.baselines.vad_timeline import vad_timeline
from bench.evaluation.types import OverlapDecision, TranscriptEvent

DEFAULT_MIN_DURATION_S = 0.5
"""`interruption.min_duration` default (`voice/turn.py` ~193)."""


def _word_count(text: str) -> int:
    from livekit.agents.tokenize.basic import split_words

    return len(split_words(text, split_character=True))


class LiveKitBargeIn:
    """`livekit-vad` (min_words 0) and `livekit-min-words-2` (min_words 2)."""

    def __init__(
        self, *, name: str, min_words: int = 0, min_duration_s: float = DEFAULT_MIN_DURATION_S
    ) -> None:
        if min_words < 0:
            raise ValueError(f"min_words must be >= 0, got {min_words}")
        if min_duration_s < 0:
            raise ValueError(f"min_duration_s must be >= 0, got {min_duration_s}")
        self.name = name
        self.min_words = min_words
        self.min_duration_s = min_duration_s
        self.vad_cpu_s = 0.0
        """CPU seconds spent on VAD timelines this system computed (cache misses only)."""

    def decide(
        self, item: OverlapItem, audio: Samples, transcript: Sequence[TranscriptEvent]
    ) -> OverlapDecision:
        t0 = time.process_time()
        tl = vad_timeline(audio)
        self.vad_cpu_s += time.process_time() - t0
        fired = first_firing(
            frames=[(f.t_s, f.speech_duration_s) for f in tl.frames],
            transcript=transcript,
            min_words=self.min_words,
            min_duration_s=self.min_duration_s,
            word_count=_word_count,
        )
        if fired is not None:
            return OverlapDecision("interruption", max(0.0, fired - item.onset_s))
        ends = [s.eos_event_s if s.eos_event_s is not None else tl.duration_s for s in tl.segments]
        last = max([item.onset_s, *ends, *(ev.at_s for ev in transcript)])
        return OverlapDecision("backchannel", last - item.onset_s)


def first_firing(
    *,
    frames: Sequence[tuple[float, float]],
    transcript: Sequence[TranscriptEvent],
    min_words: int,
    min_duration_s: float,
    word_count: Callable[[str], int],
) -> float | None:
    """Stream time (s) at which the framework's rule first interrupts, or None.

    `frames` are (stream time s, VAD speech duration s) per inference; transcript events are
    applied at their `at_s` (ties: the transcript first, as it was already delivered).
    Pure: `word_count` maps a text to its word count.
    """

    finals = ""
    interim = ""

    def current() -> str:
        return f"{finals} {interim}".strip() if interim else finals

    def words_ok() -> bool:
        return min_words <= 0 or word_count(current()) >= min_words

    def deliver(ev: TranscriptEvent) -> float | None:
        """Apply one transcript event; its time if a final with enough words fires."""
        nonlocal finals, interim
        text = ev.text.strip()
        if not ev.is_final:
            interim = text
            return None
        if text and words_ok():
            return ev.at_s
        if text:
            finals = f"{finals} {text}".strip()
        interim = ""
        return None

    tr = sorted(transcript, key=lambda e: e.at_s)
    j = 0
    for t, speech_s in frames:
        while j < len(tr) and tr[j].at_s <= t:
            ev = tr[j]
            j += 1
            if (fired := deliver(ev)) is not None:
                return fired
        if speech_s >= min_duration_s and words_ok():
            return t
    for ev in tr[j:]:
        if (fired := deliver(ev)) is not None:
            return fired
    return None
