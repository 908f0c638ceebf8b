"""How lane transitions reach the devices attached to *other* bridge processes of a chain.

Every transition on PostgreSQL ends with ``NOTIFY selfreg_lanes, '<seq>:<lane>'`` (followed by a
line with what to tell the devices, when that fits in a notification) in the same transaction
(see :mod:`cashier_bridge.registry.lane_store`); PostgreSQL delivers notifications in commit
order, so each process hears every lane's steps in the order they happened.  This module
keeps one dedicated connection per process that LISTENs and hands each notification to the hub,
and that holds the process's own advisory lock for as long as the process lives: that lock is how
other processes know whether the driver of a lane is still alive.

The connection is kept up: when the database goes away it reconnects with backoff, takes its
lock again, and asks the hub to catch up on whatever it may have missed meanwhile.

psycopg is imported only when a bus is started, which only a PostgreSQL registry does: a plain
``pip install selfreg`` (without the ``postgres`` extra) serves a shop on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.engine import make_url

from cashier_bridge.registry.engine import psycopg as _psycopg
from cashier_bridge.registry.lane_store import NOTIFY_CHANNEL, PROCESS_LOCK_CLASS

if TYPE_CHECKING:
    import psycopg

log = structlog.get_logger("selfreg.bus")

Notified = Callable[[str, int, str | None], None]
Reconnected = Callable[[], Awaitable[None]]


def new_process_key() -> int:
    """A key for this process's lock: random, positive, fits PostgreSQL's int4 and oid."""
    return secrets.randbelow(2**31 - 2) + 1


def libpq_url(db_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+psycopg://…``) as libpq reads it."""
    return make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresBus:
    def __init__(self, db_url: str, on_notify: Notified, on_reconnect: Reconnected) -> None:
        self._conninfo = libpq_url(db_url)
        self._on_notify = on_notify
        self._on_reconnect = on_reconnect
        self.key = new_process_key()
        self.listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 30.0) -> None:
        _psycopg()  # a missing driver says so here, not as a reconnect loop
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.listening.wait(), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        pg = _psycopg()
        delay = 0.2
        first = True
        while True:
            try:
                async with await pg.AsyncConnection.connect(
                        self._conninfo, autocommit=True,
                        application_name=f"selfreg-bridge:{self.key}") as conn:
                    await self._lock(conn)
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening.set()
                    log.info("bus_listening", process=self.key, reconnected=not first)
                    if not first:
                        await self._on_reconnect()
                    first, delay = False, 0.2
                    async for notify in conn.notifies():
                        head, newline, body = notify.payload.partition("\n")
                        seq, _, lane = head.partition(":")
                        self._on_notify(lane, int(seq), body if newline else None)
            except asyncio.CancelledError:
                raise
            except (pg.Error, OSError) as exc:
                if self.listening.is_set():
                    log.warning("bus_lost", process=self.key, error=type(exc).__name__)
                self.listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _lock(self, conn: psycopg.AsyncConnection) -> None:
        # Held for the connection's life; if our key was taken meanwhile (we were thought dead
        # and another process happened to draw it), draw another.
        while True:
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                     (PROCESS_LOCK_CLASS, self.key))
            row = await cur.fetchone()
            if row and row[0]:
                return
            self.key = new_process_key()
