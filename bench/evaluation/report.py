"""R.json assembly, the printed summary table and the environment block."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "livekit-agents",
    "livekit-plugins-silero",
    "livekit-local-inference",
    "faster-whisper",
    "ctranslate2",
    "onnxruntime",
    "numpy",
)


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (platform string elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, object]:
    """Machine and package versions the figures were measured with."""
    pkgs: dict[str, str | None] = {}
    for p in PACKAGES:
        try:
            pkgs[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pkgs[p] = None
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": pkgs,
    }


def build_report(
    command: str,
    main: tuple[str, Sequence[Mapping[str, object]], Mapping[str, object]],
    baselines: Mapping[str, tuple[Sequence[Mapping[str, object]], Mapping[str, object]]],
    *,
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The contract's report: command, system, items, metrics, baselines, environment
    (plus optional extension fields from `extra`)."""
    name, items, metrics = main
    rep: dict[str, object] = {
        "command": command,
        "system": name,
        "items": list(items),
        "metrics": dict(metrics),
        "baselines": {b: {"items": list(i), "metrics": dict(m)} for b, (i, m) in baselines.items()},
        "environment": environment(),
    }
    if extra:
        rep.update(extra)
    return rep


def write_report(path: Path, report: Mapping[str, object]) -> None:
    """Write R.json (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")


def _fmt(x: object, pct: bool = False, nd: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, Mapping):
        v = x.get("value")
        ci = x.get("ci95")
        if v is None:
            return "-"
        s = f"{100 * float(v):.1f}%" if pct else f"{float(v):.{nd}f}"
        if isinstance(ci, Sequence) and len(ci) == 2:
            s += f" [{100 * float(ci[0]):.0f}-{100 * float(ci[1]):.0f}]"
        return s
    if isinstance(x, float | int):
        return f"{100 * x:.1f}%" if pct else f"{x:.{nd}f}"
    return str(x)


def _systems(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    rows = [(str(report["system"]), report["metrics"])]
    rows += [(n, b["metrics"]) for n, b in report["baselines"].items()]
    return rows


def _pair(m: Mapping[str, Any], key: str) -> str:
    return f"{_fmt(m.get(key + '_p50_s'), nd=2)}/{_fmt(m.get(key + '_p95_s'), nd=2)}"


def overlap_table(report: Mapping[str, Any]) -> list[list[str]]:
    """Rows (header first) of the overlap/session summary."""
    session = report["command"] == "session"
    rows = [
        [
            "system",
            "false stops on backchannels",
            "interruption recall",
            "precision",
            "F1",
            "stop latency p50/p95 s",
            "heard yield p50/p95 s",
            "heard stop p50/p95 s",
            "decision p50 s",
            "bc paused+resumed",
            "bc ducked (p95 s)",
            "bc -> user turn",
            "LLM calls (bc)",
            "CPU ms/s",
        ]
    ]
    for name, m in _systems(report):
        if "error" in m and "n" not in m:
            rows.append([name, "unavailable"] + ["-"] * 12)
            continue
        cpu = m.get("cpu", {}).get("cpu_ms_per_audio_s")
        rows.append(
            [
                name,
                _fmt(m["false_stop_rate"], pct=True),
                _fmt(m["interruption_recall"], pct=True),
                _fmt(m["precision"], pct=True),
                _fmt(m["f1"], nd=3),
                f"{_fmt(m['stop_latency_p50_s'], nd=2)}/{_fmt(m['stop_latency_p95_s'], nd=2)}",
                _pair(m, "yield_latency"),
                _pair(m, "heard_stop_latency") if session else "-",
                _fmt(m["decision_latency_p50_s"], nd=2),
                _fmt(m.get("backchannels_paused_and_resumed"), pct=True),
                f"{_fmt(m.get('backchannels_ducked'), pct=True)} "
                f"({_fmt(m.get('backchannel_duck_p95_s'), nd=2)})",
                _fmt(m["backchannels_committed_as_turns"], pct=True) if session else "-",
                str(m["llm_calls_from_backchannels"]) if session else "-",
                _fmt(cpu, nd=1),
            ]
        )
    return rows


def endpoint_table(report: Mapping[str, Any]) -> list[list[str]]:
    """Rows (header first) of the endpoint summary."""
    rows = [
        [
            "system",
            "default",
            "false cut-offs",
            "mean latency s",
            "cut-off @<=300ms",
            "cut-off @<=600ms",
            "latency @<=5%",
            "latency @<=10%",
            "CPU ms/s",
        ]
    ]
    for name, m in _systems(report):
        if "error" in m and "curve" not in m:
            rows.append([name, "unavailable"] + ["-"] * 7)
            continue

        def pt(key: str, field: str, pct: bool, m: Mapping[str, Any] = m) -> str:
            p = m.get(key)
            return "-" if not p else _fmt(p[field], pct=pct, nd=2)

        rows.append(
            [
                name,
                f"{m['default_threshold']:g}",
                _fmt(m["false_cutoff_rate"], pct=True),
                _fmt(m["mean_latency_s"], nd=2),
                pt("best_cutoff_at_latency_300ms", "cutoff_rate", True),
                pt("best_cutoff_at_latency_600ms", "cutoff_rate", True),
                pt("best_latency_at_cutoff_5pct", "mean_latency_s", False),
                pt("best_latency_at_cutoff_10pct", "mean_latency_s", False),
                _fmt(m.get("cpu", {}).get("cpu_ms_per_audio_s"), nd=1),
            ]
        )
    return rows


def table_text(rows: Sequence[Sequence[str]]) -> str:
    """Plain aligned table for the terminal."""
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def table_markdown(rows: Sequence[Sequence[str]]) -> str:
    """GitHub markdown table."""
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)


def errors(report: Mapping[str, Any]) -> list[str]:
    """One line per system that failed or was unavailable."""
    return [f"{name}: {m['error']}" for name, m in _systems(report) if "error" in m]


def summary_rows(report: Mapping[str, Any]) -> list[list[str]]:
    """The table matching the report's command."""
    return endpoint_table(report) if report["command"] == "endpoint" else overlap_table(report)
