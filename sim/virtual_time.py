"""Virtual time for session tests: a loop whose clock jumps to the next timer when idle.

A scene that lasts 10 s of conversation runs in a fraction of a second and deterministically.
It only works when nothing computes off the loop: use `InlineExecutor` for models that take an
executor (e.g. `livekit.agents.inference.VAD(executor=InlineExecutor())`) and a scripted STT.
`run_virtual(coro)` also points `time.time()` / `time.perf_counter()` at the virtual clock for
the duration of the run (the framework reads them for speech timestamps and delays). Pydantic
`default_factory=time.time` fields captured at import still read the real clock, so the
`created_at` order of chat items is not reliable under virtual time: assert on roles and on
the recorder's timeline instead, and run one scene per `run_virtual` call.

Use real time (a normal loop) for latency figures: virtual time makes inference free.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor, Future
from typing import Any, TypeVar
from unittest import mock

T = TypeVar("T")

_REAL_TIME = time.time
_REAL_PERF = time.perf_counter
_TIE_BREAK_S = 1e-9
"""Nudge that keeps same-instant timers in scheduling order."""


class InlineExecutor(Executor):
    """Runs submitted work synchronously on the caller's thread (no real time passes)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        fut: Future[T] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # the future carries it to the awaiting task
            fut.set_exception(e)
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
    """Event loop on a virtual clock starting at 0 s."""

    def __init__(self) -> None:
        self._virtual_s = 0.0
        self._wall_zero = _REAL_TIME()
        self._tie = 0
        super().__init__(selector=_AutojumpSelector(self))
        self._clock_resolution = 1e-12

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


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion on a fresh VirtualTimeLoop with wall clocks virtualized."""
    loop = VirtualTimeLoop()

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
