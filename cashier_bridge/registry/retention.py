"""Retention (GDPR storage limitation): the members with no sale and no sign-in at a register
since a cut-off, for a manager to review and erase.

A sign-in at a register is the start of a sale with the member connected (a ``sales`` row,
``connected_at``), whether or not the sale ended with a purchase; a member created after the
cut-off is not dormant however quiet.  The shop sets the years (the ``retention_years`` setting);
erasing is the customer service's erase, one member at a time, each audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, exists, func, select
from sqlalchemy.sql import ColumnElement

from cashier_bridge.registry.live import live
from cashier_bridge.registry.schema import customers, sales


@dataclass(frozen=True, slots=True)
class Dormant:
    id: int
    customer_code: str
    first_name: str
    last_name: str
    created_at: dt.datetime
    last_sale_at: dt.datetime | None


def _dormant(cutoff: dt.datetime) -> ColumnElement[bool]:
    recent = exists().where(sales.c.customer_id == customers.c.id,
                            sales.c.connected_at >= cutoff)
    return live() & (customers.c.created_at < cutoff) & ~recent


class RetentionStore:
    def __init__(self, reader: Engine) -> None:
        self._reader = reader

    def count(self, cutoff: dt.datetime) -> int:
        with self._reader.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(customers)
                                    .where(_dormant(cutoff))).scalar_one())

    def dormant(self, cutoff: dt.datetime, *, limit: int) -> list[Dormant]:
        """The first ``limit`` dormant members, oldest first."""
        last_sale = (select(func.max(sales.c.connected_at))
                     .where(sales.c.customer_id == customers.c.id).scalar_subquery())
        query = (select(customers.c.id, customers.c.customer_code, customers.c.first_name,
                        customers.c.last_name, customers.c.created_at,
                        last_sale.label("last_sale_at"))
                 .where(_dormant(cutoff)).order_by(customers.c.id).limit(limit))
        with self._reader.connect() as conn:
            return [Dormant(*row) for row in conn.execute(query)]
