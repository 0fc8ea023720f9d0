"""Load benchmark: N concurrent sessions of the demo scenes in one process, at real time.

    python -m bench load [--sessions 10,25,50] [--stack ours] [--out R.json]
    python -m bench load --soak-minutes 30 [--sessions 5] [--rss-bound-mb 300]

Every session is a real `AgentSession` driven by the in-process harness (`sim/`): Silero VAD
(the production plugin), our turn-taking plugins wired by `sim.stacks` (or a benchmark-only
stack, `bench.evaluation.stacks`), the clip TTS and the scripted LLM. The STT is the
scripted one (known words, real audio segmentation): Whisper on 2 cores cannot serve 50
sessions, and the question here is what our plugins and the session cost, not a
speech-to-text model's. In production each LiveKit job runs in its
own process; here all sessions share one process and one event loop, which is the harsher
case (one loop's lag delays every session).

Reported per N: the arbiter's decision latency (onset to verdict) p50/p95, stop latency
(onset to the agent's audio stopping, interruption scene) p95, reply latency (end of the
user's speech to the agent's next audio) p50/p95, event-loop lag p50/p95/max, CPU per
session (process CPU time / wall time / N, in cores) and the machine's load average. A
level "degrades" when its stop latency p95 or loop lag p95 is more than 1.5x the first
level's (and above a floor that ignores noise), or when a session failed.

`--soak-minutes M` instead keeps N sessions running scene after scene for M minutes and
samples the process's resident memory every `--sample-s` seconds; it reports the growth
over the run and the slope over its second half (after warm-up), in MB and MB/min.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from livekit.plugins.turntaking import load_models

from bench.evaluation.stacks import STACK_NAMES, session_stack

DEFAULT_LEVELS = (10, 25, 50)
DEFAULT_OUT = Path(".cache/bench/load/load.json")
LAG_PROBE_S = 0.05
"""Interval of the event-loop lag probe, seconds."""
STAGGER_S = 3.0
"""Session starts are spread uniformly over this span, seconds (no lock-step)."""
DEGRADE_RATIO = 1.5
"""A level degrades when a latency p95 exceeds this multiple of the first level's."""
STOP_FLOOR_S = 0.1
LAG_FLOOR_S = 0.02
"""Absolute increases below these (s) never count as degradation (timer noise)."""
ARBITER_STACKS = ("ours", "ours-arbiter")
"""Stacks whose overlaps the arbiter decides (the others have no verdicts to count)."""
SOAK_RSS_BOUND_MB = 300.0
"""Default soak bound on the process's resident memory, MB: 5 sessions of the demo scenes
for 30 minutes measured 183 MB at start and at most 268 MB (2026-11-30)."""
SCENE_TIMEOUT_S = 90.0
"""A scene still running after this long (real time) counts as a failed session."""


@dataclass
class LevelResult:
    """Figures of one concurrency level."""

    sessions: int
    stack: str
    wall_s: float
    cpu_s: float
    cpu_per_session_cores: float
    """Process CPU time / wall time / sessions (1.0 = one core per session)."""
    failed: int
    scenes: int
    overlaps_expected: int
    overlaps_decided: int
    """Overlap scenes (backchannel, interruption) in which the arbiter reached a verdict."""
    decisions: int
    vad_onset_latency_p50_s: float | None
    vad_onset_latency_p95_s: float | None
    """User speech onset -> the session's VAD reporting "speaking", seconds."""
    decision_latency_p50_s: float | None
    decision_latency_p95_s: float | None
    stop_latency_p50_s: float | None
    stop_latency_p95_s: float | None
    reply_latency_p50_s: float | None
    reply_latency_p95_s: float | None
    loop_lag_p50_s: float | None
    loop_lag_p95_s: float | None
    loop_lag_max_s: float | None
    load_avg_start: tuple[float, float, float]
    load_avg_end: tuple[float, float, float]
    errors: list[str] = field(default_factory=list)
    degraded: bool = False
    degraded_because: list[str] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100, linear interpolation), None for no values."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be in [0, 100], got {q}")
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


class LagProbe:
    """Measures how late the event loop runs a timer (seconds past its due time)."""

    def __init__(self, interval_s: float = LAG_PROBE_S) -> None:
        self.interval_s = interval_s
        self.lags_s: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval_s
            await asyncio.sleep(self.interval_s)
            self.lags_s.append(max(0.0, loop.time() - due))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


@dataclass
class _Shared:
    models: Any
    vad: Any
    tts_library: Any


def _load_shared() -> _Shared:
    from livekit.plugins import silero

    from sim.lines import AGENT_LINES
    from sim.tts import ClipLibrary

    return _Shared(
        models=load_models(load_vad=True),
        vad=silero.VAD.load(),
        tts_library=ClipLibrary.from_lines(AGENT_LINES),
    )


@dataclass
class _SessionFigures:
    decision_latencies_s: list[float] = field(default_factory=list)
    stop_latencies_s: list[float] = field(default_factory=list)
    reply_latencies_s: list[float] = field(default_factory=list)
    vad_latencies_s: list[float] = field(default_factory=list)
    scenes: int = 0
    overlaps_expected: int = 0
    overlaps_decided: int = 0
    errors: list[str] = field(default_factory=list)


async def _one_scene(name: str, stack: str, shared: _Shared, figs: _SessionFigures) -> None:
    from sim.fake_stt import ScriptedSTT
    from sim.harness import EventKind
    from sim.scenes import SCENES, run_scene, scene_transcripts
    from sim.tts import ClipTTS

    scene = SCENES[name]
    r = await asyncio.wait_for(
        run_scene(
            scene,
            stack=session_stack(stack),
            stt=ScriptedSTT(scene_transcripts(scene)),
            vad=shared.vad,
            tts=ClipTTS(library=shared.tts_library),
            models=shared.models,
        ),
        timeout=SCENE_TIMEOUT_S,
    )
    figs.scenes += 1
    decided = 0
    for ev in r.events:
        if ev.kind is EventKind.DECISION and "latency_s" in ev.data:
            figs.decision_latencies_s.append(float(ev.data["latency_s"]))
            decided += 1
    if name in ("backchannel", "interruption") and stack in ARBITER_STACKS:
        figs.overlaps_expected += 1
        figs.overlaps_decided += min(1, decided)
    # onset of each user clip -> the session's VAD reporting the user speaking
    for ev in r.events:
        if ev.kind is EventKind.USER_SPEECH_START:
            heard = next(
                (
                    e.at_s
                    for e in r.events
                    if e.kind is EventKind.USER_STATE
                    and e.detail == "speaking"
                    and e.at_s >= ev.at_s
                ),
                None,
            )
            if heard is not None:
                figs.vad_latencies_s.append(heard - ev.at_s)
    if name == "interruption" and r.stop_latency_s is not None:
        figs.stop_latencies_s.append(r.stop_latency_s)
    if r.reply_latency_s is not None:
        figs.reply_latencies_s.append(r.reply_latency_s)


async def _session(
    i: int,
    stack: str,
    shared: _Shared,
    figs: _SessionFigures,
    delay_s: float,
    until_s: float | None,
) -> None:
    from sim.scenes import scene_names

    names = scene_names()
    await asyncio.sleep(delay_s)
    k = i
    loop = asyncio.get_running_loop()
    while True:
        name = names[k % len(names)]
        try:
            await _one_scene(name, stack, shared, figs)
        except Exception as exc:  # a failed session is a figure, not a crash of the run
            figs.errors.append(f"session {i} scene {name}: {type(exc).__name__}: {exc}")
        k += 1
        if until_s is None or loop.time() >= until_s:
            return


async def run_level(
    n: int, *, stack: str, shared: _Shared, seed: int, rounds: int = 1
) -> LevelResult:
    """Run `n` concurrent sessions, each playing `rounds` scenes (cycling the demo scenes
    so the three kinds are evenly mixed), and measure."""
    rng = random.Random(seed)
    figs = [_SessionFigures() for _ in range(n)]
    probe = LagProbe()
    load_start = os.getloadavg()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    probe.start()

    async def session_rounds(i: int) -> None:
        await asyncio.sleep(rng.uniform(0.0, STAGGER_S))
        for r in range(rounds):
            await _session(i + r, stack, shared, figs[i], 0.0, None)

    await asyncio.gather(*(session_rounds(i) for i in range(n)))
    await probe.stop()
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    dec = [x for f in figs for x in f.decision_latencies_s]
    stop = [x for f in figs for x in f.stop_latencies_s]
    reply = [x for f in figs for x in f.reply_latencies_s]
    errs = [e for f in figs for e in f.errors]
    vad = [x for f in figs for x in f.vad_latencies_s]
    return LevelResult(
        sessions=n,
        stack=stack,
        wall_s=round(wall, 2),
        cpu_s=round(cpu, 2),
        cpu_per_session_cores=round(cpu / wall / n, 4),
        failed=sum(1 for f in figs if f.errors),
        scenes=sum(f.scenes for f in figs),
        overlaps_expected=sum(f.overlaps_expected for f in figs),
        overlaps_decided=sum(f.overlaps_decided for f in figs),
        decisions=len(dec),
        vad_onset_latency_p50_s=_r(percentile(vad, 50)),
        vad_onset_latency_p95_s=_r(percentile(vad, 95)),
        decision_latency_p50_s=_r(percentile(dec, 50)),
        decision_latency_p95_s=_r(percentile(dec, 95)),
        stop_latency_p50_s=_r(percentile(stop, 50)),
        stop_latency_p95_s=_r(percentile(stop, 95)),
        reply_latency_p50_s=_r(percentile(reply, 50)),
        reply_latency_p95_s=_r(percentile(reply, 95)),
        loop_lag_p50_s=_r(percentile(probe.lags_s, 50)),
        loop_lag_p95_s=_r(percentile(probe.lags_s, 95)),
        loop_lag_max_s=_r(max(probe.lags_s, default=0.0)),
        load_avg_start=_load(load_start),
        load_avg_end=_load(os.getloadavg()),
        errors=errs[:20],
    )


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _load(x: tuple[float, float, float]) -> tuple[float, float, float]:
    return (round(x[0], 2), round(x[1], 2), round(x[2], 2))


def mark_degradation(levels: list[LevelResult]) -> None:
    """Flag each level whose stop latency p95 or loop lag p95 exceeds DEGRADE_RATIO x the
    first level's (by more than the noise floor), or that had failed sessions."""
    if not levels:
        return
    base = levels[0]
    for lv in levels:
        why: list[str] = []
        if lv.failed:
            why.append(f"{lv.failed} failed sessions")
        if lv.overlaps_decided < lv.overlaps_expected:
            why.append(f"{lv.overlaps_expected - lv.overlaps_decided} overlaps never decided")
        for name, floor in (
            ("stop_latency_p95_s", STOP_FLOOR_S),
            ("vad_onset_latency_p95_s", STOP_FLOOR_S),
            ("loop_lag_p95_s", LAG_FLOOR_S),
        ):
            b, v = getattr(base, name), getattr(lv, name)
            if b is not None and v is not None and v > DEGRADE_RATIO * b and v - b > floor:
                why.append(f"{name} {v:.3f} > {DEGRADE_RATIO} x {b:.3f} (N={base.sessions})")
        lv.degraded = bool(why)
        lv.degraded_because = why


def suggest_load_threshold(levels: list[LevelResult], cores: int) -> dict[str, Any]:
    """A `load_threshold` for the worker (LiveKit's load: the machine's CPU use, 0..1, above
    which no new job is dispatched), from the measured CPU cost of a session and where the
    levels degraded.

    Degradation here is CPU starvation (the session's VAD queues up): it starts when the
    sessions' demand (cost per session x N) exceeds the CPU the process gets. So the
    threshold must leave headroom below saturation for bursts (the loop's worst lag at the
    first level shows their size): 0.7 of the machine when the first level was healthy,
    0.5 when even the first level degraded. The advice is then sessions per core at that
    threshold."""
    if not levels:
        raise ValueError("no levels measured")
    first = levels[0]
    cost = first.cpu_per_session_cores
    threshold = 0.5 if first.degraded else 0.7
    ok = [lv.sessions for lv in levels if not lv.degraded]
    bad = [lv for lv in levels if lv.degraded]
    starved = [
        {
            "sessions": lv.sessions,
            "demand_cores": round(cost * lv.sessions, 2),
            "got_cores": round(lv.cpu_s / lv.wall_s, 2) if lv.wall_s > 0 else None,
        }
        for lv in bad
    ]
    return {
        "load_threshold": threshold,
        "cores_per_session": cost,
        "sessions_per_core_at_threshold": round(threshold / cost, 1) if cost > 0 else None,
        "largest_healthy_level": max(ok) if ok else None,
        "degraded_levels": starved,
        "machine_cores": cores,
        "why": (
            f"one session cost {cost:.3f} cores (N={first.sessions}); levels degraded where "
            "demand exceeded the CPU the process got; keep the machine below "
            f"{threshold:.0%} so bursts do not queue the VAD"
        ),
    }


def table(levels: list[LevelResult]) -> str:
    """The printed table."""

    def f(x: float | None, ms: bool = True) -> str:
        if x is None:
            return "-"
        return f"{x * 1000:.0f}" if ms else f"{x:.3f}"

    head = (
        f"{'N':>4} {'vad p95':>8} {'decided':>7} {'dec p50':>8} {'dec p95':>8} "
        f"{'stop p50':>8} {'stop p95':>8} "
        f"{'reply p50':>9} {'reply p95':>9} {'lag p95':>8} {'lag max':>8} "
        f"{'cpu/sess':>8} {'fail':>4} {'load1':>6}  degraded"
    )
    rows = [head, "     (latencies in ms; cpu/sess in cores)"]
    for lv in levels:
        rows.append(
            f"{lv.sessions:>4} {f(lv.vad_onset_latency_p95_s):>8} "
            f"{lv.overlaps_decided:>3}/{lv.overlaps_expected:<3} {f(lv.decision_latency_p50_s):>8} "
            f"{f(lv.decision_latency_p95_s):>8} {f(lv.stop_latency_p50_s):>8} "
            f"{f(lv.stop_latency_p95_s):>8} {f(lv.reply_latency_p50_s):>9} "
            f"{f(lv.reply_latency_p95_s):>9} {f(lv.loop_lag_p95_s):>8} "
            f"{f(lv.loop_lag_max_s):>8} {lv.cpu_per_session_cores:>8.3f} {lv.failed:>4} "
            f"{lv.load_avg_end[0]:>6.2f}  {'; '.join(lv.degraded_because) or 'no'}"
        )
    return "\n".join(rows)


def rss_mb() -> float:
    """Resident memory of this process, MB (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def slope_per_min(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    if len(samples) < 2:
        return None
    ts = [t for t, _ in samples]
    ys = [y for _, y in samples]
    mt, my = statistics.fmean(ts), statistics.fmean(ys)
    den = sum((t - mt) ** 2 for t in ts)
    if den == 0:
        return None
    return 60.0 * sum((t - mt) * (y - my) for t, y in samples) / den


async def run_soak(
    n: int, *, stack: str, shared: _Shared, minutes: float, sample_s: float, seed: int
) -> dict[str, Any]:
    """N sessions back to back for `minutes`; resident memory sampled every `sample_s`."""
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    until = t0 + minutes * 60.0
    figs = [_SessionFigures() for _ in range(n)]
    samples: list[tuple[float, float]] = [(0.0, rss_mb())]
    done = asyncio.Event()

    async def sampler() -> None:
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), timeout=sample_s)
            except TimeoutError:
                pass
            samples.append((round(loop.time() - t0, 1), round(rss_mb(), 1)))

    st = asyncio.create_task(sampler())
    load_start = os.getloadavg()
    cpu0 = time.process_time()
    await asyncio.gather(
        *(_session(i, stack, shared, figs[i], rng.uniform(0.0, STAGGER_S), until) for i in range(n))
    )
    done.set()
    await st
    wall = loop.time() - t0
    half = [s for s in samples if s[0] >= wall / 2]
    return {
        "sessions": n,
        "stack": stack,
        "minutes": round(wall / 60.0, 2),
        "scenes_played": sum(f.scenes for f in figs),
        "failed_scenes": sum(len(f.errors) for f in figs),
        "errors": [e for f in figs for e in f.errors][:20],
        "rss_start_mb": samples[0][1],
        "rss_end_mb": samples[-1][1],
        "rss_max_mb": max(y for _, y in samples),
        "rss_growth_mb": round(samples[-1][1] - samples[0][1], 1),
        "rss_slope_second_half_mb_per_min": _r(slope_per_min(half)),
        "cpu_per_session_cores": round((time.process_time() - cpu0) / wall / n, 4),
        "load_avg_start": _load(load_start),
        "load_avg_end": _load(os.getloadavg()),
        "samples": samples,
    }


def _parse_levels(text: str) -> list[int]:
    try:
        levels = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sessions takes comma-separated integers like 10,25,50, got {text!r}"
        ) from None
    if not levels or any(not 1 <= n <= 500 for n in levels):
        raise argparse.ArgumentTypeError(f"--sessions values must be in 1..500, got {text!r}")
    return levels


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench load", description=(__doc__ or "").splitlines()[0]
    )
    p.add_argument("--sessions", type=_parse_levels, default=list(DEFAULT_LEVELS))
    p.add_argument("--stack", default="ours")
    p.add_argument("--rounds", type=int, default=1, help="scenes per session per level (1..20)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--soak-minutes", type=float, default=None)
    p.add_argument("--sample-s", type=float, default=5.0)
    p.add_argument(
        "--rss-bound-mb",
        type=float,
        default=SOAK_RSS_BOUND_MB,
        help="soak fails (exit 1) when resident memory ever exceeds this (MB, 50..100000)",
    )
    return p


def main(argv: list[str]) -> int:
    """Run the load benchmark (see the module docstring); exit 0 when the run completed
    (whatever the figures; a soak whose memory went over `--rss-bound-mb` exits 1), 2 with a
    one-line reason on unusable options."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if args.stack not in STACK_NAMES:
        print(f"error: unknown stack {args.stack!r}: choose one of {', '.join(STACK_NAMES)}")
        return 2
    if not 1 <= args.rounds <= 20:
        print(f"error: --rounds must be in 1..20, got {args.rounds}")
        return 2
    if args.soak_minutes is not None and not 0.1 <= args.soak_minutes <= 240:
        print(f"error: --soak-minutes must be in 0.1..240, got {args.soak_minutes}")
        return 2
    if not 1.0 <= args.sample_s <= 60.0:
        print(f"error: --sample-s must be in 1..60, got {args.sample_s}")
        return 2
    if not 50.0 <= args.rss_bound_mb <= 100_000.0:
        print(f"error: --rss-bound-mb must be in 50..100000, got {args.rss_bound_mb}")
        return 2
    import logging

    # the sessions' own warnings at 50x would drown the table; errors still show
    logging.basicConfig(level=logging.ERROR)
    shared = _load_shared()
    cores = os.cpu_count() or 1
    env = {
        "cpu_count": cores,
        "python": sys.version.split()[0],
        "stt": "scripted (known words; real audio segmentation), not Whisper",
        "llm": "scripted (0.3 s to first token)",
        "tts": "pre-rendered clips",
        "vad": "livekit-plugins-silero",
        "process_model": "all sessions in one process, one event loop",
    }
    report: dict[str, Any] = {"command": "load", "stack": args.stack, "environment": env}
    if args.soak_minutes is not None:
        n = args.sessions[0]
        print(f"soak: {n} sessions for {args.soak_minutes} min, load {os.getloadavg()}")
        soak = asyncio.run(
            run_soak(
                n,
                stack=args.stack,
                shared=shared,
                minutes=args.soak_minutes,
                sample_s=args.sample_s,
                seed=args.seed,
            )
        )
        soak["rss_bound_mb"] = args.rss_bound_mb
        soak["within_bound"] = soak["rss_max_mb"] <= args.rss_bound_mb
        report["soak"] = soak
        print(
            f"soak: {soak['scenes_played']} scenes, {soak['failed_scenes']} failed; RSS "
            f"{soak['rss_start_mb']:.0f} -> {soak['rss_end_mb']:.0f} MB "
            f"(growth {soak['rss_growth_mb']:+.1f} MB, second-half slope "
            f"{soak['rss_slope_second_half_mb_per_min']} MB/min); load {soak['load_avg_end']}"
        )
        print(
            f"soak: RSS max {soak['rss_max_mb']:.0f} MB "
            f"{'within' if soak['within_bound'] else 'OVER'} the {args.rss_bound_mb:.0f} MB bound"
        )
    else:
        levels: list[LevelResult] = []
        for n in args.sessions:
            print(f"level N={n}: running (load average {_load(os.getloadavg())})", flush=True)
            lv = asyncio.run(
                run_level(n, stack=args.stack, shared=shared, seed=args.seed, rounds=args.rounds)
            )
            levels.append(lv)
        mark_degradation(levels)
        report["levels"] = [asdict(lv) for lv in levels]
        report["suggestion"] = suggest_load_threshold(levels, cores)
        print(table(levels))
        print(f"suggested load_threshold: {report['suggestion']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")
    if "soak" in report and not report["soak"]["within_bound"]:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
