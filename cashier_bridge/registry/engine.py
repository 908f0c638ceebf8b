"""Engines for the registry: SQLite (one shop) or PostgreSQL (a chain).

SQLite notes.  Python's sqlite3 module opens transactions lazily and deferred; in WAL mode a
deferred transaction that reads and then writes fails at once with "database is locked" if another
connection committed in between (the busy timeout does not apply).  So the driver's own
transaction handling is switched off and we issue BEGIN ourselves: a plain BEGIN for reads and
BEGIN IMMEDIATE for writes (see :func:`writer`), which takes the write lock up front and waits
for it under the busy timeout instead.

The database file holds personal data, so it is created readable by the bridge's user only
(0600) in a directory created 0700; SQLite gives its ``-wal``, ``-shm`` and ``-journal`` files
the main file's mode.  Files found with wider modes are tightened when the registry is opened.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import stat
from pathlib import Path
from types import ModuleType
from typing import Any

import structlog
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url

from cashier_bridge.config import data_dir

BUSY_TIMEOUT_MS = 15_000
_BEGIN_OPTION = "selfreg_sqlite_begin"
_PRIVATE_FILE = 0o600
_PRIVATE_DIRECTORY = 0o700
# SQLite's companions of a database file, which hold its pages too.
_COMPANIONS = ("", "-wal", "-shm", "-journal")

log = structlog.get_logger("selfreg.registry")

POSTGRES_EXTRA_ADVICE = "install it with the postgres extra: pip install 'selfreg[postgres]'"


class PostgresDriverMissing(RuntimeError):
    """A PostgreSQL registry was asked for, but this install has no psycopg (the ``postgres``
    extra); a shop on SQLite never needs it."""


def psycopg() -> ModuleType:
    """The psycopg module, imported only when a PostgreSQL URL is used."""
    try:
        return importlib.import_module("psycopg")
    except ModuleNotFoundError as exc:
        raise PostgresDriverMissing(
            f"a PostgreSQL registry needs psycopg, which this install lacks ({exc.msg}); "
            + POSTGRES_EXTRA_ADVICE) from None


def make_engine(url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """``busy_timeout_ms`` (SQLite only): how long a write waits for another connection's lock."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, busy_timeout_ms)
    if backend == "postgresql":
        psycopg()  # its own message rather than SQLAlchemy's bare ModuleNotFoundError
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
    private_database_file(Path(database).expanduser())
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


def private_database_file(path: Path) -> None:
    """Create the database file (and missing directories) for the bridge's user only, and
    tighten the modes of an existing file and its companions; what changed is logged once."""
    _private_directories(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE))
    tightened = []
    for suffix in _COMPANIONS:
        companion = path.with_name(path.name + suffix)
        try:
            mode = stat.S_IMODE(companion.stat().st_mode)
            if mode & 0o077:
                companion.chmod(mode & _PRIVATE_FILE)
                tightened.append(f"{companion.name} {mode:o}")
        except FileNotFoundError:
            continue
        except PermissionError:  # another user's file: SQLite will say more when it opens
            continue
    own = data_dir().expanduser()
    if path.parent.resolve() == own.resolve():  # selfreg's own directory, never a shared one
        with contextlib.suppress(OSError):
            mode = stat.S_IMODE(own.stat().st_mode)
            if mode & 0o077:
                own.chmod(mode & _PRIVATE_DIRECTORY)
                tightened.append(f"{own} {mode:o}")
    if tightened:
        log.warning("database_file_mode_tightened", directory=str(path.parent),
                    files=", ".join(tightened), now=f"{_PRIVATE_FILE:o}")


def _private_directories(directory: Path) -> None:
    """``mkdir -p`` whose new directories are 0700 (``Path.mkdir`` gives parents the default
    mode); existing directories are left as they are (they may be shared), except selfreg's
    own data directory (see above)."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    for new in reversed(missing):
        with contextlib.suppress(FileExistsError):
            new.mkdir(mode=_PRIVATE_DIRECTORY)
