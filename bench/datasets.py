"""Build the benchmark sets: derive from the corpora, render, write manifests (cached).

    python -m bench.datasets --data ../shared/data [--cache .cache/bench] [--quick]

Layout under the cache folder (re-runs reuse every clip whose spec did not change):

- `audio/<overlap|endpoint>/clean/<id>.flac` (+ `<id>.json`: rendered spans) and
  `audio/<overlap|endpoint>/<variant>-v<VARIANT_VERSION>/<id>.flac`;
- `<full|quick>/overlap/<split>-<variant>.jsonl`, `<full|quick>/endpoint/<split>-<variant>.jsonl`;
- `<full|quick>/summary.json`: class balance per split and source, render time, clipping.

Variants: `clean` (16 kHz) for every split; `telephony` (8 kHz mu-law, stored at 8 kHz) for
every rendered split; `noise` (babble at 20 dB SNR), `level+6` and `level-6` for val and
test. The train endpoint set is timings and text only (`train-text.jsonl`, no audio).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.audio import load_audio
from bench.corpus import SPLITS, Split, read_mrda_split, read_swda_split
from bench.derive import (
    EndpointSpec,
    OverlapSpec,
    derive_mrda_endpoints,
    derive_mrda_overlaps,
    derive_swda_overlaps,
    sample_balanced,
    sample_in_order,
)
from bench.manifest import write_endpoint_manifest, write_overlap_manifest
from bench.render import (
    TELEPHONY_RATE_HZ,
    Renderer,
    add_noise,
    apply_gain_db,
    spec_digest,
    telephony,
    write_flac,
)
from bench.types import BENCH_SAMPLE_RATE_HZ, EndpointItem, OverlapItem

__all__ = ["BuiltSets", "SetSizes", "build_sets", "main"]

logger = logging.getLogger("bench.datasets")

SEED = 20_240_601
MAX_WORKERS = 2
NOISE_SNR_DB = 20.0
LEVEL_GAINS_DB = {"level+6": 6.0, "level-6": -6.0}
BABBLE_POOL = 40
"""Clean clips of the same split the babble of the `noise` variant is drawn from."""
EXTRA_VARIANT_SPLITS: tuple[Split, ...] = ("val", "test")
VARIANT_VERSION = 2
"""Part of the variant folders' names: bump it when the variant code changes, so no stale
cached variant is reused."""


def _audio_path(audio_dir: Path, variant: str, item_id: str) -> Path:
    if variant == "clean":
        return audio_dir / "clean" / f"{item_id}.flac"
    return audio_dir / f"{variant}-v{VARIANT_VERSION}" / f"{item_id}.flac"


@dataclass(frozen=True)
class SetSizes:
    """Caps of one build mode (items per class per source for overlap, turns for endpoint)."""

    overlap_mrda_per_class: dict[str, int]
    overlap_swda_per_class: dict[str, int]
    endpoint_turns: dict[str, int]


FULL = SetSizes(
    overlap_mrda_per_class={"train": 1500, "val": 300, "test": 300},
    overlap_swda_per_class={"train": 500, "val": 100, "test": 100},
    endpoint_turns={"train": 4000, "val": 400, "test": 400},
)
QUICK = SetSizes(
    overlap_mrda_per_class={"train": 20, "val": 20, "test": 20},
    overlap_swda_per_class={"train": 10, "val": 10, "test": 10},
    endpoint_turns={"train": 60, "val": 60, "test": 60},
)


@dataclass(frozen=True)
class BuiltSets:
    """Every manifest written by `build_sets`.

    `overlap` and `endpoint` map "<split>/<variant>" (e.g. "test/clean",
    "val/telephony", "train/text") to the manifest path."""

    root: Path
    overlap: dict[str, Path]
    endpoint: dict[str, Path]
    summary: dict[str, Any] = field(default_factory=dict)

    def overlap_manifest(self, split: str, variant: str = "clean") -> Path:
        """Path of one overlap manifest (KeyError naming what exists when absent)."""
        return _pick(self.overlap, f"{split}/{variant}", "overlap")

    def endpoint_manifest(self, split: str, variant: str = "clean") -> Path:
        """Path of one endpoint manifest (KeyError naming what exists when absent)."""
        return _pick(self.endpoint, f"{split}/{variant}", "endpoint")


def _pick(d: dict[str, Path], key: str, kind: str) -> Path:
    if key not in d:
        raise KeyError(f"no {kind} manifest {key!r}; built: {', '.join(sorted(d))}")
    return d[key]


# ----------------------------------------------------------------------------- rendering

_RENDERER: Renderer | None = None


def _init_worker() -> None:
    global _RENDERER
    try:
        os.nice(10)
    except OSError:
        pass
    _RENDERER = Renderer(threads=1)
    _RENDERER.load()


def _spec_json(spec: OverlapSpec | EndpointSpec) -> dict[str, Any]:
    d = asdict(spec)
    # only what changes the audio goes into the digest
    return {k: d[k] for k in ("segments", "text", "preroll_s", "tail_s") if k in d}


def _render_one(
    job: tuple[str, dict[str, Any], str, str],
) -> tuple[str, list[list[float]] | str]:
    """Render one clip into the cache; returns its spans or an error message."""
    item_id, spec, flac, sidecar = job
    assert _RENDERER is not None
    from bench.derive import Segment

    try:
        if spec.get("segments"):
            segs = [Segment(**s) for s in spec["segments"]]
            r = _RENDERER.render_segments(segs, tail_s=float(spec["tail_s"]))
        else:
            r = _RENDERER.render_text(
                str(spec["text"]),
                preroll_s=float(spec["preroll_s"]),
                tail_s=float(spec["tail_s"]),
            )
    except Exception as exc:  # one bad text must not stop the build; reported per item
        return item_id, f"{type(exc).__name__}: {exc}"
    write_flac(Path(flac), r.audio, BENCH_SAMPLE_RATE_HZ)
    spans = [list(s) for s in r.spans]
    Path(sidecar).write_text(json.dumps({"digest": spec["digest"], "spans": spans}))
    return item_id, spans


def _cached_spans(sidecar: Path, flac: Path, digest: str) -> list[list[float]] | None:
    if not (sidecar.is_file() and flac.is_file()):
        return None
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if meta.get("digest") != digest:
        return None
    spans = meta.get("spans")
    return spans if isinstance(spans, list) else None


def _render_all(
    specs: Sequence[OverlapSpec | EndpointSpec], audio_dir: Path, *, workers: int
) -> tuple[dict[str, list[list[float]]], dict[str, str], int]:
    """Clean renders of `specs` (cached); returns spans by id, errors by id, #rendered."""
    clean = audio_dir / "clean"
    clean.mkdir(parents=True, exist_ok=True)
    spans: dict[str, list[list[float]]] = {}
    jobs: list[tuple[str, dict[str, Any], str, str]] = []
    for spec in specs:
        sj = _spec_json(spec)
        sj["digest"] = spec_digest(sj)
        flac, side = clean / f"{spec.id}.flac", clean / f"{spec.id}.json"
        cached = _cached_spans(side, flac, sj["digest"])
        if cached is not None:
            spans[spec.id] = cached
        else:
            jobs.append((spec.id, sj, str(flac), str(side)))
    errors: dict[str, str] = {}
    if jobs:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool:
            for k, (item_id, res) in enumerate(pool.map(_render_one, jobs, chunksize=8)):
                if isinstance(res, str):
                    errors[item_id] = res
                    # the message may quote the text: keep it out of the log (summary.json)
                    logger.warning("render failed for %s (%s)", item_id, res.split(":")[0])
                else:
                    spans[item_id] = res
                if (k + 1) % 200 == 0:
                    logger.info("rendered %d/%d clips in %s", k + 1, len(jobs), audio_dir)
    return spans, errors, len(jobs)


def _variants(ids: Sequence[str], audio_dir: Path, *, extra: bool, seed: int) -> dict[str, Any]:
    """Write the variants of the clean clips `ids`; returns clipping statistics."""
    clean = audio_dir / "clean"
    stats: dict[str, Any] = {"clipped_items": dict.fromkeys(LEVEL_GAINS_DB, 0)}
    rng = np.random.default_rng(seed)
    pool_ids = [ids[int(i)] for i in rng.permutation(len(ids))[:BABBLE_POOL]] if extra else []
    babble_src = {i: load_audio(clean / f"{i}.flac") for i in pool_ids}
    for n, item_id in enumerate(ids):
        src = clean / f"{item_id}.flac"
        names = ["telephony", *(["noise", *LEVEL_GAINS_DB] if extra else [])]
        outs = {v: _audio_path(audio_dir, v, item_id) for v in names}
        src_mtime = src.stat().st_mtime
        stale = [v for v, p in outs.items() if not p.is_file() or p.stat().st_mtime < src_mtime]
        if not stale:
            continue
        x = load_audio(src)
        for v in stale:
            if v == "telephony":
                write_flac(outs[v], telephony(x), TELEPHONY_RATE_HZ)
            elif v == "noise":
                others = [a for i, a in babble_src.items() if i != item_id]
                y = add_noise(x, others, snr_db=NOISE_SNR_DB, seed=seed + n)
                write_flac(outs[v], y, BENCH_SAMPLE_RATE_HZ)
            else:
                y, clipped = apply_gain_db(x, LEVEL_GAINS_DB[v])
                if clipped:
                    stats["clipped_items"][v] += 1
                write_flac(outs[v], y, BENCH_SAMPLE_RATE_HZ)
    return stats


# ----------------------------------------------------------------------------- build


def _derive(data_dir: Path, split: Split) -> tuple[list[OverlapSpec], list[EndpointSpec]]:
    overlaps: list[OverlapSpec] = []
    turns: list[EndpointSpec] = []
    for meeting in read_mrda_split(data_dir, split):
        overlaps.extend(derive_mrda_overlaps(meeting, seed=SEED))
        turns.extend(derive_mrda_endpoints(meeting))
    for conv in read_swda_split(data_dir, split):
        overlaps.extend(derive_swda_overlaps(conv, seed=SEED))
    return overlaps, turns


def _balance(items: Iterable[OverlapItem]) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = {}
    for it in items:
        out.setdefault(it.source or "?", Counter())[it.label] += 1
    return {k: dict(v) for k, v in sorted(out.items())}


def build_sets(
    data_dir: Path,
    cache_dir: Path,
    *,
    quick: bool,
    workers: int = MAX_WORKERS,
    splits: Sequence[Split] = SPLITS,
) -> BuiltSets:
    """Derive, render (cached, at most `workers` processes) and write every manifest.

    `data_dir` holds `mrda/` and `swda/`; everything goes under `cache_dir`. Raises
    `bench.corpus.CorpusError` when the corpus folder is wrong or malformed.
    """
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be 1-{MAX_WORKERS}, got {workers}")
    if not splits or any(sp not in SPLITS for sp in splits):
        raise ValueError(f"splits must be a non-empty subset of {SPLITS}, got {tuple(splits)}")
    if not (data_dir / "mrda").is_dir() or not (data_dir / "swda").is_dir():
        raise FileNotFoundError(
            f"{data_dir}: expected the corpus folder holding mrda/ and swda/ (--data)"
        )
    sizes = QUICK if quick else FULL
    root = cache_dir / ("quick" if quick else "full")
    audio_root = cache_dir / "audio"
    overlap_paths: dict[str, Path] = {}
    endpoint_paths: dict[str, Path] = {}
    summary: dict[str, Any] = {"mode": root.name, "seed": SEED, "splits": {}}
    t_render = 0.0
    n_rendered = 0
    for split in [sp for sp in SPLITS if sp in splits]:
        t0 = time.monotonic()
        overlaps, turns = _derive(data_dir, split)
        derived = {
            "overlap": _balance(_as_items(overlaps)),
            "endpoint_turns": len(turns),
        }
        picked = sample_balanced(
            [s for s in overlaps if s.source == "mrda"],
            sizes.overlap_mrda_per_class[split],
            seed=SEED,
        ) + sample_balanced(
            [s for s in overlaps if s.source == "swda"],
            sizes.overlap_swda_per_class[split],
            seed=SEED,
        )
        picked_turns = sample_in_order(
            turns,
            sizes.endpoint_turns[split],
            seed=SEED,
            key=lambda t: (t.meeting, t.start_in_meeting_s),
        )
        logger.info("%s: derived in %.1f s", split, time.monotonic() - t0)
        # overlap: render clean, then variants
        t1 = time.monotonic()
        ov_dir = audio_root / "overlap"
        spans, errors, n = _render_all(picked, ov_dir, workers=workers)
        n_rendered += n
        ok = [s for s in picked if s.id in spans]
        extra = split in EXTRA_VARIANT_SPLITS
        vstats = _variants([s.id for s in ok], ov_dir, extra=extra, seed=SEED)
        variants = ["clean", "telephony"] + (["noise", *LEVEL_GAINS_DB] if extra else [])
        for v in variants:
            items = [_overlap_item(s, spans[s.id], _audio_path(ov_dir, v, s.id)) for s in ok]
            path = root / "overlap" / f"{split}-{v}.jsonl"
            write_overlap_manifest(path, items)
            overlap_paths[f"{split}/{v}"] = path
        # endpoint: train is text and timings only
        ep_dir = audio_root / "endpoint"
        ep_stats: dict[str, Any] = {}
        if split == "train":
            path = root / "endpoint" / "train-text.jsonl"
            write_endpoint_manifest(path, [_endpoint_text_item(t) for t in picked_turns])
            endpoint_paths["train/text"] = path
            ep_errors: dict[str, str] = {}
            ep_items_n = len(picked_turns)
        else:
            ep_spans, ep_errors, n = _render_all(picked_turns, ep_dir, workers=workers)
            n_rendered += n
            ep_ok = [
                t
                for t in picked_turns
                if t.id in ep_spans and len(ep_spans[t.id]) == len(t.segments)
            ]
            ok_ids = {t.id for t in ep_ok}
            for t in picked_turns:
                if t.id in ep_spans and t.id not in ok_ids:
                    ep_errors[t.id] = "a segment rendered empty"
            ep_stats = _variants([t.id for t in ep_ok], ep_dir, extra=True, seed=SEED + 1)
            for v in ["clean", "telephony", "noise", *LEVEL_GAINS_DB]:
                ep_items = [
                    _endpoint_item(t, ep_spans[t.id], _audio_path(ep_dir, v, t.id)) for t in ep_ok
                ]
                path = root / "endpoint" / f"{split}-{v}.jsonl"
                write_endpoint_manifest(path, ep_items)
                endpoint_paths[f"{split}/{v}"] = path
            ep_items_n = len(ep_ok)
        dt = time.monotonic() - t1
        t_render += dt
        summary["splits"][split] = {
            "derived": derived,
            "overlap": _balance(_as_items(ok)),
            "overlap_render_errors": errors,
            "overlap_clipping": vstats["clipped_items"],
            "endpoint_turns": ep_items_n,
            "endpoint_pauses": sum(len(t.segments) - 1 for t in picked_turns),
            "endpoint_render_errors": ep_errors,
            "endpoint_clipping": ep_stats.get("clipped_items", {}),
            "render_and_variants_s": round(dt, 1),
        }
        logger.info("%s: rendered and wrote manifests in %.1f s", split, dt)
    summary["clips_rendered_this_run"] = n_rendered
    summary["render_and_variants_s"] = round(t_render, 1)
    root.mkdir(parents=True, exist_ok=True)
    summary_path = root / "summary.json"
    if summary_path.is_file():
        # Splits not rebuilt in this run keep their figures from the last run that built them.
        try:
            earlier = json.loads(summary_path.read_text()).get("splits", {})
        except (OSError, ValueError, AttributeError):
            earlier = {}
        summary["splits"] = {**earlier, **summary["splits"]}
    summary_path.write_text(json.dumps(summary, indent=1))
    return BuiltSets(root, overlap_paths, endpoint_paths, summary)


def _as_items(specs: Iterable[OverlapSpec]) -> list[OverlapItem]:
    return [
        OverlapItem(id=s.id, audio=Path(), label=s.label, onset_s=0.0, source=s.source)
        for s in specs
    ]


def _overlap_item(spec: OverlapSpec, spans: list[list[float]], audio: Path) -> OverlapItem:
    return OverlapItem(
        id=spec.id,
        audio=audio,
        label=spec.label,
        onset_s=float(spans[0][0]),
        agent_text=spec.agent_text,
        text=spec.text,
        source=spec.source,
        speaker=spec.speaker,
    )


def _endpoint_item(spec: EndpointSpec, spans: list[list[float]], audio: Path) -> EndpointItem:
    pauses = tuple((float(a[1]), float(b[0])) for a, b in zip(spans, spans[1:], strict=False))
    return EndpointItem(
        id=spec.id,
        audio=audio,
        speech_end_s=float(spans[-1][1]),
        pauses=pauses,
        text=spec.text,
        speaker=spec.speaker,
        pause_texts=spec.pause_texts,
    )


def _endpoint_text_item(spec: EndpointSpec) -> EndpointItem:
    """Corpus timings (no audio): pauses and end as in the meeting, relative to the clip."""
    segs = spec.segments
    pauses = tuple((a.end_s, b.start_s) for a, b in zip(segs, segs[1:], strict=False))
    return EndpointItem(
        id=spec.id,
        audio=Path(),
        speech_end_s=segs[-1].end_s,
        pauses=pauses,
        text=spec.text,
        speaker=spec.speaker,
        pause_texts=spec.pause_texts,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the sets and print where the manifests are."""
    ap = argparse.ArgumentParser(
        prog="python -m bench.datasets", description="Build the benchmark sets."
    )
    ap.add_argument("--data", type=Path, required=True, help="corpus folder (mrda/, swda/)")
    ap.add_argument("--cache", type=Path, default=Path(".cache/bench"))
    ap.add_argument("--quick", action="store_true", help="about 60 items per set")
    ap.add_argument("--workers", type=int, default=MAX_WORKERS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    t = time.monotonic()
    try:
        built = build_sets(args.data, args.cache, quick=args.quick, workers=args.workers)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for k, p in sorted(built.overlap.items()):
        print(f"overlap  {k:18s} {p}")
    for k, p in sorted(built.endpoint.items()):
        print(f"endpoint {k:18s} {p}")
    print(f"total {time.monotonic() - t:.1f} s; summary {built.root / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
