"""The labelled silences of MRDA meetings: where an endpointer has to decide whether a turn is
over, read from the corpus's word times (`mrda/mrda_archive/database/<meeting>.dadb`).

For every speaker, consecutive non-backchannel words form a turn until another speaker's
non-backchannel word starts (backchannels, dialogue act `b`, never end a turn). A silence of
MIN_PAUSE_S..MAX_PAUSE_S between two words of the same turn is a mid-turn pause; the silence
after a turn's last word is its end. The endpointing models are trained on these
(`bench.training.endpointing`) and the policies replayed on them
(`bench.evaluation.endpoint_corpus`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from livekit.plugins.turntaking.endpointing.model import MAX_PAUSE_S, MIN_PAUSE_S, normalize_words

from bench.datasets.derive import parse_da

__all__ = ["Silence", "Word", "load_split", "meeting_silences", "read_meeting", "split_meetings"]


@dataclass(frozen=True)
class Word:
    start_s: float
    end_s: float
    text: str
    speaker: str
    backchannel: bool
    cut_off: bool = False
    """The word's utterance was abandoned or cut off (a `%` act or disruption mark)."""


def _is_cut_off(da: str) -> bool:
    return any(a.disruption or a.general.startswith("%") for a in parse_da(da))


def _is_backchannel(da: str) -> bool:
    head = da.replace("|", "^").replace(".", "^").replace(":", "^").split("^")[0].strip()
    return head == "b"


def read_meeting(path: Path) -> list[Word]:
    """Words of one `.dadb` file (rows: start, end, id, ?, words, DA, channel, speaker...)."""
    words: list[Word] = []
    with path.open(newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), 1):
            if len(row) < 8:
                raise ValueError(f"{path}:{lineno}: expected >= 8 fields, got {len(row)}")
            bc = _is_backchannel(row[5])
            cut = _is_cut_off(row[5])
            for tok in row[4].split("|"):
                parts = tok.split("+", 2)
                if len(parts) != 3 or not parts[2]:
                    continue
                try:
                    s, e = float(parts[0]), float(parts[1])
                except ValueError:
                    continue
                words.append(Word(s, e, parts[2], row[7], bc, cut))
    words.sort(key=lambda w: w.start_s)
    return words


@dataclass(frozen=True)
class Silence:
    """One silence of at least MIN_PAUSE_S after a floor-holding word of one speaker: the
    moment an endpointer has to decide whether the turn is over."""

    speaker: str
    start_s: float
    """End of the last word before the silence, seconds into the meeting."""
    length_s: float
    """Until the same speaker's next word, seconds."""
    words: tuple[str, ...]
    """The turn's normalized tokens up to the silence."""
    ends_turn: bool
    """Another speaker's floor-holding word started before this speaker went on."""
    earlier_pauses: int
    """Mid-turn pauses of this turn before this silence."""


def meeting_silences(words: list[Word]) -> list[Silence]:
    """Every labelled silence of one meeting, in time order: each mid-turn pause
    (MIN_PAUSE_S..MAX_PAUSE_S, the speaker went on before anyone else held the floor) and
    each turn end, of turns of any length, with or without a pause. A turn whose last
    utterance was abandoned or cut off has no turn end (the speaker did not finish: the
    benchmark's endpoint sets drop such turns too); its pauses count. A silence longer than
    MAX_PAUSE_S that nobody filled is neither and starts a new turn; a speaker's last word
    in the meeting is not labelled."""
    floor = [w for w in words if not w.backchannel]
    starts = np.array([w.start_s for w in floor])
    spk = np.array([w.speaker for w in floor])
    out: list[Silence] = []
    for speaker in sorted(set(spk.tolist())):
        own = [w for w in floor if w.speaker == speaker]
        other_starts = np.sort(starts[spk != speaker])
        turn: list[str] = []
        pending: list[Silence] = []
        for i, w in enumerate(own):
            turn.extend(normalize_words(w.text))
            if i + 1 == len(own):
                break
            nxt = own[i + 1]
            gap = nxt.start_s - w.end_s
            lo = np.searchsorted(other_starts, w.end_s, side="left")
            hi = np.searchsorted(other_starts, nxt.start_s, side="left")
            if hi > lo:  # someone else took the floor: the turn ended here
                out.extend(pending)
                if turn and not w.cut_off:
                    out.append(Silence(speaker, w.end_s, gap, tuple(turn), True, len(pending)))
                turn, pending = [], []
            elif gap > MAX_PAUSE_S:
                turn, pending = [], []  # long silence, nobody spoke: not a labelled event
            elif gap >= MIN_PAUSE_S and turn:
                pending.append(Silence(speaker, w.end_s, gap, tuple(turn), False, len(pending)))
    out.sort(key=lambda s: (s.start_s, s.speaker))
    return out


def split_meetings(data: Path, split: str) -> list[str]:
    """Meeting names of an MRDA split (train, val or test)."""
    root = data / "mrda"
    return (root / "mrda_data" / "metadata" / f"{split}_split.txt").read_text().split()


def load_split(data: Path, split: str) -> dict[str, list[Silence]]:
    """The labelled silences of every meeting of `split`, by meeting name."""
    root = data / "mrda"
    out: dict[str, list[Silence]] = {}
    for name in split_meetings(data, split):
        path = root / "mrda_archive" / "database" / f"{name}.dadb"
        if not path.is_file():
            raise FileNotFoundError(f"{path} listed in {split}_split.txt is missing")
        out[name] = meeting_silences(read_meeting(path))
    return out
