"""Command line of the benchmark (interface fixed by the benchmark contract).

    python -m bench overlap  --manifest M.jsonl --out R.json [--baseline NAME ...] [--system NAME]
    python -m bench session  --manifest M.jsonl --out R.json [--baseline NAME ...] [--system NAME]
    python -m bench endpoint --manifest E.jsonl --out R.json [--baseline NAME ...] [--system NAME]
    python -m bench turns    --manifest E.jsonl --out R.json [--baseline NAME ...] [--system NAME]
    python -m bench all --data DIR [--quick] [--cache DIR]
    python -m bench load --sessions 10,25,50 [--soak-minutes M]   # see bench/evaluation/load.py

Exit 0 when a run completed, whatever the figures; 2 with a one-line reason when an input is
unusable.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.evaluation.commands import DEFAULT_CACHE, progress, run_command
from bench.evaluation.report import errors, summary_rows, table_text
from bench.evaluation.runners import SESSION_CLOCKS, InputError
from bench.evaluation.suite import run_all

logger = logging.getLogger("bench")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for cmd in ("overlap", "session", "endpoint", "turns"):
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
            help="processes for the speech-to-text precompute, or (session, turns) for the "
            "episodes",
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["load"]:
        # the load benchmark has its own options (bench/evaluation/load.py)
        from bench.evaluation.load import main as load_main

        return load_main(argv[1:])
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # offline replays push audio faster than real time; the plugin's real-time warning is
    # about live streams and says nothing here
    logging.getLogger("livekit.plugins.silero").setLevel(logging.ERROR)
    try:
        if args.command == "all":
            run_all(
                data=args.data,
                quick=args.quick,
                cache=args.cache,
                session_items=args.session_items,
                stt_source=args.stt,
                jobs=args.jobs,
                progress=progress,
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
    if args.command == "turns":
        from bench.evaluation.turns import turns_table

        print(table_text(turns_table(report)))
    else:
        print(table_text(summary_rows(report)))
    for line in errors(report):
        print(f"note: {line}")
    print(f"report: {args.out}")
    return 0
