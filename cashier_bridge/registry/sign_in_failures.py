"""Failed sign-ins in the database (``sign_in_failures``): what :mod:`cashier_bridge.throttle`
decides, kept where every process of a chain reads the same count.

A count is read and written under a lock (SQLite's write lock taken by ``BEGIN IMMEDIATE``, a
row lock on PostgreSQL), so two failures at once both count.  Rows are keyed by the SHA-256 of
what is counted: neither typed usernames nor client addresses are kept in this table (the audit
log names an address that was throttled, for the staff who must act on it).
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Connection, Engine, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cashier_bridge.audit import AuditAction
from cashier_bridge.registry.schema import audit_log, sign_in_failures
from cashier_bridge.registry.secret_hash import stored_hash
from cashier_bridge.throttle import LONGEST_WINDOW, Count, Scope, after_failure, current, remaining

_T = sign_in_failures
THROTTLED = AuditAction.sign_in_throttled
WHERE = {Scope.address: "back office", Scope.console: "cashier console"}


def row_key(scope: Scope, value: str) -> str:
    return stored_hash(f"{scope.value}:{value}")


def read(conn: Connection, scope: Scope, value: str, now: dt.datetime) -> Count:
    """The count as it stands now (nothing counted yet: an empty one)."""
    row = conn.execute(select(_T.c.failures, _T.c.since, _T.c.locked_until)
                       .where(_T.c.key == row_key(scope, value))).first()
    if row is None:
        return Count()
    return current(Count(row.failures, row.since, row.locked_until), scope.limit, now)


def count_failure(conn: Connection, scope: Scope, value: str, now: dt.datetime, *,
                  staff_id: int | None = None) -> tuple[Count, Count]:
    """One more failure (inside the caller's write transaction); the count before and after."""
    key = row_key(scope, value)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(_T).values(key=key, scope=scope.value, staff_id=staff_id,
                                           failures=0).on_conflict_do_nothing())
    query = select(_T.c.failures, _T.c.since, _T.c.locked_until).where(_T.c.key == key)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one()
    before = current(Count(row.failures, row.since, row.locked_until), scope.limit, now)
    after = after_failure(before, scope.limit, now)
    values = {"failures": after.failures, "since": after.since,
              "locked_until": after.locked_until}
    if staff_id is not None:  # a name tried before its account was added
        values["staff_id"] = staff_id
    conn.execute(update(_T).where(_T.c.key == key).values(**values))
    _prune(conn, now)
    return before, after


def newly_locked(before: Count, after: Count, now: dt.datetime) -> bool:
    return remaining(before, now) is None and remaining(after, now) is not None


def audit_throttled(conn: Connection, scope: Scope, address: str, now: dt.datetime) -> None:
    """The audit entry staff see when an address has failed too often (no username, no
    password: only where it came from and for how long it waits)."""
    limit = scope.limit
    conn.execute(insert(audit_log).values(
        at=now, actor="system", action=THROTTLED, detail=json.dumps({
            "address": address, "where": WHERE[scope], "failures": limit.failures,
            "minutes": int(limit.lock.total_seconds() // 60)})))


def clear(conn: Connection, scope: Scope, value: str) -> None:
    conn.execute(delete(_T).where(_T.c.key == row_key(scope, value)))


def _prune(conn: Connection, now: dt.datetime) -> None:
    # The table stays small: at most what failed within the longest window, or is locked.
    conn.execute(delete(_T).where(
        or_(_T.c.locked_until.is_(None), _T.c.locked_until <= now),
        or_(_T.c.since.is_(None), _T.c.since <= now - LONGEST_WINDOW)))


class SignInThrottle:
    """Counts for callers with no transaction of their own (the cashier console's sign-in)."""

    def __init__(self, reader: Engine, writer: Engine) -> None:
        self._reader = reader
        self._writer = writer

    def wait(self, scope: Scope, value: str, now: dt.datetime) -> dt.timedelta | None:
        """How long ``value`` must still wait before trying again, or None."""
        with self._reader.connect() as conn:
            return remaining(read(conn, scope, value, now), now)

    def failed(self, scope: Scope, value: str, now: dt.datetime) -> dt.timedelta | None:
        """Count one failure of the address ``value``; how long it must now wait (None: not
        yet).  The failure that locks it is audited."""
        with self._writer.begin() as conn:
            before, after = count_failure(conn, scope, value, now)
            if newly_locked(before, after, now):
                audit_throttled(conn, scope, value, now)
        return remaining(after, now)

    def clear(self, scope: Scope, value: str) -> None:
        with self._writer.begin() as conn:
            clear(conn, scope, value)
