"""The customer store, ``registry.customers``: what the lanes find, search and create, and what
the customer service (:mod:`cashier_bridge.customers.service`, which the REST API, the cashier
console and the back office call) lists, reads, creates, changes (with an audit entry of who
changed what, before and after), checks, exports and erases, with the customer's history.

Credit terms (account limit and status, loyalty rate) change only through
:meth:`CustomerAdmin.update_credit_terms` or ``create(terms=…)``, which the service calls after
asking the caller whether the person may (the field table's ``write`` action);
:meth:`CustomerAdmin.update` refuses them, so a form or body that smuggles them in changes
nothing.

Input arrives as plain values the caller typed (any phone format, a full personnummer); every
field is normalised by the field table's rules (:mod:`cashier_bridge.customers.fields`), as
everywhere else in the bridge, and a bad one raises :class:`~.fields.InvalidCustomer` naming it.
A valid personnummer is then counted against the caller's look-up budget (:mod:`.lookups`)
before it is compared with anyone's:
:class:`~cashier_bridge.customers.lookup_limit.TooManyLookups` when
it is spent, nothing checked or changed.  Creation is one transaction with its idempotency
key's claim, so a retried request never makes a twin.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Connection, Engine, Select, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from cashier_bridge.audit import AuditAction
from cashier_bridge.customers import fields as customer_fields
from cashier_bridge.customers.fields import CREDIT_TERMS, Context
from cashier_bridge.ids import parse_id
from cashier_bridge.permissions import Action
from cashier_bridge.protocol import MatchKey
from cashier_bridge.registry import search as search_plan
from cashier_bridge.registry.consents import ConsentEntry, current_on, log_on, withdraw_all
from cashier_bridge.registry.consents import append as append_consent
from cashier_bridge.registry.customer_rows import (
    by,
    create_on,
    created_for,
    find_one,
    likely_duplicates_on,
)
from cashier_bridge.registry.duplicates import DuplicateProbe
from cashier_bridge.registry.fields import InvalidCustomer
from cashier_bridge.registry.groups import default_group_id, stored_group
from cashier_bridge.registry.live import live
from cashier_bridge.registry.lookups import LookupGuard
from cashier_bridge.registry.matching import Matcher
from cashier_bridge.registry.merging import EXPORT
from cashier_bridge.registry.problems import Conflict, NotFound
from cashier_bridge.registry.records import (
    AccountStatus,
    CustomerRecord,
    DuplicateCustomer,
    NewCustomer,
    record_from_row,
)
from cashier_bridge.registry.sales import Sale, list_on
from cashier_bridge.registry.schema import audit_log, consent_texts, customers, idempotency_keys
from cashier_bridge.registry.timestamps import utcnow
from cashier_bridge.registry.writes import MARKETING, audit, customer_values, first_holder

API_SOURCE = "api"
_HIGHEST_CHAR = "\U0010ffff"
# Identifiers one customer holds at most once, in the order a clash is reported.
UNIQUE = ("personal_id_fingerprint", "phone", "email", "customer_code")
# How a column is named to a caller.
FIELD_OF = {"personal_id_fingerprint": "personal_id"}
# Fields one may type that NewCustomer lacks (the kiosk never sends them): inserted with it, in
# the same transaction (create).
_AFTER_CREATE = tuple(f.name for f in customer_fields.FIELDS
                      if f.write is Action.edit_customer and f.name != "personal_id"
                      and f.name not in {a.name for a in dataclass_fields(NewCustomer)})
SORTS = ("name", "code", "newest")
# A page position holds two name keys and an id, or a customer code: far below this.
MAX_CURSOR = 2000
_CURSOR = TypeAdapter(list[str])
# Audit details keep these keys when their customer is erased: none of them says who it was.
_IMPERSONAL_DETAIL = frozenset({"created_via", "fields", "group_id", "purpose", "source",
                                "granted", "text_version"})

_KEY_REUSED = ("this Idempotency-Key was used for a request with another body; use a new key "
               "for a new customer")

_CREATE_ATTEMPTS = 5


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
    # The consent texts the log's answers were given to, by version (those the bridge filed).
    texts: dict[str, dict[str, Any]] = field(default_factory=dict)


def normalise(given: Mapping[str, Any], *, region: str,
              fingerprint: Callable[[str], str]) -> dict[str, Any]:
    """Column values of the fields in ``given`` (None clears an optional one); raises
    InvalidCustomer naming the first bad field.  ``group_id`` is passed through (it needs the
    database).  Credit terms are refused: see :func:`credit_terms`.  The rules are the field
    table's (:mod:`cashier_bridge.customers.fields`)."""
    return customer_fields.normalise(given, Context(region, fingerprint))


def actor_key(source: str, actor: str, key: str) -> str:
    """The claim of an Idempotency-Key ``key`` sent by ``actor``: theirs alone.  Hashed, since
    an actor (64 characters) and a key (80) would not fit a request key's 128; the ``@``, which
    no key has, keeps it apart from the keys claimed before (``source:key``).

    >>> actor_key("api", "token:3:pos", "order-1") != actor_key("api", "token:4:pos", "order-1")
    True
    >>> actor_key("api", "token:3:pos", "order-1")[:5], len(actor_key("api", "x" * 64, "k" * 80))
    ('api:@', 37)
    """
    digest = hashlib.sha256(f"{actor}\n{key}".encode()).hexdigest()[:32]
    return f"{source}:@{digest}"


def credit_terms(given: Mapping[str, Any]) -> dict[str, Any]:
    """Column values of the credit terms in ``given``; raises InvalidCustomer naming the first
    bad one.  None clears a limit or a rate (no limit set / no loyalty)."""
    for name in given:
        if name not in CREDIT_TERMS:
            raise InvalidCustomer(name, "is not a credit term")
    return customer_fields.normalise(given, Context(), credit_terms=True)


def _claim(conn: Connection, key: str, digest: str) -> None:
    """Claim ``key`` for the body with ``digest`` (a retry of the same body finds its claim);
    Conflict when it was claimed for another body.  A request under way with the key holds
    its claim's row: this insert waits for it, then fails, and the retry reads the claim."""
    claimed = conn.execute(select(idempotency_keys.c.body_sha256).where(
        idempotency_keys.c.key == key)).scalar_one_or_none()
    if claimed is None:
        conn.execute(insert(idempotency_keys).values(key=key, body_sha256=digest,
                                                     created_at=utcnow()))
    elif claimed != digest:
        raise Conflict(_KEY_REUSED)


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


# A personnummer's fingerprint is useless to the person and must not leave the shop, not even in
# their own export (a merge's audit entry holds the rows it may have to restore).
FINGERPRINT_HIDDEN = "(fingerprint of the personnummer, not shown)"


def without_fingerprints(value: Any) -> Any:
    """``value`` with every personal-ID fingerprint in it replaced by a note.

    >>> without_fingerprints({"before": [{"personal_id_fingerprint": "9f2c…", "phone": None}]})
    {'before': [{'personal_id_fingerprint': '(fingerprint of the personnummer, not shown)', \
'phone': None}]}
    """
    if isinstance(value, dict):
        return {k: (FINGERPRINT_HIDDEN if k == "personal_id_fingerprint" and v
                    else without_fingerprints(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [without_fingerprints(v) for v in value]
    return value


class CustomerAdmin:
    """``registry.customers``: every read and write of customers, for the lanes, the
    customer service, the CLI and the benchmarks alike.

    One contract per operation.  Naming one customer by id is :meth:`get`, which raises
    NotFound when there is none (or they were erased or merged away), as every changing method
    does.  The ``find`` methods (:meth:`find`, :meth:`find_by_id`, :meth:`find_by_code`) answer
    None instead: they serve callers to whom "nobody" is an answer, not a fault (a lane looking
    up what a shopper presented, a register naming an id it was given)."""

    def __init__(self, reader: Engine, writer: Engine, *, lookup_reader: Engine,
                 record_select: Select[Any], fingerprint: Callable[[str], str],
                 lookups: LookupGuard) -> None:
        self._reader = reader
        self._writer = writer
        # Reads one row by a unique index (see Registry.__init__): the lanes' find and search.
        self._lookup_reader = lookup_reader
        self._select = record_select
        self._fingerprint = fingerprint
        self._lookups = lookups
        # The one find: compiled once per key kind, on the driver's connection (matching.py).
        self._matcher = Matcher(reader)

    # --- reading -------------------------------------------------------------------------------

    def get(self, customer_id: int) -> CustomerRecord:
        """The customer; NotFound if there is none or they were erased (or merged away)."""
        with self._reader.connect() as conn:
            return self._get(conn, customer_id)

    def find(self, keys: Sequence[MatchKey]) -> tuple[CustomerRecord, MatchKey] | None:
        """The customer the first of ``keys`` that names anyone names, with that key; None
        if none does.  ValueError for a key kind that is not a unique column.  Every
        identification runs it, so it skips SQLAlchemy's statement building
        (:class:`~cashier_bridge.registry.matching.Matcher`)."""
        return self._matcher.find(keys)

    def find_by_id(self, customer_id: int) -> CustomerRecord | None:
        """:meth:`get`, with None where it raises NotFound."""
        with self._reader.connect() as conn:
            row = by(conn, customers.c.id == customer_id)
        return record_from_row(row) if row is not None else None

    def find_by_code(self, customer_code: str) -> CustomerRecord | None:
        """The customer with this code (spaces and case as anyone types it), or None."""
        with self._reader.connect() as conn:
            row = find_one(conn, "customer_code", customer_code)
        return record_from_row(row) if row is not None else None

    def count(self) -> int:
        """How many customers anyone may see (not the erased, not the merged away)."""
        with self._reader.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(customers).where(live())
            ).scalar_one()

    def search(self, text: str, *, limit: int = 20, region: str = "SE",
               group_id: int | None = None) -> list[CustomerRecord]:
        """Customers matching what a cashier typed, as they type: name prefixes in either
        order ("ann sv", "svensson a"), accents and case ignored, a phone number in any format,
        the start of a customer code or an e-mail address.  An exact customer code comes first.
        See :mod:`.search` for the readings.  ``group_id``: only that group's members, up to
        ``limit`` of them (filtered in the query, not after it).  NotFound for no such group."""
        the_plan = search_plan.plan(text, region)
        with self._lookup_reader.connect() as conn:
            base = self._select
            if group_id is not None:
                _name, stored = stored_group(conn, group_id)
                base = base.where(customers.c.group_id.is_(None) if stored is None
                                  else customers.c.group_id == stored)
            rows = search_plan.run(conn, the_plan, base, limit)
        return [record_from_row(row) for row in rows]

    def likely_duplicates(self, probe: DuplicateProbe, *, limit: int = 5
                          ) -> list[tuple[CustomerRecord, str]]:
        """Existing customers who may be the person about to become a member, with the
        reason: ``same_phone``, ``same_email`` (the same mailbox written differently),
        ``same_birth_date_similar_name``, or ``same_birth_date_no_personal_id`` (when no name
        is known yet).  Someone with another personal ID on file is a different person, never
        a duplicate."""
        with self._reader.connect() as conn:
            return likely_duplicates_on(conn, probe, limit)

    def list(self, *, limit: int, after: int | None = None, group_id: int | None = None
             ) -> tuple[list[CustomerRecord], int | None]:
        """A page of customers by id, and the id to continue after (None on the last page)."""
        c = customers.c
        query = self._select.where(live())
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

    def browse(self, *, sort: str = "name", limit: int, after: str | None = None,
               group_id: int | None = None) -> tuple[list[CustomerRecord], str | None]:
        """A page of customers in ``sort`` order (``name``: last name, first name; ``code``;
        ``newest``: the latest created first), and the cursor of the next page (None on the
        last).  Each order is an index the registry has, read from where the cursor left off
        (keyset paging), so page 1,000 costs what page 1 does.  Raises InvalidCustomer for an
        unknown sort or a cursor this method did not give out."""
        c = customers.c
        if sort not in SORTS:
            raise InvalidCustomer("sort", "is one of " + ", ".join(SORTS))
        keys: list[Any] = {"name": [c.last_name_key, c.first_name_key, c.id],
                           "code": [c.customer_code], "newest": [c.id]}[sort]
        query = self._select.where(live())
        if after is not None:
            position = _cursor_values(after, len(keys))
            if sort == "newest":
                query = query.where(c.id < _cursor_id(position[0]))
            elif sort == "code":
                query = query.where(c.customer_code > position[0])
            else:
                query = query.where(_after_name(position))
        order = [c.id.desc()] if sort == "newest" else keys
        with self._reader.connect() as conn:
            if group_id is not None:
                _name, stored = stored_group(conn, group_id)
                query = query.where(c.group_id.is_(None) if stored is None
                                    else c.group_id == stored)
            rows = conn.execute(query.order_by(*order).limit(limit + 1)).all()
        page = rows[:limit]
        more = None
        if len(rows) > limit:
            last = page[-1]
            more = json.dumps([str(getattr(last, k.name)) for k in keys], ensure_ascii=False)
        return [record_from_row(r) for r in page], more

    def history(self, customer_id: int) -> list[AuditEntry]:
        """Every audit entry about the customer, newest first: who, when, what, before/after."""
        with self._reader.connect() as conn:
            self._get(conn, customer_id)
            entries = conn.execute(select(audit_log).where(audit_log.c.customer_id == customer_id)
                                   .order_by(audit_log.c.id.desc())).all()
        return [AuditEntry(e.at, e.actor, e.action, json.loads(e.detail) if e.detail else None)
                for e in entries]

    def default_group_id(self) -> int:
        with self._reader.connect() as conn:
            return default_group_id(conn)

    # --- creating and checking -----------------------------------------------------------------

    def create_new(self, request_key: str, new: NewCustomer, *, actor: str = "bridge"
                   ) -> tuple[CustomerRecord, bool]:
        """Create ``new`` (already normalised: a lane's registration, a seed), unless
        ``request_key`` (1 to 128 characters, the lane's prompt id) already created it:
        (customer, True if created now).  Raises DuplicateCustomer naming the identifier
        someone else holds, InvalidCustomer for a bad field.  :meth:`create` is the same for
        values a person typed, with an Idempotency-Key of the caller's."""
        if not request_key or len(request_key) > 128:
            raise ValueError("a request key has 1 to 128 characters")
        values = customer_values(new)
        for _attempt in range(_CREATE_ATTEMPTS):
            try:
                with self._writer.begin() as conn:
                    return create_on(conn, request_key, new, values, actor=actor)
            except IntegrityError:
                # Another request won a race for one of the unique indexes; find out which.
                with self._reader.connect() as conn:
                    existing = created_for(conn, request_key, values, new)
                    if existing is not None:
                        return existing, False
                # Nothing of ours is taken: an assigned code or a new group raced; try again.
        raise RuntimeError(f"could not create the customer after {_CREATE_ATTEMPTS} attempts")

    def new_customer(self, given: Mapping[str, Any], *, region: str,
                     source: str = API_SOURCE) -> NewCustomer:
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
            birth_date=values.get("birth_date"), created_via=source,
            customer_code=values.get("customer_code"), street=values.get("street"),
            postal_code=values.get("postal_code"), city=values.get("city"),
            country=values.get("country"), customer_group=group, note=values.get("note"))

    def create(self, given: Mapping[str, Any], *, region: str, idempotency_key: str | None,
               actor: str, source: str = API_SOURCE, terms: Mapping[str, Any] | None = None
               ) -> tuple[CustomerRecord, bool]:
        """Create a customer; (customer, False) when this request was already carried out.
        An idempotency key is the caller's own: the same key from another ``actor`` is
        another request, and cannot be squatted.  The same key from the same actor with
        another body is a Conflict.  ``source`` is written as the customer's ``created_via``
        and as the source of a marketing consent given.  ``terms``: credit terms, which the
        caller has decided that ``actor`` may set.

        One transaction: the key's claim, the customer with every field, the consent and the
        audit entry are all written or none is (a taken phone leaves the key free, so the
        same form corrected and sent again with it goes through)."""
        new = self.new_customer(given, region=region, source=source)
        extra = normalise({k: given[k] for k in _AFTER_CREATE if k in given}, region=region,
                          fingerprint=self._fingerprint)
        extra.update(credit_terms(terms or {}))
        values = customer_values(new)
        self._looked_up(new.personal_id_fingerprint, actor, "create")
        claim = digest = None
        if idempotency_key is None:
            request_key = f"{source}:{uuid.uuid4().hex}"
        else:
            # Terms join the body only when sent: a body without them hashes as it always did.
            sent = {**given, **terms} if terms else given
            body = json.dumps(sent, sort_keys=True, default=str, ensure_ascii=False)
            digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]
            earlier = self._before_keys_were_per_actor(source, idempotency_key, digest, actor)
            if earlier is not None:
                return earlier, False
            # The key and what it was used for, in the customer's request key: a retry finds
            # its customer; a reuse for something else finds the claim with another digest.
            claim = actor_key(source, actor, idempotency_key)
            request_key = f"{claim}:{digest}"
        consent = given.get("marketing_consent")
        for _attempt in range(_CREATE_ATTEMPTS):
            try:
                with self._writer.begin() as conn:
                    if claim is not None and digest is not None:
                        _claim(conn, claim, digest)
                    record, created = create_on(conn, request_key, new, values,
                                                actor=actor, extra=extra)
                    if created and consent is not None:
                        append_consent(conn, record.id, MARKETING, bool(consent), source, None,
                                       request_key=request_key)
                    return record, created
            except IntegrityError:
                # A twin request (the same key, or one of the identifiers) committed first:
                # the next attempt finds its claim or its customer, or says who holds what.
                continue
        raise RuntimeError(f"could not create the customer after {_CREATE_ATTEMPTS} attempts")

    def _before_keys_were_per_actor(self, source: str, key: str, digest: str,
                                    actor: str) -> CustomerRecord | None:
        """A customer this actor created with this key before keys were the caller's own
        (request key ``source:key:digest``, the creation audited with the actor): a retry of
        that request finds it; the key with another body is a Conflict.  Another actor's use
        of the key is none of this request's business."""
        c = customers.c
        prefix = f"{source}:{key}:"
        with self._reader.connect() as conn:
            used = conn.execute(
                select(c.id, c.request_key)
                .join(audit_log, and_(audit_log.c.customer_id == c.id,
                                      audit_log.c.action == AuditAction.create,
                                      audit_log.c.actor == actor[:64]))
                .where(c.request_key >= prefix, c.request_key < prefix + _HIGHEST_CHAR)
            ).all()
        if not used:
            return None
        same = next((row.id for row in used if row.request_key == prefix + digest), None)
        if same is None:
            raise Conflict(_KEY_REUSED)
        return self.get(same)

    def validate(self, given: Mapping[str, Any], *, region: str, actor: str
                 ) -> list[tuple[CustomerRecord, str]]:
        """Check a would-be customer as ``create`` would, changing nothing: raises
        InvalidCustomer or DuplicateCustomer; else the customers it may be (with the reason).
        A personnummer in it is a look-up by ``actor``, as for ``create``."""
        new = self.new_customer(given, region=region)
        self._looked_up(new.personal_id_fingerprint, actor, "validate")
        values = {"personal_id_fingerprint": new.personal_id_fingerprint, "phone": new.phone,
                  "email": new.email, "customer_code": new.customer_code}
        with self._reader.connect() as conn:
            self._refuse_taken(conn, values, None)
        return self.likely_duplicates(DuplicateProbe(
            birth_date=new.birth_date, first_name=new.first_name, last_name=new.last_name,
            phone=new.phone, email=new.email,
            personal_id_fingerprint=new.personal_id_fingerprint))

    # --- changing ------------------------------------------------------------------------------

    def update(self, customer_id: int, given: Mapping[str, Any], *, region: str,
               actor: str) -> CustomerRecord:
        """Change the given fields (None clears an optional one); the audit log gets who
        changed what, before and after.  Credit terms are refused (InvalidCustomer): they
        change only through :meth:`update_credit_terms`."""
        values = normalise(given, region=region, fingerprint=self._fingerprint)
        self._looked_up(values.get("personal_id_fingerprint"), actor, "update")
        return self._write(customer_id, values, actor)

    def update_credit_terms(self, customer_id: int, terms: Mapping[str, Any], *, actor: str,
                            details: Mapping[str, Any] | None = None,
                            region: str = "SE") -> CustomerRecord:
        """Change credit terms (``account_limit_minor``, ``account_status``,
        ``loyalty_rate_bp``), and ``details`` as :meth:`update` would, in one transaction and
        one audit entry.  The caller has decided that ``actor`` may: this method does not."""
        values = normalise(details or {}, region=region, fingerprint=self._fingerprint)
        values.update(credit_terms(terms))
        self._looked_up(values.get("personal_id_fingerprint"), actor, "update")
        return self._write(customer_id, values, actor)

    def _looked_up(self, fingerprint: str | None, actor: str, via: str) -> None:
        # Every path that compares a caller's personnummer with the registry passes here
        # first, once the whole request is known to be valid (an invalid one compares nothing).
        if fingerprint is not None:
            self._lookups.check(actor, fingerprint, via=via)

    def _write(self, customer_id: int, values: dict[str, Any], actor: str) -> CustomerRecord:
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
                 and k not in ("personal_id_fingerprint", "group_id")]
        if not changed:
            return before
        conn.execute(update(customers).where(customers.c.id == customer_id)
                     .values(**changed, updated_at=utcnow()))
        after = self._get(conn, customer_id)
        detail: dict[str, Any] = {
            "before": {k: _shown(getattr(row, k)) for k in shown},
            "after": {k: _shown(changed[k]) for k in shown}}
        if "group_id" in changed:
            # By name, as people read it (a group may be renamed or deleted later).
            detail["before"]["group"] = before.customer_group
            detail["after"]["group"] = after.customer_group
            detail["group_id"] = _group_id_of(conn, changed["group_id"])
        audit(conn, actor, AuditAction.update, customer_id, detail)
        return after

    def _refuse_taken(self, conn: Connection, values: Mapping[str, Any],
                      other_than: int | None) -> None:
        # Erased customers keep no identifiers but their ERASED- code, so this is live.
        held = first_holder(conn, self._select, values, UNIQUE, other_than=other_than)
        if held is not None:
            row, name = held
            raise DuplicateCustomer(record_from_row(row), FIELD_OF.get(name, name))

    # --- GDPR ----------------------------------------------------------------------------------

    def export(self, customer_id: int, *, actor: str, form: str) -> CustomerExport:
        """Everything held about the customer, for ``actor`` (who asked, in which ``form``:
        the API, the back office's page or file).  Audited first, in the same transaction, so
        the export lists itself among the entries about them, and there is no export without
        its entry.  NotFound writes nothing."""
        with self._writer.begin() as conn:
            record = self._get(conn, customer_id)
            audit(conn, actor, EXPORT, customer_id, {"source": form})
            entries = conn.execute(select(audit_log).where(audit_log.c.customer_id == customer_id)
                                   .order_by(audit_log.c.id)).all()
            log = log_on(conn, customer_id)
            versions = sorted({e.text_version for e in log if e.text_version})
            texts = {r.version: dict(r._mapping) for r in conn.execute(
                select(consent_texts).where(consent_texts.c.version.in_(versions)))
                     } if versions else {}
            return CustomerExport(
                customer=record, consents=current_on(conn, customer_id), texts=texts,
                consent_log=log, sales=list_on(conn, customer_id),
                audit=[AuditEntry(e.at, e.actor, e.action,
                                  without_fingerprints(json.loads(e.detail)) if e.detail
                                  else None) for e in entries])

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
                .values(**customer_fields.erased_values(),
                        customer_code=f"ERASED-{customer_id}", request_key=None,
                        updated_at=now, erased_at=now)).rowcount
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
            audit(conn, actor, AuditAction.erase, customer_id,
                  {"consents_withdrawn": withdrawn} if withdrawn else None)

    # --- helpers -------------------------------------------------------------------------------

    def _get(self, conn: Connection, customer_id: int) -> CustomerRecord:
        row = conn.execute(self._select.where(customers.c.id == customer_id, live())).first()
        if row is None:
            raise NotFound(f"there is no customer with id {customer_id}")
        return record_from_row(row)


def _shown(value: Any) -> Any:
    if isinstance(value, AccountStatus):
        return value.value
    return value.isoformat() if isinstance(value, dt.date) else value


def _group_id_of(conn: Connection, stored: int | None) -> int:
    # customers.group_id NULL is the default group: name its id for the audit entry.
    return stored if stored is not None else default_group_id(conn)


def _cursor_values(cursor: str, count: int) -> list[str]:
    # Read by pydantic's parser, under a length cap: json.loads recurses once per "[", and a
    # cursor of 3,000 of them was a RecursionError (a 500) before any check.
    values = None
    if len(cursor) <= MAX_CURSOR:
        try:
            values = _CURSOR.validate_json(cursor)
        except ValidationError:
            values = None
    if values is None or len(values) != count:
        raise InvalidCustomer("after", "is not a page position this list gave out")
    return values


def _cursor_id(text: str) -> int:
    found = parse_id(text)
    if found is None:
        raise InvalidCustomer("after", "is not a page position this list gave out")
    return found


def _after_name(position: list[str]) -> Any:
    """Rows after (last name key, first name key, id) in that order.  Spelled out rather than
    as a row-value comparison, which SQLite's planner reads less well."""
    c = customers.c
    last, first, ident = position
    after_id = _cursor_id(ident)
    return or_(c.last_name_key > last,
               and_(c.last_name_key == last, c.first_name_key > first),
               and_(c.last_name_key == last, c.first_name_key == first, c.id > after_id))
