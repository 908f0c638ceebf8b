"""Small write steps shared by the registry's single-row and bulk paths."""

from __future__ import annotations

import json
from collections.abc import Container, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, insert, select

from cashier_bridge.audit import AuditAction
from cashier_bridge.customers.fields import BY_NAME
from cashier_bridge.identity import customer_code
from cashier_bridge.registry import fields
from cashier_bridge.registry.duplicates import email_key
from cashier_bridge.registry.records import NewCustomer
from cashier_bridge.registry.schema import audit_log, customer_groups, customers
from cashier_bridge.registry.timestamps import utcnow

MARKETING = "marketing"
_STREET, _CITY, _COUNTRY = (BY_NAME[n].max_length or 0 for n in ("street", "city", "country"))
_LOOKUP_BATCH = 500


def customer_values(new: NewCustomer) -> dict[str, Any]:
    """The normalised column values of a new customer; raises InvalidCustomer."""
    first = fields.name(new.first_name, "first_name")
    last = fields.name(new.last_name, "last_name")
    email = fields.email(new.email) if new.email else None
    return {
        "customer_code": fields.customer_code(new.customer_code)
        if new.customer_code is not None else None,
        "first_name": first,
        "last_name": last,
        "first_name_key": fields.search_key(first),
        "last_name_key": fields.search_key(last),
        "email": email,
        "email_key": email_key(email) if email else None,
        "phone": new.phone or None,
        "personal_id_fingerprint": new.personal_id_fingerprint or None,
        "personal_id_masked": new.personal_id_masked or None,
        "birth_date": new.birth_date,
        # The field table's rules, as for the API and the back office (a kiosk's postal code
        # is checked like any other); called directly: a bulk load runs this per row.
        "street": fields.optional_text(new.street, "street", _STREET),
        "postal_code": fields.postal_code(new.postal_code),
        "city": fields.optional_text(new.city, "city", _CITY),
        "country": fields.optional_text(new.country, "country", _COUNTRY),
    }



def consent_values(customer_id: int, new: NewCustomer, now: Any) -> dict[str, Any]:
    return {"customer_id": customer_id, "purpose": MARKETING, "granted": new.marketing_consent,
            "source": new.consent_source or new.created_via,
            "text_version": new.consent_text_version, "recorded_at": now}



def insert_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT through the driver's executemany with values converted per column type.

    The same as ``conn.execute(insert(table), rows)`` (all rows with the same keys), minus
    SQLAlchemy's per-value bookkeeping, which is most of the cost at a million rows.
    """
    names = list(rows[0])
    dialect = conn.dialect
    converters = []
    for i, name in enumerate(names):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            converters.append((i, process))
    params = []
    last: dict[int, tuple[Any, Any]] = {}  # timestamps repeat row after row; convert them once
    for row in rows:
        values = list(row.values())
        for i, process in converters:
            value = values[i]
            if value is None:
                continue
            seen = last.get(i)
            if seen is not None and seen[0] is value:
                values[i] = seen[1]
            else:
                values[i] = process(value)
                last[i] = (value, values[i])
        params.append(tuple(values))
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"VALUES ({', '.join([placeholder] * len(names))})", params)



def assign_codes(conn: Connection, count: int, *, avoid: Container[str] = frozenset(),
                 look_up: bool = True) -> list[str]:
    """``count`` new members' codes (:func:`customer_code.new_assigned`: random, with a check
    digit), none of them in ``avoid`` or, when ``look_up``, held by any customer (erased and
    imported ones included).  Every code the registry gives out comes from here."""
    drawn: set[str] = set()
    codes: list[str] = []
    while len(codes) < count:
        fresh: list[str] = []
        while len(fresh) < count - len(codes):
            code = customer_code.new_assigned()
            if code not in drawn and code not in avoid:
                drawn.add(code)
                fresh.append(code)
        if look_up:
            taken: set[str] = set()
            for start in range(0, len(fresh), _LOOKUP_BATCH):
                taken.update(conn.execute(select(customers.c.customer_code).where(
                    customers.c.customer_code.in_(fresh[start:start + _LOOKUP_BATCH])))
                    .scalars())
            fresh = [code for code in fresh if code not in taken]
        codes += fresh
    return codes


DEFAULT_GROUP = "All customers"


def group_id(conn: Connection, name: str) -> int | None:
    """The id of the group called ``name``, created if new; None for the default group (its
    members are stored with no group)."""
    found = conn.execute(
        select(customer_groups.c.id, customer_groups.c.is_default)
        .where(customer_groups.c.name == name)
    ).first()
    if found is not None:
        return None if found.is_default else found.id
    return conn.execute(
        insert(customer_groups).values(name=name, created_at=utcnow())
        .returning(customer_groups.c.id)
    ).scalar_one()



def audit(conn: Connection, actor: str, action: AuditAction, customer_id: int | None,
           detail: dict[str, Any] | None) -> None:
    conn.execute(insert(audit_log).values(
        at=utcnow(), actor=actor, action=action, customer_id=customer_id,
        detail=json.dumps(detail, ensure_ascii=False) if detail is not None else None))


def first_holder(conn: Connection, base: Any, values: Mapping[str, Any], names: Sequence[str],
                 *, other_than: int | None = None) -> tuple[Any, str] | None:
    """The first customer (a row of ``base``, and the field) already holding one of the unique
    ``values`` under ``names``, other than customer ``other_than``."""
    for name in names:
        value = values.get(name)
        if value is None:
            continue
        condition = customers.c[name] == value
        if other_than is not None:
            condition = and_(condition, customers.c.id != other_than)
        row = conn.execute(base.where(condition).limit(1)).first()
        if row is not None:
            return row, name
    return None
