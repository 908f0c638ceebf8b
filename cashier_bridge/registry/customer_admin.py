"""Customers administration for the REST API and the cashier console: list, read, create,
change (with an audit entry of what changed), check, export and erase.

Input arrives as plain values the caller typed (any phone format, a full personnummer); every
field is normalised by the same rules as everywhere else in the bridge, and a bad one raises
:class:`~.fields.InvalidCustomer` naming it.  Creation goes through the registry's own
idempotent ``create_customer`` (passed in), so a retried request never makes a twin.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, select, update
from sqlalchemy.exc import IntegrityError

from ..identity import personnummer
from ..identity import phone as phone_id
from ..identity.errors import IdentityError
from . import fields
from .consents import ConsentEntry, current_on, log_on, withdraw_all
from .consents import append as append_consent
from .duplicates import DuplicateProbe, email_key
from .fields import InvalidCustomer
from .groups import default_group_id, stored_group
from .problems import Conflict, NotFound
from .records import CustomerRecord, DuplicateCustomer, NewCustomer, record_from_row
from .sales import Sale, list_on
from .schema import audit_log, customers
from .timestamps import utcnow
from .writes import MARKETING, audit

API_SOURCE = "api"
MAX_NOTE = 2000
_HIGHEST_CHAR = "\U0010ffff"
# Identifiers one customer holds at most once, in the order a clash is reported.
UNIQUE = ("personal_id_fingerprint", "phone", "email", "customer_code")
# How a column is named to a caller.
FIELD_OF = {"personal_id_fingerprint": "personal_id"}
_OPTIONAL_TEXT = {"street": 200, "postal_code": 16, "city": 100, "country": 56}
# Audit details keep these keys when their customer is erased: none of them says who it was.
_IMPERSONAL_DETAIL = frozenset({"created_via", "fields", "group_id", "purpose", "source"})

CreateCustomer = Callable[..., tuple[CustomerRecord, bool]]
LikelyDuplicates = Callable[[DuplicateProbe], list[tuple[CustomerRecord, str]]]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: dt.datetime
    actor: str
    action: str
    detail: Any


@dataclass(frozen=True, slots=True)
class CustomerExport:
    """Everything held about one person (GDPR article 15)."""

    customer: CustomerRecord
    consents: dict[str, ConsentEntry]
    consent_log: list[ConsentEntry]
    sales: list[Sale]
    audit: list[AuditEntry]


def normalise(given: Mapping[str, Any], *, region: str,
              fingerprint: Callable[[str], str]) -> dict[str, Any]:
    """Column values of the fields in ``given`` (None clears an optional one); raises
    InvalidCustomer naming the first bad field.  ``group_id`` is passed through (it needs the
    database)."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name in ("first_name", "last_name"):
            if value is None:
                raise InvalidCustomer(name, "is required")
            out[name] = fields.name(value, name)
            out[f"{name}_key"] = fields.search_key(out[name])
        elif name == "email":
            out["email"] = fields.email(value) if value and value.strip() else None
            out["email_key"] = email_key(out["email"]) if out["email"] else None
        elif name == "phone":
            out["phone"] = _parsed("phone", value, lambda v: phone_id.compact(v, region))
        elif name == "personal_id":
            pid = _parsed("personal_id", value, personnummer.parse)
            out["personal_id_fingerprint"] = fingerprint(pid.number) if pid else None
            out["personal_id_masked"] = pid.masked if pid else None
            if pid and pid.birth_date and "birth_date" not in given:
                out["birth_date"] = pid.birth_date
        elif name == "birth_date":
            out["birth_date"] = value
        elif name in _OPTIONAL_TEXT:
            out[name] = fields.optional_text(value, name, _OPTIONAL_TEXT[name])
        elif name == "note":
            out["note"] = _note(value)
        elif name == "customer_code":
            if value is None or not value.strip():
                raise InvalidCustomer("customer_code", "cannot be empty; every customer has one")
            out["customer_code"] = fields.customer_code(value)
        elif name == "group_id":
            out["group_id"] = value
        else:
            raise InvalidCustomer(name, "is not a customer field")
    return out


def _parsed(field: str, value: str | None, parse: Callable[[str], Any]) -> Any:
    if value is None or not value.strip():
        return None
    try:
        return parse(value)
    except IdentityError as err:
        raise InvalidCustomer(field, str(err)) from None


def _note(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_NOTE:
        raise InvalidCustomer("note", f"has more than {MAX_NOTE} characters")
    return value or None


def scrub(detail: str | None) -> str | None:
    """An audit detail without anything that says who it was about (kept for erasure)."""
    if detail is None:
        return None
    try:
        parsed = json.loads(detail)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    kept = {k: v for k, v in parsed.items() if k in _IMPERSONAL_DETAIL}
    changed = set(parsed.get("before") or {}) | set(parsed.get("after") or {})
    if changed:
        kept["fields"] = sorted(changed | set(kept.get("fields", [])))
    return json.dumps(kept, ensure_ascii=False) if kept else None


class CustomerAdmin:
    def __init__(self, reader: Engine, writer: Engine, *, record_select: Select[Any],
                 create: CreateCustomer, likely_duplicates: LikelyDuplicates,
                 fingerprint: Callable[[str], str]) -> None:
        self._reader = reader
        self._writer = writer
        self._select = record_select
        self._create = create
        self._likely_duplicates = likely_duplicates
        self._fingerprint = fingerprint

    # --- reading -------------------------------------------------------------------------------

    def get(self, customer_id: int) -> CustomerRecord:
        with self._reader.connect() as conn:
            return self._get(conn, customer_id)

    def list(self, *, limit: int, after: int | None = None, group_id: int | None = None
             ) -> tuple[list[CustomerRecord], int | None]:
        """A page of customers by id, and the id to continue after (None on the last page)."""
        c = customers.c
        query = self._select.where(c.erased_at.is_(None))
        if after is not None:
            query = query.where(c.id > after)
        with self._reader.connect() as conn:
            if group_id is not None:
                _name, stored = stored_group(conn, group_id)
                query = query.where(c.group_id.is_(None) if stored is None
                                    else c.group_id == stored)
            rows = conn.execute(query.order_by(c.id).limit(limit + 1)).all()
        page = [record_from_row(r) for r in rows[:limit]]
        return page, (page[-1].id if len(rows) > limit else None)

    def default_group_id(self) -> int:
        with self._reader.connect() as conn:
            return default_group_id(conn)

    # --- creating and checking -----------------------------------------------------------------

    def new_customer(self, given: Mapping[str, Any], *, region: str) -> NewCustomer:
        """The NewCustomer a creation request describes; raises InvalidCustomer."""
        for required in ("first_name", "last_name"):
            if given.get(required) is None:
                raise InvalidCustomer(required, "is required")
        values = normalise({k: v for k, v in given.items() if k != "marketing_consent"},
                           region=region, fingerprint=self._fingerprint)
        group = None
        if values.get("group_id") is not None:
            with self._reader.connect() as conn:
                try:
                    group, _ = stored_group(conn, values["group_id"])
                except NotFound as err:
                    raise InvalidCustomer("group_id", err.message) from None
        return NewCustomer(
            first_name=values["first_name"], last_name=values["last_name"],
            phone=values.get("phone"), email=values.get("email"),
            personal_id_fingerprint=values.get("personal_id_fingerprint"),
            personal_id_masked=values.get("personal_id_masked"),
            birth_date=values.get("birth_date"), created_via=API_SOURCE,
            customer_code=values.get("customer_code"), street=values.get("street"),
            postal_code=values.get("postal_code"), city=values.get("city"),
            country=values.get("country"), customer_group=group, note=values.get("note"))

    def create(self, given: Mapping[str, Any], *, region: str, idempotency_key: str | None,
               actor: str) -> tuple[CustomerRecord, bool]:
        """Create a customer; (customer, False) when this request was already carried out.
        The same idempotency key with another body is a Conflict."""
        new = self.new_customer(given, region=region)
        if idempotency_key is None:
            request_key = f"{API_SOURCE}:{uuid.uuid4().hex}"
        else:
            body = json.dumps(given, sort_keys=True, default=str, ensure_ascii=False)
            digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]
            # The key and what it was used for, in the customer's request key: a retry finds
            # its customer; a reuse for something else finds the key with another digest.
            prefix = f"{API_SOURCE}:{idempotency_key}:"
            request_key = prefix + digest
            self._refuse_reuse(prefix, request_key)
        record, created = self._create(request_key, new, actor=actor)
        consent = given.get("marketing_consent")
        if consent is not None:
            # Idempotent on the request key: a retry after a lost answer records it once.
            with self._writer.begin() as conn:
                append_consent(conn, record.id, MARKETING, bool(consent), API_SOURCE, None,
                               request_key=request_key)
        return record, created

    def _refuse_reuse(self, prefix: str, request_key: str) -> None:
        c = customers.c
        with self._reader.connect() as conn:
            used = conn.execute(select(c.request_key).where(
                and_(c.request_key >= prefix, c.request_key < prefix + _HIGHEST_CHAR),
                c.request_key != request_key).limit(1)).first()
        if used is not None:
            raise Conflict("this Idempotency-Key was used for a request with another body; "
                           "use a new key for a new customer")

    def validate(self, given: Mapping[str, Any], *, region: str
                 ) -> list[tuple[CustomerRecord, str]]:
        """Check a would-be customer as ``create`` would, changing nothing: raises
        InvalidCustomer or DuplicateCustomer; else the customers it may be (with the reason)."""
        new = self.new_customer(given, region=region)
        values = {"personal_id_fingerprint": new.personal_id_fingerprint, "phone": new.phone,
                  "email": new.email, "customer_code": new.customer_code}
        with self._reader.connect() as conn:
            self._refuse_taken(conn, values, None)
        return self._likely_duplicates(DuplicateProbe(
            birth_date=new.birth_date, first_name=new.first_name, last_name=new.last_name,
            phone=new.phone, email=new.email,
            personal_id_fingerprint=new.personal_id_fingerprint))

    # --- changing ------------------------------------------------------------------------------

    def update(self, customer_id: int, given: Mapping[str, Any], *, region: str,
               actor: str) -> CustomerRecord:
        """Change the given fields (None clears an optional one); the audit log gets who
        changed what, before and after."""
        values = normalise(given, region=region, fingerprint=self._fingerprint)
        try:
            with self._writer.begin() as conn:
                return self._update(conn, customer_id, values, actor)
        except IntegrityError:
            # Someone took one of the identifiers at the same moment: say who.
            with self._reader.connect() as conn:
                self._refuse_taken(conn, values, customer_id)
            raise

    def _update(self, conn: Connection, customer_id: int, values: dict[str, Any],
                actor: str) -> CustomerRecord:
        before = self._get(conn, customer_id)
        row = conn.execute(select(customers).where(customers.c.id == customer_id)).one()
        if "group_id" in values and values["group_id"] is not None:
            try:
                _name, values["group_id"] = stored_group(conn, values["group_id"])
            except NotFound as err:
                raise InvalidCustomer("group_id", err.message) from None
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        self._refuse_taken(conn, {k: changed[k] for k in UNIQUE if k in changed}, customer_id)
        shown = [k for k in changed if not k.endswith("_key")
                 and k != "personal_id_fingerprint"]
        if not changed:
            return before
        conn.execute(update(customers).where(customers.c.id == customer_id)
                     .values(**changed, updated_at=utcnow()))
        after = self._get(conn, customer_id)
        audit(conn, actor, "update", customer_id, {
            "before": {k: _shown(getattr(row, k)) for k in shown},
            "after": {k: _shown(changed[k]) for k in shown}})
        return after

    def _refuse_taken(self, conn: Connection, values: Mapping[str, Any],
                      other_than: int | None) -> None:
        for name in UNIQUE:
            value = values.get(name)
            if value is None:
                continue
            condition = customers.c[name] == value
            if other_than is not None:
                condition = and_(condition, customers.c.id != other_than)
            # Erased customers keep no identifiers but their ERASED- code, so this is live.
            row = conn.execute(self._select.where(condition).limit(1)).first()
            if row is not None:
                raise DuplicateCustomer(record_from_row(row), FIELD_OF.get(name, name))

    # --- GDPR ----------------------------------------------------------------------------------

    def export(self, customer_id: int) -> CustomerExport:
        with self._reader.connect() as conn:
            record = self._get(conn, customer_id)
            entries = conn.execute(select(audit_log).where(audit_log.c.customer_id == customer_id)
                                   .order_by(audit_log.c.id)).all()
            return CustomerExport(
                customer=record, consents=current_on(conn, customer_id),
                consent_log=log_on(conn, customer_id), sales=list_on(conn, customer_id),
                audit=[AuditEntry(e.at, e.actor, e.action,
                                  json.loads(e.detail) if e.detail else None) for e in entries])

    def erase(self, customer_id: int, *, actor: str) -> None:
        """GDPR erasure.  The person's data goes; the row stays (as ``ERASED-<id>``) so their
        sales stay in the books, anonymised.  Every consent they had given is withdrawn in the
        log (source ``erasure``), earlier audit entries keep only which fields changed, and
        the audit log records who erased them.  NotFound if there is no such customer."""
        now = utcnow()
        with self._writer.begin() as conn:
            done = conn.execute(
                update(customers)
                .where(customers.c.id == customer_id, customers.c.erased_at.is_(None))
                .values(customer_code=f"ERASED-{customer_id}", first_name="", last_name="",
                        first_name_key="", last_name_key="", email=None, email_key=None,
                        phone=None, personal_id_fingerprint=None, personal_id_masked=None,
                        birth_date=None, street=None, postal_code=None, city=None,
                        country=None, note=None, request_key=None, updated_at=now,
                        erased_at=now)).rowcount
            if not done:
                raise NotFound(f"there is no customer with id {customer_id}")
            withdrawn = withdraw_all(conn, customer_id, "erasure")
            entries = conn.execute(select(audit_log.c.id, audit_log.c.detail).where(
                audit_log.c.customer_id == customer_id, audit_log.c.detail.is_not(None))).all()
            for entry in entries:
                scrubbed = scrub(entry.detail)
                if scrubbed != entry.detail:
                    conn.execute(update(audit_log).where(audit_log.c.id == entry.id)
                                 .values(detail=scrubbed))
            audit(conn, actor, "erase", customer_id,
                  {"consents_withdrawn": withdrawn} if withdrawn else None)

    # --- helpers -------------------------------------------------------------------------------

    def _get(self, conn: Connection, customer_id: int) -> CustomerRecord:
        row = conn.execute(self._select.where(customers.c.id == customer_id,
                                              customers.c.erased_at.is_(None))).first()
        if row is None:
            raise NotFound(f"there is no customer with id {customer_id}")
        return record_from_row(row)


def _shown(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value

