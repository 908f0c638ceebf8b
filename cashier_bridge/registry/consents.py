"""The consent log: append-only, one row per answer; the current answer per purpose is the
latest row.  Via mobil writes through :mod:`.mobile`; the API and erasure write here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from .problems import NotFound
from .schema import consents, customers
from .timestamps import utcnow

ERASURE_SOURCE = "erasure"


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    id: int
    purpose: str
    granted: bool
    source: str
    text_version: str | None
    recorded_at: dt.datetime


def _entry(row: object) -> ConsentEntry:
    return ConsentEntry(row.id, row.purpose, row.granted, row.source,  # type: ignore[attr-defined]
                        row.text_version, row.recorded_at)  # type: ignore[attr-defined]


def log_on(conn: Connection, customer_id: int) -> list[ConsentEntry]:
    rows = conn.execute(select(consents).where(consents.c.customer_id == customer_id)
                        .order_by(consents.c.id))
    return [_entry(r) for r in rows]


def current_on(conn: Connection, customer_id: int) -> dict[str, ConsentEntry]:
    latest = (select(func.max(consents.c.id)).where(consents.c.customer_id == customer_id)
              .group_by(consents.c.purpose))
    rows = conn.execute(select(consents).where(consents.c.id.in_(latest))
                        .order_by(consents.c.purpose))
    return {r.purpose: _entry(r) for r in rows}


def append(conn: Connection, customer_id: int, purpose: str, granted: bool, source: str,
           text_version: str | None, *, request_key: str | None = None,
           at: dt.datetime | None = None) -> bool:
    """One row more in the log; with a request key, at most once per (key, purpose).  True if
    a row was written."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(consents).values(
        customer_id=customer_id, purpose=purpose, granted=granted, source=source,
        text_version=text_version, recorded_at=at or utcnow(), request_key=request_key)
    if request_key is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["request_key", "purpose"])
    return bool(conn.execute(stmt).rowcount)


def withdraw_all(conn: Connection, customer_id: int, source: str) -> list[str]:
    """Append a withdrawal for every purpose whose latest answer is a yes; the purposes."""
    now = utcnow()
    withdrawn = [p for p, e in current_on(conn, customer_id).items() if e.granted]
    for purpose in withdrawn:
        append(conn, customer_id, purpose, False, source, None, at=now)
    return withdrawn


class ConsentStore:
    def __init__(self, reader: Engine, writer: Engine) -> None:
        self._reader = reader
        self._writer = writer

    def current(self, customer_id: int) -> dict[str, ConsentEntry]:
        with self._reader.connect() as conn:
            require_customer(conn, customer_id)
            return current_on(conn, customer_id)

    def log(self, customer_id: int) -> list[ConsentEntry]:
        with self._reader.connect() as conn:
            require_customer(conn, customer_id)
            return log_on(conn, customer_id)

    def record(self, customer_id: int, purpose: str, granted: bool, source: str,
               text_version: str | None = None, *, request_key: str | None = None) -> bool:
        with self._writer.begin() as conn:
            require_customer(conn, customer_id)
            return append(conn, customer_id, purpose, granted, source, text_version,
                          request_key=request_key)


def require_customer(conn: Connection, customer_id: int) -> None:
    found = conn.execute(select(customers.c.id).where(
        customers.c.id == customer_id, customers.c.erased_at.is_(None))).first()
    if found is None:
        raise NotFound(f"there is no customer with id {customer_id}")
