"""Endpoint turns from the HCRC Map Task corpus (NXT release 2.1): reading and derivation.

The corpus (`maptask/` under the corpora folder; CC BY-NC-SA 2.5, so the derived sets keep
its attribution and non-commercial, share-alike terms) holds two-party task dialogues
between an instruction giver `g` and a follower `f`:

- `timed-units/<dialogue>.<g|f>.timed-units.xml`: every word of one speaker,
  `<tu id=.. start=.. end=..>word</tu>` (times in seconds; a unit may hold two words,
  "do you"), plus `<sil>` and `<noi>` spans, which are ignored;
- `moves/<dialogue>.<g|f>.moves.xml`: dialogue moves, `<move label=.. aban=..>` over a range
  of that speaker's units (`<nite:child href="<file>#id(a)..id(b)"/>`, document order);
- `corpus-resources/maptask-corpus.xml`: the participant code of each role of a dialogue
  (a person keeps the code across dialogues, so it is the speaker key);
- `metadata/<split>_split.txt`: the dialogues of each split. The splits are by quad (q1-q5
  train, q6 val, q7 test), so no speaker is in two of them.

Rules (pure: a dialogue in, turns and specs out):

- The partner *takes the floor* with any word outside an acknowledgement: words of a move
  labelled `acknowledge` ("mmhmm", "right", "okay") never do. A word covered by no move
  (or a whole speaker whose moves file is absent) is judged by its stretch (that speaker's
  uncovered words joined while each starts less than `PAUSE_MIN_S` after the last): the
  stretch does not take the floor when all its words are in the project's
  acknowledgement list (`livekit.plugins.turntaking.arbiter.model.acknowledgement_only`).
- Each partner floor word belongs to the gap after the speaker's last word that started
  at or before it; the speaker's turn ends at that word when the floor word ends after
  it (a partner word wholly inside one of the speaker's words does not end the turn). A
  **turn** is therefore a maximal stretch of one speaker's words not interrupted by the
  partner taking the floor, and a turn end is where the partner takes the floor.
- A **hold** (mid-turn pause) is a silence of at least `PAUSE_MIN_S` (0.2 s, the MRDA
  sets' constant) between two words of one turn: the speaker went on and the partner did
  not take the floor in between (the partner's acknowledgements may fall in it).
  `speech_end_s` is the end of the turn's last word.

A turn is kept for the endpoint set under the MRDA endpoint set's rules
(`bench.datasets.derive`): the partner took the floor after it (a speaker's last turn of the
dialogue is not kept), it holds no `uncodable` move (as MRDA's `z`), its last move is not
abandoned and its last word is not a cut-off fragment ("g--"), it lasts `MIN_TURN_S` -
`MAX_TURN_S` with at least `MIN_TURN_WORDS` words, at least one hold and none over
`MAX_PAUSE_S`, the partner's floor word that ended it did not start more than
`MAX_END_OVERLAP_S` before its end, and the speaker is silent for at least
`BC_RESUME_GAP_S` after it. The clip holds the speaker's words only (in production the
agent's side is removed by echo cancellation, so the partner's overlapping speech is not
in it), from 0.5 s before the first word to `ENDPOINT_TAIL_S` after the last. A `?` ends
the text of a question move (`query_yn`, `query_w`, `check`, `align`), a `.` any other
move.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from livekit.plugins.turntaking.arbiter.model import acknowledgement_only, normalize_words
from livekit.plugins.turntaking.endpointing.model import MAX_PAUSE_S, MIN_PAUSE_S
from livekit.plugins.turntaking.endpointing.model import normalize_words as endpoint_tokens

from bench.datasets.corpus import CorpusError, MrdaWord, Split
from bench.datasets.derive import (
    BC_RESUME_GAP_S,
    MAX_END_OVERLAP_S,
    MAX_TURN_S,
    MIN_TURN_S,
    MIN_TURN_WORDS,
    PAUSE_MIN_S,
    EndpointSpec,
    paused_turn_spec,
    segments_from_words,
    speakable,
)
from bench.datasets.silences import Silence

__all__ = [
    "ACKNOWLEDGE",
    "MaptaskDialogue",
    "MaptaskTurn",
    "MaptaskWord",
    "Role",
    "derive_maptask_endpoints",
    "dialogue_turns",
    "floor_flags",
    "maptask_dialogues",
    "parse_moves",
    "parse_timed_units",
    "read_dialogue",
    "read_maptask_split",
    "train_hold_lengths",
]

Role = Literal["g", "f"]
ROLES: tuple[Role, ...] = ("g", "f")
ACKNOWLEDGE = "acknowledge"
"""The move label that never takes the floor."""
_QUESTION_MOVES = frozenset({"query_yn", "query_w", "check", "align"})
_UNCODABLE = "uncodable"
_PREROLL_S = 0.5
_EPS_S = 1e-6
_VOICE_SPELLINGS = {"mmhmm": "mm-hmm", "ehm": "um", "erm": "um"}
"""Map Task spellings the voice would misread, to the forms `speakable` knows."""
_HREF = re.compile(r"^(?P<file>[^#]+)#id\((?P<a>[^)]+)\)(?:\.\.id\((?P<b>[^)]+)\))?$")


@dataclass(frozen=True)
class MaptaskWord:
    """One timed unit of a speaker (times in seconds from the dialogue start)."""

    start_s: float
    end_s: float
    text: str
    """The corpus token (lower case; `g--` is a cut-off fragment; may hold two words)."""
    index: int
    """Position among the speaker's timed words (0-based, time order)."""
    move: str | None = None
    """Label of the move covering the word; None when no move covers it."""
    move_end: bool = False
    """The word is the last one of its move."""
    abandoned: bool = False
    """The covering move is marked abandoned (`aban="true_aban"`)."""


@dataclass(frozen=True)
class MaptaskDialogue:
    """Both speakers' words of one dialogue."""

    name: str
    words: dict[Role, tuple[MaptaskWord, ...]]
    speakers: dict[Role, str]
    """Participant code of each role (e.g. `q1eta1`)."""


@dataclass(frozen=True)
class MaptaskTurn:
    """A maximal stretch of one speaker's words not interrupted by the partner taking the
    floor (see the module docstring)."""

    role: Role
    words: tuple[MaptaskWord, ...]
    holds: tuple[tuple[float, float], ...]
    """Silences of at least `PAUSE_MIN_S` between the turn's words (s into the dialogue)."""
    floor_taken_s: float | None
    """Start of the partner's floor word that ended the turn; None when the dialogue ended
    without the partner taking the floor."""
    next_own_start_s: float | None
    """Start of the speaker's next word after the turn (None: none)."""


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Unit:
    id: str
    start_s: float
    end_s: float
    text: str | None
    """The word of a `<tu>`; None for `<sil>`/`<noi>`."""


@dataclass(frozen=True)
class _Move:
    label: str | None
    """None for the inter-move spans (`<ims>`)."""
    first: str
    last: str
    abandoned: bool


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_root(path: Path) -> ET.Element:
    if not path.is_file():
        raise CorpusError(f"{path}: file not found")
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise CorpusError(f"{path}: malformed XML ({exc})") from exc
    except OSError as exc:
        raise CorpusError(f"{path}: unreadable ({exc})") from exc


def _units(path: Path) -> list[_Unit]:
    """Every element of a timed-units file, in document order."""
    out: list[_Unit] = []
    for el in _xml_root(path):
        tag = _local(el.tag)
        if tag not in ("tu", "sil", "noi"):
            continue
        uid = el.get("id")
        start, end = el.get("start"), el.get("end")
        if not uid or start is None or end is None:
            raise CorpusError(f"{path}: <{tag}> without id, start or end ({el.attrib})")
        try:
            a, b = float(start), float(end)
        except ValueError as exc:
            raise CorpusError(f"{path}: <{tag} id={uid!r}> has non-numeric times") from exc
        if b < a:
            raise CorpusError(f"{path}: <{tag} id={uid!r}> ends before it starts")
        text = " ".join((el.text or "").split()).lower() if tag == "tu" else None
        out.append(_Unit(uid, a, b, text))
    return out


def parse_timed_units(path: Path) -> list[MaptaskWord]:
    """The words (`<tu>`) of one timed-units file, sorted by start, without move labels.

    Raises `CorpusError` naming the file when it is missing, not well-formed XML, or a
    unit lacks its id or times."""
    return _words(_units(path), {}, path)


def parse_moves(path: Path) -> list[_Move]:
    """The moves and inter-move spans of one moves file, in document order.

    Raises `CorpusError` naming the file when it is missing, not well-formed XML, or a
    move's child reference is not `file#id(a)` or `file#id(a)..id(b)`."""
    out: list[_Move] = []
    for el in _xml_root(path):
        tag = _local(el.tag)
        if tag not in ("move", "ims"):
            continue
        children = [c for c in el if _local(c.tag) == "child"]
        if len(children) != 1:
            raise CorpusError(f"{path}: <{tag} id={el.get('id')!r}> must have one nite:child")
        href = children[0].get("href", "")
        m = _HREF.match(href)
        if m is None:
            raise CorpusError(f"{path}: <{tag} id={el.get('id')!r}> has a bad href {href!r}")
        label = el.get("label") if tag == "move" else None
        if tag == "move" and not label:
            raise CorpusError(f"{path}: <move id={el.get('id')!r}> has no label")
        out.append(_Move(label, m["a"], m["b"] or m["a"], el.get("aban", "").startswith("true")))
    return out


def _words(units: Sequence[_Unit], moves_of: dict[str, _Move], path: Path) -> list[MaptaskWord]:
    tus = [(n, u) for n, u in enumerate(units) if u.text is not None]
    tus.sort(key=lambda p: (p[1].start_s, p[0]))
    last_word_of: dict[int, int] = {}  # id(move) -> document index of its last word
    for n, u in tus:
        mv = moves_of.get(u.id)
        if mv is not None:
            last_word_of[id(mv)] = max(last_word_of.get(id(mv), -1), n)
    out: list[MaptaskWord] = []
    for k, (n, u) in enumerate(tus):
        assert u.text is not None
        mv = moves_of.get(u.id)
        out.append(
            MaptaskWord(
                start_s=u.start_s,
                end_s=u.end_s,
                text=u.text,
                index=k,
                move=mv.label if mv is not None else None,
                move_end=mv is not None and mv.label is not None and last_word_of[id(mv)] == n,
                abandoned=mv is not None and mv.abandoned,
            )
        )
    return out


def _speaker_words(root: Path, dialogue: str, role: Role) -> list[MaptaskWord]:
    tu_path = root / "timed-units" / f"{dialogue}.{role}.timed-units.xml"
    units = _units(tu_path)
    moves_path = root / "moves" / f"{dialogue}.{role}.moves.xml"
    moves_of: dict[str, _Move] = {}
    if moves_path.is_file():
        position = {u.id: n for n, u in enumerate(units)}
        for mv in parse_moves(moves_path):
            if mv.first not in position or mv.last not in position:
                missing = mv.first if mv.first not in position else mv.last
                raise CorpusError(
                    f"{moves_path}: a move refers to unit {missing!r}, not in {tu_path}"
                )
            a, b = position[mv.first], position[mv.last]
            if b < a:
                raise CorpusError(f"{moves_path}: a move's range {mv.first}..{mv.last} is reversed")
            for u in units[a : b + 1]:
                if mv.label is not None or u.id not in moves_of:
                    moves_of[u.id] = mv
    return _words(units, moves_of, tu_path)


def _participants(root: Path) -> dict[str, dict[Role, str]]:
    path = root / "corpus-resources" / "maptask-corpus.xml"
    out: dict[str, dict[Role, str]] = {}
    for conv in _xml_root(path):
        if _local(conv.tag) != "conv" or not conv.get("id"):
            continue
        roles: dict[Role, str] = {}
        for p in conv:
            role, href = p.get("role"), p.get("href", "")
            m = re.search(r"#id\(([^)]+)\)", href)
            if role in ROLES and m is not None:
                roles["g" if role == "g" else "f"] = m[1]
        out[str(conv.get("id"))] = roles
    return out


def read_dialogue(
    root: Path, name: str, *, participants: dict[str, dict[Role, str]] | None = None
) -> MaptaskDialogue:
    """Both speakers of dialogue `name` from the corpus folder `root` (`.../maptask`).

    The moves label the words; a speaker whose moves file is absent has unlabelled words
    (judged by the acknowledgement list). Raises `CorpusError` naming the file for a
    missing timed-units file, malformed XML, a move referring to a unit that does not
    exist, or a dialogue without both roles in `corpus-resources/maptask-corpus.xml`."""
    people = participants if participants is not None else _participants(root)
    roles = people.get(name, {})
    if set(roles) != set(ROLES):
        path = root / "corpus-resources" / "maptask-corpus.xml"
        raise CorpusError(f"{path}: dialogue {name!r} lacks a giver or follower participant")
    words: dict[Role, tuple[MaptaskWord, ...]] = {
        r: tuple(_speaker_words(root, name, r)) for r in ROLES
    }
    return MaptaskDialogue(name, words, dict(roles))


def maptask_dialogues(data_dir: Path, split: Split) -> list[str]:
    """Dialogue names of a split, from `maptask/metadata/<split>_split.txt`."""
    path = data_dir / "maptask" / "metadata" / f"{split}_split.txt"
    if not path.is_file():
        raise CorpusError(f"{path}: split file not found (is the corpus folder right?)")
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def read_maptask_split(data_dir: Path, split: Split) -> Iterator[MaptaskDialogue]:
    """Yield each dialogue of `split` (sorted by name); `data_dir` holds `maptask/`."""
    root = data_dir / "maptask"
    names = sorted(maptask_dialogues(data_dir, split))
    people = _participants(root)
    for name in names:
        yield read_dialogue(root, name, participants=people)


# ----------------------------------------------------------------------------- rules


def _is_ack(texts: Iterable[str]) -> bool:
    return acknowledgement_only(normalize_words(" ".join(texts)))


def floor_flags(words: Sequence[MaptaskWord]) -> list[bool]:
    """For each word of one speaker (time order): does it take the floor? (rule in the
    module docstring: an `acknowledge` move never does; uncovered words by their stretch.)"""
    flags = [w.move != ACKNOWLEDGE for w in words]
    i = 0
    while i < len(words):
        if words[i].move is not None:
            i += 1
            continue
        j = i + 1
        while (
            j < len(words)
            and words[j].move is None
            and words[j].start_s - max(w.end_s for w in words[i:j]) < PAUSE_MIN_S - _EPS_S
        ):
            j += 1
        ack = _is_ack(w.text for w in words[i:j])
        for k in range(i, j):
            flags[k] = not ack
        i = j
    return flags


def _partner(role: Role) -> Role:
    return "f" if role == "g" else "g"


def dialogue_turns(dialogue: MaptaskDialogue) -> list[MaptaskTurn]:
    """Every turn of both speakers (of any length, with or without holds), in time order."""
    out: list[MaptaskTurn] = []
    for role in ROLES:
        own = dialogue.words[role]
        if not own:
            continue
        other = dialogue.words[_partner(role)]
        floor = [w for w, f in zip(other, floor_flags(other), strict=True) if f]
        starts = [w.start_s for w in own]
        # the partner's floor words ending the turn after each of the speaker's words
        taken: list[float | None] = [None] * len(own)
        for w in floor:
            i = bisect_left(starts, w.start_s + _EPS_S) - 1  # last own word starting <= w
            if i < 0 or w.end_s <= own[i].end_s + _EPS_S:
                continue
            prev = taken[i]
            taken[i] = w.start_s if prev is None else min(prev, w.start_s)
        first = 0
        for i, _ in enumerate(own):
            if taken[i] is None and i + 1 < len(own):
                continue
            words = own[first : i + 1]
            holds: list[tuple[float, float]] = []
            end = words[0].end_s
            for w in words[1:]:
                if w.start_s - end >= PAUSE_MIN_S - _EPS_S:
                    holds.append((end, w.start_s))
                end = max(end, w.end_s)
            nxt = own[i + 1].start_s if i + 1 < len(own) else None
            out.append(MaptaskTurn(role, tuple(words), tuple(holds), taken[i], nxt))
            first = i + 1
    out.sort(key=lambda t: (t.words[0].start_s, t.role))
    return out


def _spoken(words: Iterable[MaptaskWord]) -> list[str]:
    return [s for w in words for s in _voice(w.text).split()]


def _voice(token: str) -> str:
    """TTS spelling of one Map Task token ("mmhmm" -> "mm hmm", "g--" -> "g")."""
    return " ".join(speakable(_VOICE_SPELLINGS.get(t, t)) for t in token.split()).strip()


def _kept_spec(dialogue: MaptaskDialogue, turn: MaptaskTurn) -> EndpointSpec | None:
    """The endpoint spec of a turn kept by the module docstring's rules, else None."""
    if turn.floor_taken_s is None:
        return None
    words = turn.words
    if any(w.move == _UNCODABLE for w in words):
        return None
    last = words[-1]
    if last.abandoned or last.text.endswith("-"):
        return None
    if len(_spoken(words)) < MIN_TURN_WORDS:
        return None
    start, end = words[0].start_s, max(w.end_s for w in words)
    if not MIN_TURN_S <= end - start <= MAX_TURN_S:
        return None
    if turn.floor_taken_s < end - MAX_END_OVERLAP_S:
        return None
    if turn.next_own_start_s is not None and turn.next_own_start_s < end + BC_RESUME_GAP_S:
        return None
    as_words = [MrdaWord(w.start_s, w.end_s, _voice(w.text)) for w in words]
    marks = {
        k: ("?" if w.move in _QUESTION_MOVES else ".") for k, w in enumerate(words) if w.move_end
    }
    segs = segments_from_words(as_words, start - _PREROLL_S, end_marks=marks)
    return paused_turn_spec(
        segs,
        id=f"maptask-{dialogue.name}-{turn.role}-{words[0].index + 1:04d}",
        speaker=f"maptask:{dialogue.speakers[turn.role]}",
        meeting=dialogue.name,
        start_in_meeting_s=start,
    )


def derive_maptask_endpoints(dialogue: MaptaskDialogue) -> list[EndpointSpec]:
    """The kept turns of one dialogue as endpoint specs, in time order."""
    return [s for t in dialogue_turns(dialogue) if (s := _kept_spec(dialogue, t)) is not None]


def train_hold_lengths(data_dir: Path) -> list[float]:
    """Every hold (s) of every turn of the train split: the corpus statistic of pauses."""
    return [
        b - a
        for d in read_maptask_split(data_dir, "train")
        for t in dialogue_turns(d)
        for a, b in t.holds
    ]


def turn_silences(dialogue: MaptaskDialogue) -> list[Silence]:
    """Every labelled silence of one dialogue, in the MRDA reading's form
    (`bench.datasets.silences.Silence`): each hold of MIN_PAUSE_S..MAX_PAUSE_S is a mid-turn
    pause, and the end of a turn the partner took over (not abandoned, not a cut-off
    fragment) ends the turn. A longer hold starts a new stretch of text, as in MRDA."""
    out: list[Silence] = []
    for turn in dialogue_turns(dialogue):
        speaker = f"maptask:{dialogue.speakers[turn.role]}"
        tokens: list[str] = []
        pending: list[Silence] = []
        words = turn.words
        for i, w in enumerate(words):
            tokens.extend(endpoint_tokens(" ".join(_spoken([w]))))
            if i + 1 == len(words):
                break
            gap = words[i + 1].start_s - w.end_s
            if gap > MAX_PAUSE_S:
                tokens, pending = [], []
            elif gap >= MIN_PAUSE_S and tokens:
                pending.append(Silence(speaker, w.end_s, gap, tuple(tokens), False, len(pending)))
        out.extend(pending)
        last = words[-1]
        if (
            turn.floor_taken_s is not None
            and tokens
            and not last.abandoned
            and not last.text.endswith("-")
        ):
            gap = max(turn.floor_taken_s - last.end_s, 0.0)
            out.append(Silence(speaker, last.end_s, gap, tuple(tokens), True, len(pending)))
    out.sort(key=lambda s: (s.start_s, s.speaker))
    return out


def load_maptask_silences(data_dir: Path, split: Split) -> dict[str, list[Silence]]:
    """The labelled silences of every dialogue of `split`, by dialogue name."""
    return {d.name: turn_silences(d) for d in read_maptask_split(data_dir, split)}
