"""Benchmark metrics: pure arithmetic on result items (no I/O, no models).

Overlap/session (`overlap_metrics`): a "stop" is `decision == "interruption"` in overlap mode
and `agent_stopped` in session mode. Rates come with 95 % Wilson intervals.

Endpoint (`endpoint_metrics`, as LiveKit's eot-bench): every manifest pause is judged on its
own; the false cut-off rate is fired pauses / all pauses; the latency of an item is
`fired_at_s - speech_end_s`, or the clip's remaining length `duration_s - speech_end_s` when
the policy never fired. Operating-point summaries pick the best measured point meeting the
constraint (no interpolation between points): the lowest cut-off rate among points whose
mean latency is at most 0.3 s / 0.6 s, and the lowest mean latency among points whose
cut-off rate is at most 5 % / 10 %; None when no point qualifies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bench.datasets.manifest import OverlapLabel
from bench.evaluation.types import EndpointOutcome, OverlapResultItem

WILSON_Z_95 = 1.959963984540054
LATENCY_BUDGETS_S = (0.3, 0.6)
CUTOFF_BUDGETS = (0.05, 0.10)


def wilson_interval(successes: int, n: int, z: float = WILSON_Z_95) -> tuple[float, float] | None:
    """95 % Wilson score interval of a proportion; None when n == 0."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return None
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """P(a random positive scores above a random negative), ties counted half; None when
    either side is empty."""
    pos = np.asarray(positives, dtype=np.float64)
    neg = np.asarray(negatives, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return None
    greater = float((pos[:, None] > neg[None, :]).mean())
    ties = float((pos[:, None] == neg[None, :]).mean())
    return greater + 0.5 * ties


def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated quantile (numpy's default method); None for no values."""
    if not 0 <= q <= 1:
        raise ValueError(f"q must be in [0, 1], got {q}")
    xs = sorted(values)
    if not xs:
        return None
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def rate(k: int, n: int) -> dict[str, object]:
    """`k` of `n` as a rate with its count and 95 % Wilson interval (value None when n = 0)."""
    ci = wilson_interval(k, n)
    return {
        "value": k / n if n else None,
        "count": k,
        "of": n,
        "ci95": [round(ci[0], 4), round(ci[1], 4)] if ci else None,
    }


def overlap_metrics(
    items: Sequence[OverlapResultItem],
    labels: Mapping[str, OverlapLabel],
    *,
    session: bool = False,
) -> dict[str, object]:
    """Classification and latency figures of one system on one manifest.

    `labels` maps item id to its reference label. Latencies (s after onset): `decided_at_s`
    over all items, and the stop latency of correctly stopped interruptions (overlap mode:
    their `stop_latency_s` when the system stopped before its final decision, else their
    `decided_at_s`; session mode: `stop_latency_s`). A backchannel whose item says
    `resumed` (the agent paused, then went on) is not a false stop, and is counted in
    `backchannels_paused_and_resumed`. Items that carry them (every stack in session mode,
    the arbiter's replay in overlap mode) also give the yield and stop latencies as a
    listener hears them (`yield_latency_s`: onset to the first duck, pause or stop;
    `heard_stop_latency_s`: to the stop that stood; session mode only) and the ducks of
    backchannels.
    """
    missing = [it.id for it in items if it.id not in labels]
    if missing:
        raise ValueError(f"result items without a reference label: {missing[:3]}")

    def stopped(it: OverlapResultItem) -> bool:
        return it.agent_stopped if session else it.decision == "interruption"

    bcs = [it for it in items if labels[it.id] == "backchannel"]
    ints = [it for it in items if labels[it.id] == "interruption"]
    tp = sum(stopped(it) for it in ints)
    fp = sum(stopped(it) for it in bcs)
    fn = len(ints) - tp
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / len(ints) if ints else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall > 0
        else (0.0 if precision is not None and recall is not None else None)
    )
    decided = [it.decided_at_s for it in items if it.decided_at_s is not None]

    def heard(key: str, group: Sequence[OverlapResultItem]) -> list[float]:
        return [float(v) for it in group if isinstance(v := it.extra.get(key), int | float)]

    # as a listener behind the output hears them (where the items carry them)
    yield_lat = heard("yield_latency_s", ints)
    heard_stop = heard("heard_stop_latency_s", [it for it in ints if stopped(it)])
    duck_lengths = heard("duck_s", bcs)
    if session:
        stop_lat = [
            it.stop_latency_s for it in ints if it.agent_stopped and it.stop_latency_s is not None
        ]
    else:
        stop_lat = [
            at
            for it in ints
            if stopped(it)
            and (at := it.stop_latency_s if it.stop_latency_s is not None else it.decided_at_s)
            is not None
        ]
    return {
        "n": len(items),
        "n_backchannel": len(bcs),
        "n_interruption": len(ints),
        "false_stop_rate": rate(fp, len(bcs)),
        "interruption_recall": rate(tp, len(ints)),
        "precision": precision,
        "f1": f1,
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "decision_latency_p50_s": quantile(decided, 0.5),
        "decision_latency_p95_s": quantile(decided, 0.95),
        "stop_latency_p50_s": quantile(stop_lat, 0.5),
        "stop_latency_p95_s": quantile(stop_lat, 0.95),
        "yield_latency_p50_s": quantile(yield_lat, 0.5),
        "yield_latency_p95_s": quantile(yield_lat, 0.95),
        "interruptions_yielded": rate(len(yield_lat), len(ints)) if yield_lat else None,
        "heard_stop_latency_p50_s": quantile(heard_stop, 0.5),
        "heard_stop_latency_p95_s": quantile(heard_stop, 0.95),
        "backchannels_ducked": (
            rate(sum(bool(it.extra.get("ducked")) for it in bcs), len(bcs))
            if any("ducked" in it.extra for it in bcs)
            else None
        ),
        "backchannel_duck_p95_s": quantile(duck_lengths, 0.95),
        "backchannels_committed_as_turns": rate(
            sum(it.user_turn_committed for it in bcs), len(bcs)
        ),
        "llm_calls_from_backchannels": sum(it.llm_called for it in bcs),
        "backchannels_paused_and_resumed": rate(
            sum(bool(it.extra.get("resumed")) and not stopped(it) for it in bcs), len(bcs)
        ),
    }


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    cutoff_rate: float | None
    """Fired pauses / all pauses (None when the manifest has no pause)."""
    mean_latency_s: float | None
    """Mean over items of the latency after the true end (None for no items)."""
    never_fired: int
    """Items where the policy never fired after the true end."""


def endpoint_point(
    outcomes: Sequence[EndpointOutcome],
    speech_end_s: Sequence[float],
    duration_s: Sequence[float],
    threshold: float,
) -> CurvePoint:
    """One operating point from per-item outcomes (same order as the two sequences)."""
    if not len(outcomes) == len(speech_end_s) == len(duration_s):
        raise ValueError("outcomes, speech_end_s and duration_s must have the same length")
    n_pauses = sum(len(o.pause_fired) for o in outcomes)
    fired = sum(sum(o.pause_fired) for o in outcomes)
    lat: list[float] = []
    never = 0
    for o, end, dur in zip(outcomes, speech_end_s, duration_s, strict=True):
        if o.fired_at_s is None:
            never += 1
            lat.append(max(0.0, dur - end))
        else:
            lat.append(o.fired_at_s - end)
    return CurvePoint(
        threshold=threshold,
        cutoff_rate=fired / n_pauses if n_pauses else None,
        mean_latency_s=sum(lat) / len(lat) if lat else None,
        never_fired=never,
    )


def best_cutoff_at_latency(curve: Sequence[CurvePoint], budget_s: float) -> CurvePoint | None:
    """Lowest cut-off rate among points with mean latency <= budget_s (ties: lower latency)."""
    ok = [
        p
        for p in curve
        if p.mean_latency_s is not None
        and p.cutoff_rate is not None
        and p.mean_latency_s <= budget_s
    ]
    return min(ok, key=lambda p: (p.cutoff_rate, p.mean_latency_s), default=None)


def best_latency_at_cutoff(curve: Sequence[CurvePoint], budget: float) -> CurvePoint | None:
    """Lowest mean latency among points with cut-off rate <= budget (ties: lower rate)."""
    ok = [
        p
        for p in curve
        if p.mean_latency_s is not None and p.cutoff_rate is not None and p.cutoff_rate <= budget
    ]
    return min(ok, key=lambda p: (p.mean_latency_s, p.cutoff_rate), default=None)


def _point_dict(p: CurvePoint | None) -> dict[str, float | int | None] | None:
    if p is None:
        return None
    return {
        "threshold": p.threshold,
        "cutoff_rate": p.cutoff_rate,
        "mean_latency_s": p.mean_latency_s,
        "never_fired": p.never_fired,
    }


def endpoint_metrics(
    per_threshold: Sequence[Sequence[EndpointOutcome]],
    thresholds: Sequence[float],
    default_threshold: float,
    speech_end_s: Sequence[float],
    duration_s: Sequence[float],
) -> dict[str, object]:
    """Trade-off curve and summaries; `per_threshold[k][i]` is item i at `thresholds[k]`."""
    if len(per_threshold) != len(thresholds):
        raise ValueError("one outcome list per threshold is required")
    if default_threshold not in thresholds:
        raise ValueError(f"default threshold {default_threshold} is not among {list(thresholds)}")
    curve = [
        endpoint_point(outs, speech_end_s, duration_s, thr)
        for outs, thr in zip(per_threshold, thresholds, strict=True)
    ]
    default = curve[list(thresholds).index(default_threshold)]
    n_pauses = sum(len(o.pause_fired) for o in per_threshold[0]) if per_threshold else 0
    fired_default = round((default.cutoff_rate or 0.0) * n_pauses)
    out: dict[str, object] = {
        "n_items": len(speech_end_s),
        "n_pauses": n_pauses,
        "default_threshold": default_threshold,
        "false_cutoff_rate": rate(fired_default, n_pauses),
        "mean_latency_s": default.mean_latency_s,
        "never_fired": default.never_fired,
        "curve": [_point_dict(p) for p in curve],
    }
    for b in LATENCY_BUDGETS_S:
        out[f"best_cutoff_at_latency_{int(b * 1000)}ms"] = _point_dict(
            best_cutoff_at_latency(curve, b)
        )
    for c in CUTOFF_BUDGETS:
        out[f"best_latency_at_cutoff_{int(round(c * 100))}pct"] = _point_dict(
            best_latency_at_cutoff(curve, c)
        )
    return out
