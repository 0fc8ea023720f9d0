"""Run systems over a manifest: overlap, endpoint and session.

Item-major: each item's audio is loaded once, its transcript timeline comes from the shared
cache, then every system hears it. The item's Silero VAD timeline is computed once and shared;
each system that reads it is charged the CPU time of that computation, so every CPU figure
includes its own VAD. The STT precompute is reported apart.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench.datasets.audio import BENCH_SAMPLE_RATE_HZ, Samples
from bench.datasets.manifest import EndpointItem, OverlapItem, OverlapLabel, spread_subset
from bench.evaluation.baselines import vad_timeline as vt
from bench.evaluation.metrics import endpoint_metrics, overlap_metrics
from bench.evaluation.registry import SystemUnavailable, make_endpoint_policy, make_overlap_system
from bench.evaluation.transcripts import TranscriptCache
from bench.evaluation.types import EndpointOutcome, OverlapResultItem, TranscriptEvent

logger = logging.getLogger("bench.evaluation.runners")

Progress = Callable[[str], None]
T = TypeVar("T")
R = TypeVar("R")


class InputError(Exception):
    """An input is unusable; the message is one line naming the file (and line)."""


def load_overlap_items(path: Path) -> list[OverlapItem]:
    """Parse an overlap manifest (the project's parser; errors become `InputError`)."""
    return _load(path, "load_overlap_manifest")  # type: ignore[return-value]


def load_endpoint_items(path: Path) -> list[EndpointItem]:
    """Parse an endpoint manifest (the project's parser; errors become `InputError`)."""
    return _load(path, "load_endpoint_manifest")  # type: ignore[return-value]


def _load(path: Path, fn_name: str) -> list[object]:
    if not path.is_file():
        raise InputError(f"manifest not found: {path}")
    try:
        manifest = importlib.import_module("bench.datasets.manifest")
    except ImportError as exc:
        raise InputError(f"manifest parser unavailable (bench.datasets.manifest: {exc})") from exc
    try:
        items = list(getattr(manifest, fn_name)(path))
    except Exception as exc:
        # the parser's own error names the line; keep its message, one line
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(msg if str(path) in msg else f"{path}: {msg}") from exc
    if not items:
        raise InputError(f"{path}: manifest has no items")
    return items


def load_item_audio(path: Path) -> Samples:
    """Mono float32 16 kHz samples of an item's audio (`InputError` when unusable)."""
    try:
        load_audio = importlib.import_module("bench.datasets.audio").load_audio
    except ImportError as exc:
        raise InputError(f"audio loader unavailable (bench.datasets.audio: {exc})") from exc
    if not path.is_file():
        raise InputError(f"audio file not found: {path}")
    try:
        audio: Samples = load_audio(path)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(msg if str(path) in msg else f"unreadable audio {path}: {msg}") from exc
    return audio


@dataclass
class SystemRun:
    """Accumulates one system's results and its process CPU time."""

    name: str
    system: Any
    items: list[dict[str, object]] = field(default_factory=list)
    cpu_s: float = 0.0
    audio_s: float = 0.0
    error: str | None = None
    outcomes: list[list[EndpointOutcome]] = field(default_factory=list)
    results: list[OverlapResultItem] = field(default_factory=list)
    item_cpu_s: list[float] = field(default_factory=list)
    """Session runs: CPU seconds of each result in `results`."""
    item_audio_s: list[float] = field(default_factory=list)
    """Session runs: audio seconds of each result in `results`."""

    def cpu_block(self) -> dict[str, object]:
        return {
            "cpu_s": round(self.cpu_s, 3),
            "audio_s": round(self.audio_s, 3),
            "cpu_ms_per_audio_s": round(1000 * self.cpu_s / self.audio_s, 2)
            if self.audio_s
            else None,
        }

    def timed(
        self, item_id: str, audio_s: float, progress: Progress, call: Callable[..., R], *args: Any
    ) -> R | None:
        """Run one item through the system, counting its process CPU time against
        `audio_s` seconds of audio; a failure is recorded once and returns None. The item's
        Silero VAD timeline is computed by the first system that reads it and shared with
        the others, each charged the CPU time the computation took (the runners clear the
        VAD cache between items)."""
        t0 = time.process_time()
        reused0 = vt.reused_cpu_s()
        try:
            out = call(*args)
        except Exception as exc:
            self.error = f"{self.name} failed on {item_id}: {type(exc).__name__}: {exc}"
            progress(self.error)
            return None
        self.cpu_s += time.process_time() - t0 + vt.reused_cpu_s() - reused0
        self.audio_s += audio_s
        return out


def _construct(
    names: Sequence[str], make: Callable[[str], Any], progress: Progress
) -> list[SystemRun]:
    runs: list[SystemRun] = []
    for name in names:
        try:
            runs.append(SystemRun(name=name, system=make(name)))
        except SystemUnavailable as exc:
            progress(f"system {name} unavailable: {exc}")
            runs.append(SystemRun(name=name, system=None, error=str(exc)))
    return runs


def _r4(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _result_dict(r: OverlapResultItem) -> dict[str, object]:
    d: dict[str, object] = {
        "id": r.id,
        "decision": r.decision,
        "decided_at_s": _r4(r.decided_at_s),
        "agent_stopped": r.agent_stopped,
        "stop_latency_s": _r4(r.stop_latency_s),
        "user_turn_committed": r.user_turn_committed,
        "llm_called": r.llm_called,
    }
    d.update(r.extra)
    return d


def run_overlap(
    manifest: Path,
    names: Sequence[str],
    *,
    stt: TranscriptCache,
    progress: Progress = lambda _m: None,
    limit: int | None = None,
) -> tuple[list[SystemRun], dict[str, Any]]:
    """Run the named overlap systems over `manifest`; returns one run per name and a
    block describing the input (labels per id, count)."""
    items = spread_subset(load_overlap_items(manifest), limit)
    runs = _construct(names, make_overlap_system, progress)
    labels = {it.id: it.label for it in items}
    for k, item in enumerate(items):
        vt.clear_cache()
        audio = load_item_audio(item.audio)
        transcript = stt.timeline(audio)
        dur = len(audio) / BENCH_SAMPLE_RATE_HZ
        for run in runs:
            if run.system is None or run.error:
                continue
            dec = run.timed(item.id, dur, progress, run.system.decide, item, audio, transcript)
            if dec is None:
                continue
            extra: dict[str, object] = {}
            if dec.probability is not None:
                extra["probability"] = round(float(dec.probability), 4)
            stopped_at = dec.stopped_at_s
            if stopped_at is not None:
                # stopped (paused) before the final decision: a confirmed interruption's stop
                # latency, or a backchannel that paused the agent and resumed it
                extra["stopped_at_s"] = round(float(stopped_at), 4)
                extra["resumed"] = dec.decision == "backchannel"
            if dec.yield_at_s is not None or dec.duck_s is not None:
                extra["yield_latency_s"] = _r4(dec.yield_at_s)
                extra["ducked"] = dec.duck_s is not None
                extra["duck_s"] = _r4(dec.duck_s)
            run.results.append(
                OverlapResultItem(
                    id=item.id,
                    decision=dec.decision,
                    decided_at_s=float(dec.decided_at_s),
                    stop_latency_s=(
                        float(stopped_at)
                        if stopped_at is not None and dec.decision == "interruption"
                        else None
                    ),
                    extra=extra,
                )
            )
        if (k + 1) % 50 == 0:
            progress(f"overlap {manifest.name}: {k + 1}/{len(items)} items")
    for run in runs:
        run.items = [_result_dict(r) for r in run.results]
    return runs, {"labels": labels, "n": len(items), "snr_db": _snr_map(items)}


def _snr_map(items: Sequence[OverlapItem]) -> dict[str, float]:
    """Item id -> the SNR of its added noise, dB, for the items that carry one."""
    return {it.id: it.snr_db for it in items if it.snr_db is not None}


def finish_overlap_metrics(
    run: SystemRun,
    labels: dict[str, Any],
    *,
    session: bool = False,
    snr_db: dict[str, float] | None = None,
) -> dict[str, object]:
    """Metrics block of one overlap/session run (with its CPU figures); with `snr_db` (item
    id -> SNR, dB) also the same block per SNR under "by_snr_db"."""
    if run.error and not run.results:
        return {"error": run.error}
    m = overlap_metrics(run.results, labels, session=session)
    if snr_db:
        m["by_snr_db"] = {
            f"{snr:g}": overlap_metrics(
                [r for r in run.results if snr_db.get(r.id) == snr], labels, session=session
            )
            for snr in sorted(set(snr_db.values()))
        }
    m["cpu"] = run.cpu_block()
    if run.error:
        m["error"] = run.error
    return m


@dataclass(frozen=True)
class EndpointInput:
    """One endpoint item as every policy hears it."""

    item: EndpointItem
    audio: Samples
    duration_s: float
    """Length of the item's audio, seconds."""
    transcript: list[TranscriptEvent]
    """The streaming recogniser's timeline of the audio, sorted by `at_s`."""


def endpoint_inputs(
    manifest: Path, items: Sequence[EndpointItem], stt: TranscriptCache
) -> Iterator[EndpointInput]:
    """Each item's audio, length and transcript timeline, in order; the shared VAD timeline
    cache is cleared before each item to bound memory. `InputError` when an item's
    `speech_end_s` lies past the end of its audio."""
    for item in items:
        vt.clear_cache()
        audio = load_item_audio(item.audio)
        dur = len(audio) / BENCH_SAMPLE_RATE_HZ
        if item.speech_end_s > dur + 1e-3:
            raise InputError(
                f"{manifest}: item {item.id}: speech_end_s {item.speech_end_s} is past the "
                f"end of its audio ({dur:.3f} s)"
            )
        yield EndpointInput(item, audio, dur, stt.timeline(audio))


def run_endpoint(
    manifest: Path,
    names: Sequence[str],
    *,
    stt: TranscriptCache,
    cache_dir: Path,
    progress: Progress = lambda _m: None,
    limit: int | None = None,
) -> tuple[list[SystemRun], dict[str, Any]]:
    """Run the named endpoint policies over `manifest` (manifest order, `reset()` first)."""
    items = spread_subset(load_endpoint_items(manifest), limit)
    runs = _construct(names, lambda n: make_endpoint_policy(n, cache_dir=cache_dir), progress)
    for run in runs:
        if run.system is not None:
            run.system.reset()
            run.outcomes = [[] for _ in run.system.thresholds]
    ends: list[float] = []
    durs: list[float] = []
    for k, inp in enumerate(endpoint_inputs(manifest, items, stt)):
        item, audio, dur, transcript = inp.item, inp.audio, inp.duration_s, inp.transcript
        ends.append(item.speech_end_s)
        durs.append(dur)
        for run in runs:
            if run.system is None or run.error:
                continue
            outs = run.timed(item.id, dur, progress, run.system.run, item, audio, transcript)
            if outs is None:
                continue
            if len(outs) != len(run.system.thresholds) or any(
                len(o.pause_fired) != len(item.pauses) for o in outs
            ):
                run.error = f"{run.name} returned malformed outcomes on {item.id}"
                progress(run.error)
                continue
            for acc, o in zip(run.outcomes, outs, strict=True):
                acc.append(o)
            d = list(run.system.thresholds).index(run.system.default_threshold)
            run.items.append(
                {
                    "id": item.id,
                    "pause_fired": list(outs[d].pause_fired),
                    "fired_at_s": None
                    if outs[d].fired_at_s is None
                    else round(outs[d].fired_at_s, 4),
                }
            )
        if (k + 1) % 50 == 0:
            progress(f"endpoint {manifest.name}: {k + 1}/{len(items)} items")
    return runs, {"speech_end_s": ends, "duration_s": durs, "n": len(items)}


def finish_endpoint_metrics(run: SystemRun, info: dict[str, Any]) -> dict[str, object]:
    """Metrics block of one endpoint run (curve, summaries, CPU)."""
    if run.system is None or (run.error and len(run.items) != info["n"]):
        return {"error": run.error or f"{run.name} did not run"}
    m = endpoint_metrics(
        run.outcomes,
        list(run.system.thresholds),
        run.system.default_threshold,
        info["speech_end_s"],
        info["duration_s"],
    )
    m["cpu"] = run.cpu_block()
    return m


DEFAULT_AGENT_TEXT = (
    "So the next step is to upload the file to the shared folder, and then I will check "
    "the numbers and send you a summary of what changed since last week."
)
"""What the agent says in a session episode when the manifest line has no `agent_text`."""


SESSION_CLOCKS = ("virtual", "real")
"""How session episodes keep time: "virtual" runs them on a virtual-time loop whose models'
off-loop work is charged at its measured CPU cost (`sim.virtual_time.ChargedExecutor`), so
an episode takes its compute time rather than its audio length; "real" plays them in real
time."""


def run_session(
    manifest: Path,
    names: Sequence[str],
    *,
    progress: Progress = lambda _m: None,
    limit: int | None = None,
    clock: str = "virtual",
    jobs: int = 1,
) -> tuple[list[SystemRun], dict[str, Any]]:
    """Each item through a real AgentSession per stack (the project's episode driver), one
    episode at a time per process; `limit`: see `spread_subset`; `clock`: one of
    `SESSION_CLOCKS`; `jobs` (>= 1) processes, each taking every `jobs`-th item, their
    results merged back in manifest order."""
    if clock not in SESSION_CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(SESSION_CLOCKS)}, got {clock!r}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    items = spread_subset(load_overlap_items(manifest), limit)
    labels = {it.id: it.label for it in items}
    if jobs > 1 and len(items) > 1:
        runs = _session_parallel(items, names, clock, min(jobs, len(items)), progress)
    else:
        runs = _session_items(items, names, clock, progress)
    for run in runs:
        run.items = [_result_dict(r) for r in run.results]
    return runs, {"labels": labels, "n": len(items), "clock": clock, "snr_db": _snr_map(items)}


def _session_items(
    items: Sequence[OverlapItem], names: Sequence[str], clock: str, progress: Progress
) -> list[SystemRun]:
    """Run `items` through every stack in this process (item-major)."""
    try:
        episodes = importlib.import_module("bench.evaluation.episodes")
        virtual_time = importlib.import_module("sim.virtual_time")
    except ImportError as exc:
        raise InputError(f"session driver unavailable ({exc})") from exc
    runs = [SystemRun(name=n, system=n) for n in names]
    # the result is read before the session closes: waiting for a late transcript then
    # would only cost time
    runner = episodes.EpisodeRunner(close_transcript_timeout_s=0.0)
    runner.load()  # plugins register on the main thread
    loop_body = _session_loop(runner, items, runs, progress)
    if clock == "virtual":
        charged = virtual_time.ChargedExecutor()
        virtual_time.run_virtual(loop_body, default_executor=charged)
        progress(
            f"session: {charged.calls} off-loop calls charged {charged.charged_s:.1f} s "
            f"of virtual time"
        )
    else:
        asyncio.run(loop_body)
    return runs


def _session_chunk(
    items: Sequence[OverlapItem], names: Sequence[str], clock: str, log_levels: dict[str, int]
) -> list[SystemRun]:
    """Worker-process body of `_session_parallel` (progress goes to the log)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name, level in log_levels.items():
        logging.getLogger(name).setLevel(level)
    return _session_items(items, names, clock, lambda m: logger.warning("%s", m))


def _session_parallel(
    items: Sequence[OverlapItem],
    names: Sequence[str],
    clock: str,
    jobs: int,
    progress: Progress,
) -> list[SystemRun]:
    """`_session_items` over `jobs` processes (process k takes items k, k+jobs, ...), merged
    as one process would have produced them: results in manifest order, and a system that
    failed on an item keeps only its results before that item (one process stops a system
    at its first failure)."""
    chunks = [list(range(k, len(items), jobs)) for k in range(jobs)]
    log_levels = {
        n: logging.getLogger(n).getEffectiveLevel() for n in ("", "livekit.plugins.silero")
    }
    # spawn: the parent may hold model runtimes and threads that do not survive a fork
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = [
            pool.submit(_session_chunk, [items[i] for i in idx], list(names), clock, log_levels)
            for idx in chunks
        ]
        parts: list[list[SystemRun]] = []
        for k, fut in enumerate(futures):
            parts.append(fut.result())
            progress(f"session: process {k + 1}/{jobs} done ({len(chunks[k])} items)")
    return [merge_runs(name, [p[j] for p in parts], chunks) for j, name in enumerate(names)]


def merge_runs(name: str, parts: Sequence[SystemRun], chunks: Sequence[list[int]]) -> SystemRun:
    """One system's runs over interleaved chunks (`chunks[k]`: manifest indices of
    `parts[k]`'s items) merged into one run in manifest order."""
    rows: list[tuple[int, OverlapResultItem, float, float]] = []
    failed: tuple[int, str] | None = None
    for part, idx in zip(parts, chunks, strict=True):
        done = idx[: len(part.results)]
        rows += zip(done, part.results, part.item_cpu_s, part.item_audio_s, strict=True)
        if part.error is not None and len(done) < len(idx):
            # a process stops a system at its first failure: the item after its last result
            at = idx[len(done)]
            if failed is None or at < failed[0]:
                failed = (at, part.error)
    rows.sort(key=lambda row: row[0])
    if failed is not None:
        rows = [row for row in rows if row[0] < failed[0]]
    merged = SystemRun(name=name, system=name, error=None if failed is None else failed[1])
    for _, r, c, a in rows:
        merged.results.append(r)
        merged.item_cpu_s.append(c)
        merged.item_audio_s.append(a)
        merged.cpu_s += c
        merged.audio_s += a
    return merged


async def _session_loop(
    runner: Any, items: Sequence[OverlapItem], runs: Sequence[SystemRun], progress: Progress
) -> None:
    for k, item in enumerate(items):
        audio = load_item_audio(item.audio)
        dur = len(audio) / BENCH_SAMPLE_RATE_HZ
        for run in runs:
            if run.error:
                continue
            t0 = time.process_time()
            try:
                ep = await runner.run(
                    agent_text=item.agent_text or DEFAULT_AGENT_TEXT,
                    user_audio=audio,
                    user_sample_rate=BENCH_SAMPLE_RATE_HZ,
                    onset_s=item.onset_s,
                    stack=run.name,
                )
            except Exception as exc:
                run.error = f"{run.name} failed on {item.id}: {type(exc).__name__}: {exc}"
                progress(run.error)
                continue
            cpu = time.process_time() - t0
            run.cpu_s += cpu
            run.audio_s += dur
            run.item_cpu_s.append(cpu)
            run.item_audio_s.append(dur)
            stopped = bool(ep.agent_stopped)
            decision: OverlapLabel = ep.decision or ("interruption" if stopped else "backchannel")
            run.results.append(
                OverlapResultItem(
                    id=item.id,
                    decision=decision,
                    decided_at_s=ep.decided_at_s,
                    agent_stopped=stopped,
                    stop_latency_s=ep.stop_latency_s,
                    user_turn_committed=bool(ep.user_turn_committed),
                    llm_called=bool(ep.llm_called),
                    extra={
                        "resumed": bool(getattr(ep, "resumed", False)),
                        "yield_latency_s": _r4(ep.yield_latency_s),
                        "heard_stop_latency_s": _r4(ep.heard_stop_latency_s),
                        "ducked": ep.ducked,
                        "duck_s": _r4(ep.duck_s),
                    },
                )
            )
        if (k + 1) % 10 == 0:
            progress(f"session {item.audio.parent.name}: {k + 1}/{len(items)} items")
