"""The guard in front of every comparison of a caller's personnummer with the registry.

Creating, checking or changing a customer with a personnummer answers, one way or another,
whether that number is someone's; with the masked form on screen a caller could try the
thousand candidates in seconds.  So :class:`CustomerAdmin` asks :meth:`LookupGuard.check` before
it compares anything, for every caller (API tokens, the cashier console as ``console:<lane>``,
staff in the back office and through the API as ``staff:<name>``), and the caller gets
:class:`~cashier_bridge.customers.lookup_limit.TooManyLookups` once their budget is spent.

The count lives in the audit log, so every bridge process of a chain shares it:

- ``personal_id_lookup``: one row per distinct number per actor and window, with a short digest
  of the number's fingerprint (8 hex digits: enough to tell a handful of numbers apart, and
  useless without the personnummer key) and where it came from.  The same number again
  within the window costs nothing: re-sending a form with another field corrected is free.
- ``personal_id_lookup_limited``: one row per distinct number refused, at most
  :data:`RECORDED_REFUSALS` per actor and window (a flood writes no more than that); managers
  see them as security warnings (:meth:`LookupGuard.limit_hits`).

Neither holds a number, a fingerprint or a customer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection, Engine, func, insert, select

from cashier_bridge.audit import AuditAction
from cashier_bridge.customers.lookup_limit import WINDOW_S, TooManyLookups, wait_s
from cashier_bridge.registry.driver import driver_cursor, driver_sql
from cashier_bridge.registry.schema import audit_log
from cashier_bridge.registry.timestamps import utcnow

log = structlog.get_logger("selfreg.registry")

LOOKUP = AuditAction.personal_id_lookup
LIMITED = AuditAction.personal_id_lookup_limited
DEFAULT_PER_MINUTE = 5
# Refusals recorded per actor and window: beyond it the caller is refused all the same, and a
# flood of requests neither grows the audit log nor the rows each refusal reads.
RECORDED_REFUSALS = 100
DIGEST_HEX = 8
_LOCK_CLASS = 0x5E21  # PostgreSQL advisory locks: one actor's check at a time, chain-wide


def digest(fingerprint: str) -> str:
    """A short digest of a personnummer fingerprint: tells numbers apart within a window.

    >>> digest("9f2c" * 16)
    '9f39a576'
    """
    return hashlib.sha256(fingerprint.encode("ascii")).hexdigest()[:DIGEST_HEX]


@dataclass(frozen=True, slots=True)
class KioskLookup:
    """One Ange ID look-up (or refused try) of a lane's kiosk, to audit."""

    lane: str
    refused: bool
    fingerprint: str | None


@dataclass(frozen=True, slots=True)
class LimitHit:
    """An actor who ran out of look-ups: when first and last, how many numbers were refused,
    and how many look-ups they made in the same period."""

    actor: str
    first_at: dt.datetime
    last_at: dt.datetime
    refused: int
    looked_up: int


class LookupGuard:
    """Counts personnummer look-ups per actor.  ``per_minute`` is the budget
    (``personal_id_lookups_per_minute``); ``clock`` gives "now" (tests move it)."""

    def __init__(self, reader: Engine, writer: Engine, *,
                 per_minute: int = DEFAULT_PER_MINUTE) -> None:
        self._reader = reader
        self._writer = writer
        self.per_minute = per_minute
        self.clock: Callable[[], dt.datetime] = utcnow
        self._kiosk_sql: tuple[str, Callable[[dt.datetime], object] | None] | None = None

    def check(self, actor: str, fingerprint: str, *, via: str) -> None:
        """Record that ``actor`` looks up the number with ``fingerprint`` (``via``: create,
        validate, update), or raise TooManyLookups if their budget is spent — before anything
        is compared, so a refused caller learns nothing."""
        actor = actor[:64]  # as the audit log keeps it: the count must find its own rows
        now = self.clock()
        mark = digest(fingerprint)
        since = now - dt.timedelta(seconds=WINDOW_S)
        with self._writer.begin() as conn:
            self._lock(conn, actor)
            made = self._marks(conn, actor, LOOKUP, since)
            if mark in made:
                return
            wait = wait_s([at.timestamp() for at in made.values()], now.timestamp(),
                          limit=self.per_minute)
            if not wait:
                _record(conn, now, actor, LOOKUP, mark, via)
                return
            refused = self._marks(conn, actor, LIMITED, since, limit=RECORDED_REFUSALS)
            first = not refused
            if mark not in refused and len(refused) < RECORDED_REFUSALS:
                _record(conn, now, actor, LIMITED, mark, via)
        if first:
            # Who it was is in the audit log; the log says only that it happened.
            log.warning("personal_id_lookups_limited", via=via, retry_after_s=wait)
        raise TooManyLookups(wait, self.per_minute)

    def record_kiosk(self, lane: str, *, refused: bool, fingerprint: str | None) -> None:
        """Audit an Ange ID look-up of ``lane``, or a try refused while Ange ID is paused (the
        lane machine counts and pauses; this only writes).  A number that is no personnummer
        (a phone, a customer number) has no digest."""
        self.record_kiosk_many([KioskLookup(lane, refused, fingerprint)])

    def record_kiosk_many(self, lookups: Sequence[KioskLookup]) -> None:
        """:meth:`record_kiosk` for several, in one transaction (the hub writes what queued up
        while the last write ran)."""
        if not lookups:
            return
        # Every identification by number writes one: plain SQL on the driver (see .driver).
        if self._kiosk_sql is None:
            dialect = self._writer.dialect
            self._kiosk_sql = (driver_sql(dialect, _KIOSK_INSERT),
                               audit_log.c.at.type.dialect_impl(dialect).bind_processor(dialect))
        sql, stamp = self._kiosk_sql
        now = self.clock()
        at = stamp(now) if stamp else now
        rows = []
        for lookup in lookups:
            detail = {"via": "ange_id"}
            if lookup.fingerprint is not None:
                detail["digest"] = digest(lookup.fingerprint)
            rows.append({"at": at, "actor": kiosk_actor(lookup.lane),
                         "action": (LIMITED if lookup.refused else LOOKUP).value,
                         "detail": json.dumps(detail)})
        with driver_cursor(self._writer, write=True) as cur:
            cur.executemany(sql, rows)
        for lookup in lookups:
            if lookup.refused:
                log.warning("ange_id_paused", lane=lookup.lane)

    def limit_hits(self, since: dt.datetime, *, limit: int = 50) -> list[LimitHit]:
        """Actors refused a look-up since ``since``, the latest first."""
        c = audit_log.c
        with self._reader.connect() as conn:
            hits = conn.execute(
                select(c.actor, func.min(c.at).label("first_at"), func.max(c.at).label("last_at"),
                       func.count().label("refused"))
                .where(c.action == LIMITED, c.at >= since)
                .group_by(c.actor).order_by(func.max(c.at).desc()).limit(limit)).all()
            if not hits:
                return []
            made = dict(conn.execute(
                select(c.actor, func.count()).where(c.action == LOOKUP, c.at >= since,
                                                    c.actor.in_([h.actor for h in hits]))
                .group_by(c.actor)).all())
        return [LimitHit(h.actor, _aware(h.first_at), _aware(h.last_at), h.refused,
                         made.get(h.actor, 0)) for h in hits]

    def _lock(self, conn: Connection, actor: str) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_LOCK_CLASS, func.hashtext(actor))))
        # SQLite: the writer's BEGIN IMMEDIATE already holds the database's write lock.

    def _marks(self, conn: Connection, actor: str, action: str, since: dt.datetime,
               limit: int | None = None) -> dict[str, dt.datetime]:
        """The digests of ``actor``'s ``action`` rows since ``since``, with their first time."""
        c = audit_log.c
        query = (select(c.at, c.detail)
                 .where(c.actor == actor, c.action == action, c.at > since).order_by(c.at))
        if limit is not None:
            query = query.limit(limit)
        out: dict[str, dt.datetime] = {}
        for row in conn.execute(query):
            mark = _mark_of(row.detail)
            if mark is not None:
                out.setdefault(mark, row.at)
        return out


_KIOSK_INSERT = (f"INSERT INTO {audit_log.name} (at, actor, action, detail) "
                 "VALUES (:at, :actor, :action, :detail)")


def kiosk_actor(lane: str) -> str:
    """Who an Ange ID look-up is audited as: the lane's kiosk."""
    return f"kiosk:{lane}"[:64]


def _record(conn: Connection, now: dt.datetime, actor: str, action: AuditAction, mark: str,
            via: str) -> None:
    conn.execute(insert(audit_log).values(
        at=now, actor=actor, action=action,
        detail=json.dumps({"digest": mark, "via": via})))


def _mark_of(detail: str | None) -> str | None:
    try:
        parsed = json.loads(detail or "")
    except ValueError:
        return None
    mark = parsed.get("digest") if isinstance(parsed, dict) else None
    return mark if isinstance(mark, str) else None


def _aware(value: dt.datetime) -> dt.datetime:
    # An aggregate's result bypasses the column type on SQLite: naive text comes back.
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
