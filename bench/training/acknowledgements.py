"""Derive the acknowledgement words the arbiter adds to its hand-set list, from train only.

    python -m bench.training.acknowledgements --data DIR

Overlap items of the MRDA and Switchboard `train` splits are labelled by the benchmark's
own rules (`bench.datasets.derive`). A finished utterance made only of acknowledgement words resumes
a paused agent (`turntaking.arbiter.model.acknowledgement_only`), so a word belongs in the list
when it makes many backchannels acknowledgement-only and few interruptions. Greedy, from
the hand-set base list: add the word with the best gain, the share of train backchannels it
makes acknowledgement-only less `INTERRUPTION_WEIGHT` times the share of train
interruptions it does; stop when the best word gains fewer than `MIN_GAIN_ITEMS`
backchannels or its gain is not positive. Prints each step and the words to ship
(`livekit.plugins.turntaking.arbiter.model.TRAIN_ACKNOWLEDGEMENTS`). Val and test are never read.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AddedWord", "MIN_GAIN_ITEMS", "INTERRUPTION_WEIGHT", "derive", "main"]

INTERRUPTION_WEIGHT = 3.0
"""How much worse a lost interruption is than a spared backchannel, per share of its class
(a lost interruption drops a real turn)."""
MIN_GAIN_ITEMS = 5
"""Fewest train backchannels a word must newly make acknowledgement-only to be added."""
CANDIDATES = 300
"""Most frequent words of backchannels outside the list considered at each step."""


@dataclass(frozen=True)
class AddedWord:
    """One greedy step."""

    word: str
    backchannels: int
    """Train backchannels the word newly makes acknowledgement-only."""
    interruptions: int
    """Train interruptions the word newly makes acknowledgement-only."""
    gain: float
    """Share of backchannels gained less `INTERRUPTION_WEIGHT` x share of interruptions."""


def _only(words: Sequence[str], vocab: Collection[str]) -> bool:
    return bool(words) and all(w in vocab for w in words)


def derive(
    backchannels: Sequence[Sequence[str]],
    interruptions: Sequence[Sequence[str]],
    base: Collection[str],
    *,
    min_gain_items: int = MIN_GAIN_ITEMS,
    interruption_weight: float = INTERRUPTION_WEIGHT,
) -> list[AddedWord]:
    """The greedy steps (module doc) over normalised word lists of the two classes."""
    if not backchannels or not interruptions:
        raise ValueError("derive needs at least one backchannel and one interruption")
    vocab = set(base)
    bc = [list(w) for w in backchannels if w and not _only(w, vocab)]
    it = [list(w) for w in interruptions if w and not _only(w, vocab)]
    n_bc, n_it = len(backchannels), len(interruptions)
    steps: list[AddedWord] = []
    while True:
        counts = Counter(w for ws in bc for w in set(ws) if w not in vocab)
        best: AddedWord | None = None
        for word, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:CANDIDATES]:
            trial = vocab | {word}
            gb = sum(_only(ws, trial) for ws in bc)
            gi = sum(_only(ws, trial) for ws in it)
            gain = gb / n_bc - interruption_weight * gi / n_it
            if best is None or gain > best.gain:
                best = AddedWord(word, gb, gi, gain)
        if best is None or best.gain <= 0.0 or best.backchannels < min_gain_items:
            return steps
        steps.append(best)
        vocab.add(best.word)
        bc = [ws for ws in bc if not _only(ws, vocab)]
        it = [ws for ws in it if not _only(ws, vocab)]


def main(argv: Sequence[str] | None = None) -> int:
    from livekit.plugins.turntaking.arbiter.model import BASE_ACKNOWLEDGEMENTS, normalize_words

    from bench.datasets.derive import derive_items

    ap = argparse.ArgumentParser(
        prog="python -m bench.training.acknowledgements", description=__doc__
    )
    ap.add_argument("--data", type=Path, required=True, help="the shared data folder")
    args = ap.parse_args(argv)
    specs = derive_items(args.data, "train")
    bc = [normalize_words(s.text) for s in specs if s.label == "backchannel"]
    it = [normalize_words(s.text) for s in specs if s.label == "interruption"]
    base = frozenset(BASE_ACKNOWLEDGEMENTS.split())
    print(f"train: {len(bc)} backchannels, {len(it)} interruptions")
    for name, items in (("backchannels", bc), ("interruptions", it)):
        share = sum(_only(w, base) for w in items) / len(items)
        print(f"  base list: {100 * share:.1f} % of {name} acknowledgement-only")
    steps = derive(bc, it, base)
    for s in steps:
        print(f"  + {s.word!r}: {s.backchannels} backchannels, {s.interruptions} interruptions")
    print("TRAIN_ACKNOWLEDGEMENTS = " + repr(" ".join(s.word for s in steps)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
