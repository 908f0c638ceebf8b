"""Bounded worker pools: what one part of the bridge is doing must not hold up another.

Every blocking call (a registry query, a password hash, a CSV parse) runs in a worker thread so
that the event loop stays free.  ``asyncio.to_thread`` puts them all in the loop's one default
pool (``min(32, cores + 4)`` threads: six on a two-core till), so twenty sign-in attempts, each
an argon2 hash that takes tens of milliseconds of CPU on purpose, queued ahead of a register's
``start_sale`` and made it wait a second.  Here each kind of work has its own threads:

- ``lanes``: lane steps and their effects (the hub's registry calls) — the shopper is waiting;
- ``passwords``: argon2 hashing and checking — one thread (it is CPU-bound: more threads only
  take the other core from the lanes) and a short queue; beyond it a sign-in is refused at once
  with :class:`Busy` rather than queued for minutes.  Its thread runs at the lowest CPU priority
  (``nice`` 19, on Linux), and so do the threads argon2 starts from it (``parallelism`` 4):
  a register waiting on a lane step gets the cores first, a sign-in takes what is left;
- ``uploads``: reading and checking uploaded files, likewise bounded.

A pool's limit counts calls running and waiting; :meth:`Pool.run` raises :class:`Busy` when it
is reached, so a flood costs the flooder a refusal, not everyone else a wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Busy(Exception):
    """The pool already has as many calls running and waiting as it takes."""

    def __init__(self, pool: str, retry_after_s: int = 5) -> None:
        super().__init__(f"the bridge is busy with other {pool}; try again in a few seconds")
        self.pool = pool
        self.retry_after_s = retry_after_s


class Pool:
    """Threads of their own for one kind of work, with at most ``limit`` calls in it (running
    or waiting); ``limit=None`` never refuses (the lanes': a shopper's step is never dropped)."""

    def __init__(self, name: str, threads: int, limit: int | None = None, *,
                 nice: int = 0) -> None:
        if threads < 1 or (limit is not None and limit < threads):
            raise ValueError("a pool needs a thread, and room for at least its threads")
        self.name = name
        self.threads = threads
        self.limit = limit
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix=f"selfreg-{name}",
                                            initializer=_lower_priority, initargs=(nice,))
        self._in_use = 0  # touched only on the event loop's thread

    @property
    def in_use(self) -> int:
        return self._in_use

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in one of the pool's threads, with the caller's context
        variables (log context), like ``asyncio.to_thread``; Busy when the pool is full."""
        if self.limit is not None and self._in_use >= self.limit:
            raise Busy(self.name)
        self._in_use += 1
        try:
            context = contextvars.copy_context()
            call = functools.partial(context.run, fn, *args, **kwargs)
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        finally:
            self._in_use -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class Pools:
    """The bridge's pools (one set per app; ``app.state.pools``)."""

    lanes: Pool = field(default_factory=lambda: Pool("lanes", threads=8))
    passwords: Pool = field(default_factory=lambda: Pool("passwords", threads=1, limit=4,
                                                         nice=19))
    uploads: Pool = field(default_factory=lambda: Pool("uploads", threads=1, limit=2))

    def close(self) -> None:
        for pool in (self.lanes, self.passwords, self.uploads):
            pool.close()


def _lower_priority(nice: int) -> None:
    """Make the calling worker thread (and the threads it starts) yield the CPU to others.  On
    Linux a nice value belongs to one thread, named by its id; elsewhere the same call would
    lower the whole process, lanes included, so it is left alone there."""
    if nice and sys.platform == "linux":
        with contextlib.suppress(OSError):  # a container may forbid it: then as before
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                           min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice))
