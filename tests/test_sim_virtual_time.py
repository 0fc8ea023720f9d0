"""The charged executor on the virtual-time loop: each call's measured cost (a fake timer the
work itself advances) is paid on the virtual clock before its result arrives, one call after
another per lane. No test waits in real time."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import time

import pytest

from sim.virtual_time import ChargedExecutor, owner_lane, process_cpu_s, run_virtual


class FakeTimer:
    """A timer that only moves when work says it took time."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s

    def work(self, cost_s: float, value: str) -> str:
        """Pretend to compute for `cost_s` seconds; returns `value`."""
        self.now_s += cost_s
        return value


class Model:
    """Stands for a model instance whose method runs in the executor."""

    def __init__(self, timer: FakeTimer, cost_s: float) -> None:
        self.timer = timer
        self.cost_s = cost_s
        self.seen: list[int] = []

    def infer(self, x: int) -> int:
        self.timer.now_s += self.cost_s
        self.seen.append(x)
        return x * 2


def _arrivals(
    ex: ChargedExecutor, jobs: list[tuple[float, float]], timer: FakeTimer
) -> list[float]:
    """Submit one `timer.work(cost)` per (submit_at_s, cost_s) and return when each result
    arrived, virtual seconds."""

    async def one(at_s: float, cost_s: float) -> float:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(at_s)
        await loop.run_in_executor(None, timer.work, cost_s, "x")
        return loop.time()

    async def main() -> list[float]:
        return list(await asyncio.gather(*(one(a, c) for a, c in jobs)))

    return run_virtual(main(), default_executor=ex)


def test_result_arrives_after_its_charged_cost() -> None:
    timer = FakeTimer()
    ex = ChargedExecutor(timer=timer)
    assert _arrivals(ex, [(0.0, 0.5)], timer) == [pytest.approx(0.5, abs=1e-6)]
    assert ex.calls == 1 and ex.charged_s == pytest.approx(0.5)


def test_calls_in_one_lane_are_served_one_after_another() -> None:
    timer = FakeTimer()
    ex = ChargedExecutor(timer=timer, lane_of=lambda _fn: None)
    # both at 0: the second starts when the first finishes (0.5) -> 0.8; the third is
    # submitted at 2.0 with the lane idle, so it starts then
    got = _arrivals(ex, [(0.0, 0.5), (0.0, 0.3), (2.0, 0.2)], timer)
    assert got == [pytest.approx(v, abs=1e-6) for v in (0.5, 0.8, 2.2)]


def test_separate_lanes_run_side_by_side() -> None:
    timer = FakeTimer()
    whisper, vad = Model(timer, 1.0), Model(timer, 0.01)

    async def main() -> tuple[float, float, list[int]]:
        loop = asyncio.get_running_loop()
        slow = asyncio.ensure_future(asyncio.to_thread(whisper.infer, 1))
        t_vad = []
        for k in range(3):  # a VAD stream's windows, each awaited before the next
            await loop.run_in_executor(None, vad.infer, k)
            t_vad.append(loop.time())
        await slow
        return t_vad[-1], loop.time(), vad.seen

    last_vad, slow_done, seen = run_virtual(main(), default_executor=ChargedExecutor(timer=timer))
    # the VAD does not queue behind the 1 s call of the other model
    assert last_vad == pytest.approx(0.03, abs=1e-6)
    assert slow_done == pytest.approx(1.0, abs=1e-6)
    assert seen == [0, 1, 2]


def test_to_thread_calls_on_one_model_share_its_lane() -> None:
    timer = FakeTimer()
    model = Model(timer, 0.4)

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()

        async def call(x: int) -> float:
            assert await asyncio.to_thread(model.infer, x) == 2 * x
            return loop.time()

        return list(await asyncio.gather(call(1), call(2)))

    got = run_virtual(main(), default_executor=ChargedExecutor(timer=timer))
    assert got == [pytest.approx(0.4, abs=1e-6), pytest.approx(0.8, abs=1e-6)]
    assert model.seen == [1, 2]  # run in submit order


def test_owner_lane_looks_through_to_thread_wrappers() -> None:
    timer = FakeTimer()
    a, b = Model(timer, 0.0), Model(timer, 0.0)
    ctx = contextvars.copy_context()
    wrapped = functools.partial(ctx.run, a.infer, 1)
    assert owner_lane(wrapped) == owner_lane(a.infer) == owner_lane(functools.partial(a.infer))
    assert owner_lane(a.infer) != owner_lane(b.infer)
    assert owner_lane(len) == owner_lane(len)


def test_an_exception_arrives_after_the_charged_cost() -> None:
    timer = FakeTimer()

    def fail() -> None:
        timer.now_s += 0.25
        raise ValueError("boom")

    async def main() -> float:
        loop = asyncio.get_running_loop()
        with pytest.raises(ValueError, match="boom"):
            await loop.run_in_executor(None, fail)
        return loop.time()

    assert run_virtual(main(), default_executor=ChargedExecutor(timer=timer)) == pytest.approx(
        0.25, abs=1e-6
    )


def test_a_cancelled_wait_still_holds_the_lane() -> None:
    timer = FakeTimer()
    ex = ChargedExecutor(timer=timer, lane_of=lambda _fn: None)
    errors: list[object] = []

    async def main() -> float:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
        first = asyncio.ensure_future(loop.run_in_executor(None, timer.work, 1.0, "a"))
        await asyncio.sleep(0.1)
        first.cancel()
        await loop.run_in_executor(None, timer.work, 0.5, "b")
        done = loop.time()
        await asyncio.sleep(2.0)  # past the cancelled call's delivery
        return done

    assert run_virtual(main(), default_executor=ex) == pytest.approx(1.5, abs=1e-6)
    assert errors == []


def test_without_a_running_loop_the_result_is_ready_at_once() -> None:
    timer = FakeTimer()
    fut = ChargedExecutor(timer=timer).submit(timer.work, 3.0, "now")
    assert fut.done() and fut.result() == "now"


def test_default_timer_charges_the_process_cpu_time_of_the_work() -> None:
    burn_s = 0.05

    def burn() -> None:
        t0 = time.process_time()
        while time.process_time() - t0 < burn_s:
            pass

    async def main() -> float:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, burn)
        return loop.time()

    ex = ChargedExecutor()
    took = run_virtual(main(), default_executor=ex)
    assert ex.charged_s >= burn_s
    assert took == pytest.approx(ex.charged_s, abs=1e-6)
    assert process_cpu_s() > 0


def _burn(cpu_s: float) -> int:
    """Compute for `cpu_s` seconds of process CPU; returns the thread it ran on."""
    t0 = time.process_time()
    while time.process_time() - t0 < cpu_s:
        pass
    return threading.get_ident()


def test_off_loop_work_runs_inline_by_default_and_takes_no_virtual_time() -> None:
    # a real thread pool would let the clock jump through the ticker's timers while the work
    # computes, by an amount that depends on the machine's load
    async def main() -> tuple[int, float, int]:
        loop = asyncio.get_running_loop()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick_task = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        ran_on = await asyncio.to_thread(_burn, 0.05)
        ran_on_too = await loop.run_in_executor(None, _burn, 0.05)
        assert ran_on_too == ran_on
        at_s = loop.time()
        tick_task.cancel()
        return ran_on, at_s, ticks

    ran_on, at_s, ticks = run_virtual(main())
    assert ran_on == threading.get_ident()
    assert at_s == 0.0 and ticks == 0


def test_a_session_scene_gives_the_same_timeline_every_run() -> None:
    # LiveKit's default turn handling asks its local end-of-turn model, which predicts
    # through asyncio.to_thread: on a real thread pool the clock ran on while it computed
    from livekit.agents import inference

    from sim.fake_stt import ScriptedSTT
    from sim.lines import AGENT_LINES
    from sim.scenes import SCENES, run_scene, scene_transcripts
    from sim.stacks import StackSetup
    from sim.tts import ClipLibrary, ClipTTS
    from sim.virtual_time import InlineExecutor

    scene = SCENES["interruption"]
    defaults = StackSetup(name="defaults", description="LiveKit defaults", turn_handling={})

    async def once() -> list[tuple[str, float]]:
        result = await run_scene(
            scene,
            stack=defaults,
            stt=ScriptedSTT(scene_transcripts(scene)),
            vad=inference.VAD(executor=InlineExecutor()),
            tts=ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES)),
        )
        return [(e.kind.value, e.at_s) for e in result.events]

    runs = [run_virtual(once()) for _ in range(3)]
    assert any(kind == "user turn committed" for kind, _ in runs[0])
    assert runs[1] == runs[0] and runs[2] == runs[0]
