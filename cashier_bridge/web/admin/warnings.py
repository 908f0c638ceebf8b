"""Security warnings for managers and admins: who ran out of personnummer look-ups lately.

The banner on every back-office page of someone who may see them (``view_security_warnings``)
names the latest actors refused in the last :data:`BANNER_PERIOD`; ``/admin/security`` lists
them all (:mod:`.security`).  Read from the audit log (:mod:`cashier_bridge.registry.lookups`),
so every bridge process of a chain warns of the same refusals.
"""

from __future__ import annotations

import datetime as dt

from cashier_bridge.permissions import Action, StaffRole, allowed
from cashier_bridge.registry import Registry
from cashier_bridge.registry.lookups import LimitHit

BANNER_PERIOD = dt.timedelta(hours=24)
BANNER_NAMES = 3  # actors named in the banner; the page has the rest


def banner_hits(registry: Registry, role: StaffRole) -> list[LimitHit]:
    """The refusals the banner names for someone signed in as ``role`` (none for a cashier).
    Synchronous (it reads the database): call it from a worker thread."""
    if not allowed(role, Action.view_security_warnings):
        return []
    lookups = registry.lookups
    return lookups.limit_hits(lookups.clock() - BANNER_PERIOD, limit=BANNER_NAMES + 1)


def who(actor: str) -> str:
    """An audit log's actor as a manager reads it.

    >>> who("staff:kim"), who("console:kassa-1"), who("token:3:POS sync")
    ('staff member kim', 'the cashier console of lane kassa-1', 'API token 3 (POS sync)')
    """
    kind, _, rest = actor.partition(":")
    if kind == "staff" and rest:
        return f"staff member {rest}"
    if kind == "console" and rest:
        return f"the cashier console of lane {rest}"
    if kind == "token" and rest:
        number, _, name = rest.partition(":")
        return f"API token {number} ({name})" if name else f"API token {number}"
    return actor
