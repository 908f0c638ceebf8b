"""Which customers anyone may see: neither erased (GDPR) nor merged into another customer.

An erased customer's row stays for the books; a merged-away one stays so that the merge can be
undone.  Both are hidden from lists, search, lookups and identification alike, so every query
that shows customers filters on :func:`live` rather than on ``erased_at`` alone.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_

from cashier_bridge.registry.schema import customers


def live() -> ColumnElement[bool]:
    return and_(customers.c.erased_at.is_(None), customers.c.merged_into_id.is_(None))
