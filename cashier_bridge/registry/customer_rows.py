"""Customer rows on a connection: the record select, look-ups by one unique key, the likely
duplicates of a would-be member, and the insert a request key makes idempotent.  The customer
store (:class:`.customer_admin.CustomerAdmin`, ``registry.customers``) runs them in its
transactions.

Uniqueness (one customer per personal ID, phone, email, code, request key) is guaranteed by
unique indexes; the checks here before an insert only exist to give a precise
:class:`DuplicateCustomer` instead of a bare database error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, insert, select

from cashier_bridge.audit import AuditAction
from cashier_bridge.registry.consents import append as append_consent
from cashier_bridge.registry.duplicates import DuplicateProbe, email_key, similar_names
from cashier_bridge.registry.live import live
from cashier_bridge.registry.records import (
    CustomerRecord,
    DuplicateCustomer,
    NewCustomer,
    record_from_row,
)
from cashier_bridge.registry.schema import customer_groups, customers
from cashier_bridge.registry.timestamps import utcnow
from cashier_bridge.registry.writes import (
    DEFAULT_GROUP,
    MARKETING,
    assign_codes,
    audit,
    first_holder,
    group_id,
)

MATCH_COLUMNS = {
    "personal_id_fingerprint": customers.c.personal_id_fingerprint,
    "phone": customers.c.phone,
    "customer_code": customers.c.customer_code,
    "email": customers.c.email,
}
# Checked in this order when a new customer is about to be created or imported.
_UNIQUE_IDENTIFIERS = ("personal_id_fingerprint", "phone", "email")

RECORD_SELECT: Select[Any] = select(
    *customers.c, func.coalesce(customer_groups.c.name, DEFAULT_GROUP).label("customer_group")
).select_from(customers.outerjoin(customer_groups, customers.c.group_id == customer_groups.c.id))


def find_one(conn: Connection, kind: str, value: str) -> Any:
    """The live customer row whose ``kind`` column (a MatchKey kind) holds ``value``, or None;
    ValueError for an unknown kind."""
    column = MATCH_COLUMNS.get(kind)
    if column is None:
        raise ValueError(f"unknown match key kind {kind!r}; expected one of "
                         f"{', '.join(MATCH_COLUMNS)}")
    value = match_value(kind, value)
    if not value:
        return None
    return by(conn, column == value)


def by(conn: Connection, condition: ColumnElement[bool]) -> Any:
    return conn.execute(
        RECORD_SELECT.where(condition, live()).limit(1)
    ).first()


def likely_duplicates_on(conn: Connection, probe: DuplicateProbe, limit: int
                         ) -> list[tuple[CustomerRecord, str]]:
    """See :meth:`.customer_admin.CustomerAdmin.likely_duplicates`."""
    shown = live()
    found: dict[int, tuple[CustomerRecord, str]] = {}
    if probe.phone:
        for row in conn.execute(RECORD_SELECT.where(customers.c.phone == probe.phone, shown)):
            if not _another_person(probe, row):
                found.setdefault(row.id, (record_from_row(row), "same_phone"))
    if probe.email:
        key = email_key(probe.email)
        for row in conn.execute(RECORD_SELECT.where(customers.c.email_key == key, shown)
                                .limit(limit)):
            if not _another_person(probe, row):
                found.setdefault(row.id, (record_from_row(row), "same_email"))
    if probe.birth_date is not None:
        # Bounded: a common birth date in a big registry has a few dozen customers.
        rows = conn.execute(RECORD_SELECT.where(
            customers.c.birth_date == probe.birth_date, shown)
            .order_by(customers.c.id).limit(500))
        for row in rows:
            reason = _birth_date_reason(probe, row)
            if reason:
                found.setdefault(row.id, (record_from_row(row), reason))
    return list(found.values())[:limit]


def created_for(conn: Connection, request_key: str, values: dict[str, Any],
                new: NewCustomer) -> CustomerRecord | None:
    """The customer this request already created, if any; raises DuplicateCustomer if the
    identifiers belong to a customer created by another request."""
    existing = by(conn, customers.c.request_key == request_key)
    if existing is None:
        # Under READ COMMITTED (PostgreSQL) the twin request may commit between the statement
        # above and the one below; its row then shows up as a "duplicate" with our key.
        taken = _taken(conn, values, new.customer_code is not None)
        if taken is None:
            return None
        existing, field = taken
        if existing.request_key != request_key:
            raise DuplicateCustomer(record_from_row(existing), field)
    return record_from_row(existing)


def create_on(conn: Connection, request_key: str, new: NewCustomer, values: dict[str, Any],
              *, actor: str, extra: Mapping[str, Any] | None = None
              ) -> tuple[CustomerRecord, bool]:
    """Create ``new`` (its :func:`customer_values`, and ``extra`` columns NewCustomer has no
    field for) on ``conn``, unless request ``request_key`` already created it: (customer, True
    if created).  Raises DuplicateCustomer; IntegrityError when a twin request raced it."""
    existing = created_for(conn, request_key, values, new)
    if existing is not None:
        return existing, False
    row = _insert_customer(conn, {**values, **(extra or {})}, new, request_key=request_key,
                           actor=actor)
    return record_from_row(row), True


# --- helpers ------------------------------------------------------------------------------------


def _another_person(probe: DuplicateProbe, row: Any) -> bool:
    """Two personal ID numbers: two people, whatever else they share (a family's phone)."""
    return bool(probe.personal_id_fingerprint and row.personal_id_fingerprint
                and row.personal_id_fingerprint != probe.personal_id_fingerprint)


def _birth_date_reason(probe: DuplicateProbe, row: Any) -> str | None:
    if _another_person(probe, row):
        return None
    if probe.first_name or probe.last_name:
        if similar_names(probe.first_name, probe.last_name, row.first_name, row.last_name):
            return "same_birth_date_similar_name"
        return None
    return "same_birth_date_no_personal_id" if row.personal_id_fingerprint is None else None


def match_value(kind: str, value: str) -> str:
    """A key's value as the registry stores it.

    >>> match_value("email", " Anna@Example.SE "), match_value("customer_code", "ab 12")
    ('anna@example.se', 'AB12')
    """
    if kind == "email":
        return value.strip().lower()
    if kind == "customer_code":
        return "".join(value.split()).upper()
    return value.strip()


def _taken(conn: Connection, values: dict[str, Any], check_code: bool,
           *, other_than: int | None = None) -> tuple[Any, str] | None:
    """The first customer (row, field) already holding one of the unique values.  Erased
    customers keep their code, so a code clash is checked against them too."""
    names = (*_UNIQUE_IDENTIFIERS, "customer_code") if check_code else _UNIQUE_IDENTIFIERS
    return first_holder(conn, RECORD_SELECT, values, names, other_than=other_than)


def _insert_customer(conn: Connection, values: dict[str, Any], new: NewCustomer, *,
                     request_key: str | None, actor: str) -> Any:
    now = utcnow()
    code = values["customer_code"] or assign_codes(conn, 1)[0]
    group = group_id(conn, new.customer_group) if new.customer_group else None
    customer_id = conn.execute(
        insert(customers).values(
            **{**values, "customer_code": code}, group_id=group, note=new.note,
            created_via=new.created_via, request_key=request_key, created_at=now,
            updated_at=now,
        ).returning(customers.c.id)
    ).scalar_one()
    if new.marketing_consent:
        append_consent(conn, customer_id, MARKETING, True,
                       new.consent_source or new.created_via, new.consent_text_version, at=now)
    audit(conn, actor, AuditAction.create, customer_id,
          {"created_via": new.created_via, "customer_code": code})
    return by(conn, customers.c.id == customer_id)
