"""Labelling and derivation rules of the benchmark sets (pure: corpus records in, specs out).

Overlap items (MRDA, timed). A candidate is an utterance U of speaker X whose first timed
word starts at `t0` strictly inside the word span of an utterance V of another speaker Y
(V's first word starts before `t0`, V's last word ends after `t0`). V is "the agent".
The candidate is kept only when all of these hold:

- Y had said at least `MIN_AGENT_WORDS` words of V before `t0` and is still talking
  at least `MIN_AGENT_REMAINING_S` after `t0` (so an overlap on the very end of Y's
  speech, a plain turn transition, is not counted), and V itself is not a backchannel;
- U has no untimed token, at least one spoken word, no `z`/`x` (unlabelled / non-speech)
  act and no disruption mark (`%`, `%-`, `%--`: abandoned or cut off, so what X meant
  is unknown).

U is labelled by its dialogue act (MRDA labels: `|`/`:` separate acts, `.` adds a
disruption, `^` adds specific tags to a general tag):

- `backchannel` when every act is backchannel-like (general tag `b` continuer, or `s`
  with specific `bk` acknowledgement, `aa` accept or `ba` assessment, optionally with
  `rt` rising tone / `fe` exclamation and nothing else) and U has at most
  `MAX_BACKCHANNEL_WORDS` words, and X does not speak again within `BC_RESUME_GAP_S`
  after U (otherwise the "yeah" opened a turn: ambiguous, excluded);
- `interruption` when an act is a floor grabber `fg`, a question (general `qy`, `qw`,
  `qh`, `qo`, `qr`, `qrr`), a reject (`ar`, `arp`) or a correction of the other (`bc`),
  or when U holds a statement (`s` without backchannel-like specifics) of at least
  `MIN_FLOOR_STATEMENT_WORDS` words;
- otherwise excluded (floor holders `fh`, holds `h`, short statements, long
  acknowledgements); backchannel questions (`bh`, e.g. "really?") are always excluded.

SWDA (text only, in order). An utterance U of X right after an utterance P of Y is a
`backchannel` when its tag is `b`, it has at most `MAX_BACKCHANNEL_WORDS` words, P is a
statement (`sd`/`sv`) and Y speaks next (Y kept the floor). It is an `interruption` when
U is the first unit of X's turn, its tag is a floor-taking act (`qy`, `qw`, `qo`, `qy^d`,
`qw^d`, `ad`, `ar`, `sd`) with at least `MIN_FLOOR_STATEMENT_WORDS` words, and P is a
statement of at least `MIN_AGENT_WORDS` words. `agent_text` is P; the rendered text is
U's first `MAX_SWDA_WORDS` words.

Endpoint turns (MRDA). Floor utterances are all utterances with words except
backchannel-like ones; a turn is a maximal run of consecutive floor utterances (by first
word time) of one speaker, so other speakers' backchannels do not end it. A turn is kept
when it has no untimed token, no `z` act, its last act is not disrupted, it lasts
`MIN_TURN_S`-`MAX_TURN_S`, has at least `MIN_TURN_WORDS` words, at least one pause and
no pause over `MAX_PAUSE_S`, the next speaker did not start more than
`MAX_END_OVERLAP_S` before its end (a clean end) and X is silent for at least
`BC_RESUME_GAP_S` after it. Pauses are word gaps of at least `PAUSE_MIN_S` inside the
turn (the speaker went on afterwards).

Sampling is deterministic: candidates are sorted by id, shuffled with a seeded
`random.Random`, capped per class (overlap) or in total (endpoint), and endpoint turns
are put back in meeting and time order.
"""

from __future__ import annotations

import functools
import random
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TypeVar

from bench.datasets.corpus import (
    MrdaUtterance,
    MrdaWord,
    Split,
    SwdaUtterance,
    read_mrda_split,
    read_swda_split,
)
from bench.datasets.manifest import OverlapLabel

__all__ = [
    "BC_RESUME_GAP_S",
    "MAX_BACKCHANNEL_WORDS",
    "MIN_AGENT_REMAINING_S",
    "MIN_AGENT_WORDS",
    "MIN_FLOOR_STATEMENT_WORDS",
    "PAUSE_MIN_S",
    "Act",
    "EndpointSpec",
    "MeetingIndex",
    "OverlapSpec",
    "Segment",
    "Verdict",
    "classify_mrda",
    "classify_swda",
    "is_backchannel_like",
    "derive_items",
    "derive_mrda_endpoints",
    "derive_mrda_overlaps",
    "derive_swda_overlaps",
    "parse_da",
    "paused_turn_spec",
    "sample_balanced",
    "sample_in_order",
    "segments_from_words",
    "speakable",
    "spoken_words",
    "swda_clean",
]

MAX_BACKCHANNEL_WORDS = 3
MIN_FLOOR_STATEMENT_WORDS = 4
MIN_AGENT_WORDS = 2
MIN_AGENT_REMAINING_S = 0.3
BC_RESUME_GAP_S = 1.0
PAUSE_MIN_S = 0.2
"""Word gap (s) that splits a render segment and, inside a turn, counts as a pause."""
MIN_TURN_S = 1.0
MAX_TURN_S = 30.0
MIN_TURN_WORDS = 3
MAX_PAUSE_S = 5.0
ENDPOINT_TAIL_S = 3.5
"""Silence kept after an endpoint turn's last word, seconds: longer than the latest any
benchmarked policy can fire (`livekit-dynamic` and the framework's `max_delay`: 3.0 s after
its VAD's end of speech, which trails the word by up to about 0.3 s), so every firing is
measured. It was 2.5 s until 2026-12-02, equal to our own ceiling: a turn we held to the
ceiling ended before we fired and was counted at 2.5 s, a lower bound (44 of 150 test
turns at the default)."""
MAX_END_OVERLAP_S = 0.5
MAX_CLIP_SPEECH_S = 4.0
"""Overlap clips keep X's speech up to this long after the onset (s)."""
MAX_SWDA_WORDS = 12
"""SWDA items keep their first 12 words (about 4 s, like MRDA clips' cap)."""
CONTINUATION_GAP_S = 0.5
"""X's next utterance joins the overlap clip when it starts within this gap (s)."""

_EPS_S = 1e-6
"""Corpus times have millisecond resolution: compare with this slack, not raw floats."""
_BC_SPECIFICS = frozenset({"bk", "aa", "ba"})
_BC_HARMLESS = frozenset({"rt", "fe"})
_QUESTIONS = frozenset({"qy", "qw", "qh", "qo", "qr", "qrr"})
_FLOOR_SPECIFICS = frozenset({"ar", "arp", "bc"})
_EXCLUDED_GENERALS = frozenset({"z", "x"})
_SWDA_STATEMENTS = frozenset({"sd", "sv"})
_SWDA_FLOOR_TAGS = frozenset({"qy", "qw", "qo", "qy^d", "qw^d", "ad", "ar", "sd"})


class Verdict(Enum):
    """Outcome of the labelling rule for one candidate."""

    BACKCHANNEL = "backchannel"
    INTERRUPTION = "interruption"
    EXCLUDED = "excluded"


@dataclass(frozen=True)
class Act:
    """One dialogue act of an MRDA label: `general^spec^spec.disruption`."""

    general: str
    specifics: frozenset[str]
    disruption: str | None


def parse_da(label: str) -> list[Act]:
    """Split an MRDA label into acts (`|` and `:` separate acts)."""
    return list(_parse_da(label))


@functools.lru_cache(maxsize=4096)
def _parse_da(label: str) -> tuple[Act, ...]:
    acts: list[Act] = []
    for part in re.split(r"[|:]", label.strip()):
        if not part:
            continue
        base, _, disruption = part.partition(".")
        tags = base.split("^")
        acts.append(Act(tags[0], frozenset(t for t in tags[1:] if t), disruption or None))
    return tuple(acts)


# ----------------------------------------------------------------------------- text

_LETTERS = re.compile(r"^[a-z](_[a-z])+_?$")
_SPELLINGS = {
    "o_k": "okay",
    "uh-huh": "uh huh",
    "mm-hmm": "mm hmm",
    "mhm": "mm hmm",
    "mm-hm": "mm hmm",
    "uh-uh": "uh uh",
    "hmm": "hmm",
    "i": "I",
}


@functools.lru_cache(maxsize=65_536)
def speakable(token: str) -> str:
    """TTS spelling of one corpus token ('' for noise marks).

    `o_k` -> "okay", `uh-huh` -> "uh huh" (the hyphenated form renders as "uh"),
    `mm-hmm` -> "mm hmm", spelled acronyms `v_a_d` -> "V A D", fragments `th-` -> "th".
    """
    t = token.strip().lower()
    if not t or t.startswith("{") or t.startswith("<") or t.startswith("["):
        return ""
    if t in _SPELLINGS:
        return _SPELLINGS[t]
    if _LETTERS.match(t):
        return " ".join(c.upper() for c in t.split("_") if c)
    if "_" in t:
        t = " ".join(p.upper() if len(p) == 1 else p for p in re.split(r"[_-]", t) if p)
    t = t.strip("-").replace("-", " ") if t.endswith("-") else t
    return re.sub(r"[^A-Za-z0-9' -]", "", t).strip()


def spoken_words(words: Iterable[MrdaWord]) -> list[str]:
    """Speakable text of each spoken word (noise marks dropped)."""
    return [s for s in (speakable(w.word) for w in words) if s]


def swda_clean(text: str) -> str:
    """SWDA utterance as plain speakable text (annotation marks dropped, `Uh-huh` spaced)."""
    t = re.sub(r"<[^>]*>", " ", text)
    t = re.sub(r"[*\"_^%=/&(){}\[\]#;:<>]", " ", t)
    t = re.sub(r"\b([Uu]h)-([Hh]uh)\b", r"\1 \2", t)
    t = re.sub(r"\b([Mm]m)-([Hh]mm)\b", r"\1 \2", t)
    t = re.sub(r"\s+-+\s+|--+", " ", t)
    return re.sub(r"\s+", " ", t).strip(" ,")


def _n_words(text: str) -> int:
    return len([w for w in text.split() if any(c.isalnum() for c in w)])


# ----------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class Segment:
    """A contiguous run of words to render as one phrase, placed at its real time.

    Times are seconds from the start of the clip."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class OverlapSpec:
    """A derived overlap item before rendering."""

    id: str
    label: OverlapLabel
    source: str
    speaker: str
    agent_text: str
    text: str
    preroll_s: float
    """Silence before the speech (s); the onset is where the first segment starts."""
    segments: tuple[Segment, ...] | None
    """Timed segments (MRDA); None for text-only items (SWDA: `text` rendered once)."""
    tail_s: float
    """Silence kept after the speech (s)."""
    da: str
    """The corpus act label, for reports."""


@dataclass(frozen=True)
class EndpointSpec:
    """A derived endpoint turn before rendering (times in seconds from clip start)."""

    id: str
    speaker: str
    segments: tuple[Segment, ...]
    pause_texts: tuple[str, ...]
    """Text of the turn up to each pause (one per gap between segments)."""
    text: str
    tail_s: float
    meeting: str
    start_in_meeting_s: float


def segments_from_words(
    words: Sequence[MrdaWord],
    offset_s: float,
    *,
    end_marks: dict[int, str] | None = None,
    gap_s: float = PAUSE_MIN_S,
) -> list[Segment]:
    """Group time-ordered words into segments split at gaps >= `gap_s`.

    Times are shifted by `-offset_s`. Noise marks take no segment. `end_marks[i]`
    (e.g. "." or "?") is appended when word `i` ends a segment: the corpus sentence end,
    so a phrase gets final punctuation only where the speaker really ended a sentence.
    """
    segs: list[Segment] = []
    cur: list[str] = []
    cur_start = cur_end = 0.0
    last_idx = -1
    for i, w in enumerate(words):
        s = speakable(w.word)
        if not s:
            continue
        if cur and w.start_s - cur_end >= gap_s - _EPS_S:
            mark = (end_marks or {}).get(last_idx, "")
            segs.append(_segment(cur_start - offset_s, cur_end - offset_s, cur, mark))
            cur = []
        if not cur:
            cur_start = w.start_s
            cur_end = w.end_s
        cur.append(s)
        cur_end = max(cur_end, w.end_s)
        last_idx = i
    if cur:
        mark = (end_marks or {}).get(last_idx, "")
        segs.append(_segment(cur_start - offset_s, cur_end - offset_s, cur, mark))
    return segs


def _segment(start_s: float, end_s: float, words: list[str], mark: str) -> Segment:
    return Segment(round(start_s, 3), round(end_s, 3), " ".join(words) + mark)


# ----------------------------------------------------------------------------- MRDA rules


def _bc_like(act: Act) -> bool:
    if act.general == "b":
        return act.specifics <= _BC_HARMLESS
    if act.general == "s":
        return bool(act.specifics & _BC_SPECIFICS) and act.specifics <= (
            _BC_SPECIFICS | _BC_HARMLESS
        )
    return False


def is_backchannel_like(u: MrdaUtterance) -> bool:
    """All acts backchannel-like and at most `MAX_BACKCHANNEL_WORDS` spoken words."""
    acts = parse_da(u.da)
    n = len(spoken_words(u.words))
    return bool(acts) and 0 < n <= MAX_BACKCHANNEL_WORDS and all(_bc_like(a) for a in acts)


def classify_mrda(u: MrdaUtterance) -> Verdict:
    """Label an overlapping MRDA utterance by its act and length (module docstring rule).

    The timing conditions (onset inside the other's speech, speaker resuming) are
    checked by `derive_mrda_overlaps`, not here."""
    acts = parse_da(u.da)
    n = len(spoken_words(u.words))
    if not acts or n == 0 or u.untimed_words:
        return Verdict.EXCLUDED
    match acts:
        case _ if any(
            a.general in _EXCLUDED_GENERALS or a.disruption or "bh" in a.specifics for a in acts
        ):
            return Verdict.EXCLUDED
        case _ if all(_bc_like(a) for a in acts):
            return Verdict.BACKCHANNEL if n <= MAX_BACKCHANNEL_WORDS else Verdict.EXCLUDED
        case _ if any(
            a.general == "fg" or a.general in _QUESTIONS or a.specifics & _FLOOR_SPECIFICS
            for a in acts
        ):
            return Verdict.INTERRUPTION
        case _ if (
            any(a.general == "s" and not a.specifics & _BC_SPECIFICS for a in acts)
            and n >= MIN_FLOOR_STATEMENT_WORDS
        ):
            return Verdict.INTERRUPTION
        case _:
            return Verdict.EXCLUDED


def _seed_of(key: str, seed: int) -> random.Random:
    return random.Random(f"{seed}:{key}")


def derive_mrda_overlaps(meeting: Sequence[MrdaUtterance], *, seed: int = 0) -> list[OverlapSpec]:
    """All labelled overlap items of one meeting (utterances sorted by start)."""
    utts = [u for u in meeting if u.words]
    index = MeetingIndex(utts)
    out: list[OverlapSpec] = []
    for k, u in enumerate(utts):
        verdict = classify_mrda(u)
        if verdict is Verdict.EXCLUDED:
            continue
        t0 = u.words[0].start_s
        ka = index.agent_of(u, t0)
        if ka is None:
            continue
        agent = utts[ka]
        agent_words = spoken_words(w for w in agent.words if w.start_s < t0)
        if len(agent_words) < MIN_AGENT_WORDS:
            continue
        if _talk_end(utts, ka, gap_s=PAUSE_MIN_S) - t0 < MIN_AGENT_REMAINING_S:
            continue
        u_end = u.words[-1].end_s
        if verdict is Verdict.BACKCHANNEL:
            resume = _next_start(utts, k)
            if resume is not None and resume - u_end < BC_RESUME_GAP_S:
                continue
            words = list(u.words)
        else:
            clip_end = _talk_end(utts, k, gap_s=CONTINUATION_GAP_S)
            words = sorted(
                (
                    w
                    for v in utts[k : index.stop_after(k, clip_end)]
                    if v.speaker == u.speaker and v.words[0].start_s <= clip_end
                    for w in v.words
                ),
                key=lambda w: w.start_s,
            )
            words = [w for w in words if w.end_s <= clip_end + 1e-6]
        words = [w for w in words if w.start_s < t0 + MAX_CLIP_SPEECH_S]
        rng = _seed_of(f"{u.meeting}-{u.index}", seed)
        preroll = round(rng.uniform(0.5, 1.0), 3)
        segs = segments_from_words(words, t0 - preroll)
        if not segs:
            continue
        out.append(
            OverlapSpec(
                id=f"mrda-{u.meeting}-{u.index:04d}",
                label=verdict.value,
                source="mrda",
                speaker=f"mrda:{u.speaker}",
                agent_text=" ".join(agent_words),
                text=" ".join(s.text for s in segs),
                preroll_s=segs[0].start_s,
                segments=tuple(segs),
                tail_s=1.5,
                da=u.da,
            )
        )
    return out


class MeetingIndex:
    """Running extremes of a meeting's word times, so that the scans of the derivation
    rules visit only the utterances that can match (same results as a scan of all).

    Utterances are sorted by their own start, not by their first word, so first-word
    times are not monotonic along the list; their prefix maxima and suffix minima are."""

    def __init__(self, utts: Sequence[MrdaUtterance]) -> None:
        self._utts = utts
        firsts = [u.words[0].start_s for u in utts]
        self._max_first: list[float] = []
        self._max_last: list[float] = []
        hi_first = hi_last = float("-inf")
        for u, first in zip(utts, firsts, strict=True):
            hi_first = max(hi_first, first)
            hi_last = max(hi_last, u.words[-1].end_s)
            self._max_first.append(hi_first)
            self._max_last.append(hi_last)
        self._min_first_from = firsts[:]
        for i in range(len(firsts) - 2, -1, -1):
            self._min_first_from[i] = min(firsts[i], self._min_first_from[i + 1])
        self._bc_like: dict[int, bool] = {}

    def agent_of(self, u: MrdaUtterance, t0: float) -> int | None:
        """Index of the first utterance, before the first one whose first word starts at
        or after `t0`, of another speaker whose words span `t0` and that is not
        backchannel-like; None when there is none."""
        stop = bisect_left(self._max_first, t0)  # first utterance starting at/after t0
        lo = bisect_right(self._max_last, t0)  # every earlier one ended by t0
        for i in range(lo, stop):
            v = self._utts[i]
            if v.speaker == u.speaker or not v.words[0].start_s < t0 < v.words[-1].end_s:
                continue
            if i not in self._bc_like:
                self._bc_like[i] = is_backchannel_like(v)
            if not self._bc_like[i]:
                return i
        return None

    def stop_after(self, k: int, t: float) -> int:
        """End of the utterances from `k` on that may start (first word) at or before
        `t`: every later one starts after `t`."""
        return bisect_right(self._min_first_from, t, lo=k)


def _talk_end(utts: Sequence[MrdaUtterance], k: int, *, gap_s: float) -> float:
    """End of utts[k]'s speaker's talk from utts[k] on, joining that speaker's next
    utterances while each starts less than `gap_s` after the talk so far."""
    u = utts[k]
    end = u.words[-1].end_s
    for v in utts[k + 1 :]:
        if v.words[0].start_s - end >= gap_s:
            break
        if v.speaker == u.speaker:
            end = max(end, v.words[-1].end_s)
    return end


def _next_start(utts: Sequence[MrdaUtterance], k: int) -> float | None:
    """First word time of the next utterance of utts[k]'s speaker (None: never again)."""
    u = utts[k]
    end = u.words[-1].end_s
    for v in utts[k + 1 :]:
        if v.speaker == u.speaker and v.words[0].start_s >= end - 1e-6:
            return v.words[0].start_s
    return None


def derive_mrda_endpoints(meeting: Sequence[MrdaUtterance]) -> list[EndpointSpec]:
    """All kept turns of one meeting, in time order (rule in the module docstring)."""
    utts = [u for u in meeting if u.words]
    floor = sorted(
        (u for u in utts if not is_backchannel_like(u)), key=lambda u: u.words[0].start_s
    )
    runs: list[list[MrdaUtterance]] = []
    for u in floor:
        if runs and runs[-1][0].speaker == u.speaker:
            runs[-1].append(u)
        else:
            runs.append([u])
    starts: dict[str, list[float]] = {}
    for u in utts:
        starts.setdefault(u.speaker, []).append(u.words[0].start_s)
    for v in starts.values():
        v.sort()
    out: list[EndpointSpec] = []
    for r, run in enumerate(runs[:-1]):
        nxt_start = runs[r + 1][0].words[0].start_s
        spec = _turn_spec(run, nxt_start, starts[run[0].speaker])
        if spec is not None:
            out.append(spec)
    return out


def _turn_spec(
    run: list[MrdaUtterance], next_floor_start_s: float, speaker_starts: Sequence[float]
) -> EndpointSpec | None:
    """`speaker_starts`: sorted first-word times of all the run's speaker's utterances."""
    if any(u.untimed_words for u in run):
        return None
    if any(a.general == "z" for u in run for a in parse_da(u.da)):
        return None
    if any(a.disruption for a in parse_da(run[-1].da)):
        return None
    pairs: list[tuple[MrdaWord, str]] = []
    for u in run:
        acts = parse_da(u.da)
        mark = "?" if any(a.general in _QUESTIONS for a in acts) else "."
        for j, w in enumerate(u.words):
            pairs.append((w, mark if j == len(u.words) - 1 else ""))
    pairs.sort(key=lambda p: p[0].start_s)
    words = [p[0] for p in pairs]
    marks = {i: p[1] for i, p in enumerate(pairs) if p[1]}
    spoken = [w for w in words if speakable(w.word)]
    if len(spoken) < MIN_TURN_WORDS:
        return None
    start, end = spoken[0].start_s, max(w.end_s for w in spoken)
    if not MIN_TURN_S <= end - start <= MAX_TURN_S:
        return None
    if next_floor_start_s < end - MAX_END_OVERLAP_S:
        return None
    speaker = run[0].speaker
    # does the speaker start an utterance within BC_RESUME_GAP_S after the end?
    nxt = bisect_right(speaker_starts, end)
    if nxt < len(speaker_starts) and speaker_starts[nxt] < end + BC_RESUME_GAP_S:
        return None
    preroll = 0.5
    segs = segments_from_words(words, start - preroll, end_marks=marks)
    u0 = run[0]
    return paused_turn_spec(
        segs,
        id=f"mrda-{u0.meeting}-t{u0.index:04d}",
        speaker=f"mrda:{speaker}",
        meeting=u0.meeting,
        start_in_meeting_s=start,
    )


def paused_turn_spec(
    segs: Sequence[Segment],
    *,
    id: str,
    speaker: str,
    meeting: str,
    start_in_meeting_s: float,
) -> EndpointSpec | None:
    """The endpoint item of a turn spoken as `segs`, or None unless it has a mid-turn pause
    (two segments or more) and none longer than MAX_PAUSE_S. Shared by every corpus's
    endpoint set."""
    if len(segs) < 2:
        return None
    if any(b.start_s - a.end_s > MAX_PAUSE_S for a, b in zip(segs, segs[1:], strict=False)):
        return None
    pause_texts = tuple(" ".join(s.text for s in segs[: i + 1]) for i in range(len(segs) - 1))
    return EndpointSpec(
        id=id,
        speaker=speaker,
        segments=tuple(segs),
        pause_texts=pause_texts,
        text=" ".join(s.text for s in segs),
        tail_s=ENDPOINT_TAIL_S,
        meeting=meeting,
        start_in_meeting_s=start_in_meeting_s,
    )


# ----------------------------------------------------------------------------- SWDA rules


def classify_swda(
    prev: SwdaUtterance | None, u: SwdaUtterance, nxt: SwdaUtterance | None
) -> Verdict:
    """Label SWDA utterance `u` given its neighbours (rule in the module docstring)."""
    if prev is None or prev.speaker == u.speaker:
        return Verdict.EXCLUDED
    text = swda_clean(u.text)
    n = _n_words(text)
    prev_n = _n_words(swda_clean(prev.text))
    match u.tag:
        case "b":
            ok = (
                0 < n <= MAX_BACKCHANNEL_WORDS
                and prev.tag in _SWDA_STATEMENTS
                and nxt is not None
                and nxt.speaker == prev.speaker
            )
            return Verdict.BACKCHANNEL if ok else Verdict.EXCLUDED
        case tag if tag in _SWDA_FLOOR_TAGS:
            ok = (
                n >= MIN_FLOOR_STATEMENT_WORDS
                and prev.tag in _SWDA_STATEMENTS
                and prev_n >= MIN_AGENT_WORDS
            )
            return Verdict.INTERRUPTION if ok else Verdict.EXCLUDED
        case _:
            return Verdict.EXCLUDED


def derive_swda_overlaps(conv: Sequence[SwdaUtterance], *, seed: int = 0) -> list[OverlapSpec]:
    """All labelled items of one SWDA conversation (text only, rendered whole)."""
    out: list[OverlapSpec] = []
    for i, u in enumerate(conv):
        prev = conv[i - 1] if i > 0 else None
        nxt = conv[i + 1] if i + 1 < len(conv) else None
        verdict = classify_swda(prev, u, nxt)
        if verdict is Verdict.EXCLUDED or prev is None:
            continue
        rng = _seed_of(f"{u.conversation}-{u.index}", seed)
        out.append(
            OverlapSpec(
                id=f"swda-{u.conversation}-{u.index:03d}",
                label=verdict.value,
                source="swda",
                speaker=f"swda:{u.conversation}:{u.speaker}",
                agent_text=swda_clean(prev.text),
                text=" ".join(swda_clean(u.text).split()[:MAX_SWDA_WORDS]),
                preroll_s=round(rng.uniform(0.5, 1.0), 3),
                segments=None,
                tail_s=1.5,
                da=u.tag,
            )
        )
    return out


# ----------------------------------------------------------------------------- sampling

T = TypeVar("T")


def sample_balanced(
    items: Sequence[OverlapSpec], per_class: int, *, seed: int
) -> list[OverlapSpec]:
    """Up to `per_class` items of each label, seeded, returned sorted by id."""
    out: list[OverlapSpec] = []
    for label in ("backchannel", "interruption"):
        pool = sorted((s for s in items if s.label == label), key=lambda s: s.id)
        random.Random(f"{seed}:{label}").shuffle(pool)
        out.extend(pool[:per_class])
    return sorted(out, key=lambda s: s.id)


def sample_in_order(
    items: Sequence[T], cap: int, *, seed: int, key: Callable[[T], tuple[str, float]]
) -> list[T]:
    """Up to `cap` items, seeded, returned in `key` order (meeting, time)."""
    pool = sorted(items, key=key)
    if len(pool) <= cap:
        return pool
    idx = list(range(len(pool)))
    random.Random(seed).shuffle(idx)
    return [pool[i] for i in sorted(idx[:cap])]


def derive_items(data_dir: Path, split: Split) -> list[OverlapSpec]:
    """All labelled overlap specs of a split of both corpora (the rules above); the training
    tools read the train and val splits this way, never test."""
    assert split != "test", "the test split is for final reporting only"
    out: list[OverlapSpec] = []
    for meeting in read_mrda_split(data_dir, split):
        out.extend(derive_mrda_overlaps(meeting))
    for conv in read_swda_split(data_dir, split):
        out.extend(derive_swda_overlaps(conv))
    return out
