"""Command line of the benchmark (interface fixed by the benchmark contract).

    python -m bench overlap  --manifest M.jsonl --out R.json [--baseline NAME ...] [--system NAME]
    python -m bench session  --manifest M.jsonl --out R.json [--baseline NAME ...] [--system NAME]
    python -m bench endpoint --manifest E.jsonl --out R.json [--baseline NAME ...] [--system NAME]
    python -m bench all --data DIR [--quick] [--cache DIR]
    python -m bench load --sessions 10,25,50 [--soak-minutes M]   # see bench/load.py

Exit 0 when a run completed, whatever the figures; 2 with a one-line reason when an input is
unusable.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import registry
from bench.manifest import spread_subset
from bench.report import build_report, errors, summary_rows, table_text, write_report
from bench.runners import (
    SESSION_CLOCKS,
    InputError,
    SystemRun,
    finish_endpoint_metrics,
    finish_overlap_metrics,
    load_endpoint_items,
    load_overlap_items,
    run_endpoint,
    run_overlap,
    run_session,
)
from bench.transcripts import SttSettings, TranscriptCache, precompute

logger = logging.getLogger("bench")

DEFAULT_CACHE = Path(".cache/bench")


def _progress(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for cmd in ("overlap", "session", "endpoint"):
        s = sub.add_parser(cmd)
        s.add_argument("--manifest", type=Path, required=True)
        s.add_argument("--out", type=Path, required=True)
        s.add_argument("--baseline", action="append", default=None, metavar="NAME")
        s.add_argument("--system", default="ours")
        s.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
        s.add_argument(
            "--limit", type=int, default=None, help="N items spread evenly over the manifest"
        )
        s.add_argument(
            "--stt", choices=("auto", "project", "bench-whisper", "none"), default="auto",
            help="speech-to-text source of the transcript timelines",
        )  # fmt: skip
        s.add_argument("--no-plots", action="store_true")
        s.add_argument(
            "--jobs", type=int, default=1,
            help="processes for the speech-to-text precompute, or (session) for the episodes",
        )  # fmt: skip
        if cmd == "session":
            s.add_argument(
                "--clock", choices=SESSION_CLOCKS, default="virtual",
                help="virtual: episodes take their compute time, models' work charged at its "
                "CPU cost; real: episodes play in real time",
            )  # fmt: skip
    a = sub.add_parser("all")
    a.add_argument("--data", type=Path, required=True)
    a.add_argument("--quick", action="store_true")
    a.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    a.add_argument("--session-items", type=int, default=None)
    a.add_argument("--jobs", type=int, default=2)
    a.add_argument("--stt", choices=("auto", "project", "bench-whisper", "none"), default="auto")
    return p


def _default_baselines(command: str) -> tuple[str, ...]:
    match command:
        case "endpoint":
            return registry.ENDPOINT_BASELINES
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
    for the transcript precompute, or for the session episodes; `clock`: the session clock
    (see `bench.runners.SESSION_CLOCKS`).

    Raises `InputError` when an input is unusable.
    """
    names = [system] + [b for b in (baselines or _default_baselines(command)) if b != system]
    stt = TranscriptCache(cache_dir=cache / "transcripts", settings=SttSettings(source=stt_source))
    t0 = time.perf_counter()
    if jobs > 1 and command != "session" and stt_source != "none":
        if command == "endpoint":
            paths = [it.audio for it in spread_subset(load_endpoint_items(manifest), limit)]
        else:
            paths = [it.audio for it in spread_subset(load_overlap_items(manifest), limit)]
        _progress(f"transcribing {len(paths)} clips with {jobs} processes")
        precompute(stt, paths, jobs=jobs)
    runs: list[SystemRun]
    info: dict[str, Any]
    match command:
        case "overlap":
            runs, info = run_overlap(manifest, names, stt=stt, progress=_progress, limit=limit)
            blocks = [(r, finish_overlap_metrics(r, info["labels"])) for r in runs]
        case "session":
            runs, info = run_session(
                manifest, names, progress=_progress, limit=limit, clock=clock, jobs=jobs
            )
            blocks = [(r, finish_overlap_metrics(r, info["labels"], session=True)) for r in runs]
        case "endpoint":
            runs, info = run_endpoint(
                manifest, names, stt=stt, cache_dir=cache, progress=_progress, limit=limit
            )
            blocks = [(r, finish_endpoint_metrics(r, info)) for r in runs]
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
    report = build_report(
        command,
        (main_run.name, main_run.items, main_metrics),
        {r.name: (r.items, m) for r, m in blocks[1:]},
        extra=extra,
    )
    write_report(out, report)
    if plots:
        from bench import plots as bplots

        if command == "endpoint":
            bplots.endpoint_curves(report, out.with_suffix(".tradeoff.png"))
        else:
            bplots.latency_histograms(report, out.with_suffix(".latency.png"))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["load"]:
        # the load benchmark has its own options (bench/load.py)
        from bench.load import main as load_main

        return load_main(argv[1:])
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # offline replays push audio faster than real time; the plugin's real-time warning is
    # about live streams and says nothing here
    logging.getLogger("livekit.plugins.silero").setLevel(logging.ERROR)
    try:
        if args.command == "all":
            run_all = importlib.import_module("bench.suite").run_all
            run_all(
                data=args.data,
                quick=args.quick,
                cache=args.cache,
                session_items=args.session_items,
                stt_source=args.stt,
                jobs=args.jobs,
                progress=_progress,
            )
            return 0
        report = run_command(
            args.command,
            args.manifest,
            args.out,
            system=args.system,
            baselines=args.baseline,
            cache=args.cache,
            limit=args.limit,
            stt_source=args.stt,
            plots=not args.no_plots,
            jobs=args.jobs,
            clock=getattr(args, "clock", "virtual"),  # only the session command has it
        )
    except InputError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    print(table_text(summary_rows(report)))
    for line in errors(report):
        print(f"note: {line}")
    print(f"report: {args.out}")
    return 0
