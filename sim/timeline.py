"""Readable timelines of scene runs: a text printout and a PNG per scene."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sim.harness import EventKind
from sim.scenes import SceneResult

_SHOWN = (
    EventKind.USER_SPEECH_START,
    EventKind.USER_SPEECH_END,
    EventKind.AUDIO_STARTED,
    EventKind.AUDIO_PAUSED,
    EventKind.AUDIO_RESUMED,
    EventKind.AUDIO_CLEARED,
    EventKind.AUDIO_FINISHED,
    EventKind.INTERIM,
    EventKind.FINAL,
    EventKind.USER_TURN,
    EventKind.ASSISTANT_MESSAGE,
    EventKind.FALSE_INTERRUPTION,
    EventKind.LLM_CALL,
    EventKind.DECISION,
)
_MAX_TEXT = 70


def _fmt_s(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1000:.0f} ms"


def format_result(result: SceneResult) -> str:
    """The timeline of one run as text lines (clock seconds)."""
    lines = [f"--- {result.scene.name} | stack: {result.stack} ---"]
    for ev in result.events:
        if ev.kind not in _SHOWN:
            continue
        detail = ev.detail
        if ev.kind in (EventKind.INTERIM, EventKind.FINAL, EventKind.USER_TURN):
            detail = f'"{detail}"'
        if ev.kind is EventKind.ASSISTANT_MESSAGE:
            cut = " (interrupted, stored truncated)" if ev.data.get("interrupted") else ""
            detail = f'"{detail}"{cut}'
        if len(detail) > _MAX_TEXT:
            detail = detail[: _MAX_TEXT - 3] + "..."
        lines.append(f"  {ev.at_s:6.2f} s  {ev.kind.value:<32} {detail}")
    lines.append(
        f"  => user onset -> agent audio stopped: {_fmt_s(result.stop_latency_s)}; "
        f"end of user speech -> agent reply audio: {_fmt_s(result.reply_latency_s)}; "
        f"LLM calls: {result.llm_calls}"
    )
    return "\n".join(lines)


def plot_scene(results: Sequence[SceneResult], path: Path) -> Path:
    """One PNG: a panel per stack (side by side in time), user and agent lanes with
    pauses, clears, transcripts and turn commits marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("plot_scene needs at least one result")
    end = max(r.duration_s for r in results)
    fig, axes = plt.subplots(
        len(results), 1, figsize=(12, 2.6 * len(results)), squeeze=False, sharex=True
    )
    for ax, r in zip(axes[:, 0], results, strict=True):
        ax.set_title(
            f"{r.scene.title} — stack: {r.stack} — stop latency {_fmt_s(r.stop_latency_s)}, "
            f"reply latency {_fmt_s(r.reply_latency_s)}, LLM calls {r.llm_calls}",
            fontsize=9,
            loc="left",
        )
        for label, a, b in r.user_spans:
            ax.broken_barh([(a, b - a)], (0.6, 0.3), color="tab:orange")
            ax.text(a, 0.93, label, fontsize=7)
        for a, b in r.agent_spans:
            ax.broken_barh([(a, b - a)], (0.1, 0.3), color="tab:blue")
        marks = {
            EventKind.AUDIO_PAUSED: ("|", "tab:red", 0.25, "pause"),
            EventKind.AUDIO_CLEARED: ("x", "tab:red", 0.25, "clear"),
            EventKind.AUDIO_RESUMED: ("^", "tab:green", 0.25, "resume"),
            EventKind.FINAL: ("v", "tab:purple", 0.75, "final"),
            EventKind.USER_TURN: ("D", "black", 0.5, "turn commit"),
        }
        used: set[str] = set()
        for ev in r.events:
            if ev.kind is EventKind.DECISION and "label" in ev.data:
                marker, color, y, name = "*", "tab:green", 0.5, f"verdict: {ev.data['label']}"
            elif ev.kind in marks:
                marker, color, y, name = marks[ev.kind]
            else:
                continue
            ax.plot(
                [ev.at_s],
                [y],
                marker=marker,
                color=color,
                markersize=9,
                linestyle="none",
                label=None if name in used else name,
            )
            used.add(name)
        ax.set_yticks([0.25, 0.75], ["agent", "user"])
        ax.set_ylim(0, 1.1)
        ax.set_xlim(0, end)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="upper right", fontsize=7, ncols=5)
    axes[-1, 0].set_xlabel("seconds")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
