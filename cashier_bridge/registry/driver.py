"""Plain SQL on the driver's own connection, for the few statements every lane step runs.

SQLAlchemy's execution of even a prepared statement cost several times what SQLite takes to
run it (profiled under bench/lanes.py: a whole identification spent more CPU in SQLAlchemy
than in anything else), so the lane's hot path goes to the driver directly.  What stays the
same as through SQLAlchemy: a write begins as the writer engine's transactions do (SQLite's
``BEGIN IMMEDIATE``: the write lock at once, waiting under the busy timeout), a driver error
comes out as SQLAlchemy's (what ``registry_fault`` and the devices' error replies read), and a
connection the error shows to be lost is not handed out again.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError


def driver_sql(dialect: Dialect, sql: str) -> str:
    """``sql`` written with ``:name`` parameters, in the driver's style.

    >>> from sqlalchemy.dialects import postgresql
    >>> driver_sql(postgresql.psycopg.dialect(), "SELECT :a, :b_2")
    'SELECT %(a)s, %(b_2)s'
    """
    if dialect.paramstyle in ("pyformat", "format"):
        return re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)
    return sql  # sqlite3 takes :name as it is


@contextlib.contextmanager
def driver_cursor(engine: Engine, *, write: bool) -> Iterator[Any]:
    """A cursor on a pooled driver connection.  ``write``: one transaction, committed when
    the block ends and rolled back when it raises; else single reads, each on its own (no
    BEGIN and ROLLBACK around them: on PostgreSQL those are round trips)."""
    dialect = engine.dialect
    postgres = dialect.name == "postgresql"
    try:
        conn = engine.raw_connection()  # the pool's connect and pre-ping raise the driver's
    except dialect.loaded_dbapi.Error as exc:
        raise _wrapped(exc, dialect, lost=False) from exc
    raw = conn.dbapi_connection
    cur = None
    try:
        if postgres and not write:
            raw.autocommit = True
        cur = conn.cursor()
        if write and not postgres:
            cur.execute("BEGIN IMMEDIATE")
        yield cur
        if write:
            conn.commit()
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, raw, cur)
        if lost:
            conn.invalidate(exc)
        else:
            _rollback(conn)
        raise _wrapped(exc, dialect, lost=lost) from exc
    except BaseException:
        _rollback(conn)
        raise
    finally:
        if postgres and not write:
            with contextlib.suppress(Exception):  # a lost connection is not reused anyway
                raw.autocommit = False
        conn.close()


def _wrapped(exc: Exception, dialect: Dialect, *, lost: bool) -> BaseException:
    return DBAPIError.instance(None, None, exc, dialect.loaded_dbapi.Error,
                               connection_invalidated=lost, dialect=dialect)


def _rollback(conn: Any) -> None:
    # The error being raised says what went wrong; a failing rollback adds nothing to it.
    with contextlib.suppress(Exception):
        conn.rollback()
