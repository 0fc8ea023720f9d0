"""How much the early audio classifier's verdict depends on where the speech starts within
a speech-detector frame.

`python -m bench.onset_shift --manifest .cache/bench/full-evaluated/overlap/val-clean.jsonl
[--model other.npz ...] [--offsets 8] [--limit N]`

The arbiter's detector works in 20 ms frames, so the onset it reports, and with it every
window the classifier scores, lands anywhere up to one frame after the speech really
starts, differently from one run to the next. This pads each val item with `--offsets`
evenly spaced sub-frame lengths of silence (0, 2.5, ..., 17.5 ms for 8), streams each
padded copy through the detector and scores it from the onset it reports, as at run time.
Per model (the shipped one first, then each `--model`, all in the same run) it prints:

- each horizon's ROC AUC (on the scores averaged over the offsets) and the spread of its
  log-odds over the offsets (median and 90th percentile over the items of max - min);
- the share of items on which the early rule (running mean of the horizons >= threshold,
  >= `min_voiced_s` voiced) fires at some offsets and not at others, at a few thresholds;
- the share of backchannels and of interruptions it stops, averaged over the offsets.

Val only (`refuse_test_manifests`): this is a development check.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from livekit.plugins.turntaking.arbiter.model import ArbiterParams, load_params
from livekit.plugins.turntaking.arbiter.onset import OnsetModel, OnsetScore

from bench.manifest import load_overlap_manifest, refuse_test_manifests
from bench.onset_voices import early_scores, rule_fires
from bench.runners import load_item_audio
from bench.train_onset import roc_report
from bench.types import BENCH_SAMPLE_RATE_HZ, Samples

FRAME_S = 0.02
"""The arbiter's speech-detector frame, seconds."""
THRESHOLDS = (0.95, 0.97, 0.98)
"""Early-rule thresholds the flip share is reported at."""


def offsets_samples(n: int, rate_hz: int = BENCH_SAMPLE_RATE_HZ) -> list[int]:
    """`n` evenly spaced pad lengths within one detector frame, samples."""
    if not 1 <= n <= int(FRAME_S * rate_hz):
        raise ValueError(f"offsets must be in [1, {int(FRAME_S * rate_hz)}], got {n}")
    return [int(round(k * FRAME_S * rate_hz / n)) for k in range(n)]


def scores_at_offsets(
    model: OnsetModel, x: Samples, pads: Sequence[int]
) -> list[list[OnsetScore]] | None:
    """Every horizon's score of `x` padded in front by each of `pads` samples of silence
    (None when the detector finds no onset in one of them)."""
    out = []
    for pad in pads:
        s = early_scores(model, np.concatenate([np.zeros(pad, np.float32), x]))
        if s is None:
            return None
        out.append(s)
    return out


def _logit(p: float) -> float:
    q = min(max(p, 1e-9), 1.0 - 1e-9)
    return float(np.log(q / (1.0 - q)))


def summarize(
    name: str,
    rows: Sequence[tuple[bool, list[list[OnsetScore]]]],
    model: OnsetModel,
    params: ArbiterParams,
) -> str:
    """The markdown row of one model (see the module doc)."""
    y = np.array([1.0 if pos else 0.0 for pos, _ in rows])
    spreads = []
    for k in range(len(model.horizons_s)):
        z = [[_logit(s[k].probability) for s in per] for _, per in rows]
        r = np.array([np.ptp(v) for v in z])
        auc = roc_report(np.array([np.mean(v) for v in z]), y).get("auc", float("nan"))
        spreads.append(f"{auc:.3f}: {np.median(r):.2f} / {np.quantile(r, 0.9):.2f}")
    cells = []
    for thr in THRESHOLDS:
        p = dataclasses.replace(params, early_threshold=thr)
        fired = [(pos, [rule_fires(s, p) for s in per]) for pos, per in rows]
        flips = np.mean([0 < sum(f) < len(f) for _, f in fired])
        bc = np.mean([float(np.mean(f)) for pos, f in fired if not pos] or [np.nan])
        it = np.mean([float(np.mean(f)) for pos, f in fired if pos] or [np.nan])
        cells.append(f"{thr:g}: {100 * flips:.1f} % ({100 * bc:.1f} / {100 * it:.1f})")
    return f"| {name} | {len(rows)} | {' , '.join(spreads)} | {' ; '.join(cells)} |"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--manifest", type=Path, action="append", required=True)
    ap.add_argument("--model", type=Path, action="append", default=[], help="another model")
    ap.add_argument("--offsets", type=int, default=8, help="pads per detector frame")
    ap.add_argument("--limit", type=int, default=None, help="first N items per manifest")
    args = ap.parse_args(argv)
    if refuse_test_manifests(args.manifest, "this is a development check on val"):
        return 2
    try:
        pads = offsets_samples(args.offsets)
    except ValueError as exc:
        ap.error(str(exc))
    params = load_params()
    models = [("shipped", OnsetModel.load())] + [(str(p), OnsetModel.load(p)) for p in args.model]
    clips: list[tuple[bool, npt.NDArray[np.float32]]] = []
    for man in args.manifest:
        for item in load_overlap_manifest(man)[: args.limit]:
            clips.append((item.label == "interruption", load_item_audio(item.audio)))
    print(
        f"{len(clips)} items, {len(pads)} offsets {pads} samples at {BENCH_SAMPLE_RATE_HZ} Hz; "
        f"early rule voiced >= {params.min_voiced_s} s\n"
    )
    print(
        "| model | items | per horizon, AUC: log-odds spread (median / p90) | threshold: items "
        "flipping (backchannels / interruptions stopped) |"
    )
    print("| --- | --- | --- | --- |")
    for name, model in models:
        rows = []
        for pos, x in clips:
            per = scores_at_offsets(model, x, pads)
            if per is not None:
                rows.append((pos, per))
        label = f"{name} ({'aligned' if model.aligned else 'at the reported onset'})"
        print(summarize(label, rows, model, params), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
