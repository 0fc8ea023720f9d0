"""How the arbiter's early audio classifier does on voices it never heard.

`python -m bench.onset_voices --manifest .cache/bench/full-evaluated/overlap/val-clean.jsonl`
(`--model F --params P` check an earlier onset model and operating point instead of the
shipped ones, e.g. files from `git show <commit>:plugins/arbiter/data/...`).

The classifier was trained on one Piper voice, and the benchmark's sets use that voice
too. This re-renders each item's first words (as `bench.train_onset` does) with espeak-ng
voices (formant synthesis, nothing like Piper; Debian package `espeak-ng`, a
development-time tool like Piper) and scores them from the onset the arbiter's detector
finds, beside the same items in the manifest's own audio. Per voice it prints the ROC AUC
at each horizon and, for the shipped decision rule (running mean of the horizons >=
`early_threshold`, >= `min_voiced_s` voiced), the share of backchannels it would stop
(false alarms) and of interruptions it would stop early. A second pair of columns streams
each clip through the decider with its sound only (frames and early scores, no words) and
counts the stops within `BEFORE_WORDS_S` of the onset: the early rule plus the duration
rule's quick tier, which act before the first words can arrive.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from livekit.plugins.turntaking.arbiter.model import (
    HASH_DIM,
    ArbiterDecider,
    ArbiterParams,
    TextModel,
    load_params,
)
from livekit.plugins.turntaking.arbiter.onset import OnsetModel, OnsetScore

from bench.manifest import load_overlap_manifest, refuse_test_manifests
from bench.ours_overlap import ArbiterOverlapSystem, trace_item
from bench.runners import load_item_audio
from bench.train_onset import MAX_WORDS, _place, espeak, onset_of, roc_report
from bench.types import BENCH_SAMPLE_RATE_HZ, OverlapItem, Samples

VOICES = ("en-us+m3", "en-us+f3", "en+m1", "en-us+f4")
"""espeak-ng voices (language + variant) held out from training: neither Piper's nor
among `bench.train_onset.ESPEAK_VOICES`."""
SPEED_WPM = 165
SEED = 20261130
BEFORE_WORDS_S = 0.5
"""Sound-only stops are counted up to this long after the onset, seconds (the first words
of the local speech-to-text come 0.5-1.2 s after it)."""


def early_scores(model: OnsetModel, x: Samples) -> list[OnsetScore] | None:
    """The score of every horizon of a clip, from its detected onset (None: no onset)."""
    at = onset_of(x)
    if at is None:
        return None
    return [model.score(x, BENCH_SAMPLE_RATE_HZ, h, onset_sample=at) for h in model.horizons_s]


_NO_WORDS = TextModel(np.zeros(HASH_DIM, dtype=np.float32), 0.0)
"""The early rule never reads words: a text model of zeros stands in."""


def rule_fires(scores: Sequence[OnsetScore], params: ArbiterParams) -> bool:
    """Whether the decider's early rule (`ArbiterDecider.push_onset_probability`) stops the
    agent on these scores of one onset, with no other evidence."""
    d = ArbiterDecider(_NO_WORDS, params=params)
    d.on_agent_speech("", 0.0)
    d.on_user_speech_start(0.0)
    # a stop is an interruption, or a pause for the words to confirm (no words here)
    return any(
        d.push_onset_probability(sc.probability, sc.horizon_s, sc.horizon_s, voiced_s=sc.voiced_s)
        is not None
        or d.paused_at_s is not None
        for sc in scores
    )


def sound_stops(
    model: OnsetModel, x: Samples, params: ArbiterParams, *, within_s: float = BEFORE_WORDS_S
) -> bool:
    """Whether the decider, fed a clip's sound alone (`trace_item` with no transcript: 20 ms
    frames, its own speech detector's onsets, the early scores), stops the agent within
    `within_s` of the first onset that detector reports."""
    at = onset_of(x)
    if at is None:
        return False
    item = OverlapItem(
        id="clip", audio=Path(), label="backchannel", onset_s=at / BENCH_SAMPLE_RATE_HZ
    )
    system = ArbiterOverlapSystem(model=_NO_WORDS, params=params, onset_model=model)
    dec = system.replay(trace_item(item, x, (), model), params)
    # with no words a pause is never resumed: it stopped the agent when it began
    stop = dec.stop_s
    return dec.decision == "interruption" and stop is not None and stop <= within_s + 1e-9


def summarize(
    name: str,
    rows: Sequence[tuple[bool, list[OnsetScore]]],
    model: OnsetModel,
    params: ArbiterParams,
    sound: Sequence[bool] | None = None,
) -> str:
    y = np.array([1.0 if pos else 0.0 for pos, _ in rows])
    aucs = []
    for k in range(len(model.horizons_s)):
        r = roc_report(np.array([s[k].probability for _, s in rows]), y)
        aucs.append(f"{r.get('auc', float('nan')):.3f}")
    fires = np.array([rule_fires(s, params) for _, s in rows])

    def shares(f: npt.NDArray[np.bool_]) -> str:
        fa = float(f[y == 0].mean()) if (y == 0).any() else float("nan")
        caught = float(f[y == 1].mean()) if (y == 1).any() else float("nan")
        return f"{100 * fa:.1f} % | {100 * caught:.1f} %"

    snd = shares(np.array(sound, dtype=bool)) if sound is not None else "- | -"
    return f"| {name} | {len(rows)} | {' / '.join(aucs)} | {shares(fires)} | {snd} |"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--manifest", type=Path, required=True, help="val overlap manifest")
    ap.add_argument("--limit", type=int, default=None, help="first N items")
    ap.add_argument(
        "--model", type=Path, default=None, help="onset model file (default: the shipped one)"
    )
    ap.add_argument(
        "--params", type=Path, default=None, help="params.json (default: the shipped one)"
    )
    args = ap.parse_args(argv)
    if refuse_test_manifests([args.manifest], "this is a development check on val"):
        return 2
    model = OnsetModel.load(args.model)
    params = load_params(args.params)
    items = load_overlap_manifest(args.manifest)[: args.limit]
    np_rng = np.random.default_rng(SEED)
    Row = tuple[bool, list[OnsetScore], bool]
    own: list[Row] = []
    by_voice: dict[str, list[Row]] = {v: [] for v in VOICES}

    def scored(pos: bool, x: Samples) -> Row | None:
        s = early_scores(model, x)
        return None if s is None else (pos, s, sound_stops(model, x, params))

    for k, item in enumerate(items):
        pos = item.label == "interruption"
        if (r := scored(pos, load_item_audio(item.audio))) is not None:
            own.append(r)
        text = " ".join((item.text or "").split()[:MAX_WORDS])
        if not text:
            continue
        voice = VOICES[k % len(VOICES)]
        x: npt.NDArray[np.float32] = espeak(text, voice, wpm=SPEED_WPM)
        if len(x) == 0:
            continue
        if (r := scored(pos, _place(x, np_rng))) is not None:
            by_voice[voice].append(r)
    print(
        f"early rule: running mean >= {params.early_threshold}, voiced >= "
        f"{params.min_voiced_s} s; horizons {model.horizons_s} s; sound only: stops within "
        f"{BEFORE_WORDS_S} s (early rule, quick tier >= {params.quick_audio_threshold} "
        f"after {params.quick_speech_s} s)\n"
    )
    print(
        "| audio | clips | AUC per horizon | early rule: backchannels stopped | interruptions "
        "stopped | sound only: backchannels stopped | interruptions stopped |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    pooled = [r for v in VOICES for r in by_voice[v]]
    rows = [
        (f"{args.manifest.name} (Piper)", own),
        *((f"espeak-ng {v}", by_voice[v]) for v in VOICES),
        ("espeak-ng, all voices", pooled),
    ]
    for name, got in rows:
        pairs = [(pos, s) for pos, s, _ in got]
        print(summarize(name, pairs, model, params, [snd for _, _, snd in got]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
