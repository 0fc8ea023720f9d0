"""One clock for everything the harness records: the event loop's time since a zero."""

from __future__ import annotations

import asyncio


class SimClock:
    """Seconds since `zero`, read from the running loop (so a virtual-time loop works too)."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._zero = self._loop.time()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop whose time this clock reads."""
        return self._loop

    def now(self) -> float:
        """Seconds since the clock's zero."""
        return self._loop.time() - self._zero

    def reset(self) -> None:
        """Move the zero to now."""
        self._zero = self._loop.time()

    async def sleep_until(self, t_s: float) -> None:
        """Sleep until clock time `t_s` (returns at once if it has passed)."""
        delay = t_s - self.now()
        if delay > 0:
            await asyncio.sleep(delay)
