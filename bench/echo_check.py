"""How often the arbiter's echo gate calls the user's own voice echo, and how much of a real
echo it still catches, on the inputs it gets in real sessions.

`python -m bench.echo_check --manifest .cache/bench/full-evaluated/overlap/val-clean.jsonl
[--limit 100] [--jobs 2] [--gate other_echo.py]`

The overlap episodes of `bench session` (stack `ours`) are played once, and every call the
session makes on its `EchoGate` (the agent's audio as played, the microphone frames,
the clears) is recorded (cached under `.cache/bench/echo/`). The recordings are then
replayed into fresh gates, as often as wanted:

- as recorded: the simulated microphone hears the user and no echo (a room whose echo
  cancellation works), so every user frame the gate calls echo is a false one. Reported:
  user frames called echo, and episodes with any in the first 0.5 s of the user's speech
  (where they cost the early decision);
- with a synthetic echo: the agent's played audio, delayed and attenuated (60 ms / -20 dB,
  300 ms / -20 dB, 60 ms / -10 dB), added to the same microphone, every frame classified.
  Reported: frames with echo and no user that the gate calls echo (want: all), and user
  frames over the echo at least as loud as it that it calls echo (want: none).

`--gate FILE` replays with the `EchoGate` of another copy of `plugins/arbiter/echo.py` as
well (e.g. `git show <rev>:plugins/arbiter/echo.py > old_echo.py`), in the same run.
Val only (`refuse_test_manifests`): this is a development check.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import pickle
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from bench.manifest import refuse_test_manifests, spread_subset
from bench.types import Samples

__all__ = ["EchoResult", "NoEchoResult", "Recording", "check_echo", "check_no_echo", "main"]

USER_DB = -45.0
"""A microphone frame this loud or louder holds speech (the arbiter's voiced floor is
-50 dBFS), dBFS."""
SILENT_DB = -70.0
"""A frame of the recorded microphone this quiet holds no user sound, dBFS."""
EARLY_S = 0.5
"""The first part of the user's speech where a false echo delays the early decision, s."""
ECHOES: tuple[tuple[float, float], ...] = ((0.06, -20.0), (0.3, -20.0), (0.06, -10.0))
"""Synthetic echoes added to the recorded microphone: (delay s, gain dB)."""
CACHE_DIR = Path(".cache/bench/echo")


class Gate(Protocol):
    """What the replay needs of an echo gate (`turntaking.arbiter.echo.EchoGate`'s methods)."""

    def push_reference(self, samples: Samples, sample_rate_hz: int, start_s: float) -> None: ...

    def clear_reference(self, after_s: float) -> None: ...

    def push_input(
        self, samples: Samples, sample_rate_hz: int, start_s: float, *, classify: bool = True
    ) -> Any: ...


@dataclass
class Recording:
    """The gate calls of one episode, in order: ("ref", samples, rate, start_s),
    ("clear", after_s) and ("in", samples, rate, start_s, classify)."""

    item_id: str
    calls: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class NoEchoResult:
    user_frames: int = 0
    """Classified microphone frames holding the user's speech."""
    called_echo: int = 0
    """Of those, called echo."""
    episodes: int = 0
    """Episodes with classified user speech."""
    early_hit: int = 0
    """Episodes with a user frame called echo within `EARLY_S` of the first classified one."""


@dataclass
class EchoResult:
    echo_frames: int = 0
    """Frames with the synthetic echo (>= `USER_DB`) and no user sound (< `SILENT_DB`)."""
    echo_gated: int = 0
    user_frames: int = 0
    """Frames with the user's speech at least as loud as the echo."""
    user_gated: int = 0


def _frame_db(x: Samples) -> float:
    return float(10.0 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def _replay(
    rec: Recording, gate: Gate, echo: Samples | None = None, rate_hz: int = 0, t0_s: float = 0.0
) -> Iterator[tuple[float, Samples, Samples | None, Any]]:
    """Feed `rec`'s calls to `gate` in order; for each microphone frame classified, yield
    (its stream time, recorded samples, the `echo` samples added or None, verdict). With
    `echo` (a signal at `rate_hz` starting at stream time `t0_s`) it is added to every
    microphone frame and every frame is classified."""
    for c in rec.calls:
        if c[0] == "ref":
            gate.push_reference(c[1], c[2], c[3])
        elif c[0] == "clear":
            gate.clear_reference(c[1])
        elif echo is None:
            v = gate.push_input(c[1], c[2], c[3], classify=c[4])
            if c[4]:
                yield c[3], c[1], None, v
        else:
            mic = c[1]
            i = int(round((c[3] - t0_s) * rate_hz))
            e = echo[i : i + mic.size]
            e = np.pad(e, (0, mic.size - e.size))
            v = gate.push_input((mic + e).astype(np.float32), c[2], c[3], classify=True)
            yield c[3], mic, e, v


def check_no_echo(recs: Sequence[Recording], make_gate: Callable[[], Gate]) -> NoEchoResult:
    """Replay each recording as it was (no echo in the microphone)."""
    out = NoEchoResult()
    for rec in recs:
        user = [
            (t, bool(v.is_echo))
            for t, mic, _, v in _replay(rec, make_gate())
            if _frame_db(mic) >= USER_DB
        ]
        if not user:
            continue
        out.episodes += 1
        out.user_frames += len(user)
        out.called_echo += sum(e for _, e in user)
        first = user[0][0]
        out.early_hit += any(e for t, e in user if t - first < EARLY_S)
    return out


def played_reference(rec: Recording, rate_hz: int, t0_s: float, n: int) -> Samples:
    """The agent's audio as it played (pushed, less what a clear dropped), resampled to
    `rate_hz` on a grid of `n` samples from stream time `t0_s`."""
    pushes: list[list[Any]] = []
    for c in rec.calls:
        if c[0] == "ref":
            pushes.append([c[1], c[2], c[3]])
        elif c[0] == "clear":
            for p in pushes:
                keep = int(max(0.0, c[1] - p[2]) * p[1])
                p[0] = p[0][:keep]
    y = np.zeros(n, np.float32)
    for s, r, t in pushes:
        if s.size == 0:
            continue
        m = int(s.size * rate_hz / r)
        rs = np.interp(np.arange(m) * r / rate_hz, np.arange(s.size), s).astype(np.float32)
        i = int(round((t - t0_s) * rate_hz))
        a, b = max(0, i), min(n, i + m)
        if a < b:
            y[a:b] += rs[a - i : b - i]
    return y


def check_echo(
    recs: Sequence[Recording], make_gate: Callable[[], Gate], delay_s: float, gain_db: float
) -> EchoResult:
    """Replay each recording with the played reference, delayed by `delay_s` and scaled by
    `gain_db`, added to its microphone; every microphone frame is classified."""
    out = EchoResult()
    for rec in recs:
        ins = [c for c in rec.calls if c[0] == "in"]
        if not ins:
            continue
        rate = int(ins[0][2])
        t0 = float(ins[0][3]) - 1.0
        n = int((float(ins[-1][3]) + 1.0 - t0) * rate)
        ref = played_reference(rec, rate, t0, n)
        d = int(round(delay_s * rate))
        echo = np.concatenate([np.zeros(d, np.float32), ref])[:n] * np.float32(10 ** (gain_db / 20))
        for _, mic, e, v in _replay(rec, make_gate(), echo, rate, t0):
            assert e is not None  # an echo was given
            user_db, echo_db = _frame_db(mic), _frame_db(e)
            if echo_db >= USER_DB and user_db < SILENT_DB:
                out.echo_frames += 1
                out.echo_gated += bool(v.is_echo)
            elif user_db >= USER_DB and user_db >= echo_db:
                out.user_frames += 1
                out.user_gated += bool(v.is_echo)
    return out


# ---------------------------------------------------------------------------- recording


def _record_chunk(manifest: Path, limit: int | None, k: int, jobs: int) -> list[Recording]:
    """Play items k, k+jobs, ... of the spread subset in sessions, recording the gate."""
    from livekit.plugins.turntaking.arbiter import echo

    from bench.runners import load_item_audio, load_overlap_items
    from bench.types import BENCH_SAMPLE_RATE_HZ
    from sim import episodes, virtual_time

    current: list[Recording] = []
    cls = echo.EchoGate
    push_ref, push_in, clear = cls.push_reference, cls.push_input, cls.clear_reference

    def rec_ref(self: Any, samples: Samples, rate: int, start_s: float) -> None:
        current[-1].calls.append(("ref", np.array(samples, np.float32), rate, start_s))
        push_ref(self, samples, rate, start_s)

    def rec_in(
        self: Any, samples: Samples, rate: int, start_s: float, *, classify: bool = True
    ) -> Any:
        current[-1].calls.append(("in", np.array(samples, np.float32), rate, start_s, classify))
        return push_in(self, samples, rate, start_s, classify=classify)

    def rec_clear(self: Any, after_s: float) -> None:
        current[-1].calls.append(("clear", after_s))
        clear(self, after_s)

    # this process only plays episodes: the class is wrapped for its lifetime
    cls.push_reference = rec_ref  # type: ignore[method-assign,assignment]
    cls.push_input = rec_in  # type: ignore[method-assign,assignment]
    cls.clear_reference = rec_clear  # type: ignore[method-assign]
    items = spread_subset(load_overlap_items(manifest), limit)[k::jobs]
    runner = episodes.EpisodeRunner(close_transcript_timeout_s=0.0)
    runner.load()

    async def play() -> None:
        for it in items:
            current.append(Recording(it.id))
            await runner.run(
                agent_text=it.agent_text or "",
                user_audio=load_item_audio(it.audio),
                user_sample_rate=BENCH_SAMPLE_RATE_HZ,
                onset_s=it.onset_s,
                stack="ours",
            )

    virtual_time.run_virtual(play(), default_executor=virtual_time.ChargedExecutor())
    return current


def record(manifest: Path, limit: int | None, jobs: int) -> list[Recording]:
    """Every episode's gate calls, in manifest order (`jobs` processes)."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = [pool.submit(_record_chunk, manifest, limit, k, jobs) for k in range(jobs)]
        parts = [f.result() for f in futures]
    out: list[Recording] = []
    for i in range(max(len(p) for p in parts)):
        out += [p[i] for p in parts if i < len(p)]
    return out


def load_gate_module(path: Path) -> ModuleType:
    """Import another copy of the echo gate's module from `path`."""
    spec = importlib.util.spec_from_file_location(f"echo_check_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot import {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def report(name: str, recs: Sequence[Recording], make_gate: Callable[[], Gate]) -> str:
    """One table row: no-echo false echo, then each synthetic echo."""
    ne = check_no_echo(recs, make_gate)
    cells = [
        f"{ne.called_echo}/{ne.user_frames} ({ne.called_echo / max(1, ne.user_frames):.1%}); "
        f"{ne.early_hit} of {ne.episodes}"
    ]
    for delay_s, gain_db in ECHOES:
        r = check_echo(recs, make_gate, delay_s, gain_db)
        gated = r.echo_gated / max(1, r.echo_frames)
        cells.append(f"{gated:.1%} / {r.user_gated / max(1, r.user_frames):.1%}")
    return f"| {name} | " + " | ".join(cells) + " |"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--manifest", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=100, help="N items spread over the manifest")
    ap.add_argument("--jobs", type=int, default=2, help="processes for the recording")
    ap.add_argument("--gate", type=Path, action="append", default=[], help="another echo.py")
    ap.add_argument("--cache", type=Path, default=CACHE_DIR)
    args = ap.parse_args(argv)
    if refuse_test_manifests([args.manifest], "this is a development check on val"):
        return 2
    if args.jobs < 1 or args.limit < 1:
        ap.error("--jobs and --limit must be >= 1")
    cached = args.cache / f"{args.manifest.stem}-{args.limit}.pkl"
    if cached.is_file():
        recs: list[Recording] = pickle.loads(cached.read_bytes())
    else:
        recs = record(args.manifest, args.limit, args.jobs)
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(pickle.dumps(recs))
    from livekit.plugins.turntaking.arbiter import echo

    gates: list[tuple[str, Callable[[], Gate]]] = [("shipped", echo.EchoGate)]
    gates += [(str(p), load_gate_module(p).EchoGate) for p in args.gate]
    echoes = " | ".join(f"echo {d * 1000:.0f} ms {g:.0f} dB: gated / user gated" for d, g in ECHOES)
    print(f"{len(recs)} episodes of {args.manifest} (recording: {cached})\n")
    head = f"no echo: user frames called echo; episodes in the first {EARLY_S} s"
    print(f"| gate | {head} | {echoes} |")
    print("| --- | --- |" + " --- |" * len(ECHOES))
    for name, make in gates:
        print(report(name, recs, make), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
