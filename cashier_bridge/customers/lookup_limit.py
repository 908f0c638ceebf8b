"""How many personnummer look-ups one caller may make: the rule, pure (no clock, no I/O).

A masked personnummer (``19850312-****``) leaves about a thousand candidates, and anything that
answers "this number belongs to customer N" lets a caller try them all in seconds.  So whoever
compares a number they typed with the registry — a staff member, an API token, a lane's cashier
console, a kiosk — gets a budget: at most ``limit`` look-ups in any ``window_s`` seconds, then a
wait until the oldest of them leaves the window.

The caller of :func:`wait_s` decides what counts as a look-up.  The registry's guard
(:mod:`cashier_bridge.registry.lookups`) counts distinct numbers per actor and reads the times
from the database, so every bridge process of a chain shares one count; the lane machine can
pass the Unix times of a lane's recent Ange ID look-ups and its ``now`` the same way.

>>> wait_s([], now=100.0, limit=2)
0
>>> wait_s([30.0, 90.0], now=100.0, limit=2)  # the look-up at 30 s has left the window
0
>>> wait_s([50.0, 90.0], now=100.0, limit=2)  # it leaves at 110 s
10
"""

from __future__ import annotations

import math
from collections.abc import Iterable

WINDOW_S = 60.0


def wait_s(times: Iterable[float], now: float, *, limit: int, window_s: float = WINDOW_S) -> int:
    """0 when one more look-up may be made at ``now``; else the whole seconds until one may
    (at least 1).  ``times`` are the Unix times of the look-ups made so far, in any order; one
    stamped a little after ``now`` (another process's clock) counts as recent.

    >>> wait_s([99.5, 99.9], now=100.0, limit=2)  # rounded up: never "try again in 0 s"
    60
    >>> wait_s([10.0, 20.0, 30.0], now=30.5, limit=2)  # the two oldest must leave first
    50
    """
    if limit < 1:
        raise ValueError("a budget allows at least one look-up")
    recent = sorted(t for t in times if t > now - window_s)
    if len(recent) < limit:
        return 0
    # One more is allowed once all but limit - 1 of them have left the window.
    leaves_at = recent[len(recent) - limit] + window_s
    return max(1, math.ceil(leaves_at - now))


class TooManyLookups(Exception):
    """A caller's personnummer look-up budget is spent: nothing was looked up or changed."""

    def __init__(self, retry_after_s: int, limit: int) -> None:
        self.retry_after_s = retry_after_s
        self.limit = limit
        super().__init__(
            f"too many personnummer look-ups in the last minute (each caller may make "
            f"{limit} a minute); nothing was checked or changed; try again in "
            f"{retry_after_s} s")

    @property
    def message(self) -> str:
        return str(self)
