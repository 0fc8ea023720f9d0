"""End-of-turn policies replayed on every silence of a corpus split (text and word times).

    python -m bench.evaluation.endpoint_corpus --data DIR --split val [--split test]
        [--corpus mrda|maptask] [--out R.json]

`--corpus maptask` replays the HCRC Map Task dialogues instead of the MRDA meetings
(`bench.datasets.maptask.turn_silences`: a turn ends where the partner takes the floor).

`bench endpoint` judges policies on rendered audio, but only on turns that have a mid-turn
pause and at least three words (the set's derivation rule): the turns where waiting pays.
Most turns an agent hears are short and have no pause at all ("yes", "Tuesday, please").
This replay covers the whole population the plugin meets: every silence of at least
MIN_PAUSE_S after a floor-holding word in the split's meetings, turn ends of turns of any
length and every mid-turn pause (`bench.datasets.silences.meeting_silences`), thousands per
split. No audio and no recogniser: at each silence the policy sees the reference words up
to it (by default an exact recogniser with no lag, the best case for a text model;
`--lag-s` delays them) and the real silence lengths.

Systems, all in the same process:
- `ours`: the shipped completeness model, the hand cues, the pause prior and one
  `SpeakerPauseModel` per meeting speaker, learnt online from the mid-turn pauses they made
  before (as one long session would), swept over `bench.evaluation.ours_endpoint.THRESHOLDS`;
- `ours-pause-only`: the same without text (the text model's base rate);
- `fixed`: one silence window for everybody, swept from 0.2 to 2.5 s.

A mid-turn pause longer than the delay is a false cut-off; a turn end's latency is the
delay. The figures: cut-off rate over all mid-turn pauses, mean latency over all turn ends
and over the turn ends of turns without a mid-turn pause, at the default operating point
and at the lowest-latency point with at most 5 / 10 % cut-offs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from livekit.plugins.turntaking.endpointing.model import (
    DEFAULT_CEILING_S,
    NO_TEXT_BASE_RATE,
    CompletenessModel,
    PausePrior,
    SpeakerPauseModel,
    commit_delay,
    end_probability,
    patience_floor_s,
    turn_cues,
)

from bench.datasets.maptask import load_maptask_silences
from bench.datasets.silences import Silence, load_split
from bench.evaluation.ours_endpoint import DEFAULT_THRESHOLD, THRESHOLDS

FIXED_WINDOWS_S: tuple[float, ...] = tuple(round(0.2 + 0.05 * k, 2) for k in range(47))
"""Silence windows swept for `fixed`, seconds (0.2-2.5)."""
FIXED_DEFAULT_S = 0.5
SPLITS = ("val", "test")
CORPORA = ("mrda", "maptask")
"""Corpora the replay reads (`--corpus`), each from its folder under `--data`."""
BUDGETS = (0.05, 0.10)
"""False cut-off rates at which the lowest mean latency is reported."""


@dataclass(frozen=True)
class CurvePoint:
    """One operating point of one system on one split."""

    threshold: float
    """The system's swept parameter (posterior threshold, or window in seconds)."""
    cutoff_rate: float
    """Share of mid-turn pauses longer than the delay (0..1)."""
    latency_s: float
    """Mean delay at turn ends, seconds."""
    latency_no_pause_s: float
    """Mean delay at the ends of turns without a mid-turn pause, seconds."""
    latency_paused_s: float
    """Mean delay at the ends of turns with a mid-turn pause, seconds."""


@dataclass(frozen=True)
class _Population:
    """Row masks of a list of silences, built once and read by every curve point."""

    ends: np.ndarray
    no_pause: np.ndarray
    lengths_s: np.ndarray

    @classmethod
    def of(cls, silences: Sequence[Silence]) -> _Population:
        ends = np.array([s.ends_turn for s in silences], dtype=bool)
        first = np.array([s.earlier_pauses == 0 for s in silences], dtype=bool)
        return cls(ends, ends & first, np.array([s.length_s for s in silences]))


def _point(threshold: float, delays: np.ndarray, pop: _Population) -> CurvePoint:
    mid = ~pop.ends

    def mean(mask: np.ndarray) -> float:
        return float(delays[mask].mean()) if mask.any() else float("nan")

    return CurvePoint(
        threshold=threshold,
        cutoff_rate=float((pop.lengths_s[mid] > delays[mid]).mean()) if mid.any() else 0.0,
        latency_s=mean(pop.ends),
        latency_no_pause_s=mean(pop.no_pause),
        latency_paused_s=mean(pop.ends & ~pop.no_pause),
    )


def delay_with_lag(
    p_end: float, grid_s: np.ndarray, survival: np.ndarray, threshold: float, lag_s: float
) -> float:
    """The plugin's commit delay (s) for a silence whose words (end probability `p_end`)
    become known `lag_s` into it; before that it has only the base rate."""

    def delay(p: float) -> float:
        return commit_delay(
            p,
            grid_s,
            survival,
            threshold=threshold,
            floor_s=patience_floor_s(threshold),  # the plain floor up to a patience of 0.55
            ceiling_s=DEFAULT_CEILING_S,
        )

    before = delay(NO_TEXT_BASE_RATE) if lag_s > 0.0 else math.inf
    # the posterior grows with the silence: commit on the base rate if it gets there
    # before the words arrive, else on the words, and not before they arrive
    return before if before <= lag_s else max(lag_s, delay(p_end))


def adaptive_delays(
    meetings: dict[str, list[Silence]],
    completeness: CompletenessModel | None,
    prior: PausePrior,
    thresholds: Sequence[float] = THRESHOLDS,
    *,
    lag_s: float = 0.0,
) -> tuple[list[Silence], np.ndarray]:
    """The plugin's delay (s) at every silence (rows, in meeting then time order) for each
    threshold (columns). Each meeting speaker's pause curve learns the mid-turn pauses
    they made before the silence; `completeness=None` gives the pause curve alone. The
    words up to a silence become known `lag_s` seconds into it; until then the plugin has
    only the base rate, as when its recogniser has not caught up."""
    if not 0.0 <= lag_s <= DEFAULT_CEILING_S:
        raise ValueError(f"lag_s must be in [0, {DEFAULT_CEILING_S}] s, got {lag_s}")
    order: list[Silence] = []
    rows: list[list[float]] = []
    for name in sorted(meetings):
        speakers: dict[str, SpeakerPauseModel] = {}
        for s in meetings[name]:
            model = speakers.setdefault(s.speaker, SpeakerPauseModel(prior=prior))
            words = list(s.words)
            p_text = completeness.word_probability(words) if completeness else None
            p_end = end_probability(p_text, cues=turn_cues(words))
            grid, surv = model.grid_s, model.survival()

            rows.append([delay_with_lag(p_end, grid, surv, t, lag_s) for t in thresholds])
            order.append(s)
            if not s.ends_turn:
                model.observe(s.length_s)
    return order, np.asarray(rows, dtype=np.float64).reshape(len(order), len(thresholds))


def summarize(curve: Sequence[CurvePoint], default: float) -> dict[str, object]:
    """The curve, its default point and its lowest-latency points within `BUDGETS`."""
    out: dict[str, object] = {
        "curve": [vars(p) for p in curve],
        "default": next((vars(p) for p in curve if p.threshold == default), None),
    }
    for budget in BUDGETS:
        ok = [p for p in curve if p.cutoff_rate <= budget]
        best = min(ok, key=lambda p: p.latency_s) if ok else None
        out[f"at_{round(budget * 100)}pct"] = vars(best) if best else None
    return out


def replay_split(
    meetings: dict[str, list[Silence]],
    completeness: CompletenessModel,
    prior: PausePrior,
    compare: Sequence[tuple[str, CompletenessModel]] = (),
    *,
    lag_s: float = 0.0,
) -> dict[str, object]:
    """Every system's summary on one split's silences (`compare`: more completeness models
    replayed as `ours@<name>`)."""
    systems: dict[str, object] = {}
    runs: list[tuple[str, CompletenessModel | None]] = [("ours", completeness)]
    runs += [(f"ours@{name}", model) for name, model in compare]
    runs.append(("ours-pause-only", None))
    # adaptive_delays returns its rows in this order too
    flat = [s for name in sorted(meetings) for s in meetings[name]]
    pop = _Population.of(flat)
    for name, model in runs:
        _, delays = adaptive_delays(meetings, model, prior, lag_s=lag_s)
        curve = [_point(t, delays[:, k], pop) for k, t in enumerate(THRESHOLDS)]
        systems[name] = summarize(curve, DEFAULT_THRESHOLD)
    fixed = [_point(w, np.full(len(flat), w), pop) for w in FIXED_WINDOWS_S]
    systems["fixed"] = summarize(fixed, FIXED_DEFAULT_S)
    ends = [s for s in flat if s.ends_turn]
    return {
        "meetings": len(meetings),
        "mid_turn_pauses": len(flat) - len(ends),
        "turn_ends": len(ends),
        "turn_ends_without_pause": sum(1 for s in ends if s.earlier_pauses == 0),
        "text_lag_s": lag_s,
        "systems": systems,
    }


def load_silences(data: Path, split: str, corpus: str = "mrda") -> dict[str, list[Silence]]:
    """The labelled silences of `corpus` (one of `CORPORA`) in `split`, by meeting or
    dialogue name."""
    if corpus == "mrda":
        return load_split(data, split)
    if corpus == "maptask":
        return load_maptask_silences(data, split)  # type: ignore[arg-type]
    raise ValueError(f"corpus must be one of {', '.join(CORPORA)}, got {corpus!r}")


def run(
    data: Path,
    splits: Sequence[str],
    compare: Sequence[Path] = (),
    *,
    lag_s: float = 0.0,
    corpus: str = "mrda",
) -> dict[str, object]:
    """The replay of every split in `splits` (val, test) of `corpus`, by split name."""
    completeness, prior = CompletenessModel.load(), PausePrior.load()
    others = [(str(p), CompletenessModel.load(p)) for p in compare]
    return {
        split: replay_split(
            load_silences(data, split, corpus), completeness, prior, others, lag_s=lag_s
        )
        for split in splits
    }


def _fmt(p: object) -> str:
    if not isinstance(p, dict):
        return "-"
    return (
        f"{p['threshold']:g}: {100 * p['cutoff_rate']:.1f} % / {p['latency_s']:.2f} s "
        f"(no pause {p['latency_no_pause_s']:.2f}, paused {p['latency_paused_s']:.2f})"
    )


def markdown(report: dict[str, object]) -> str:
    """One table per split: each system's default and budget points (threshold: false
    cut-offs / mean latency at turn ends, and that latency for turns without and with a
    pause)."""
    lines: list[str] = []
    for split, r in report.items():
        assert isinstance(r, dict)
        lines += [
            f"### endpoint corpus replay / {split}",
            "",
            f"{r['meetings']} conversations, {r['mid_turn_pauses']} mid-turn pauses, "
            f"{r['turn_ends']} turn ends ({r['turn_ends_without_pause']} without a pause); "
            f"words known {r['text_lag_s']:g} s into each silence "
            "(`python -m bench.evaluation.endpoint_corpus`).",
            "",
            "| system | default | at <= 5 % cut-offs | at <= 10 % |",
            "|---|---|---|---|",
        ]
        systems = r["systems"]
        assert isinstance(systems, dict)
        for name, sm in systems.items():
            cells = [_fmt(sm[k]) for k in ("default", "at_5pct", "at_10pct")]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.evaluation.endpoint_corpus", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--data", type=Path, required=True, help="folder holding mrda/ (and maptask/)")
    ap.add_argument("--split", action="append", choices=SPLITS, required=True)
    ap.add_argument("--corpus", choices=CORPORA, default="mrda", help="corpus to replay")
    ap.add_argument(
        "--compare",
        type=Path,
        action="append",
        default=[],
        metavar="NPZ",
        help="another completeness model file, replayed beside the shipped one (repeatable; "
        "e.g. an earlier one taken from the plugin's turntaking/endpointing/data/ with git show)",
    )
    ap.add_argument(
        "--lag-s",
        type=float,
        default=0.0,
        help="seconds into a silence at which its words become known (default 0: an exact "
        "recogniser without lag; the local Whisper's interims arrive 0.4-0.7 s late)",
    )
    ap.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = ap.parse_args(argv)
    if not (args.data / args.corpus).is_dir():
        print(
            f"error: {args.data}/{args.corpus} not found (pass the shared data folder)",
            file=sys.stderr,
        )
        return 2
    try:
        report = run(args.data, args.split, args.compare, lag_s=args.lag_s, corpus=args.corpus)
    except (OSError, ValueError) as exc:  # a missing meeting file, a bad model, a bad lag
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(markdown(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
