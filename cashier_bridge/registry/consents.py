"""The consent log: append-only, one row per answer; the current answer per purpose is the
latest row.  Every answer is written here: Via mobil's (by the lane hub), the API's, the back
office's and erasure's.

Who gave an answer on the customer's behalf (a staff member, an API caller) is written to the
audit log in the same transaction, naming the consent row: the log's own columns say what, when,
where from (source) and which text; :meth:`ConsentStore.log_with_actors` joins the two."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from cashier_bridge.audit import AuditAction
from cashier_bridge.registry.fields import InvalidCustomer
from cashier_bridge.registry.live import live
from cashier_bridge.registry.problems import NotFound
from cashier_bridge.registry.schema import audit_log, consent_texts, consents, customers
from cashier_bridge.registry.timestamps import utcnow
from cashier_bridge.registry.writes import MARKETING, audit

CONSENT_ACTION = AuditAction.consent

ERASURE_SOURCE = "erasure"


class AnswerSource(StrEnum):
    """Where a customer gave an answer that someone else records for them (the API).  The
    bridge's own sources (``via_mobil``, ``back_office``, ``import``, ``erasure``) are not
    among them: nobody can make an answer look like one the shopper gave on the phone page."""

    api = "api"  # an integration, without saying more
    register = "register"  # asked at the till
    in_store_form = "in_store_form"  # a signed paper form
    web = "web"  # the shop's own web site or app
    customer_service = "customer_service"  # by phone or e-mail to the shop


@dataclass(frozen=True, slots=True)
class ConsentText:
    """A consent text as shown (the phone page, an API caller's form), under its version."""

    version: str
    purpose: str
    language: str
    text: str


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    id: int
    purpose: str
    granted: bool
    source: str
    text_version: str | None
    recorded_at: dt.datetime


def _entry(row: object) -> ConsentEntry:
    return ConsentEntry(row.id, row.purpose, row.granted, row.source,  # type: ignore[attr-defined]
                        row.text_version, row.recorded_at)  # type: ignore[attr-defined]


def log_on(conn: Connection, customer_id: int) -> list[ConsentEntry]:
    rows = conn.execute(select(consents).where(consents.c.customer_id == customer_id)
                        .order_by(consents.c.id))
    return [_entry(r) for r in rows]


def current_on(conn: Connection, customer_id: int) -> dict[str, ConsentEntry]:
    latest = (select(func.max(consents.c.id)).where(consents.c.customer_id == customer_id)
              .group_by(consents.c.purpose))
    rows = conn.execute(select(consents).where(consents.c.id.in_(latest))
                        .order_by(consents.c.purpose))
    return {r.purpose: _entry(r) for r in rows}


def append(conn: Connection, customer_id: int, purpose: str, granted: bool, source: str,
           text_version: str | None, *, request_key: str | None = None,
           at: dt.datetime | None = None) -> bool:
    """One row more in the log; with a request key, at most once per (key, purpose).  True if
    a row was written."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(consents).values(
        customer_id=customer_id, purpose=purpose, granted=granted, source=source,
        text_version=text_version, recorded_at=at or utcnow(), request_key=request_key)
    if request_key is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["request_key", "purpose"])
    return bool(conn.execute(stmt).rowcount)


def withdraw_all(conn: Connection, customer_id: int, source: str) -> list[str]:
    """Append a withdrawal for every purpose whose latest answer is a yes; the purposes."""
    now = utcnow()
    withdrawn = [p for p, e in current_on(conn, customer_id).items() if e.granted]
    for purpose in withdrawn:
        append(conn, customer_id, purpose, False, source, None, at=now)
    return withdrawn


class ConsentStore:
    def __init__(self, reader: Engine, writer: Engine) -> None:
        self._reader = reader
        self._writer = writer

    def current(self, customer_id: int) -> dict[str, ConsentEntry]:
        with self._reader.connect() as conn:
            require_customer(conn, customer_id)
            return current_on(conn, customer_id)

    def log(self, customer_id: int) -> list[ConsentEntry]:
        """Every answer the customer gave, oldest first; NotFound if there is no such customer
        or they were erased (the rows stay, for the books, but nobody is shown them)."""
        with self._reader.connect() as conn:
            require_customer(conn, customer_id)
            return log_on(conn, customer_id)

    def granted(self, customer_id: int, purpose: str = MARKETING) -> bool | None:
        """The latest answer for ``purpose``, or None if the customer was never asked."""
        with self._reader.connect() as conn:
            return conn.execute(
                select(consents.c.granted)
                .where(consents.c.customer_id == customer_id, consents.c.purpose == purpose)
                .order_by(consents.c.id.desc()).limit(1)).scalar_one_or_none()

    def record(self, customer_id: int, purpose: str, granted: bool, source: str,
               text_version: str | None = None, *, request_key: str | None = None,
               actor: str | None = None) -> bool:
        """Append an answer; with ``actor``, the audit log says who recorded it.  The caller
        vouches for purpose, source and text (the bridge's own pages); an outside caller's
        answer goes through :meth:`answer`."""
        with self._writer.begin() as conn:
            require_customer(conn, customer_id)
            return _record(conn, customer_id, purpose, granted, source, text_version,
                           request_key=request_key, actor=actor)

    def answer(self, customer_id: int, purpose: str, granted: bool, source: AnswerSource,
               text_version: str | None, *, actor: str, purposes: Collection[str]) -> None:
        """Record an answer an outside caller (the API) reports for the customer, checked:
        ``purpose`` is one the shop asks about (``purposes``, its configured texts, or
        marketing) and ``text_version`` one the bridge has filed (shown) for that purpose, as
        a consent is to a text the customer could read.  InvalidCustomer names the field."""
        if purpose != MARKETING and purpose not in purposes:
            raise InvalidCustomer("purpose", "is not a consent this shop asks for: one of "
                                  + ", ".join(sorted({MARKETING, *purposes})))
        with self._writer.begin() as conn:
            require_customer(conn, customer_id)
            if text_version is not None:
                _require_text(conn, purpose, text_version)
            _record(conn, customer_id, purpose, granted, AnswerSource(source).value,
                    text_version, actor=actor)

    def remember_texts(self, texts: Sequence[ConsentText]) -> None:
        """Keep every consent text that is shown, under its version (first time only)."""
        now = utcnow()
        with self._writer.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            for t in texts:
                conn.execute(dialect.insert(consent_texts).values(
                    version=t.version, purpose=t.purpose, language=t.language, text=t.text,
                    first_shown_at=now).on_conflict_do_nothing(index_elements=["version"]))

    def log_with_actors(self, customer_id: int) -> list[tuple[ConsentEntry, str | None]]:
        """The log, newest first, each entry with who recorded it (None when no one but the
        shopper did: Via mobil, an import, the registration itself)."""
        with self._reader.connect() as conn:
            require_customer(conn, customer_id)
            entries = log_on(conn, customer_id)
            who: dict[int, str] = {}
            for row in conn.execute(select(audit_log.c.actor, audit_log.c.detail).where(
                    audit_log.c.customer_id == customer_id,
                    audit_log.c.action == CONSENT_ACTION)):
                detail = json.loads(row.detail) if row.detail else {}
                if isinstance(detail, dict) and isinstance(detail.get("consent_id"), int):
                    who[detail["consent_id"]] = row.actor
        return [(e, who.get(e.id)) for e in reversed(entries)]


def _record(conn: Connection, customer_id: int, purpose: str, granted: bool, source: str,
            text_version: str | None, *, request_key: str | None = None,
            actor: str | None = None) -> bool:
    written = append(conn, customer_id, purpose, granted, source, text_version,
                     request_key=request_key)
    if written and actor is not None:
        consent_id = conn.execute(
            select(func.max(consents.c.id)).where(consents.c.customer_id == customer_id,
                                                  consents.c.purpose == purpose)
        ).scalar_one()
        audit(conn, actor, CONSENT_ACTION, customer_id, {
            "consent_id": consent_id, "purpose": purpose, "granted": granted,
            "source": source, "text_version": text_version})
    return written


def _require_text(conn: Connection, purpose: str, version: str) -> None:
    filed = conn.execute(select(consent_texts.c.purpose).where(
        consent_texts.c.version == version)).scalar_one_or_none()
    if filed is None:
        raise InvalidCustomer("text_version", "is not the version of a consent text this "
                              "bridge has shown (the back office's settings list them)")
    if filed != purpose:
        raise InvalidCustomer("text_version", f"is the version of the {filed} text, not "
                              f"of {purpose}")


def require_customer(conn: Connection, customer_id: int) -> None:
    found = conn.execute(select(customers.c.id).where(
        customers.c.id == customer_id, live())).first()
    if found is None:
        raise NotFound(f"there is no customer with id {customer_id}")
