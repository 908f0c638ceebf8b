"""A database outage for the simulator's own SQLite registry: another connection holds the
write lock, as a backup or a stuck maintenance job would.

Why a lock and not something blunter: in WAL mode an exclusive lock is impossible while the
bridge is connected (every WAL connection holds a shared lock), and renaming or chmod-ing the
file does nothing to connections already open.  ``BEGIN IMMEDIATE`` takes the write lock; every
lane transition is a write, so the bridge waits out its busy timeout (``db_busy_timeout_s``) and
tells the devices "unavailable" — the product's real path.  Reads go on working.

The QA desk and the headless replay (``db_outage`` / ``db_restore`` steps) both use this, so a
recorded outage replays as the same fault.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.engine import make_url


class DatabaseFaultError(RuntimeError):
    """The outage cannot be made on this database (not SQLite, or the lock is taken)."""


class DatabaseOutage:
    def __init__(self, db_url: str) -> None:
        url = make_url(db_url)
        if url.get_backend_name() != "sqlite" or not url.database:
            raise DatabaseFaultError("a database outage is made on a SQLite registry; for "
                                     "PostgreSQL stop the server itself")
        self.path = url.database
        self._lock: sqlite3.Connection | None = None

    @property
    def down(self) -> bool:
        return self._lock is not None

    def start(self) -> None:
        """Take the write lock (nothing if it is held already)."""
        if self._lock is not None:
            return
        # The bridge holds the lock only for a transaction's milliseconds: a few seconds'
        # wait covers one in flight.
        lock = sqlite3.connect(self.path, timeout=5, isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            lock.close()
            raise DatabaseFaultError(f"could not take the registry's write lock: {exc}"
                                     ) from None
        self._lock = lock

    def stop(self) -> None:
        """Release the lock: the registry answers again (nothing if it was not held)."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.execute("ROLLBACK")
            lock.close()
