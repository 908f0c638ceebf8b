"""Plain values the registry hands out and takes in; no database types leak out of it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from cashier_bridge.customers.rules import AccountStatus
from cashier_bridge.protocol import CustomerCard

__all__ = ["AccountStatus", "CustomerRecord", "DuplicateCustomer", "ImportReport", "NewCustomer",
           "record_from_row"]


@dataclass(frozen=True)
class CustomerRecord:
    """A stored customer.  Its attributes are the field table's ``record`` names
    (cashier_bridge.customers.fields; a test keeps the two the same) and the row's id."""

    id: int
    customer_code: str
    first_name: str
    last_name: str
    phone: str | None  # E.164
    email: str | None  # lower-cased
    personal_id_masked: str | None
    birth_date: dt.date | None
    created_via: str
    created_at: dt.datetime
    updated_at: dt.datetime
    street: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None
    customer_group: str | None = None
    account_balance_minor: int = 0
    loyalty_balance_minor: int = 0
    store_credit_minor: int = 0
    note: str | None = None
    company_name: str | None = None
    # Where goods go when it is not the postal address (street … country above).
    delivery_street: str | None = None
    delivery_postal_code: str | None = None
    delivery_city: str | None = None
    delivery_country: str | None = None
    # Credit terms (only managers and admins change them): None means no limit / no rate set.
    account_limit_minor: int | None = None
    account_status: AccountStatus = AccountStatus.active
    loyalty_rate_bp: int | None = None  # basis points: 250 = 2.5 % of a sale back as loyalty
    # Compared, never shown: tells a customer found by phone apart from the shopper.
    personal_id_fingerprint: str | None = field(default=None, repr=False)

    def to_card(self, *, matched_on: str | None = None, is_new: bool = False) -> CustomerCard:
        return CustomerCard(
            id=self.id,
            customer_code=self.customer_code,
            first_name=self.first_name,
            last_name=self.last_name,
            phone=self.phone,
            email=self.email,
            personal_id_masked=self.personal_id_masked,
            created_via=self.created_via,
            is_new=is_new,
            matched_on=matched_on,
        )


@dataclass(frozen=True)
class NewCustomer:
    first_name: str
    last_name: str
    phone: str | None = None  # E.164 (identity.phone.validate)
    email: str | None = None
    personal_id_fingerprint: str | None = None  # Registry.fingerprint(number), never the number
    personal_id_masked: str | None = None
    birth_date: dt.date | None = None
    created_via: str = "numpad"
    marketing_consent: bool = False
    consent_source: str | None = None
    customer_code: str | None = None  # None: the registry assigns one
    street: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None
    customer_group: str | None = None  # group name; created if new
    consent_text_version: str | None = None
    note: str | None = None  # the shop's own remark (API, console); never shown to the shopper


class DuplicateCustomer(Exception):
    """The identifier given for a new customer already belongs to another customer."""

    def __init__(self, existing: CustomerRecord, field: str) -> None:
        super().__init__(
            f"{field} already belongs to customer {existing.customer_code} (id {existing.id})"
        )
        self.existing = existing
        self.field = field


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    skipped: int = 0  # blank lines and rows identical to what is stored
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    ignored_columns: list[str] = field(default_factory=list)  # header columns we do not know

    @property
    def ok(self) -> bool:
        return not self.errors

    def messages(self) -> list[str]:
        return [f"line {line}: {reason}" for line, reason in self.errors]


def record_from_row(row: Any) -> CustomerRecord:
    """A customers row (with the group name as ``customer_group``) as a record."""
    values = list(_READ(row))
    values[_STATUS] = AccountStatus(values[_STATUS])
    return CustomerRecord(*values)


# By position, in the record's order: a look-up builds one per match, a search one per row.
_RECORD_ATTRIBUTES = tuple(f.name for f in fields(CustomerRecord))
_READ = attrgetter(*_RECORD_ATTRIBUTES)
_STATUS = _RECORD_ATTRIBUTES.index("account_status")
