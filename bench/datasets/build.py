"""Build the benchmark sets: derive from the corpora, render, write manifests (cached).

    python -m bench.datasets --data DIR [--cache .cache/bench] [--quick]
        [--splits val test] [--overlap-items N] [--endpoint-items N]

Layout under the cache folder (re-runs reuse every clip whose spec did not change):

- `audio/<overlap|endpoint>/clean/<id>.flac` (+ `<id>.json`: rendered spans) and
  `audio/<overlap|endpoint>/<variant>-v<VARIANT_VERSION>/<id>.flac`;
- `<full|quick>/overlap/<split>-<variant>.jsonl`, `<full|quick>/endpoint/<split>-<variant>.jsonl`;
- `<full|quick>/summary.json`: class balance per split and source, render time, clipping.

Variants: `clean` (16 kHz) for every split; `telephony` (8 kHz mu-law, stored at 8 kHz) for
every rendered split; `noise` (babble at 20 dB SNR), `level+6` and `level-6` for val and
test. The train endpoint set is timings and text only (`train-text.jsonl`, no audio).

Noise conditions (val and test overlap sets only): `NOISE_CONDITION_ITEMS` overlap items
spread evenly over the set (the same ids for every kind) get steady background noise of
each kind of `bench.datasets.render.NOISE_KINDS` (babble, street, car, hum) at 10, 15 or
20 dB SNR, a third of the items each (a seeded permutation of the items' indices), with a
+-6 dB level step at a random time (`bench.datasets.render.draw_condition`):
`audio/overlap/<kind>-v<NOISE_CONDITION_VERSION>/<id>.flac` with `<id>.json` beside it (the
condition: SNR, step, seeds, mains frequency, clipped samples) and
`<full|quick>[-evaluated]/overlap/<split>-<kind>.jsonl`, whose lines carry `snr_db`.

When the corpora folder also holds `maptask/` (HCRC Map Task), its endpoint turns
(`bench.datasets.maptask`) are built beside the MRDA ones, with the same caps, seed and
rendering, in the `clean` and `telephony` conditions only:
`<full|quick>/endpoint/<split>-maptask-<clean|telephony>.jsonl` (train:
`train-maptask-text.jsonl`). The MRDA and SWDA sets do not change.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from bench.datasets.audio import BENCH_SAMPLE_RATE_HZ, Samples, load_audio
from bench.datasets.corpus import SPLITS, Split, read_mrda_split, read_swda_split
from bench.datasets.derive import (
    EndpointSpec,
    OverlapSpec,
    derive_mrda_endpoints,
    derive_mrda_overlaps,
    derive_swda_overlaps,
    sample_balanced,
    sample_in_order,
)
from bench.datasets.manifest import (
    EndpointItem,
    OverlapItem,
    spread_subset,
    write_endpoint_manifest,
    write_overlap_manifest,
)
from bench.datasets.maptask import derive_maptask_endpoints, read_maptask_split
from bench.datasets.render import (
    NOISE_KINDS,
    TELEPHONY_RATE_HZ,
    Renderer,
    add_noise,
    apply_condition,
    apply_gain_db,
    draw_condition,
    spec_digest,
    telephony,
    write_flac,
)

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
NOISE_CONDITION_ITEMS = 400
"""Overlap items per val/test set that get the noise conditions (spread evenly)."""
NOISE_SNRS_DB = (10.0, 15.0, 20.0)
"""SNRs of the noise conditions; each holds a third of the items."""
NOISE_CONDITION_VERSION = 1
"""Part of the noise condition folders' names (`<kind>-v<N>`), versioned apart from the
other variants: bump it when the noise code changes."""
NOISE_SEED_TAG = 3
"""Mixed into the noise conditions' seeds, so they share no seed with the `noise` variant."""


def _audio_path(audio_dir: Path, variant: str, item_id: str) -> Path:
    if variant == "clean":
        return audio_dir / "clean" / f"{item_id}.flac"
    if variant in NOISE_KINDS:
        return audio_dir / f"{variant}-v{NOISE_CONDITION_VERSION}" / f"{item_id}.flac"
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
    "val/telephony", "train/text", "test/street") to the manifest path."""

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
_BABBLE: dict[tuple[str, tuple[str, ...]], dict[str, Samples]] = {}
"""A worker's babble sources of the variant group it worked on last (one group kept)."""
VARIANT_CHUNK = 16
"""Clips per variant job of the worker pool."""


def _init_worker() -> None:
    global _RENDERER
    try:
        os.nice(10)
    except OSError:
        pass
    # the voice is loaded by the first render job: a worker that only makes variants
    # (every clean clip cached) never pays for it
    _RENDERER = Renderer(threads=1)


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
    _RENDERER.load()
    from bench.datasets.derive import Segment

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


def _render_cost(spec: OverlapSpec | EndpointSpec) -> float:
    """Rough synthesis cost of a clip (seconds of speech), to start the longest first."""
    if spec.segments:
        return sum(s.end_s - s.start_s for s in spec.segments)
    return 0.3 * len(spec.text.split())


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


_VariantJob = tuple[str, int, tuple[str, ...], list[tuple[int, str, list[str]]]]
"""(audio dir, seed, babble pool ids, [(index in the group, clip id, stale variants)])."""


def _variant_names(extra: bool) -> list[str]:
    return ["telephony", *(["noise", *LEVEL_GAINS_DB] if extra else [])]


def _stale_variants(
    ids: Sequence[str], audio_dir: Path, *, extra: bool
) -> list[tuple[int, str, list[str]]]:
    """(index, id, variants to write) of every clip of `ids` with a variant missing or
    older than its clean clip."""
    clean = audio_dir / "clean"
    out: list[tuple[int, str, list[str]]] = []
    for n, item_id in enumerate(ids):
        src_mtime = (clean / f"{item_id}.flac").stat().st_mtime
        stale = [
            v
            for v in _variant_names(extra)
            if not (p := _audio_path(audio_dir, v, item_id)).is_file()
            or p.stat().st_mtime < src_mtime
        ]
        if stale:
            out.append((n, item_id, stale))
    return out


def _babble_pool(ids: Sequence[str], *, extra: bool, seed: int) -> tuple[str, ...]:
    """The clean clips of the group the `noise` variant's babble is made of."""
    if not extra:
        return ()
    rng = np.random.default_rng(seed)
    return tuple(ids[int(i)] for i in rng.permutation(len(ids))[:BABBLE_POOL])


def _babble_sources(audio_dir_s: str, pool_ids: tuple[str, ...]) -> dict[str, Samples]:
    """The clean clips of a babble pool, loaded once per worker and group."""
    key = (audio_dir_s, pool_ids)
    if key not in _BABBLE:
        _BABBLE.clear()
        clean = Path(audio_dir_s) / "clean"
        _BABBLE[key] = {i: load_audio(clean / f"{i}.flac") for i in pool_ids}
    return _BABBLE[key]


def _write_variants(job: _VariantJob) -> dict[str, int]:
    """Write the stale variants of some clips of one group; returns clipped-clip counts.

    Clip `n` of the group gets the babble seed `seed + n`, whichever job writes it."""
    audio_dir_s, seed, pool_ids, items = job
    audio_dir = Path(audio_dir_s)
    clean = audio_dir / "clean"
    clipped = dict.fromkeys(LEVEL_GAINS_DB, 0)
    babble: dict[str, Samples] = {}
    if any("noise" in stale for _, _, stale in items):
        babble = _babble_sources(audio_dir_s, pool_ids)
    for n, item_id, stale in items:
        x = load_audio(clean / f"{item_id}.flac")
        for v in stale:
            out = _audio_path(audio_dir, v, item_id)
            if v == "telephony":
                write_flac(out, telephony(x), TELEPHONY_RATE_HZ)
            elif v == "noise":
                others = [a for i, a in babble.items() if i != item_id]
                y = add_noise(x, others, snr_db=NOISE_SNR_DB, seed=seed + n)
                write_flac(out, y, BENCH_SAMPLE_RATE_HZ)
            else:
                y, n_clipped = apply_gain_db(x, LEVEL_GAINS_DB[v])
                if n_clipped:
                    clipped[v] += 1
                write_flac(out, y, BENCH_SAMPLE_RATE_HZ)
    return clipped


_PlannedClip = tuple[int, str, float, int]
"""(index among the noise condition items, clip id, SNR dB, clip seed)."""
_ConditionJob = tuple[str, tuple[str, ...], list[tuple[_PlannedClip, list[str]]]]
"""(audio dir, babble pool ids, [(planned clip, stale kinds)])."""


def _condition_plan(ids: Sequence[str], *, seed: int) -> list[_PlannedClip]:
    """The noise condition items of a group (`NOISE_CONDITION_ITEMS` of `ids`, spread
    evenly), each with its SNR and seed. Item `i` gets `NOISE_SNRS_DB[perm[i] % 3]` for a
    seeded permutation `perm` of the items, so each SNR holds a third of them, and the
    seed derived from (`seed`, i)."""
    chosen = spread_subset(ids, NOISE_CONDITION_ITEMS)
    perm = np.random.default_rng([seed, NOISE_SEED_TAG]).permutation(len(chosen))
    return [
        (
            i,
            item_id,
            NOISE_SNRS_DB[int(perm[i]) % len(NOISE_SNRS_DB)],
            int(np.random.SeedSequence([seed, NOISE_SEED_TAG, i]).generate_state(1)[0]),
        )
        for i, item_id in enumerate(chosen)
    ]


def _pool_tag(pool_ids: Sequence[str]) -> str:
    return spec_digest(list(pool_ids))


def _condition_meta(path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _stale_conditions(
    plan: Sequence[_PlannedClip], audio_dir: Path, pool_ids: Sequence[str]
) -> list[tuple[_PlannedClip, list[str]]]:
    """The planned clips with a noise condition whose clip or record is missing, older than
    the clean clip, or made for another SNR, seed or babble pool; with those kinds."""
    clean = audio_dir / "clean"
    pool = _pool_tag(pool_ids)
    out: list[tuple[_PlannedClip, list[str]]] = []
    for planned in plan:
        _, item_id, snr_db, clip_seed = planned
        src_mtime = (clean / f"{item_id}.flac").stat().st_mtime
        stale: list[str] = []
        for kind in NOISE_KINDS:
            p = _audio_path(audio_dir, kind, item_id)
            meta = _condition_meta(p)
            if (
                meta is None
                or not p.is_file()
                or p.stat().st_mtime < src_mtime
                or meta.get("snr_db") != snr_db
                or meta.get("clip_seed") != clip_seed
                or (kind == "babble" and meta.get("babble_pool") != pool)
            ):
                stale.append(kind)
        if stale:
            out.append((planned, stale))
    return out


def _write_conditions(job: _ConditionJob) -> None:
    """Write the stale noise conditions of some clips: the flac and its JSON record (the
    condition, the clip's seed, the babble pool's digest, clipped samples)."""
    audio_dir_s, pool_ids, items = job
    audio_dir = Path(audio_dir_s)
    sources: dict[str, Samples] = {}
    if any("babble" in kinds for _, kinds in items):
        sources = _babble_sources(audio_dir_s, pool_ids)
    for (_, item_id, snr_db, clip_seed), kinds in items:
        x = load_audio(audio_dir / "clean" / f"{item_id}.flac")
        others = [a for i, a in sources.items() if i != item_id]
        for kind in kinds:
            cond = draw_condition(
                kind, duration_s=len(x) / BENCH_SAMPLE_RATE_HZ, snr_db=snr_db, seed=clip_seed
            )
            y = apply_condition(x, cond, others=others)
            n_clipped = int(np.count_nonzero(np.abs(y) > 1.0))
            out = _audio_path(audio_dir, kind, item_id)
            write_flac(out, y, BENCH_SAMPLE_RATE_HZ)
            meta: dict[str, Any] = {**asdict(cond), "clip_seed": clip_seed}
            if kind == "babble":
                meta["babble_pool"] = _pool_tag(pool_ids)
            meta["clipped_samples"] = n_clipped
            # written after the flac: a record always describes the audio beside it
            out.with_suffix(".json").write_text(json.dumps(meta))


_Spec = TypeVar("_Spec", OverlapSpec, EndpointSpec)


@dataclass
class _Group(Generic[_Spec]):
    """The clips of one split and kind (overlap or endpoint) and what the build made."""

    split: Split
    specs: Sequence[_Spec]
    audio_dir: Path
    extra: bool
    """Also the `noise` and level variants (else telephony only)."""
    seed: int
    whole: bool
    """A clip counts only when every segment rendered (endpoint turns)."""
    spans: dict[str, list[list[float]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    rendered: int = 0
    """Clips rendered in this run (not from the cache)."""
    to_render: int = 0
    """Render jobs not finished."""
    pending: int = 0
    """Render, variant and noise condition jobs not finished."""
    clipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVEL_GAINS_DB, 0))
    conditions: bool = False
    """Also the noise conditions (val and test overlap groups)."""
    done_s: float = 0.0
    """When the group's audio was complete, from the start of `_build_audio` (s)."""

    def ok(self) -> list[_Spec]:
        """The specs whose clip is usable, in spec order."""
        return [
            s
            for s in self.specs
            if s.id in self.spans
            and (not self.whole or len(self.spans[s.id]) == len(s.segments or ()))
        ]


def _build_audio(groups: Sequence[_Group[Any]], *, workers: int) -> None:
    """Clean clips (cached) and variants of every group, on one pool of `workers`.

    The clean renders of all groups start longest first, so no worker idles at the end
    of a group; a group's variants are queued as soon as its last clip is rendered. Fills
    the groups' spans, errors, counts and clipping figures."""
    t0 = time.monotonic()
    jobs: list[tuple[float, int, tuple[str, dict[str, Any], str, str]]] = []
    for g, group in enumerate(groups):
        clean = group.audio_dir / "clean"
        clean.mkdir(parents=True, exist_ok=True)
        for spec in group.specs:
            sj = _spec_json(spec)
            sj["digest"] = spec_digest(sj)
            flac, side = clean / f"{spec.id}.flac", clean / f"{spec.id}.json"
            cached = _cached_spans(side, flac, sj["digest"])
            if cached is not None:
                group.spans[spec.id] = cached
            else:
                jobs.append((_render_cost(spec), g, (spec.id, sj, str(flac), str(side))))
        group.rendered = group.to_render = group.pending = sum(1 for _, k, _ in jobs if k == g)
    jobs.sort(key=lambda j: -j[0])  # stable: equal costs keep spec order
    with contextlib.ExitStack() as stack:
        pool: ProcessPoolExecutor | None = None
        futures: dict[Future[Any], tuple[str, int]] = {}

        def submit(kind: str, g: int, fn: Callable[[Any], Any], arg: object) -> None:
            nonlocal pool
            if pool is None:
                pool = stack.enter_context(
                    ProcessPoolExecutor(max_workers=workers, initializer=_init_worker)
                )
            futures[pool.submit(fn, arg)] = (kind, g)

        def group_rendered(g: int) -> None:
            group = groups[g]
            ids = [s.id for s in group.ok()]
            stale = _stale_variants(ids, group.audio_dir, extra=group.extra)
            pool_ids = _babble_pool(ids, extra=group.extra, seed=group.seed)
            for i in range(0, len(stale), VARIANT_CHUNK):
                job = (str(group.audio_dir), group.seed, pool_ids, stale[i : i + VARIANT_CHUNK])
                submit("variants", g, _write_variants, job)
                group.pending += 1
            if group.conditions:
                plan = _condition_plan(ids, seed=group.seed)
                todo = _stale_conditions(plan, group.audio_dir, pool_ids)
                for i in range(0, len(todo), VARIANT_CHUNK):
                    cjob = (str(group.audio_dir), pool_ids, todo[i : i + VARIANT_CHUNK])
                    submit("conditions", g, _write_conditions, cjob)
                    group.pending += 1
            if not group.pending:
                group.done_s = time.monotonic() - t0

        for _, g, job in jobs:
            submit("render", g, _render_one, job)
        for g, group in enumerate(groups):
            if not group.to_render:
                group_rendered(g)
        n_done = 0
        while futures:
            for fut in as_completed(list(futures)):
                kind, g = futures.pop(fut)
                group = groups[g]
                group.pending -= 1
                if kind == "render":
                    group.to_render -= 1
                    item_id, res = fut.result()
                    if isinstance(res, str):
                        group.errors[item_id] = res
                        # the message may quote the text: keep it out of the log (summary.json)
                        logger.warning("render failed for %s (%s)", item_id, res.split(":")[0])
                    else:
                        group.spans[item_id] = res
                    n_done += 1
                    if n_done % 200 == 0:
                        logger.info("rendered %d/%d clips", n_done, len(jobs))
                    if not group.to_render:
                        group_rendered(g)
                elif kind == "variants":
                    for v, c in fut.result().items():
                        group.clipped[v] += c
                else:
                    fut.result()  # raises a worker's error; clipping is read from the records
                if not group.pending:
                    group.done_s = time.monotonic() - t0
    for group in groups:
        # the errors in spec order, whatever order the clips finished in
        group.errors = {s.id: group.errors[s.id] for s in group.specs if s.id in group.errors}


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


MAPTASK_SOURCE = "maptask"
MAPTASK_SEED_OFFSET = 2
"""The Map Task endpoint group's seed is SEED + this (MRDA's endpoint group has SEED + 1)."""


def _pick_turns(specs: list[EndpointSpec], count: int, cap: int | None) -> list[EndpointSpec]:
    """Every corpus's endpoint turns are picked the same way: `count` in order, seeded, then
    spread over `cap` (None: all) on the evaluated splits."""
    chosen = sample_in_order(
        specs, count, seed=SEED, key=lambda t: (t.meeting, t.start_in_meeting_s)
    )
    return chosen if cap is None else spread_subset(chosen, cap)


def _derive_maptask(data_dir: Path, split: Split) -> list[EndpointSpec]:
    turns: list[EndpointSpec] = []
    for dialogue in read_maptask_split(data_dir, split):
        turns.extend(derive_maptask_endpoints(dialogue))
    return turns


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
    item_caps: Mapping[str, int] | None = None,
) -> BuiltSets:
    """Derive, render (cached, at most `workers` processes) and write every manifest.

    `data_dir` holds `mrda/` and `swda/` (and optionally `maptask/`, whose endpoint
    turns are then built too, see the module docstring); everything goes under
    `cache_dir`. `item_caps` ({"overlap": n, "endpoint": n}, n >= 1) keeps only n items per
    val/test set (MRDA and Map Task endpoint sets each), spread evenly
    (`bench.datasets.manifest.spread_subset`, the rule a runner's `limit` applies), before
    rendering: the manifests then hold exactly the items a capped run evaluates, under
    `<mode>-evaluated/`, and the other items are never synthesised. Raises
    `bench.datasets.corpus.CorpusError` when the corpus folder is wrong or malformed.
    """
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be 1-{MAX_WORKERS}, got {workers}")
    if not splits or any(sp not in SPLITS for sp in splits):
        raise ValueError(f"splits must be a non-empty subset of {SPLITS}, got {tuple(splits)}")
    if not (data_dir / "mrda").is_dir() or not (data_dir / "swda").is_dir():
        raise FileNotFoundError(
            f"{data_dir}: expected the corpus folder holding mrda/ and swda/ (--data)"
        )
    caps = dict(item_caps or {})
    if set(caps) - {"overlap", "endpoint"} or any(n < 1 for n in caps.values()):
        raise ValueError(f"item_caps takes overlap/endpoint counts >= 1, got {caps}")
    sizes = QUICK if quick else FULL
    root = cache_dir / (("quick" if quick else "full") + ("-evaluated" if caps else ""))
    audio_root = cache_dir / "audio"
    overlap_paths: dict[str, Path] = {}
    endpoint_paths: dict[str, Path] = {}
    summary: dict[str, Any] = {"mode": root.name, "seed": SEED, "splits": {}}
    with_maptask = (data_dir / "maptask").is_dir()
    picks: dict[Split, tuple[dict[str, Any], list[EndpointSpec]]] = {}
    maptask_picks: dict[Split, tuple[int, list[EndpointSpec]]] = {}
    groups: dict[tuple[Split, str], _Group[Any]] = {}
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
        cap = None if split == "train" else caps.get("endpoint")
        picked_turns = _pick_turns(turns, sizes.endpoint_turns[split], cap)
        if split != "train":
            picked = spread_subset(picked, caps.get("overlap"))
        if with_maptask:
            mt_turns = _derive_maptask(data_dir, split)
            maptask_picks[split] = (
                len(mt_turns),
                _pick_turns(mt_turns, sizes.endpoint_turns[split], cap),
            )
        logger.info("%s: derived in %.1f s", split, time.monotonic() - t0)
        picks[split] = (derived, picked_turns)
        extra = split in EXTRA_VARIANT_SPLITS
        groups[(split, "overlap")] = _Group(
            split,
            picked,
            audio_root / "overlap",
            extra=extra,
            seed=SEED,
            whole=False,
            conditions=extra,
        )
        if split != "train":  # the train endpoint set is text and timings only
            groups[(split, "endpoint")] = _Group(
                split, picked_turns, audio_root / "endpoint", extra=True, seed=SEED + 1, whole=True
            )
            if split in maptask_picks:  # clean and telephony only
                groups[(split, "maptask")] = _Group(
                    split,
                    maptask_picks[split][1],
                    audio_root / "endpoint",
                    extra=False,
                    seed=SEED + MAPTASK_SEED_OFFSET,
                    whole=True,
                )
    # every split's clean clips and variants at once, so both cores stay busy throughout
    t1 = time.monotonic()
    _build_audio(list(groups.values()), workers=workers)
    t_render = time.monotonic() - t1
    n_rendered = sum(g.rendered for g in groups.values())
    for split, (derived, picked_turns) in picks.items():
        ov: _Group[OverlapSpec] = groups[(split, "overlap")]
        ov_dir = ov.audio_dir
        ok = ov.ok()
        variants = ["clean", *_variant_names(ov.extra)]
        for v in variants:
            items = [_overlap_item(s, ov.spans[s.id], _audio_path(ov_dir, v, s.id)) for s in ok]
            path = root / "overlap" / f"{split}-{v}.jsonl"
            write_overlap_manifest(path, items)
            overlap_paths[f"{split}/{v}"] = path
        conditions = _write_condition_manifests(root, split, ov, overlap_paths)
        ep: _Group[EndpointSpec] | None = groups.get((split, "endpoint"))
        ep_written, ep_errors = _write_endpoint_manifests(
            root, split, picked_turns, ep, endpoint_paths, source=None
        )
        # the splits are rendered together: the time until the split's audio was complete
        dt = max(g.done_s for g in (ov, ep) if g is not None)
        summary["splits"][split] = {
            "derived": derived,
            "overlap": _balance(_as_items(ok)),
            "overlap_render_errors": ov.errors,
            "overlap_clipping": ov.clipped,
            "endpoint_turns": len(ep_written),
            "endpoint_pauses": sum(len(t.segments) - 1 for t in picked_turns),
            "endpoint_render_errors": ep_errors,
            "endpoint_clipping": ep.clipped if ep is not None else {},
            "render_and_variants_s": round(dt, 1),
        }
        if conditions:
            summary["splits"][split]["noise_conditions"] = conditions
        if split in maptask_picks:
            mt_derived, mt_picked = maptask_picks[split]
            mt_group = groups.get((split, "maptask"))
            mt_written, mt_errors = _write_endpoint_manifests(
                root, split, mt_picked, mt_group, endpoint_paths, source=MAPTASK_SOURCE
            )
            mt_info: dict[str, Any] = {
                "endpoint_turns": len(mt_written),
                "endpoint_pauses": _n_pauses(mt_written),
            }
            if mt_group is not None:
                mt_info["endpoint_render_errors"] = mt_errors
            summary["splits"][split]["maptask"] = {"derived_turns": mt_derived, **mt_info}
            if (split, "maptask") in groups:
                dt = max(dt, groups[(split, "maptask")].done_s)
                summary["splits"][split]["render_and_variants_s"] = round(dt, 1)
        logger.info("%s: audio complete %.1f s into rendering", split, dt)
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


def _write_condition_manifests(
    root: Path, split: Split, group: _Group[OverlapSpec], paths: dict[str, Path]
) -> dict[str, Any]:
    """Write `<split>-<kind>.jsonl` for every noise condition kind of an overlap group
    (nothing when it has none); returns the summary block: items, items per SNR, clips
    with clipped samples per kind (read from the records)."""
    if not group.conditions:
        return {}
    ok = {s.id: s for s in group.ok()}
    plan = _condition_plan(list(ok), seed=group.seed)
    clipped: dict[str, int] = {}
    for kind in NOISE_KINDS:
        items = []
        clipped[kind] = 0
        for _, item_id, snr_db, _ in plan:
            audio = _audio_path(group.audio_dir, kind, item_id)
            meta = _condition_meta(audio) or {}
            clipped[kind] += int(meta.get("clipped_samples", 0)) > 0
            item = _overlap_item(ok[item_id], group.spans[item_id], audio)
            items.append(replace(item, snr_db=snr_db))
        path = root / "overlap" / f"{split}-{kind}.jsonl"
        write_overlap_manifest(path, items)
        paths[f"{split}/{kind}"] = path
    per_snr = Counter(snr for _, _, snr, _ in plan)
    return {
        "items": len(plan),
        "snr_db": {f"{snr:g}": per_snr[snr] for snr in NOISE_SNRS_DB},
        "clipping": clipped,
    }


def _write_endpoint_manifests(
    root: Path,
    split: Split,
    picked: Sequence[EndpointSpec],
    group: _Group[EndpointSpec] | None,
    paths: dict[str, Path],
    *,
    source: str | None,
) -> tuple[list[EndpointSpec], dict[str, str]]:
    """Write one corpus's endpoint manifests of `split`: text and timings only without a
    rendered `group` (train), else one per condition of the clips that rendered. `source`
    (None for the MRDA sets) names the files `<split>-<source>-<condition>.jsonl` and is
    written on every line. Returns the turns written and the render errors by id."""
    tag = f"{source}-" if source is not None else ""
    if group is None:
        path = root / "endpoint" / f"{split}-{tag}text.jsonl"
        write_endpoint_manifest(path, [_endpoint_text_item(t) for t in picked], source=source)
        paths[f"{split}/{tag}text"] = path
        return list(picked), {}
    ok = group.ok()
    ok_ids = {t.id for t in ok}
    errors = dict(group.errors)
    for t in picked:
        if t.id in group.spans and t.id not in ok_ids:
            errors[t.id] = "a segment rendered empty"
    for v in ["clean", *_variant_names(group.extra)]:
        items = [
            _endpoint_item(t, group.spans[t.id], _audio_path(group.audio_dir, v, t.id)) for t in ok
        ]
        path = root / "endpoint" / f"{split}-{tag}{v}.jsonl"
        write_endpoint_manifest(path, items, source=source)
        paths[f"{split}/{tag}{v}"] = path
    return ok, errors


def _n_pauses(turns: Iterable[EndpointSpec]) -> int:
    return sum(len(t.segments) - 1 for t in turns)


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
    ap.add_argument(
        "--data", type=Path, required=True, help="corpus folder (mrda/, swda/, optional maptask/)"
    )
    ap.add_argument("--cache", type=Path, default=Path(".cache/bench"))
    ap.add_argument("--quick", action="store_true", help="about 60 items per set")
    ap.add_argument("--workers", type=int, default=MAX_WORKERS)
    ap.add_argument(
        "--splits", nargs="+", choices=SPLITS, default=list(SPLITS), help="splits to build"
    )
    ap.add_argument(
        "--overlap-items",
        type=int,
        help="keep this many overlap items per val/test set, spread evenly (writes under "
        "<mode>-evaluated/; 800 keeps them all)",
    )
    ap.add_argument("--endpoint-items", type=int, help="same for the endpoint turns")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    caps = {
        k: n
        for k, n in (("overlap", args.overlap_items), ("endpoint", args.endpoint_items))
        if n is not None
    }
    t = time.monotonic()
    try:
        built = build_sets(
            args.data,
            args.cache,
            quick=args.quick,
            workers=args.workers,
            splits=tuple(args.splits),
            item_caps=caps or None,
        )
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
