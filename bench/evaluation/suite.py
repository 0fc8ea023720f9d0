"""`python -m bench all`: build the sets, run every command with every baseline on val and
test, clean and telephony, and write reports, plots and a markdown summary.

Output: `<cache>/results/<UTC date>/` (`<UTC date>-quick/` for `--quick`, so a quick run
never overwrites a full one of the same day) holding `<command>-<split>-<condition>.json`
(+ PNGs) and `results.md` (tables ready to paste into the README, with the date and
machine).
Session runs play a real AgentSession per episode (three stacks per item) on a virtual clock
whose models' off-loop work is charged at its CPU cost
(`bench.evaluation.runners.SESSION_CLOCKS`), so they take their compute time rather than
about 10 s each; they use a deterministic subset:
`session_items` items spread evenly over the clean val and test overlap manifests
(`spread_subset`), split over `jobs` processes. CPU-time charging keeps a second process on
the other core from stretching the measured latencies, as wall time would.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.evaluation.commands import run_command
from bench.evaluation.report import environment, errors, summary_rows, table_markdown
from bench.evaluation.runners import InputError

SPLITS = ("val", "test")
CONDITIONS = ("clean", "telephony")
SESSION_ITEMS = 100
SESSION_ITEMS_QUICK = 2
ITEM_CAPS = {"overlap": 800, "endpoint": 150}
"""Full mode: items per val/test overlap/endpoint set (spread evenly, `spread_subset`); only
these are synthesised (`build_sets(item_caps=...)`). Every overlap item (751 val, 800 test):
with 300, one backchannel moved a false-stop rate by 0.6-0.7 points and an operating point
chosen on 300 val items gave 5.2-5.5 % false stops on the 800 test items (3.5-4.2 % on
their 300). Endpoint turns stay at 150 (8.5-10 min of speech-to-text per manifest). The
shared speech-to-text precompute costs 0.29-0.45 CPU s per audio second, sessions take
about their CPU time (about 10 min per 100 items on 2 cores)."""
ITEM_CAPS_QUICK = {"overlap": 60, "endpoint": 30}
SESSION_CONDITIONS = ("clean",)
COMMANDS = ("overlap", "endpoint", "session")


@dataclass(frozen=True)
class SetRef:
    command: str
    split: str
    condition: str
    manifest: Path


def find_sets(built: Any) -> list[SetRef]:
    """The val/test clean/telephony manifests from the set builder's result: its `overlap`
    and `endpoint` mappings keyed "<split>/<variant>" (other variants are not run here)."""
    flat: dict[tuple[str, ...], Any] = {}
    for kind in ("overlap", "endpoint"):
        for key, path in dict(getattr(built, kind, {}) or {}).items():
            flat[(kind, *str(key).split("/"))] = path
    refs: list[SetRef] = []
    for key, path in flat.items():
        if len(key) == 3 and key[1] in SPLITS and key[2] in CONDITIONS:
            refs.append(SetRef(key[0], key[1], key[2], Path(path)))
    return refs


def results_dir(cache: Path, day: str, *, quick: bool) -> Path:
    """Where one day's run writes its results: quick runs apart from full ones."""
    return cache / "results" / (f"{day}-quick" if quick else day)


def run_all(
    *,
    data: Path,
    quick: bool,
    cache: Path,
    session_items: int | None,
    stt_source: str,
    jobs: int,
    progress: Callable[[str], None],
) -> Path:
    """Run the whole benchmark; returns the results folder."""
    if not data.is_dir():
        raise InputError(f"data folder not found: {data}")
    try:
        datasets = importlib.import_module("bench.datasets.build")
    except ImportError as exc:
        raise InputError(f"set builder unavailable (bench.datasets.build: {exc})") from exc
    t_start = time.perf_counter()
    progress(f"building sets from {data} (quick={quick})")
    # Only the sets this command evaluates: training reads the train split's text from the
    # corpus, so rendering its audio here would only add about half an hour.
    caps = ITEM_CAPS_QUICK if quick else ITEM_CAPS
    built = datasets.build_sets(data, cache, quick=quick, splits=SPLITS, item_caps=caps)
    refs = find_sets(built)
    if not refs:
        raise InputError("the set builder produced no overlap/endpoint manifests")
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    out_dir = results_dir(cache, day, quick=quick)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_session = session_items if session_items is not None else (
        SESSION_ITEMS_QUICK if quick else SESSION_ITEMS
    )  # fmt: skip
    sections: list[str] = []
    timings: list[str] = []
    order = sorted(refs, key=lambda r: (r.command, SPLITS.index(r.split), r.condition))
    runs = [(r.command, r) for r in order]
    runs += [
        ("session", r)
        for r in order
        if r.command == "overlap" and r.condition in SESSION_CONDITIONS and n_session > 0
    ]
    for command, ref in runs:
        out = out_dir / f"{command}-{ref.split}-{ref.condition}.json"
        progress(f"{command} {ref.split} {ref.condition}: {ref.manifest}")
        t0 = time.perf_counter()
        try:
            rep = run_command(
                command,
                ref.manifest,
                out,
                cache=cache,
                stt_source=stt_source,
                limit=n_session if command == "session" else caps[command],
                jobs=jobs,
            )
        except InputError as exc:
            progress(f"{command} {ref.split} {ref.condition} skipped: {exc}")
            sections.append(f"### {command} / {ref.split} / {ref.condition}\n\nnot run: {exc}\n")
            continue
        dt = time.perf_counter() - t0
        row = [command, ref.split, ref.condition, str(rep["n_items"]), f"{dt:.0f}"]
        timings.append("| " + " | ".join(row) + " |")
        sections.append(_section(command, ref, rep, out))
    # the endpoint policies on every silence of the corpus (text and timings, no audio)
    from bench.evaluation import endpoint_corpus

    progress("endpoint corpus replay: val, test")
    t0 = time.perf_counter()
    try:
        corpus = endpoint_corpus.run(data, endpoint_corpus.SPLITS)
    except (OSError, ValueError) as exc:
        progress(f"endpoint corpus replay skipped: {exc}")
        sections.append(f"### endpoint corpus replay\n\nnot run: {exc}\n")
    else:
        (out_dir / "endpoint-corpus.json").write_text(json.dumps(corpus, indent=1) + "\n")
        sections.append(endpoint_corpus.markdown(corpus))
        timings.append(
            f"| endpoint-corpus | val, test | text | - | {time.perf_counter() - t0:.0f} |"
        )
    env = environment()
    pkgs: Mapping[str, Any] = env["packages"]  # type: ignore[assignment]
    md = [
        f"# Benchmark results {day}",
        "",
        f"Machine: {env['cpu']} ({env['cpu_count']} CPUs), Python {env['python']}; "
        "packages: " + ", ".join(f"{k} {v}" for k, v in pkgs.items() if v),
        f"Command: `python -m bench all --data {data}{' --quick' if quick else ''}`; "
        f"total wall time {time.perf_counter() - t_start:.0f} s.",
        "",
        f"Items per set (spread evenly over the derived set; only these are rendered): "
        f"overlap up to {caps['overlap']}, endpoint up to {caps['endpoint']}; session "
        f"{n_session} per split, clean audio only, on a virtual clock charging each model "
        "call its measured CPU time, split over the worker processes. Systems hear audio "
        "through the same local streaming STT (Whisper tiny.en, short encoder window); "
        "transcripts arrive as late as measured on this machine.",
        "",
        "Rates show 95 % Wilson intervals in brackets. CPU ms/s: process CPU time per second "
        "of audio for the system's own work (the shared speech-to-text precompute is listed "
        "per report under `transcripts`).",
        "",
        *sections,
        "## Run times",
        "",
        "| command | split | condition | items | wall s |",
        "|---|---|---|---|---|",
        *timings,
        "",
    ]
    (out_dir / "results.md").write_text("\n".join(md))
    progress(f"results: {out_dir / 'results.md'}")
    return out_dir


def _section(command: str, ref: SetRef, rep: Mapping[str, Any], out: Path) -> str:
    lines = [f"### {command} / {ref.split} / {ref.condition} ({rep['n_items']} items)", ""]
    if command == "session":
        lines.append(
            f"{rep['n_items']} items spread evenly over `{ref.manifest.name}`, "
            f"{rep.get('clock', 'real')} clock; "
            "CPU ms/s covers the whole session (VAD, STT, models) per second of user audio."
        )
        lines.append("")
    lines.append(table_markdown(summary_rows(rep)))
    for e in errors(rep):
        lines.append(f"\nnote: {e}")
    tr = rep.get("transcripts")
    if isinstance(tr, Mapping) and tr.get("source"):
        cost = (
            f"{tr['cpu_ms_per_audio_s']} CPU ms per audio s where computed in this run"
            if tr.get("cpu_ms_per_audio_s") is not None
            else "all from the cache of an earlier run"
        )
        lines.append(
            f"\nSTT: {tr['source']}, {tr['items']} items, {tr['cache_hits']} cached; {cost}."
        )
    for png in sorted(out.parent.glob(out.stem + ".*.png")):
        lines.append(f"\n![{png.stem}]({png.name})")
    lines.append("")
    return "\n".join(lines)
