"""A small in-memory rate limiter: at most ``limit`` hits per ``window_s`` seconds per key, in a
bounded number of keys.

    limiter = RateLimiter(limit=240, window_s=60)
    wait = limiter.hit(address_key(request.client.host))
    if wait is not None:
        ...  # 429, with Retry-After: retry_after_header(wait)

It is GCRA, a token bucket kept as one timestamp per key: a key may spend its whole allowance at
once, then earns one hit back every ``window_s / limit`` seconds.  A refused hit costs nothing.
Memory is bounded: past ``max_keys`` the key seen least recently is forgotten and starts afresh
(the limiter fails open rather than grow with a flood of addresses).  It counts per process: each
bridge of a chain keeps its own count.

PyPI's ``limits`` was the first candidate; its memory storage keeps every key until it expires
(with a timer thread of its own), so nothing bounds the keys a flood of addresses creates.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

# A hit that lands this close to the allowance's edge is still allowed: float rounding must not
# turn the ``limit``-th hit of a burst into a refusal.
_SLACK_S = 1e-9


class RateLimiter:
    def __init__(self, limit: int, window_s: float, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window_s <= 0 or max_keys < 1:
            raise ValueError("a rate limit needs limit >= 1, window_s > 0 and max_keys >= 1")
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._interval = window_s / limit
        self._clock = clock
        self._due: OrderedDict[str, float] = OrderedDict()  # key -> when its bucket is full
        self._lock = threading.Lock()  # callers may be threads as well as the event loop

    def hit(self, key: str) -> float | None:
        """Count one hit of ``key``: None if it is allowed, else the seconds until it would be.

        >>> now = [0.0]
        >>> limiter = RateLimiter(3, 60, clock=lambda: now[0])
        >>> [limiter.hit("a") for _ in range(4)]
        [None, None, None, 20.0]
        >>> limiter.hit("b") is None  # every key has its own allowance
        True
        >>> now[0] = 20.0
        >>> limiter.hit("a") is None, limiter.hit("a")
        (True, 20.0)
        """
        now = self._clock()
        with self._lock:
            due = max(self._due.get(key, now), now) + self._interval
            if due - now > self.window_s + _SLACK_S:
                return due - self.window_s - now
            self._due[key] = due
            self._due.move_to_end(key)
            while len(self._due) > self.max_keys:
                self._due.popitem(last=False)
            return None

    def __len__(self) -> int:
        """How many keys are remembered (at most ``max_keys``)."""
        return len(self._due)


def retry_after_header(wait_s: float) -> str:
    """``Retry-After`` for a wait: whole seconds, at least one.

    >>> retry_after_header(0.2), retry_after_header(20.0), retry_after_header(20.01)
    ('1', '20', '21')
    """
    return str(max(1, math.ceil(wait_s)))


def address_key(host: str | None) -> str:
    """What a client address is counted under: an IPv4 address as it is, an IPv6 address by its
    /64 (a phone or a home gets a whole /64, so single addresses would cost an attacker nothing).

    >>> address_key("192.0.2.7"), address_key("2001:db8:1:2:aa::1"), address_key("::ffff:192.0.2.7")
    ('192.0.2.7', '2001:db8:1:2::/64', '192.0.2.7')
    >>> address_key(None), address_key("testclient")
    ('unknown', 'testclient')
    """
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]  # not an address (a unix socket, a test client): counted as named
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
