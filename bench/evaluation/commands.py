"""One benchmark command on one manifest: `overlap`, `session`, `endpoint` or `turns` (the
interface fixed by the benchmark contract; `bench.cli` parses it, `bench.evaluation.suite`
runs the first three for every set). Runs the system and its baselines on the same audio,
writes the report (and plots) and returns it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.datasets.manifest import spread_subset
from bench.evaluation import registry
from bench.evaluation.report import build_report, write_report
from bench.evaluation.runners import (
    SystemRun,
    finish_endpoint_metrics,
    finish_overlap_metrics,
    load_endpoint_items,
    load_overlap_items,
    run_endpoint,
    run_overlap,
    run_session,
)
from bench.evaluation.transcripts import SttSettings, TranscriptCache, precompute

DEFAULT_CACHE = Path(".cache/bench")
"""Default cache folder of the sets, transcripts, model files and results."""


def progress(msg: str) -> None:
    """Print one progress line, stamped with the time, to stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _default_baselines(command: str) -> tuple[str, ...]:
    match command:
        case "endpoint":
            return registry.ENDPOINT_BASELINES
        case "turns":
            return registry.TURNS_BASELINES
        case _:
            return registry.OVERLAP_BASELINES


def run_command(
    command: str,
    manifest: Path,
    out: Path,
    *,
    system: str = "ours",
    baselines: Sequence[str] | None = None,
    cache: Path = DEFAULT_CACHE,
    limit: int | None = None,
    stt_source: str = "auto",
    plots: bool = True,
    jobs: int = 1,
    clock: str = "virtual",
) -> dict[str, Any]:
    """Run one command and write its report (and plots); returns the report. `jobs`: processes
    for the transcript precompute, or for the session episodes (turns: for both); `clock`:
    the session clock (see `bench.evaluation.runners.SESSION_CLOCKS`).

    Raises `InputError` when an input is unusable.
    """
    names = [system] + [b for b in (baselines or _default_baselines(command)) if b != system]
    stt = TranscriptCache(cache_dir=cache / "transcripts", settings=SttSettings(source=stt_source))
    t0 = time.perf_counter()
    if jobs > 1 and command != "session" and stt_source != "none":
        if command in ("endpoint", "turns"):
            paths = [it.audio for it in spread_subset(load_endpoint_items(manifest), limit)]
        else:
            paths = [it.audio for it in spread_subset(load_overlap_items(manifest), limit)]
        progress(f"transcribing {len(paths)} clips with {jobs} processes")
        precompute(stt, paths, jobs=jobs)
    runs: list[SystemRun]
    info: dict[str, Any]
    match command:
        case "overlap":
            runs, info = run_overlap(manifest, names, stt=stt, progress=progress, limit=limit)
            blocks = [
                (r, finish_overlap_metrics(r, info["labels"], snr_db=info["snr_db"])) for r in runs
            ]
        case "session":
            runs, info = run_session(
                manifest, names, progress=progress, limit=limit, clock=clock, jobs=jobs
            )
            blocks = [
                (
                    r,
                    finish_overlap_metrics(r, info["labels"], session=True, snr_db=info["snr_db"]),
                )
                for r in runs
            ]
        case "endpoint":
            runs, info = run_endpoint(
                manifest, names, stt=stt, cache_dir=cache, progress=progress, limit=limit
            )
            blocks = [(r, finish_endpoint_metrics(r, info)) for r in runs]
        case "turns":
            from bench.evaluation import turns

            runs, info = turns.run_turns(
                manifest, names, stt=stt, progress=progress, limit=limit, jobs=jobs
            )
            blocks = [(r, turns.finish_turns_metrics(r, info["n"])) for r in runs]
        case _:
            raise ValueError(f"unknown command {command!r}")
    main_run, main_metrics = blocks[0]
    extra: dict[str, object] = {
        "manifest": str(manifest),
        "n_items": info["n"],
        "wall_s": round(time.perf_counter() - t0, 2),
    }
    if command == "session":
        extra["clock"] = info["clock"]
    else:
        extra["transcripts"] = stt.summary()
    if command == "turns":
        extra["clock"] = info["clock"]
    report = build_report(
        command,
        (main_run.name, main_run.items, main_metrics),
        {r.name: (r.items, m) for r, m in blocks[1:]},
        extra=extra,
    )
    write_report(out, report)
    if plots:
        from bench.evaluation import plots as bplots

        if command == "endpoint":
            bplots.endpoint_curves(report, out.with_suffix(".tradeoff.png"))
        elif command == "turns":
            from bench.evaluation.turns import reply_latency_plot

            reply_latency_plot(report, out.with_suffix(".latency.png"))
        else:
            bplots.latency_histograms(report, out.with_suffix(".latency.png"))
    return report
