"""Virtual time for session tests: a loop whose clock jumps to the next timer when idle.

A scene that lasts 10 s of conversation runs in a fraction of a second and deterministically.
It only works when nothing computes off the loop: work on a real thread lets the clock jump
past timers while it computes, by an amount that depends on the machine's load. So the loop's
default executor (what `asyncio.to_thread` and `run_in_executor(None, ...)` use, e.g. the
framework's local end-of-turn model and LocalSTT) is an `InlineExecutor`; models that take an
executor of their own need one too (e.g. `livekit.agents.inference.VAD(executor=
InlineExecutor())`), and the STT is scripted.
`run_virtual(coro)` also points `time.time()` / `time.perf_counter()` at the virtual clock for
the duration of the run (the framework reads them for speech timestamps and delays). Pydantic
`default_factory=time.time` fields captured at import still read the real clock, so the
`created_at` order of chat items is not reliable under virtual time: assert on roles and on
the recorder's timeline instead, and run one scene per `run_virtual` call.

With `InlineExecutor` inference is free: use real time (a normal loop) or `ChargedExecutor`
for latency figures. `ChargedExecutor` runs executor work inline too, but delivers each result
only after the work's measured cost has passed on the virtual clock (see its docstring), so
latencies that depend on off-loop inference (Whisper, Silero) stay comparable with real time.
Work done on the loop itself stays free under either executor.
"""

from __future__ import annotations

import asyncio
import functools
import selectors
import time
import types
from collections.abc import Callable, Coroutine, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import Context
from typing import Any, TypeVar
from unittest import mock

T = TypeVar("T")

_REAL_TIME = time.time
_REAL_PERF = time.perf_counter
_TIE_BREAK_S = 1e-9
"""Nudge that keeps same-instant timers in scheduling order."""


class InlineExecutor(ThreadPoolExecutor):
    """Runs submitted work synchronously on the caller's thread (no virtual time passes, no
    thread is ever started). It is a `ThreadPoolExecutor` only because an event loop
    accepts nothing else as its default executor."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        fut: Future[T] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # the future carries it to the awaiting task
            fut.set_exception(e)
        return fut


def process_cpu_s() -> float:
    """CPU seconds used by this process so far (all threads; never virtualized)."""
    return time.process_time()


def owner_lane(fn: Callable[..., Any]) -> Hashable:
    """The object whose work `fn` is: the instance of a bound method, the callable object
    itself, or the function; `functools.partial` and `Context.run` wrappers (what
    `asyncio.to_thread` submits) are looked through."""
    target: Any = fn
    while isinstance(target, functools.partial):
        # asyncio.to_thread submits partial(context.run, func, *args)
        if isinstance(getattr(target.func, "__self__", None), Context) and target.args:
            target = target.args[0]
        else:
            target = target.func
    owner = getattr(target, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        return id(owner)
    return id(target)


class ChargedExecutor(ThreadPoolExecutor):
    """Runs submitted work inline and charges its measured cost as virtual time.

    The charging rule, per call, in seconds of the running loop's clock:

        cost     = timer() after the call - timer() before it
        start    = max(loop.time() at submit, finish of the previous call in the same lane)
        finish   = start + cost
        the returned future resolves (result or exception) at `finish`

    That is the timing of one dedicated worker thread per lane that gets a core to itself:
    calls in a lane are served one after the other in submit order, and a call cannot start
    before the previous one in its lane has finished. The work itself runs at submit time
    (its arguments are fixed then, and submit order is the order a FIFO worker would run it
    in, which keeps stateful models such as Silero's recurrent state right); only the
    delivery waits. The loop keeps running other callbacks until then, as it would while a
    real worker computes.

    `timer` (seconds, monotonic) defaults to the process CPU time: the work's own CPU,
    whatever else loads the machine. The calling thread's CPU time would miss it: Whisper
    (CTranslate2) computes on the library's own thread while the caller waits. Process CPU
    over-counts work that spreads over several cores at once (the project's Whisper and
    Silero use one intra-op thread each).

    `lane_of` maps a submitted callable to its lane (default `owner_lane`: one lane per model
    instance, matching the real thread pool, where a VAD stream's inference runs beside a
    Whisper call rather than queueing behind it); `lambda fn: None` gives one worker for all.

    Submitting with no running loop runs the work and returns a finished future. It is a
    `ThreadPoolExecutor` only because the loop accepts nothing else as its default executor;
    it never starts a thread.
    """

    def __init__(
        self,
        *,
        timer: Callable[[], float] = process_cpu_s,
        lane_of: Callable[[Callable[..., Any]], Hashable] = owner_lane,
    ) -> None:
        super().__init__(max_workers=1)
        self._timer = timer
        self._lane_of = lane_of
        self._busy_until: dict[Hashable, float] = {}
        self.charged_s = 0.0
        """Total cost charged so far, seconds."""
        self.calls = 0
        """Calls run so far."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        fut: Future[T] = Future()
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        t0 = self._timer()
        result: Any = None
        error: BaseException | None = None
        try:
            result = fn(*args, **kwargs)
        except BaseException as e:  # the future carries it to the awaiting task
            error = e
        cost = max(0.0, self._timer() - t0)
        self.calls += 1
        self.charged_s += cost

        def deliver() -> None:
            # a cancelled future (its awaiting task gave up) still used its lane's time
            if not fut.set_running_or_notify_cancel():
                return
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)

        if loop is None:
            deliver()
            return fut
        lane = self._lane_of(fn)
        start = max(loop.time(), self._busy_until.get(lane, float("-inf")))
        finish = start + cost
        self._busy_until[lane] = finish
        loop.call_at(finish, deliver)
        return fut


class _AutojumpSelector(selectors.BaseSelector):
    """Never sleeps: a select with a timeout advances the virtual clock instead."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._loop = loop
        self._real = selectors.DefaultSelector()

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            # nothing scheduled: only another thread can wake the loop
            return self._real.select(None)
        self._loop.advance(timeout)
        return []

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """Event loop on a virtual clock starting at 0 s. Its default executor is an
    `InlineExecutor` (set another with `set_default_executor`, e.g. a `ChargedExecutor`)."""

    def __init__(self) -> None:
        self._virtual_s = 0.0
        self._wall_zero = _REAL_TIME()
        self._tie = 0
        super().__init__(selector=_AutojumpSelector(self))
        self._clock_resolution = 1e-12
        self.set_default_executor(InlineExecutor())

    def time(self) -> float:
        return self._virtual_s

    def advance(self, seconds: float) -> None:
        """Move the clock forward (called by the selector when the loop is idle)."""
        if seconds > 0:
            self._virtual_s += seconds

    def wall_time(self) -> float:
        """A `time.time()`-like reading on the virtual clock."""
        return self._wall_zero + self._virtual_s

    def call_at(  # type: ignore[override]
        self, when: float, callback: Any, *args: Any, **kwargs: Any
    ) -> Any:
        self._tie += 1
        return super().call_at(when + self._tie * _TIE_BREAK_S, callback, *args, **kwargs)


def run_virtual(
    coro: Coroutine[Any, Any, T], *, default_executor: ThreadPoolExecutor | None = None
) -> T:
    """Run `coro` to completion on a fresh VirtualTimeLoop with wall clocks virtualized;
    `default_executor` (e.g. a `ChargedExecutor`) serves `run_in_executor(None, ...)` and
    `asyncio.to_thread` (default: an `InlineExecutor`: that work runs on the loop's thread
    and takes no virtual time, so a run is the same whatever the machine's load)."""
    loop = VirtualTimeLoop()
    if default_executor is not None:
        loop.set_default_executor(default_executor)

    def fake_time() -> float:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return _REAL_TIME()
        return loop.wall_time() if running is loop else _REAL_TIME()

    def fake_perf() -> float:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return _REAL_PERF()
        return loop.time() if running is loop else _REAL_PERF()

    try:
        with mock.patch("time.time", fake_time), mock.patch("time.perf_counter", fake_perf):
            return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
