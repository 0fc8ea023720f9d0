"""What the benchmark's evidence lets a policy reach: two trade-offs measured on val.

    python -m bench.limits overlap --manifest .cache/bench/full-evaluated/overlap/val-clean.jsonl
    python -m bench.limits endpoint --manifest .cache/bench/full-evaluated/endpoint/val-clean.jsonl

`overlap`: issue #4 asks for a stop p95 of 0.3 s after speech onset with at most 5 % false
stops and 95 % recall. By `--budget-s` (0.3 s) after the onset the recogniser has
delivered no words on (almost) any item (its first hypothesis comes 0.4-0.7 s in; the
report counts the items that had one), so a stop by then rests on the audio. Per val set:

- the early audio classifier's score as the decider's `early_audio` cue reads it (the
  mean of the horizons scored by the budget, 0 when none was): its AUC (interruptions
  against backchannels), the share of interruptions it stops at thresholds that stop 5, 10
  and 20 % of the backchannels, and the share of backchannels that stop at the threshold
  that stops `RECALL_TARGET * P95_SHARE` of the interruptions (the least that recall >= 95 %
  with p95 <= budget needs);
- the shipped operating point replayed with `early_threshold` swept: backchannel stops that
  stood (became turns) and that the words resumed (the agent paused, then went on), recall,
  stop latency p50 / p95 and the share of caught interruptions stopped by the budget.

`endpoint`: issue #5 asks for the best trade-off curve on the paused-turn sets. Per val
set: the ranking quality (AUC) of the shipped end probability for turn ends against
mid-turn pauses, by pause length (the long pauses are the ones a 5 % budget is about),
from the words the benchmark's recogniser had delivered `--text-at-s` into the silence
(under the policy's own freshness rule); and the lowest mean latency at <= 5 % / <= 10 %
false cut-offs of the shipped policy, of the pause curve alone at several adaptation
speeds, and of the swept fixed window, all on the same audio.

Both read val manifests only (test manifests are refused) and the benchmark's caches
(rendered audio, Whisper timelines); they print a JSON report (`--out` also writes it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from livekit.plugins.turntaking.arbiter.model import ArbiterParams
from livekit.plugins.turntaking.arbiter.onset import OnsetScore
from livekit.plugins.turntaking.endpointing.model import (
    CompletenessModel,
    end_probability,
    normalize_words,
    turn_cues,
)

from bench.baselines.endpoint import FixedSilencePolicy
from bench.manifest import refuse_test_manifests
from bench.metrics import auc, endpoint_metrics
from bench.ours_endpoint import AdaptiveEndpointPolicy, HeardWords
from bench.ours_overlap import OverlapTrace, make_system
from bench.runners import InputError, endpoint_inputs, load_endpoint_items
from bench.train_arbiter import Replayer, _val_traces, replay_point
from bench.transcripts import TranscriptCache
from bench.types import EndpointOutcome, TranscriptEvent

RECALL_TARGET = 0.95
"""Issue #4's interruption recall target (share of interruptions)."""
P95_SHARE = 0.95
"""A p95 within the budget: this share of the caught interruptions stop by then."""
BACKCHANNEL_SHARES = (0.05, 0.1, 0.2)
"""Shares of backchannels stopped at which the share of interruptions stopped is read."""
EARLY_THRESHOLDS = (0.99, 0.9, 0.8, 0.7, 0.6, 0.5)
"""`early_threshold` values of the overlap replay (0.99 is the shipped value)."""
DEFAULT_BUDGET_S = 0.3
"""Issue #4's stop latency p95 target, seconds after the onset."""
PAUSE_BANDS_S = ((0.0, 1.0), (1.0, 1.5), (1.5, 99.0))
"""Mid-turn pause lengths, [low, high) seconds, over which the end probability's AUC is
read."""
ADAPTATION_WEIGHTS = ((50.0, 50.0), (20.0, 20.0), (8.0, 8.0), (1e6, 1e6))
"""(prior_weight, scale_weight) in pauses, of the pause-curve-alone rows: 50/50 is the
shipped speed, 1e6 never leaves the corpus prior."""
DEFAULT_TEXT_AT_S = 1.0
"""Seconds into a silence at which the recogniser's words are read for the AUC."""


@dataclass(frozen=True)
class StopTradeoff:
    """What stopping on `score >= threshold` separates (shares of items, 0..1)."""

    auc: float | None
    """Interruptions against backchannels."""
    interruptions_stopped: dict[float, float]
    """Share of backchannels stopped -> share of interruptions stopped at the lowest
    threshold that stops no more backchannels than that."""
    needed_share: float
    """Share of interruptions that must stop."""
    backchannels_stopped_for_needed: float
    """Share of backchannels stopped at the highest threshold that stops `needed_share` of
    the interruptions."""


def stop_tradeoff(
    interruption_scores: Sequence[float],
    backchannel_scores: Sequence[float],
    *,
    needed_share: float = RECALL_TARGET * P95_SHARE,
    backchannel_shares: Sequence[float] = BACKCHANNEL_SHARES,
) -> StopTradeoff:
    """The trade-off of a score (higher: more like an interruption). Raises `ValueError`
    when a side is empty or a share is outside (0, 1]."""
    if not interruption_scores or not backchannel_scores:
        raise ValueError("scores of both interruptions and backchannels are needed")
    if not 0.0 < needed_share <= 1.0 or any(not 0.0 < s <= 1.0 for s in backchannel_shares):
        raise ValueError("shares must be in (0, 1]")
    ints = np.sort(np.asarray(interruption_scores, dtype=np.float64))
    bcs_desc = np.sort(np.asarray(backchannel_scores, dtype=np.float64))[::-1]
    stopped: dict[float, float] = {}
    for share in backchannel_shares:
        allowed = int(np.floor(share * bcs_desc.size + 1e-9))
        if allowed >= bcs_desc.size:
            stopped[share] = 1.0
            continue
        # stop above the (allowed+1)-th highest backchannel score: at most `allowed` stop
        stopped[share] = float((ints > bcs_desc[allowed]).mean())
    k = int(np.ceil(needed_share * ints.size - 1e-9))
    threshold = ints[ints.size - k]
    return StopTradeoff(
        auc=auc(ints.tolist(), bcs_desc.tolist()),
        interruptions_stopped=stopped,
        needed_share=needed_share,
        backchannels_stopped_for_needed=float((bcs_desc >= threshold).mean()),
    )


def early_score_by(events: Sequence[tuple[float, str, object]], at_s: float) -> float:
    """The `early_audio` cue's score at stream time `at_s` (s): the mean P(interruption) of
    the early audio horizons scored by then; 0 when none was."""
    ps = [
        p.probability
        for t, kind, p in events
        if kind == "early" and isinstance(p, OnsetScore) and t <= at_s + 1e-9
    ]
    return float(np.mean(ps)) if ps else 0.0


def overlap_point(
    system: Replayer,
    traces: Sequence[tuple[str, OverlapTrace]],
    params: ArbiterParams,
    budget_s: float,
) -> dict[str, object]:
    """Replay `params` over labelled traces (`train_arbiter.replay_point`): backchannel stops
    that stood / were resumed, interruptions caught, their stop latency p50 / p95 (s) and
    the share stopped by `budget_s`."""
    r = replay_point(system, traces, params)
    lat = np.asarray(r.latencies_s, dtype=np.float64)
    return {
        "backchannels_stood": r.stood,
        # a backchannel's stop that did not stand was a pause the words resumed
        "backchannels_resumed": r.backchannel_stops - r.stood,
        "interruptions_caught": len(r.caught),
        "interruptions": r.interruptions,
        "p50_stop_s": r.percentile_s(50),
        "p95_stop_s": r.percentile_s(95),
        "share_stopped_by_budget": float((lat <= budget_s + 1e-9).mean()) if lat.size else None,
    }


def overlap_report(
    manifests: Sequence[Path], *, transcripts_dir: Path, budget_s: float
) -> dict[str, object]:
    """The overlap trade-offs of every val manifest (see module doc)."""
    system = make_system()
    sets: dict[str, object] = {}
    for m in manifests:
        traces = _val_traces(system, [m], transcripts_dir=transcripts_dir, per_manifest=None)
        ints: list[float] = []
        bcs: list[float] = []
        with_words = 0
        for label, tr in traces:
            at = tr.onset_s + budget_s
            (ints if label == "interruption" else bcs).append(early_score_by(tr.events, at))
            with_words += any(kind == "text" and t <= at for t, kind, _ in tr.events)
        trade = stop_tradeoff(ints, bcs)
        sweep = [
            {"early_threshold": thr}
            | overlap_point(system, traces, replace(system.params, early_threshold=thr), budget_s)
            for thr in EARLY_THRESHOLDS
        ]
        sets[str(m)] = {
            "interruptions": len(ints),
            "backchannels": len(bcs),
            "items_with_words_by_budget": with_words,
            "audio_auc": trade.auc,
            "interruptions_stopped_when_backchannels_stopped": {
                str(k): v for k, v in trade.interruptions_stopped.items()
            },
            "needed_interruption_share": trade.needed_share,
            "backchannels_stopped_for_needed_share": trade.backchannels_stopped_for_needed,
            "early_threshold_sweep": sweep,
        }
    return {"budget_s": budget_s, "sets": sets}


def words_heard(events: Sequence[TranscriptEvent], *, at_s: float, silence_start_s: float) -> str:
    """The words delivered by stream time `at_s` for a silence that started at
    `silence_start_s` (s), as the endpoint policy reads them (`HeardWords`)."""
    heard = HeardWords()
    for ev in sorted(events, key=lambda e: e.at_s):
        if ev.at_s > at_s:
            break
        heard.push(ev)
    return heard.text_for(silence_start_s)


def silence_end_probability(model: CompletenessModel, text: str) -> float:
    """The shipped policy's P(this silence ends the turn) for the words `text`."""
    words = normalize_words(text)
    p_text = model.word_probability(words) if words else None
    return end_probability(p_text, cues=turn_cues(words, text=text))


def band_aucs(
    ends: Sequence[float],
    pauses: Sequence[tuple[float, float]],
    bands_s: Sequence[tuple[float, float]] = PAUSE_BANDS_S,
) -> list[dict[str, object]]:
    """AUC of turn ends' scores (`ends`) against the mid-turn pauses' scores whose length
    falls in each band; `pauses` holds (length s, score)."""
    rows: list[dict[str, object]] = []
    for lo, hi in ((0.0, 99.0), *bands_s):
        neg = [score for length, score in pauses if lo <= length < hi]
        rows.append({"pause_s": [lo, hi], "pauses": len(neg), "auc": auc(ends, neg)})
    return rows


def _budget_latency(metrics: dict[str, object], key: str) -> float | None:
    point = metrics.get(key)
    if isinstance(point, dict) and point.get("mean_latency_s") is not None:
        return float(point["mean_latency_s"])
    return None


def endpoint_report(
    manifests: Sequence[Path], *, transcripts_dir: Path, text_at_s: float
) -> dict[str, object]:
    """The endpoint signal report of every val manifest (see module doc)."""
    model = CompletenessModel.load()
    stt = TranscriptCache(cache_dir=transcripts_dir)
    sets: dict[str, object] = {}
    for m in manifests:
        items = load_endpoint_items(m)
        policies: dict[str, AdaptiveEndpointPolicy | FixedSilencePolicy] = {
            "ours": AdaptiveEndpointPolicy()
        }
        for pw, sw in ADAPTATION_WEIGHTS:
            policies[f"pause-curve {pw:g}/{sw:g}"] = AdaptiveEndpointPolicy(
                name="pause-only", use_text=False, prior_weight=pw, scale_weight=sw
            )
        policies["fixed"] = FixedSilencePolicy()
        outcomes: dict[str, list[list[EndpointOutcome]]] = {
            name: [[] for _ in pol.thresholds] for name, pol in policies.items()
        }
        end_scores: list[float] = []
        pause_scores: list[tuple[float, float]] = []
        durations: list[float] = []
        for inp in endpoint_inputs(m, items, stt):
            item, audio, events = inp.item, inp.audio, inp.transcript
            durations.append(inp.duration_s)
            for start, end in item.pauses:
                text = words_heard(events, at_s=start + text_at_s, silence_start_s=start)
                pause_scores.append((end - start, silence_end_probability(model, text)))
            text = words_heard(
                events, at_s=item.speech_end_s + text_at_s, silence_start_s=item.speech_end_s
            )
            end_scores.append(silence_end_probability(model, text))
            for name, pol in policies.items():
                for acc, o in zip(outcomes[name], pol.run(item, audio, events), strict=True):
                    acc.append(o)
        speech_ends = [item.speech_end_s for item in items]
        curves: dict[str, object] = {}
        for name, pol in policies.items():
            met = endpoint_metrics(
                outcomes[name], list(pol.thresholds), pol.default_threshold, speech_ends, durations
            )
            curves[name] = {
                "latency_at_5pct_s": _budget_latency(met, "best_latency_at_cutoff_5pct"),
                "latency_at_10pct_s": _budget_latency(met, "best_latency_at_cutoff_10pct"),
            }
        sets[str(m)] = {
            "turns": len(items),
            "mid_turn_pauses": len(pause_scores),
            "mean_end_probability": {
                "turn_ends": float(np.mean(end_scores)) if end_scores else None,
                "pauses_from_1.5s": float(np.mean([s for L, s in pause_scores if L >= 1.5]))
                if any(L >= 1.5 for L, _ in pause_scores)
                else None,
            },
            "end_probability_auc": band_aucs(end_scores, pause_scores),
            "curves": curves,
        }
    return {"text_at_s": text_at_s, "sets": sets}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("command", choices=("overlap", "endpoint"))
    ap.add_argument("--manifest", type=Path, action="append", required=True)
    ap.add_argument("--cache", type=Path, default=Path(".cache/bench"))
    ap.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S)
    ap.add_argument("--text-at-s", type=float, default=DEFAULT_TEXT_AT_S)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if refuse_test_manifests(args.manifest, "the test split is for final reporting only"):
        return 2
    if not 0.0 < args.budget_s <= 2.0:
        print(f"--budget-s must be in (0, 2] s, got {args.budget_s}", file=sys.stderr)
        return 2
    if not 0.0 <= args.text_at_s <= 3.0:
        print(f"--text-at-s must be in [0, 3] s, got {args.text_at_s}", file=sys.stderr)
        return 2
    transcripts = args.cache / "transcripts"
    try:
        if args.command == "overlap":
            report = overlap_report(
                args.manifest, transcripts_dir=transcripts, budget_s=args.budget_s
            )
        else:
            report = endpoint_report(
                args.manifest, transcripts_dir=transcripts, text_at_s=args.text_at_s
            )
    except (InputError, ValueError) as exc:
        print(f"bench.limits: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
