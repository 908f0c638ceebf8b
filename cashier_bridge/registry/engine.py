"""Engines for the registry: SQLite (one shop) or PostgreSQL (a chain).

SQLite notes.  Python's sqlite3 module opens transactions lazily and deferred; in WAL mode a
deferred transaction that reads and then writes fails at once with "database is locked" if another
connection committed in between (the busy timeout does not apply).  So the driver's own
transaction handling is switched off and we issue BEGIN ourselves: a plain BEGIN for reads and
BEGIN IMMEDIATE for writes (see :func:`writer`), which takes the write lock up front and waits
for it under the busy timeout instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url

BUSY_TIMEOUT_MS = 15_000
_BEGIN_OPTION = "selfreg_sqlite_begin"


def make_engine(url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """``busy_timeout_ms`` (SQLite only): how long a write waits for another connection's lock."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, busy_timeout_ms)
    if backend == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ValueError(f"unsupported registry database {backend!r}: use sqlite:/// or postgresql://")


def writer(engine: Engine) -> Engine:
    """The same engine, but transactions begun through it take SQLite's write lock at once."""
    return engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})


def _sqlite_engine(url: str, busy_timeout_ms: int) -> Engine:
    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise ValueError(
            "an in-memory SQLite registry would be different in every thread; give a file path, "
            "e.g. sqlite:////var/lib/selfreg/selfreg.db"
        )
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # WAL + NORMAL: a crash may lose the last transactions, never corrupts the database.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # The default 2 MB page cache thrashes on a million customers' indexes; this is an
        # upper bound per connection, not an allocation.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine
