"""The customer registry (SQLAlchemy 2 + Alembic; SQLite for one shop, PostgreSQL for a chain).

Personal ID numbers never reach the database: only an HMAC fingerprint (made with a key kept
outside the database, see :mod:`.personal_id_key`; every bridge of a chain is given the same)
and a masked form.
"""

from cashier_bridge.registry.duplicates import DuplicateProbe
from cashier_bridge.registry.fields import InvalidCustomer
from cashier_bridge.registry.records import (
    CustomerRecord,
    DuplicateCustomer,
    ImportReport,
    NewCustomer,
)
from cashier_bridge.registry.store import Registry

__all__ = [
    "CustomerRecord",
    "DuplicateCustomer",
    "DuplicateProbe",
    "ImportReport",
    "InvalidCustomer",
    "NewCustomer",
    "Registry",
]
