"""How many customers ``/health`` says the registry holds, without counting a big registry on
every request.

Counting is a scan of the customers table (about 300 ms at a million customers on SQLite, and
no database counts rows in constant time), and ``/health`` is asked every few seconds by
monitoring.  So a registry below :data:`EXACT_BELOW` customers is counted on every request (the
figure is exact, as operators and the simulator's scenarios read it), and a bigger one is
counted again at most every :data:`MAX_AGE_S` seconds — or, when counting takes long, no more
than a :data:`BUDGET` of the time (10 M customers take seconds) — in the background, while the
answer gives the figure it has and how old it is.  Whether the database answers is still asked
every time (a ``SELECT 1``), so ``/health`` says at once when it is away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger("selfreg.server")

EXACT_BELOW = 100_000
MAX_AGE_S = 60.0
BUDGET = 0.01  # of one core's time spent counting, at most


class CustomerCount:
    """``count`` and ``ping`` are blocking registry calls (run in a thread); ``clock`` gives
    monotonic seconds (tests move it)."""

    def __init__(self, count: Callable[[], int], ping: Callable[[], None], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._count = count
        self._ping = ping
        self._clock = clock
        self._value: int | None = None
        self._at = 0.0
        self._took = 0.0
        self._refreshing: asyncio.Task[None] | None = None

    async def get(self) -> tuple[int, float]:
        """The number of live customers and how many seconds ago it was counted; raises what
        the database raised when it does not answer."""
        if self._value is None and self._refreshing is not None:
            await asyncio.shield(self._refreshing)  # the first count, begun at start
        if self._value is None or self._value < EXACT_BELOW:
            await self._recount()
        else:
            await asyncio.to_thread(self._ping)
            if self._clock() - self._at >= max(MAX_AGE_S, self._took / BUDGET) and (
                    self._refreshing is None or self._refreshing.done()):
                self._refreshing = asyncio.create_task(self._recount_quietly())
        assert self._value is not None
        return self._value, max(0.0, self._clock() - self._at)

    def start(self) -> None:
        """Count once in the background (the bridge starting need not wait for it)."""
        self._refreshing = asyncio.create_task(self._recount_quietly())

    async def _recount(self) -> None:
        at = self._clock()
        self._value = await asyncio.to_thread(self._count)
        self._at, self._took = at, self._clock() - at

    async def _recount_quietly(self) -> None:
        try:
            await self._recount()
        except Exception as exc:  # the next request pings and says so; keep the old figure
            log.warning("customer_count_failed", error=type(exc).__name__)

    async def counted(self) -> None:
        """Wait for a count under way, if any."""
        if self._refreshing is not None:
            await asyncio.shield(self._refreshing)

    async def close(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
            await asyncio.gather(self._refreshing, return_exceptions=True)
