"""The customer registry (SQLAlchemy 2 + Alembic; SQLite for one shop, PostgreSQL for a chain).

Personal ID numbers never reach the database: only an HMAC fingerprint (keyed with a secret kept
in the ``installation`` table, shared by every bridge process of a chain) and a masked form.
"""

from .duplicates import DuplicateProbe
from .fields import InvalidCustomer
from .records import CustomerRecord, DuplicateCustomer, ImportReport, NewCustomer
from .store import Registry

__all__ = [
    "CustomerRecord",
    "DuplicateCustomer",
    "DuplicateProbe",
    "ImportReport",
    "InvalidCustomer",
    "NewCustomer",
    "Registry",
]
