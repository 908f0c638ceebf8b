"""Plain values the registry hands out and takes in; no database types leak out of it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields, make_dataclass
from operator import attrgetter
from typing import Any

from cashier_bridge.customers import fields as customer_fields
from cashier_bridge.customers.rules import AccountStatus
from cashier_bridge.protocol import CustomerCard

__all__ = ["AccountStatus", "CustomerRecord", "DuplicateCustomer", "ImportReport", "NewCustomer",
           "record_from_row"]


def _to_card(self: Any, *, matched_on: str | None = None, is_new: bool = False) -> CustomerCard:
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


def _attributes() -> list[tuple[str, Any, Any]]:
    """(name, type, dataclass field) of the record: the id, then each field's ``record`` names;
    those every customer has and that have no default first (a dataclass wants them so)."""
    plain: list[tuple[str, Any, Any]] = [("id", int, field())]
    defaulted: list[tuple[str, Any, Any]] = []
    for f in customer_fields.FIELDS:
        for n, attribute in enumerate(f.record):
            kind = f.record_type if n == 0 else str | None
            if f.always and f.default is None:
                plain.append((attribute, kind, field()))
            else:
                # A fingerprint is compared, never shown: out of the record's repr (and logs).
                defaulted.append((attribute, kind, field(
                    default=f.default, repr=not attribute.endswith("_fingerprint"))))
    return plain + defaulted


# A stored customer: the field table's ``record`` attributes (cashier_bridge.customers.fields)
# and the row's id, made from the table so that a new field is on it without a second edit
# (docs/decisions.md, "The record is made from the field table").
CustomerRecord = make_dataclass(
    "CustomerRecord", _attributes(), frozen=True,
    namespace={"to_card": _to_card,
               "__doc__": "A stored customer (the field table's record attributes and its id)."})
CustomerRecord.__module__ = __name__  # for pickling and reprs (make_dataclass's from 3.12)


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
