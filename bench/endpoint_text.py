"""Does the endpointing policy wait for its transcript? Replay it with the reference text.

    python -m bench.endpoint_text --manifest .cache/bench/full-evaluated/endpoint/val-clean.jsonl

The shipped `ours` policy (`bench.ours_endpoint`) is replayed over a val endpoint manifest
with three kinds of transcript timeline:

- `whisper`: the benchmark's streaming Whisper timeline (as `bench endpoint` gives it);
- `reference+L`: the manifest's reference text, known `L` seconds after each pause starts
  (`pause_texts`) and after the last word (`text`): a recogniser that is exact and lags by
  `L`, the best any speech-to-text could give;
- `no-text`: the pause curve alone.

If the reference timelines beat `whisper` by much, the recogniser's lag or errors are what
holds the policy back; if not, the completeness model itself is. Reported per timeline:
the lowest mean latency at <= 5 % and <= 10 % false cut-offs over the policy's threshold
sweep (as in `bench endpoint`). Reads val manifests only (test manifests are refused).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from bench.manifest import refuse_test_manifests
from bench.metrics import endpoint_metrics
from bench.ours_endpoint import AdaptiveEndpointPolicy
from bench.runners import endpoint_inputs, load_endpoint_items
from bench.transcripts import TranscriptCache
from bench.types import EndpointItem, EndpointOutcome, TranscriptEvent

REFERENCE_LAGS_S = (0.0, 0.2, 0.4)
"""Lags of the exact-text timelines, seconds after the pause (or the last word)."""


def reference_timeline(item: EndpointItem, lag_s: float) -> list[TranscriptEvent]:
    """The reference text as a transcript timeline: the words up to each mid-turn pause
    known `lag_s` after the pause starts, the whole text `lag_s` after the last word."""
    if item.pause_texts is None or len(item.pause_texts) != len(item.pauses):
        raise ValueError(f"item {item.id} has no reference text per pause (pause_texts)")
    if lag_s < 0.0:
        raise ValueError(f"lag_s must be >= 0, got {lag_s}")
    events = [
        TranscriptEvent(at_s=start + lag_s, text=text, is_final=False, audio_end_s=start)
        for (start, _end), text in zip(item.pauses, item.pause_texts, strict=True)
    ]
    events.append(
        TranscriptEvent(
            at_s=item.speech_end_s + lag_s,
            text=item.text or "",
            is_final=False,
            audio_end_s=item.speech_end_s,
        )
    )
    return events


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--manifest", type=Path, action="append", required=True)
    ap.add_argument("--cache", type=Path, default=Path(".cache/bench"))
    args = ap.parse_args(argv)
    if refuse_test_manifests(args.manifest, "the test split is for final reporting only"):
        return 2
    stt = TranscriptCache(cache_dir=args.cache / "transcripts")
    timelines = ["whisper", *(f"reference+{lag:g}" for lag in REFERENCE_LAGS_S), "no-text"]
    report: dict[str, object] = {}
    for manifest in args.manifest:
        items = load_endpoint_items(manifest)
        policies = {name: AdaptiveEndpointPolicy(use_text=name != "no-text") for name in timelines}
        outcomes: dict[str, list[list[EndpointOutcome]]] = {
            name: [[] for _ in pol.thresholds] for name, pol in policies.items()
        }
        ends = [item.speech_end_s for item in items]
        durs: list[float] = []
        for inp in endpoint_inputs(manifest, items, stt):
            item, audio, whisper = inp.item, inp.audio, inp.transcript
            durs.append(inp.duration_s)
            for name, pol in policies.items():
                if name.startswith("reference+"):
                    tl = reference_timeline(item, float(name.split("+", 1)[1]))
                else:
                    tl = whisper
                for acc, o in zip(outcomes[name], pol.run(item, audio, tl), strict=True):
                    acc.append(o)
        rows: dict[str, object] = {}
        for name, pol in policies.items():
            m = endpoint_metrics(
                outcomes[name], list(pol.thresholds), pol.default_threshold, ends, durs
            )
            rows[name] = {
                k: m[k] for k in ("best_latency_at_cutoff_5pct", "best_latency_at_cutoff_10pct")
            }
        report[str(manifest)] = {"n_items": len(items), "timelines": rows}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
