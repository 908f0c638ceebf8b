"""Sales linked to customers: the register's (a lane connects a customer, ``end_sale`` closes
it) and those a POS system records through the API afterwards.  A sale is one per (register,
sale id), so recording the same sale again is harmless and recording it with other data is a
conflict, never a second row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, select, update

from cashier_bridge.registry.consents import require_customer
from cashier_bridge.registry.problems import Conflict
from cashier_bridge.registry.schema import sales
from cashier_bridge.registry.timestamps import utcnow


@dataclass(frozen=True, slots=True)
class Sale:
    sale_id: str
    register: str
    total_minor: int | None
    currency: str | None
    connected_at: dt.datetime
    ended_at: dt.datetime | None
    recorded_by: str | None


def _sale(row: object) -> Sale:
    r = row
    return Sale(r.sale_id, r.lane, r.total_minor, r.currency,  # type: ignore[attr-defined]
                r.connected_at, r.ended_at, r.recorded_by)  # type: ignore[attr-defined]


def list_on(conn: Connection, customer_id: int) -> list[Sale]:
    rows = conn.execute(select(sales).where(sales.c.customer_id == customer_id)
                        .order_by(sales.c.connected_at.desc(), sales.c.id.desc()))
    return [_sale(r) for r in rows]


class SaleStore:
    def __init__(self, reader: Engine, writer: Engine) -> None:
        self._reader = reader
        self._writer = writer

    def list(self, customer_id: int) -> list[Sale]:
        with self._reader.connect() as conn:
            require_customer(conn, customer_id)
            return list_on(conn, customer_id)

    def record(self, customer_id: int, *, sale_id: str, register: str, total_minor: int,
               currency: str, at: dt.datetime | None, recorded_by: str) -> tuple[Sale, bool]:
        """Record a finished sale for the customer; (sale, True) if this changed anything.
        Raises NotFound for an unknown customer and Conflict when the register's sale is
        already recorded with other data."""
        ended = at or utcnow()
        where = (sales.c.lane == register, sales.c.sale_id == sale_id)
        with self._writer.begin() as conn:
            require_customer(conn, customer_id)
            row = conn.execute(select(sales).where(*where)).first()
            if row is not None:
                if row.customer_id != customer_id:
                    raise Conflict(f"sale {sale_id} of register {register} is recorded for "
                                   "another customer")
                if row.total_minor is not None:
                    if (row.total_minor, row.currency) != (total_minor, currency):
                        raise Conflict(
                            f"sale {sale_id} of register {register} is already recorded with "
                            f"{row.total_minor} {row.currency}")
                    return _sale(row), False
                # Linked at the register but not closed: this closes it.
                conn.execute(update(sales).where(*where).values(
                    total_minor=total_minor, currency=currency, ended_at=ended,
                    recorded_by=recorded_by[:64]))
            else:
                conn.execute(insert(sales).values(
                    lane=register, sale_id=sale_id, customer_id=customer_id,
                    connected_at=ended, total_minor=total_minor, currency=currency,
                    ended_at=ended, recorded_by=recorded_by[:64]))
            return _sale(conn.execute(select(sales).where(*where)).one()), True
