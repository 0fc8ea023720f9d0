"""How short may Whisper's encoder window be? Word error rate and CPU per encoder window.

    python -m bench.stt_window --manifest .cache/bench/full/overlap/val-clean.jsonl \
        --manifest .cache/bench/full/endpoint/val-clean.jsonl --limit 60 --windows 30,10,8

Every item is replayed through the streaming recognizer (`transcribe_timeline`, interims
every 0.5 s as in the benchmark) once per `min_window_s` value; the finals, joined, are
scored against the manifest's reference text (lower-cased, punctuation dropped, word-level
Levenshtein distance over reference words). Reported per window: WER, process CPU seconds
per audio second, hypotheses emitted (a faster recognizer skips fewer interims) and calls
re-decoded on the full 30 s window. This is how `livekit.plugins.local_whisper.MIN_WINDOW_S` was
chosen; it reads val manifests only (test manifests are refused).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path

from bench.manifest import (
    load_endpoint_manifest,
    load_overlap_manifest,
    refuse_test_manifests,
    spread_subset,
)
from bench.runners import load_item_audio
from bench.types import BENCH_SAMPLE_RATE_HZ

INTERIM_EVERY_S = 0.5
"""The benchmark's interim cadence (bench.transcripts.SttSettings)."""


def words(text: str) -> list[str]:
    """Lower-cased words with punctuation dropped (apostrophes kept)."""
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Word-level Levenshtein distance (substitutions, insertions, deletions cost 1)."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diag, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diag + (r != h))
    return row[len(hyp)]


def _items(manifest: Path) -> list[tuple[Path, str | None]]:
    """(audio, reference text) of an overlap or endpoint manifest."""
    try:
        return [(it.audio, it.text) for it in load_overlap_manifest(manifest)]
    except ValueError:
        return [(it.audio, it.text) for it in load_endpoint_manifest(manifest)]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--manifest", type=Path, action="append", required=True)
    ap.add_argument("--limit", type=int, default=60, help="items per manifest, spread evenly")
    ap.add_argument("--windows", default="30,10,8", help="min_window_s values, comma-separated")
    ap.add_argument("--out", type=Path, default=None, help="also write the table as JSON")
    args = ap.parse_args(argv)
    if refuse_test_manifests(args.manifest, "the window is chosen on val"):
        return 2
    from livekit.plugins.local_whisper import WhisperTranscriber, transcribe_timeline

    items = [x for m in args.manifest for x in spread_subset(_items(m), args.limit)]
    audio = [(load_item_audio(path), text) for path, text in items if text]
    audio_s = sum(a.size for a, _ in audio) / BENCH_SAMPLE_RATE_HZ
    rows = []
    for window in (float(w) for w in args.windows.split(",")):
        tr = WhisperTranscriber(min_window_s=window)
        tr.load()
        errors = ref_words = hyps = 0
        t0 = time.process_time()
        for samples, text in audio:
            ups = transcribe_timeline(tr, samples, interim_interval_s=INTERIM_EVERY_S)
            hyps += len(ups)
            ref = words(text)
            errors += edit_distance(ref, words(" ".join(u.text for u in ups if u.is_final)))
            ref_words += len(ref)
        cpu = time.process_time() - t0
        rows.append(
            {
                "min_window_s": window,
                "wer": round(errors / max(1, ref_words), 4),
                "cpu_s_per_audio_s": round(cpu / audio_s, 3),
                "hypotheses": hyps,
                "full_window_calls": tr.full_window_calls,
                "calls": tr.calls,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    print(f"{len(audio)} items, {audio_s:.0f} s of audio, {ref_words} reference words")
    if args.out is not None:
        args.out.write_text(json.dumps({"items": len(audio), "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
