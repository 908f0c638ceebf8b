"""Counting failed sign-ins: when a client address, a username or a console's address has failed
too often, it waits.  Pure rules (no clock, no database): the registry keeps a :class:`Count` per
thing counted and asks these functions what a failure makes of it and whether it must wait.

>>> limit = Limit(failures=2, window=dt.timedelta(minutes=10), lock=dt.timedelta(minutes=15))
>>> t0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
>>> first = after_failure(Count(), limit, t0)
>>> first.failures, remaining(first, t0)
(1, None)
>>> second = after_failure(first, limit, t0 + dt.timedelta(minutes=1))
>>> second.failures, minutes_to_wait(remaining(second, t0 + dt.timedelta(minutes=1)))
(0, 15)
>>> remaining(second, t0 + dt.timedelta(minutes=16)) is None
True
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Limit:
    """``failures`` failed attempts within ``window`` of the first one lock for ``lock``."""

    failures: int
    window: dt.timedelta
    lock: dt.timedelta


@dataclass(frozen=True, slots=True)
class Count:
    """What is known about one counted thing: failures in the current window (which began at
    ``since``), and the end of its lock, if any."""

    failures: int = 0
    since: dt.datetime | None = None
    locked_until: dt.datetime | None = None


class Scope(StrEnum):
    """What a failure is counted against."""

    address = "address"  # a client address signing in to the back office
    username = "username"  # a username typed at the back office's sign-in, known or not
    console = "console"  # a client address typing sign-in codes at the cashier console

    @property
    def limit(self) -> Limit:
        return _LIMITS[self]


# Back-office sign-ins per username, known or not: the same five as ever.  The window only lets
# old mistakes expire (and their rows go), so a typo last week does not count today.
USERNAME = Limit(failures=5, window=dt.timedelta(days=1), lock=dt.timedelta(minutes=15))
# Per client address, whatever username it tries: a shop's staff mistype now and then, a script
# guessing many usernames (each below its own five) fails this many times in minutes.
ADDRESS = Limit(failures=10, window=dt.timedelta(minutes=15), lock=dt.timedelta(minutes=15))
# The cashier console's sign-in codes, per address: a mistyped code is retyped, not guessed.
CONSOLE = Limit(failures=10, window=dt.timedelta(minutes=15), lock=dt.timedelta(minutes=15))
_LIMITS = {Scope.address: ADDRESS, Scope.username: USERNAME, Scope.console: CONSOLE}
# Rows older than the longest window, with no lock in force, are of no more use.
LONGEST_WINDOW = max(limit.window for limit in _LIMITS.values())


def remaining(count: Count, now: dt.datetime) -> dt.timedelta | None:
    """How long ``count`` must still wait, or None if it need not."""
    if count.locked_until is None or count.locked_until <= now:
        return None
    return count.locked_until - now


def current(count: Count, limit: Limit, now: dt.datetime) -> Count:
    """``count`` as it stands at ``now``: an ended lock and an expired window forgotten."""
    locked_until = count.locked_until if remaining(count, now) else None
    if count.since is None or now - count.since >= limit.window:
        return Count(0, None, locked_until)
    return Count(count.failures, count.since, locked_until)


def after_failure(count: Count, limit: Limit, now: dt.datetime) -> Count:
    """``count`` after one more failure at ``now``: the limit reached locks and starts over."""
    now_count = current(count, limit, now)
    failures = now_count.failures + 1
    since = now_count.since or now
    if failures >= limit.failures:
        return Count(0, None, now + limit.lock)
    return Count(failures, since, now_count.locked_until)


def expired(count: Count, limit: Limit, now: dt.datetime) -> bool:
    """Nothing left to remember: no lock in force and no failure in the window."""
    return current(count, limit, now) == Count()


def minutes_to_wait(wait: dt.timedelta | None) -> int:
    """Whole minutes, rounded up, so a message never says "0 minutes".

    >>> minutes_to_wait(dt.timedelta(seconds=61)), minutes_to_wait(dt.timedelta(minutes=15))
    (2, 15)
    """
    if wait is None:
        return 0
    return max(1, math.ceil(wait.total_seconds() / 60))


def seconds_to_wait(wait: dt.timedelta | None) -> int:
    """Whole seconds, rounded up, for a ``Retry-After`` header.

    >>> seconds_to_wait(dt.timedelta(seconds=0.2)), seconds_to_wait(None)
    (1, 0)
    """
    if wait is None:
        return 0
    return max(1, math.ceil(wait.total_seconds()))
