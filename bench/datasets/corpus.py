"""Parsers for the two conversational corpora the benchmark sets are derived from.

- MRDA (ICSI meetings): `mrda_archive/database/<meeting>.dadb` rows give each utterance's
  speaker, dialogue act and per-word times; `mrda_data/metadata/<split>_split.txt` lists
  the meetings of each split.
- SWDA (Switchboard): `<split>/<conversation>.txt` rows `speaker|utterance|tag`, in order,
  without times.

Pure file parsing: no derivation rule lives here (see `bench.datasets.derive`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "SPLITS",
    "CorpusError",
    "MrdaUtterance",
    "MrdaWord",
    "Split",
    "SwdaUtterance",
    "mrda_meetings",
    "parse_dadb",
    "parse_swda",
    "read_mrda_split",
    "read_swda_split",
]

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")


class CorpusError(ValueError):
    """A corpus file is missing or malformed; the message names the file (and row)."""


@dataclass(frozen=True)
class MrdaWord:
    """One time-aligned word of an MRDA utterance (times in seconds from meeting start)."""

    start_s: float
    end_s: float
    word: str
    """The corpus token (lower case; `o_k` = okay, `i-` = fragment, `{...}` = noise mark)."""


@dataclass(frozen=True)
class MrdaUtterance:
    """One dialogue-act segment of an MRDA meeting."""

    meeting: str
    utt_id: str
    speaker: str
    """ICSI participant code (e.g. `me012`), unique across meetings."""
    start_s: float
    end_s: float
    words: tuple[MrdaWord, ...]
    da: str
    """Dialogue-act label as written in the corpus (e.g. `s^bk`, `fh|s.%--`, `b`)."""
    index: int
    """Row number in the .dadb file (1-based), to name the source of an item."""
    untimed_words: int = 0
    """Tokens the corpus left without times (dropped from `words`)."""


@dataclass(frozen=True)
class SwdaUtterance:
    """One dialogue-act unit of a Switchboard conversation (no times)."""

    conversation: str
    speaker: str
    """`A` or `B` (per conversation)."""
    text: str
    tag: str
    index: int
    """Line number in the conversation file (1-based)."""


_UNTIMED = "XXXX"


def _parse_words(field: str, where: str) -> tuple[tuple[MrdaWord, ...], int]:
    out: list[MrdaWord] = []
    untimed = 0
    if not field.strip():
        return (), 0
    for tok in field.split("|"):
        parts = tok.split("+", 2)
        if len(parts) != 3:
            raise CorpusError(f"{where}: malformed word entry {tok!r} (want start+end+word)")
        if parts[0] == _UNTIMED or parts[1] == _UNTIMED:
            # the corpus leaves some tokens (mostly noise marks) without times
            untimed += 1
            continue
        try:
            a, b = float(parts[0]), float(parts[1])
        except ValueError as exc:
            raise CorpusError(f"{where}: non-numeric word time in {tok!r}") from exc
        out.append(MrdaWord(a, b, parts[2].strip().lower()))
    return tuple(out), untimed


def parse_dadb(path: Path) -> list[MrdaUtterance]:
    """Parse one `.dadb` file into utterances sorted by start time (then row).

    Raises `CorpusError` naming the file and row for a short row or malformed times.
    """
    meeting = path.stem
    rows: list[MrdaUtterance] = []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            for n, row in enumerate(csv.reader(f), start=1):
                if not row or not any(c.strip() for c in row):
                    continue
                where = f"{path}:{n}"
                if len(row) < 9:
                    raise CorpusError(f"{where}: expected >= 9 CSV fields, got {len(row)}")
                try:
                    start_s, end_s = float(row[0]), float(row[1])
                except ValueError as exc:
                    raise CorpusError(f"{where}: non-numeric utterance times") from exc
                words, untimed = _parse_words(row[4], where)
                rows.append(
                    MrdaUtterance(
                        meeting=meeting,
                        utt_id=row[2],
                        speaker=row[7].strip(),
                        start_s=start_s,
                        end_s=end_s,
                        words=words,
                        da=row[5].strip(),
                        index=n,
                        untimed_words=untimed,
                    )
                )
    except OSError as exc:
        raise CorpusError(f"{path}: unreadable ({exc})") from exc
    rows.sort(key=lambda u: (u.start_s, u.index))
    return rows


def _split_names(path: Path) -> list[str]:
    if not path.is_file():
        raise CorpusError(f"{path}: split file not found (is the corpus folder right?)")
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def mrda_meetings(data_dir: Path, split: Split) -> list[str]:
    """Meeting names of an MRDA split, from `mrda/mrda_data/metadata/<split>_split.txt`."""
    return _split_names(data_dir / "mrda" / "mrda_data" / "metadata" / f"{split}_split.txt")


def read_mrda_split(data_dir: Path, split: Split) -> Iterator[list[MrdaUtterance]]:
    """Yield each meeting of `split` (sorted by name) as its utterance list."""
    db = data_dir / "mrda" / "mrda_archive" / "database"
    for meeting in sorted(mrda_meetings(data_dir, split)):
        path = db / f"{meeting}.dadb"
        if not path.is_file():
            raise CorpusError(f"{path}: meeting listed in the {split} split but missing")
        yield parse_dadb(path)


def parse_swda(path: Path) -> list[SwdaUtterance]:
    """Parse one SWDA conversation file (`speaker|utterance|tag` per line)."""
    out: list[SwdaUtterance] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CorpusError(f"{path}: unreadable ({exc})") from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) < 3:
            raise CorpusError(f"{path}:{n}: expected speaker|utterance|tag, got {line!r}")
        # the utterance itself never contains '|' in this release, but be safe
        speaker, tag = parts[0].strip(), parts[-1].strip()
        text = "|".join(parts[1:-1]).strip()
        out.append(SwdaUtterance(path.stem, speaker, text, tag, n))
    return out


def read_swda_split(data_dir: Path, split: Split) -> Iterator[list[SwdaUtterance]]:
    """Yield each conversation of `split` (names from `swda/metadata/<split>_split.txt`)."""
    names = _split_names(data_dir / "swda" / "metadata" / f"{split}_split.txt")
    for name in sorted(names):
        path = data_dir / "swda" / split / f"{name}.txt"
        if not path.is_file():
            raise CorpusError(f"{path}: conversation listed in the {split} split but missing")
        yield parse_swda(path)
