"""Lane state in the database: one transition at a time per lane, across bridge processes.

A transition is one database transaction: lock the lane (SQLite: the write lock; PostgreSQL: an
advisory transaction lock on the lane's name), read its state, apply the pure step, write the new
state — and, in the same transaction, the sale it links and (on PostgreSQL) an outbox row plus a
``NOTIFY`` so that every other bridge process tells its devices.  Either all of it happens or
none: a process killed half-way leaves the lane as it was before the step.

A lane whose effect (a lookup, a creation) is in flight is ``pending`` and names its ``driver``:
the process carrying the effect out.  Each process holds a session advisory lock on its own key
for as long as it lives (see :mod:`cashier_bridge.lanes.bus`), so "is the driver alive" is a
question PostgreSQL answers at once, and a lane whose driver died is taken over by another.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Engine,
    and_,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Dialect

from cashier_bridge.registry.driver import driver_cursor, driver_sql
from cashier_bridge.registry.engine import writer
from cashier_bridge.registry.schema import lane_outbox, lanes, sales
from cashier_bridge.registry.timestamps import utcnow

NOTIFY_CHANNEL = "selfreg_lanes"
# Advisory lock namespaces (the first int4 of the two-key form) so ours never meet another
# application's locks on a shared server.
LANE_LOCK_CLASS = 0x5E1F
PROCESS_LOCK_CLASS = 0x5E20
OUTBOX_KEEP = dt.timedelta(minutes=10)
NOTIFY_BODY_MAX = 7000


def _holds_process_lock(key: str) -> str:
    """SQL: the process whose key is ``key`` (an expression) holds its lock, i.e. lives."""
    return ("EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            f" AND classid = CAST(:cls AS oid) AND objid = CAST({key} AS oid)"
            " AND objsubid = 2)")


_ALIVE = text(f"SELECT {_holds_process_lock(':key')}")


@dataclass(frozen=True, slots=True)
class SaleLink:
    sale_id: str
    customer_id: int
    ended: bool = False  # the sale is over: its total and end time are recorded too
    total_minor: int | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class LaneWrite:
    """A step's outcome to store.  ``outbox`` is what the devices must be told (JSON)."""

    state_json: str
    seq: int
    pending: bool
    outbox: str
    sale_link: SaleLink | None = None


Step = Callable[[str | None], LaneWrite | None]


class LaneStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)
        # Several processes share the lanes only on PostgreSQL; SQLite serves one process.
        self.shared = engine.dialect.name == "postgresql"
        self._sql = _HotSql.of(engine.dialect)

    def load(self, name: str) -> str | None:
        with self._engine.connect() as conn:
            return conn.execute(
                select(lanes.c.state_json).where(lanes.c.name == name)).scalar_one_or_none()

    def transact(self, name: str, driver: int, step: Step) -> LaneWrite | None:
        """Run ``step`` on the lane's stored state under the lane's lock and store what it
        returns (None: nothing changed).  Exceptions from ``step`` roll everything back.

        Plain SQL on the driver's connection (see :mod:`.driver`): every step of every lane
        comes here."""
        sql = self._sql
        with driver_cursor(self._engine, write=True) as cur:
            with self._batch(cur):
                if self.shared:
                    # Locks the name, not a row: it also serialises a lane's first transition.
                    cur.execute(sql.lock, {"cls": LANE_LOCK_CLASS, "n": name})
                # SQLite: the BEGIN IMMEDIATE of a write already holds the write lock.
                cur.execute(sql.read, {"n": name})
                row = cur.fetchone()
            stored = row[0] if row is not None else None
            write = step(stored)
            if write is None:
                return None
            with self._batch(cur):
                self._write(cur, name, driver, write, stored is None)
            return write

    def _write(self, cur: Any, name: str, driver: int, write: LaneWrite, new: bool) -> None:
        sql = self._sql
        now = sql.stamp(utcnow())
        cur.execute(sql.insert if new else sql.update, {
            "n": name, "state_json": write.state_json, "seq": write.seq,
            "pending": write.pending, "driver": driver if write.pending else None,
            "updated_at": now})
        link = write.sale_link
        if link is not None and not link.ended:
            cur.execute(sql.link_sale, {"lane": name, "sale_id": link.sale_id,
                                        "customer_id": link.customer_id,
                                        "connected_at": now})
        elif link is not None:  # linked when the customer was connected
            cur.execute(sql.close_sale, {
                "lane": name, "sale_id": link.sale_id, "total_minor": link.total_minor,
                "currency": link.currency, "ended_at": now, "recorded_by": "register"})
        if self.shared:
            cur.execute(sql.outbox, {"lane": name, "seq": write.seq, "body": write.outbox,
                                     "created_at": now})
            head = f"{write.seq}:{name}"
            # Carried along when it fits (PostgreSQL's limit is 8000 bytes), the other
            # processes need not read the outbox for it.
            payload = f"{head}\n{write.outbox}" if len(write.outbox.encode()) < \
                NOTIFY_BODY_MAX else head
            cur.execute(sql.notify, {"channel": NOTIFY_CHANNEL, "payload": payload})

    def _batch(self, cur: Any) -> contextlib.AbstractContextManager[Any]:
        """PostgreSQL: the statements of the block go to the server together (psycopg's
        pipeline mode), one round trip rather than one each; SQLite is in-process."""
        return cur.connection.pipeline() if self.shared else contextlib.nullcontext()

    def pending(self, me: int | None = None) -> list[tuple[str, int | None]]:
        """Lanes with an effect in flight and who drives each — with ``me``, only those that
        may need ``me``: driven by ``me`` or by a process that is gone."""
        query = select(lanes.c.name, lanes.c.driver).where(lanes.c.pending)
        if me is not None and self.shared:
            query = query.where(lanes.c.driver.is_(None) | (lanes.c.driver == me)
                                | text(f"NOT {_holds_process_lock('lanes.driver')}"))
        with self._engine.connect() as conn:
            return [(r.name, r.driver) for r in conn.execute(
                query, {"cls": PROCESS_LOCK_CLASS})]

    def take_over(self, name: str, me: int) -> str | None:
        """Become the driver of a pending lane whose driver is gone; its state, or None when
        it needs no one (done meanwhile, or its driver is alive after all)."""
        with self._writer.begin() as conn:
            self._lock(conn, name)
            row = conn.execute(select(lanes.c.state_json, lanes.c.pending, lanes.c.driver)
                               .where(lanes.c.name == name)).first()
            if row is None or not row.pending:
                return None
            if row.driver not in (None, me) and self._alive(conn, row.driver):
                return None
            conn.execute(update(lanes).where(lanes.c.name == name).values(driver=me))
            return str(row.state_json)

    def outbox_since(self, name: str, seq: int) -> list[tuple[int, str]]:
        """What the devices of ``name`` were to be told after ``seq``, in order."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(lane_outbox.c.seq, lane_outbox.c.body)
                .where(and_(lane_outbox.c.lane == name, lane_outbox.c.seq > seq))
                .order_by(lane_outbox.c.seq))
            return [(r.seq, r.body) for r in rows]

    def prune_outbox(self, keep: dt.timedelta = OUTBOX_KEEP) -> int:
        with self._writer.begin() as conn:
            result = conn.execute(delete(lane_outbox)
                                  .where(lane_outbox.c.created_at < utcnow() - keep))
            return int(result.rowcount or 0)

    def _lock(self, conn: Connection, name: str) -> None:
        if self.shared:
            # Locks the name, not a row: it also serialises a lane's very first transition.
            conn.execute(select(func.pg_advisory_xact_lock(LANE_LOCK_CLASS,
                                                           func.hashtext(name))))
        # SQLite: the writer's BEGIN IMMEDIATE already holds the database's write lock.

    def _alive(self, conn: Connection, driver: int) -> bool:
        if not self.shared:
            return False  # one process per SQLite registry: any other driver was a former life
        return bool(conn.execute(_ALIVE, {"cls": PROCESS_LOCK_CLASS, "key": driver}).scalar())


@dataclass(frozen=True)
class _HotSql:
    """A transition's statements as the driver takes them (named parameters in its style),
    with the timestamp conversion SQLAlchemy's column type would apply."""

    lock: str
    read: str
    insert: str
    update: str
    link_sale: str
    close_sale: str
    outbox: str
    notify: str
    stamp: Callable[[dt.datetime], Any]

    @classmethod
    def of(cls, dialect: Dialect) -> _HotSql:
        def driver(sql: str) -> str:
            return driver_sql(dialect, sql)

        stamp = lanes.c.updated_at.type.dialect_impl(dialect).bind_processor(dialect)
        return cls(
            lock=driver("SELECT pg_advisory_xact_lock(CAST(:cls AS integer), hashtext(:n))"),
            read=driver(f"SELECT state_json FROM {lanes.name} WHERE name = :n"),
            insert=driver(f"INSERT INTO {lanes.name} (name, state_json, seq, pending, driver, "
                          "updated_at) VALUES (:n, :state_json, :seq, :pending, :driver, "
                          ":updated_at)"),
            update=driver(f"UPDATE {lanes.name} SET state_json = :state_json, seq = :seq, "
                          "pending = :pending, driver = :driver, updated_at = :updated_at "
                          "WHERE name = :n"),
            # Remember which customer a sale belongs to (the latest connection wins).
            link_sale=driver(f"INSERT INTO {sales.name} (lane, sale_id, customer_id, "
                             "connected_at) VALUES (:lane, :sale_id, :customer_id, "
                             ":connected_at) ON CONFLICT (lane, sale_id) DO UPDATE SET "
                             "customer_id = excluded.customer_id, "
                             "connected_at = excluded.connected_at"),
            close_sale=driver(f"UPDATE {sales.name} SET total_minor = :total_minor, "
                              "currency = :currency, ended_at = :ended_at, "
                              "recorded_by = :recorded_by WHERE lane = :lane "
                              "AND sale_id = :sale_id"),
            outbox=driver(f"INSERT INTO {lane_outbox.name} (lane, seq, body, created_at) "
                          "VALUES (:lane, :seq, :body, :created_at)"),
            notify=driver("SELECT pg_notify(:channel, :payload)"),
            stamp=stamp or (lambda value: value))
