"""Which input the early audio classifier should read: its log-mel bands or Whisper's encoder.

    python -m bench.onset_probe --data ../shared/data \\
        --val-manifest .cache/bench/full-evaluated/overlap/val-clean.jsonl \\
        --val-manifest .cache/bench/full-evaluated/overlap/val-telephony.jsonl

A development probe for issue #4 (val only; test manifests are refused). The shipped early
audio classifier (`plugins/arbiter/onset.py`) reads 24 log mel-band energies per 20 ms. This
probe draws train clips as `bench.train_onset` does (same items, seed and perturbations:
Piper and espeak-ng renders of train-split items, one perturbed copy per render, plus
non-speech bursts labelled backchannel), cuts each at the horizons (`--horizon-s`, default
0.12, 0.16, 0.2 and 0.3 s: those the decider has scored about 0.3 s after the onset) from
the aligned window start the arbiter uses at run time, and fits the same network (one
hidden layer of `bench.train_onset.HIDDEN` tanh units) per horizon on three inputs of the
same clips:

- `log_mel`: the shipped features (`onset_features`);
- `whisper_encoder`: Whisper tiny.en's encoder states over that horizon's audio alone
  (padded with silence to `ENCODER_WINDOW_S`, so nothing after the horizon is heard),
  averaged over `POOL_SEGMENTS` equal stretches of the horizon;
- `both`: the two side by side.

Each is scored (ROC AUC, recall at 1 / 2 / 5 % of backchannels passing) per horizon and as
the mean probability over the horizons (the decider's `early_audio` statistic), on the
train clips, on every val item's rendered audio, and on the first manifest's items
re-rendered with one of `bench.onset_voices.VOICES` each (espeak-ng voices no model was
trained on): a representation that learns the benchmark's Piper voice shows up there. It
prints a JSON report (`--out` also writes it). It measures inputs only: the shipped model
and the decider are untouched.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from livekit.plugins.local_whisper.model import ENCODER_FRAME_S, WhisperTranscriber
from livekit.plugins.turntaking.arbiter.onset import CHUNK_S, onset_features, window_s

from bench.manifest import load_overlap_manifest, refuse_test_manifests
from bench.onset_voices import SPEED_WPM, VOICES
from bench.runners import load_item_audio
from bench.train_onset import (
    HORIZONS_S,
    MAX_WORDS,
    NOISE_SHARE,
    RENDER_CACHE,
    SEED,
    _place,
    espeak,
    fit,
    noise_clips,
    pick_train_items,
    render_all,
    render_espeak,
    roc_report,
    training_clips,
    window_start,
)
from bench.types import BENCH_SAMPLE_RATE_HZ, Samples

REPRESENTATIONS = ("log_mel", "whisper_encoder", "both")
DEFAULT_HORIZONS_S = (0.12, 0.16, 0.2, 0.3)
"""The horizons the decider has scored about 0.3 s after the onset."""
DEFAULT_PER_LABEL = 3000
ENCODER_WINDOW_S = 1.0
"""Silence-padded window Whisper's encoder reads, seconds (the horizon's audio and nothing
after it). On tiny.en, int8, one thread, a call cost 6 ms of CPU on an idle machine and a
median of 14 ms over a whole run on a busy one (the report's `encoder_cpu_ms_p50`)."""
POOL_SEGMENTS = 3
"""Equal stretches of the horizon whose encoder states are averaged (3 at 0.3 s: 0.1 s)."""

Vector = npt.NDArray[np.float32]
Encoder = Callable[[Samples], npt.NDArray[np.float32]]


def encoder_features(states: npt.NDArray[np.float32], horizon_s: float) -> Vector:
    """The encoder states (frames x dims, one row per `ENCODER_FRAME_S`) of the first
    `horizon_s` seconds, averaged over `POOL_SEGMENTS` equal stretches and concatenated.
    Raises `ValueError` when the horizon is shorter than the segments or longer than the
    states."""
    frames = int(round(horizon_s / ENCODER_FRAME_S))
    if frames < POOL_SEGMENTS:
        raise ValueError(f"horizon_s must span >= {POOL_SEGMENTS} encoder frames")
    if frames > states.shape[0]:
        raise ValueError(f"{states.shape[0]} encoder frames do not cover {horizon_s} s")
    parts = np.array_split(states[:frames], POOL_SEGMENTS)
    return np.concatenate([p.mean(axis=0) for p in parts]).astype(np.float32)


def clip_features(
    x: Samples, horizons_s: Sequence[float], encode: Encoder
) -> dict[str, list[Vector]] | None:
    """Every representation of a 16 kHz clip at each of `horizons_s` from the arbiter's
    aligned window start, each from that horizon's window alone, as at run time (None: the
    speech detector finds no onset)."""
    start = window_start(x)
    if start is None:
        return None
    out: dict[str, list[Vector]] = {r: [] for r in REPRESENTATIONS}
    for h in horizons_s:
        seen = x[start : start + int(round(window_s(h) * BENCH_SAMPLE_RATE_HZ))]
        mel = onset_features(seen, BENCH_SAMPLE_RATE_HZ, h, chunk_s=CHUNK_S).astype(np.float32)
        enc = encoder_features(encode(seen), h)
        out["log_mel"].append(mel)
        out["whisper_encoder"].append(enc)
        out["both"].append(np.concatenate([mel, enc]).astype(np.float32))
    return out


@dataclass
class Split:
    """Features of one set of clips by representation and horizon, with labels (1 =
    interruption)."""

    features: dict[str, list[list[Vector]]] = field(
        default_factory=lambda: {r: [] for r in REPRESENTATIONS}
    )
    labels: list[float] = field(default_factory=list)

    def add(self, feats: dict[str, list[Vector]] | None, label: float) -> None:
        if feats is None:
            return
        self.labels.append(label)
        for r in REPRESENTATIONS:
            self.features[r].append(feats[r])

    def matrix(self, representation: str, horizon: int) -> npt.NDArray[np.float32]:
        """Rows of every clip at the `horizon`-th horizon."""
        return np.stack([clip[horizon] for clip in self.features[representation]])


def score(
    layer: dict[str, npt.NDArray[np.float32]], x: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    """Logits of `bench.train_onset.fit`'s network for rows of `x`."""
    z = (x - layer["mean"]) / layer["std"]
    h = np.tanh(z @ layer["w1"] + layer["b1"])
    return np.asarray(h @ layer["w2"] + layer["b2"], dtype=np.float64)


def compare(
    train: Split, evals: dict[str, Split], horizons_s: Sequence[float], seed: int
) -> dict[str, dict[str, object]]:
    """Fit each representation at each horizon on `train`; the ROC report of each on train
    and on every eval set, and of the mean probability over the horizons (the statistic the
    decider's `early_audio` cue reads once they are all scored)."""
    y = np.array(train.labels)
    sets = {"train": train, **evals}
    out: dict[str, dict[str, object]] = {}
    for r in REPRESENTATIONS:
        per_horizon: dict[str, object] = {}
        probs: dict[str, list[npt.NDArray[np.float64]]] = {name: [] for name in sets}
        for k, h in enumerate(horizons_s):
            x = train.matrix(r, k)
            layer = fit(x, y, np.random.default_rng(seed))
            row: dict[str, object] = {"dims": int(x.shape[1])}
            for name, split in sets.items():
                logits = score(layer, split.matrix(r, k))
                row[name] = roc_report(logits, np.array(split.labels))
                probs[name].append(1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0))))
            per_horizon[f"{h:g}"] = row
        out[r] = {
            "horizons": per_horizon,
            "mean_over_horizons": {
                name: roc_report(np.mean(probs[name], axis=0), np.array(split.labels))
                for name, split in sets.items()
            },
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, required=True, help="shared corpus folder")
    ap.add_argument("--val-manifest", type=Path, action="append", required=True)
    ap.add_argument("--per-label", type=int, default=DEFAULT_PER_LABEL)
    ap.add_argument(
        "--horizon-s",
        type=float,
        action="append",
        default=None,
        help=f"a horizon to fit (repeat; default {' '.join(map(str, DEFAULT_HORIZONS_S))})",
    )
    ap.add_argument("--workers", type=int, default=2, help="render processes")
    ap.add_argument(
        "--cache",
        type=Path,
        default=RENDER_CACHE,
        help="the Piper train renders (shared with bench.train_onset at the same --per-label)",
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if refuse_test_manifests(args.val_manifest, "this is a development probe on val"):
        return 2
    horizons_s = sorted(set(args.horizon_s or DEFAULT_HORIZONS_S))
    lo, hi = POOL_SEGMENTS * ENCODER_FRAME_S, ENCODER_WINDOW_S - 0.1
    if not all(lo <= h <= hi and h in HORIZONS_S for h in horizons_s):
        ap.error(f"--horizon-s must be one of the model's horizons {HORIZONS_S} in {lo}..{hi}")
    t0 = time.time()
    whisper = WhisperTranscriber()
    whisper.load()

    encode_s: list[float] = []

    def encode(x: Samples) -> npt.NDArray[np.float32]:
        started = time.process_time()
        states = whisper.encode(x, window_s=ENCODER_WINDOW_S)
        encode_s.append(time.process_time() - started)
        return states

    rng = random.Random(SEED)
    np_rng = np.random.default_rng(SEED)
    picked = pick_train_items(args.data, args.per_label, rng)
    speech = render_all(picked, rng, workers=args.workers, cache=args.cache)
    espoken = render_espeak(picked, rng)
    train = Split()
    for clip, y in training_clips(picked, speech, espoken, np_rng, copies=1):
        train.add(clip_features(clip, horizons_s, encode), y)
    for clip in noise_clips(int(NOISE_SHARE * len(train.labels)), np_rng):
        train.add(clip_features(clip, horizons_s, encode), 0.0)
    val, voices = Split(), Split()
    for man in args.val_manifest:
        for k, item in enumerate(load_overlap_manifest(man)):
            y = 1.0 if item.label == "interruption" else 0.0
            val.add(clip_features(load_item_audio(item.audio), horizons_s, encode), y)
            text = " ".join((item.text or "").split()[:MAX_WORDS])
            if man == args.val_manifest[0] and text:
                x = espeak(text, VOICES[k % len(VOICES)], wpm=SPEED_WPM)
                if len(x):
                    voices.add(clip_features(_place(x, np_rng), horizons_s, encode), y)
    report = {
        "horizons_s": horizons_s,
        "seed": SEED,
        "train_clips": len(train.labels),
        "val_manifests": [str(m) for m in args.val_manifest],
        "representations": compare(
            train, {"val": val, "val_held_out_voices": voices}, horizons_s, SEED
        ),
        # CPU time (process, one thread) of one encoder call on the window, ms
        "encoder_cpu_ms_p50": round(1000 * float(np.median(encode_s)), 2),
        "encoder_cpu_ms_p95": round(1000 * float(np.percentile(encode_s, 95)), 2),
        "total_s": round(time.time() - t0, 1),
    }
    text_out = json.dumps(report, indent=2)
    if args.out is not None:
        args.out.write_text(text_out + "\n", "utf-8")
    print(text_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
