"""The session runner: episodes run on the virtual clock with charged executor work (or in
real time on request), close without waiting for a transcript, and results of several
processes merge back in manifest order. Episodes are faked here; tests/test_sim_episodes.py
runs real ones."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench.evaluation import episodes, runners
from bench.evaluation.runners import SystemRun, merge_runs, run_session
from bench.evaluation.types import OverlapResultItem
from sim.virtual_time import ChargedExecutor, VirtualTimeLoop

MANIFEST = Path(__file__).parent / "fixtures" / "bench_cli" / "overlap.jsonl"


class FakeRunner:
    """Records how it was built and on which loop each episode ran; an episode "lasts"
    `EPISODE_S` of loop time and stops the agent for stack "stopper"."""

    EPISODE_S = 30.0
    built: list[dict[str, Any]] = []
    loops: list[tuple[str, bool, bool, float]] = []

    def __init__(self, **kwargs: Any) -> None:
        FakeRunner.built.append(kwargs)

    def load(self) -> None:
        pass

    async def run(self, **kw: Any) -> SimpleNamespace:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        virtual = isinstance(loop, VirtualTimeLoop)
        if virtual:
            await asyncio.sleep(self.EPISODE_S)  # free on the virtual clock
        charged = isinstance(getattr(loop, "_default_executor", None), ChargedExecutor)
        FakeRunner.loops.append((kw["stack"], virtual, charged, loop.time() - t0))
        stopped = kw["stack"] == "stopper"
        return SimpleNamespace(
            agent_stopped=stopped,
            decision=None,
            decided_at_s=0.5 if stopped else None,
            stop_latency_s=0.5 if stopped else None,
            user_turn_committed=stopped,
            llm_called=stopped,
            resumed=False,
            yield_latency_s=0.55 if stopped else None,
            heard_stop_latency_s=0.55 if stopped else None,
            ducked=False,
            duck_s=None,
        )


@pytest.fixture
def fake_runner(monkeypatch: pytest.MonkeyPatch) -> type[FakeRunner]:
    FakeRunner.built = []
    FakeRunner.loops = []
    monkeypatch.setattr(episodes, "EpisodeRunner", FakeRunner)
    return FakeRunner


def test_virtual_clock_runs_episodes_with_charged_executor(fake_runner: type[FakeRunner]) -> None:
    runs, info = run_session(MANIFEST, ["stopper", "keeper"])
    assert info["clock"] == "virtual" and info["n"] == 2
    assert fake_runner.built == [{"close_transcript_timeout_s": 0.0}]
    assert [(s, v, c) for s, v, c, _ in fake_runner.loops] == [
        ("stopper", True, True),
        ("keeper", True, True),
    ] * 2
    assert all(dt == pytest.approx(FakeRunner.EPISODE_S) for *_, dt in fake_runner.loops)
    stopper, keeper = runs
    assert [r["id"] for r in stopper.items] == ["bc-1", "int-1"]
    assert [r["decision"] for r in stopper.items] == ["interruption"] * 2
    assert [r["decision"] for r in keeper.items] == ["backchannel"] * 2
    assert [r["yield_latency_s"] for r in stopper.items] == [0.55] * 2
    assert [r["ducked"] for r in keeper.items] == [False] * 2
    assert len(stopper.item_cpu_s) == 2 and stopper.audio_s == pytest.approx(
        sum(stopper.item_audio_s)
    )


def test_real_clock_uses_a_normal_loop(fake_runner: type[FakeRunner]) -> None:
    _, info = run_session(MANIFEST, ["keeper"], clock="real", limit=1)
    assert info["clock"] == "real" and info["n"] == 1
    assert [(v, c) for _, v, c, _ in fake_runner.loops] == [(False, False)]


def test_bad_clock_or_jobs_is_refused() -> None:
    with pytest.raises(ValueError, match="clock"):
        run_session(MANIFEST, ["ours"], clock="sundial")
    with pytest.raises(ValueError, match="jobs"):
        run_session(MANIFEST, ["ours"], jobs=0)


def _part(ids: list[str], *, error: str | None = None) -> SystemRun:
    run = SystemRun(name="s", system="s", error=error)
    for k, item_id in enumerate(ids):
        run.results.append(OverlapResultItem(id=item_id, decision="backchannel", decided_at_s=None))
        run.item_cpu_s.append(1.0 + k)
        run.item_audio_s.append(2.0)
    return run


def test_merge_puts_results_back_in_manifest_order() -> None:
    # 5 items over 2 processes: process 0 took items 0, 2, 4 and process 1 items 1, 3
    chunks = [[0, 2, 4], [1, 3]]
    merged = merge_runs("s", [_part(["i0", "i2", "i4"]), _part(["i1", "i3"])], chunks)
    assert [r.id for r in merged.results] == ["i0", "i1", "i2", "i3", "i4"]
    assert merged.item_cpu_s == [1.0, 1.0, 2.0, 2.0, 3.0]
    assert merged.cpu_s == pytest.approx(9.0) and merged.audio_s == pytest.approx(10.0)
    assert merged.error is None


def test_merge_keeps_only_results_before_the_first_failure() -> None:
    # process 1 failed on item 3 (after item 1); process 0 ran on to item 4: one process
    # would have stopped at item 3, so items 3 and 4 are dropped
    chunks = [[0, 2, 4], [1, 3]]
    parts = [_part(["i0", "i2", "i4"]), _part(["i1"], error="s failed on i3: boom")]
    merged = merge_runs("s", parts, chunks)
    assert [r.id for r in merged.results] == ["i0", "i1", "i2"]
    assert merged.error == "s failed on i3: boom"
    assert merged.cpu_s == pytest.approx(1.0 + 1.0 + 2.0)
    # the earliest failure wins whichever process reports it
    parts = [_part(["i0"], error="s failed on i2: first"), _part(["i1"], error="late")]
    merged = merge_runs("s", parts, chunks)
    assert [r.id for r in merged.results] == ["i0", "i1"] and merged.error == (
        "s failed on i2: first"
    )


def test_session_clocks_are_documented() -> None:
    assert runners.SESSION_CLOCKS == ("virtual", "real")
