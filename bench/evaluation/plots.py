"""PNG plots beside the reports (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _systems(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    rows = [(str(report["system"]), report)]
    rows += [(n, b) for n, b in report["baselines"].items()]
    return rows


def endpoint_curves(report: Mapping[str, Any], path: Path, title: str = "") -> Path | None:
    """False cut-off rate vs mean latency of every policy on one plot; None if no curve."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    drawn = 0
    for name, block in _systems(report):
        curve = block["metrics"].get("curve")
        if not curve:
            continue
        pts = [
            (p["mean_latency_s"], 100 * p["cutoff_rate"])
            for p in curve
            if p["mean_latency_s"] is not None and p["cutoff_rate"] is not None
        ]
        pts.sort()
        if not pts:
            continue
        (line,) = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=name)
        m = block["metrics"]
        if m.get("mean_latency_s") is not None and m["false_cutoff_rate"]["value"] is not None:
            ax.scatter(
                [m["mean_latency_s"]], [100 * m["false_cutoff_rate"]["value"]], s=90,
                marker="*", zorder=5, color=line.get_color(),
            )  # fmt: skip
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("mean latency after true end of turn (s)")
    ax.set_ylabel("false cut-off rate (% of mid-turn pauses)")
    ax.set_title(title or "End-of-turn trade-off (star: default operating point)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_histograms(report: Mapping[str, Any], path: Path, title: str = "") -> Path | None:
    """Histograms of the stop latency of interruptions (decided_at_s in overlap mode,
    stop_latency_s in session mode) per system; None if nothing stopped."""
    plt = _plt()
    session = report["command"] == "session"
    key = "stop_latency_s" if session else "decided_at_s"
    series = []
    for name, block in _systems(report):
        vals = [
            float(it[key])
            for it in block["items"]
            if it.get(key) is not None
            and (it.get("agent_stopped") if session else it.get("decision") == "interruption")
        ]
        if vals:
            series.append((name, vals))
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    hi = max(max(v) for _, v in series)
    bins = [i * max(hi, 0.1) / 30 for i in range(31)]
    for name, vals in series:
        ax.hist(vals, bins=bins, alpha=0.5, label=f"{name} (n={len(vals)})")
    ax.set_xlabel(("stop latency" if session else "decision time of stops") + " after onset (s)")
    ax.set_ylabel("items")
    ax.set_title(title or f"{report['command']}: when the agent stopped")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
