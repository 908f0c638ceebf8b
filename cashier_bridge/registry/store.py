"""The customer registry: who the shop's customers are, and what each lane was doing.

Every public method is a short unit of work on its own connection, so the bridge can call them
from ``asyncio.to_thread`` workers concurrently.  Uniqueness (one customer per personal ID,
phone, email, code, request key) is guaranteed by unique indexes; the checks in Python before an
insert only exist to give a precise :class:`DuplicateCustomer` instead of a bare database error.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from cashier_bridge.audit import AuditAction
from cashier_bridge.identity import personnummer
from cashier_bridge.protocol import MatchKey
from cashier_bridge.registry import bulk, devices, migrate, mobile, search
from cashier_bridge.registry import personal_id_key as personal_id_key_
from cashier_bridge.registry.api_tokens import ApiTokenStore
from cashier_bridge.registry.consents import ConsentStore
from cashier_bridge.registry.consents import append as append_consent
from cashier_bridge.registry.customer_admin import CustomerAdmin
from cashier_bridge.registry.duplicates import DuplicateProbe, email_key, similar_names
from cashier_bridge.registry.engine import BUSY_TIMEOUT_MS, make_engine, writer
from cashier_bridge.registry.groups import GroupStore, stored_group
from cashier_bridge.registry.imports import BatchReport, ImportStore
from cashier_bridge.registry.lane_store import LaneStore
from cashier_bridge.registry.live import live
from cashier_bridge.registry.lookups import LookupGuard
from cashier_bridge.registry.merging import MergeStore
from cashier_bridge.registry.records import (
    CustomerRecord,
    DuplicateCustomer,
    NewCustomer,
    record_from_row,
)
from cashier_bridge.registry.retention import RetentionStore
from cashier_bridge.registry.sales import SaleStore
from cashier_bridge.registry.schema import customer_groups, customers
from cashier_bridge.registry.shop_settings import SettingsStore
from cashier_bridge.registry.staff import StaffStore
from cashier_bridge.registry.timestamps import utcnow
from cashier_bridge.registry.writes import (
    DEFAULT_GROUP,
    MARKETING,
    assign_codes,
    audit,
    customer_values,
    first_holder,
    group_id,
)

_MATCH_COLUMNS = {
    "personal_id_fingerprint": customers.c.personal_id_fingerprint,
    "phone": customers.c.phone,
    "customer_code": customers.c.customer_code,
    "email": customers.c.email,
}
# Checked in this order when a new customer is about to be created or imported.
_UNIQUE_IDENTIFIERS = ("personal_id_fingerprint", "phone", "email")
_HIGHEST_CHAR = "\U0010ffff"
_CREATE_ATTEMPTS = 5

_RECORD_SELECT: Select[Any] = select(
    *customers.c, func.coalesce(customer_groups.c.name, DEFAULT_GROUP).label("customer_group")
).select_from(customers.outerjoin(customer_groups, customers.c.group_id == customer_groups.c.id))


def personal_id_fingerprint(secret: bytes, personal_id: str) -> str:
    """HMAC-SHA256 of the 12-digit number: matchable, but useless without the secret."""
    if len(personal_id) == 12 and personal_id.isdigit():
        number = personal_id
    else:
        number = personnummer.parse(personal_id).number
    return hmac.new(secret, number.encode("ascii"), hashlib.sha256).hexdigest()


class Registry:
    def __init__(self, engine: Engine, secret: bytes) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._secret = secret
        self._lanes = LaneStore(engine)
        self._devices = devices.DeviceStore(engine, self._writer)
        self._api_tokens = ApiTokenStore(engine, self._writer)
        self._lookups = LookupGuard(engine, self._writer)
        self._customers = CustomerAdmin(engine, self._writer, record_select=_RECORD_SELECT,
                                        create=create_on,
                                        likely_duplicates=self.likely_duplicates,
                                        fingerprint=self.fingerprint, lookups=self._lookups)
        self._groups = GroupStore(engine, self._writer)
        self._sales = SaleStore(engine, self._writer)
        self._consents = ConsentStore(engine, self._writer)
        self._staff = StaffStore(engine, self._writer)
        # A picklable fingerprint: the bridge reads uploads in a worker process.
        self._imports = ImportStore(engine, self._writer,
                                    functools.partial(personal_id_fingerprint, secret))
        self._merges = MergeStore(engine, self._writer)
        self._settings = SettingsStore(engine, self._writer)
        self._retention = RetentionStore(engine)
        # Lookups read one row by a unique index: on PostgreSQL, without BEGIN and ROLLBACK
        # around them, which are two of a lookup's four round trips to the server.
        self._reader = (engine.execution_options(isolation_level="AUTOCOMMIT")
                        if engine.dialect.name == "postgresql" else engine)

    @classmethod
    def open(cls, url: str, *, busy_timeout_s: float = BUSY_TIMEOUT_MS / 1000,
             personal_id_key: str | None = None, key_dir: Path | None = None) -> Registry:
        """Open ``sqlite:///path`` (parent directories created) or ``postgresql+psycopg://…``,
        upgrade its schema to the newest migration and check the personnummer key against
        it (see :mod:`.personal_id_key`).  One Registry per process; its methods may run
        concurrently in threads.  ``busy_timeout_s`` (SQLite): how long a write waits for
        another connection's lock.  ``personal_id_key``: the configured key (default: the
        ``personal_id_key`` setting); ``key_dir``: where ``personal-id.key`` is (default:
        beside a SQLite file, else the data directory).  Raises
        :class:`~.personal_id_key.PersonalIdKeyError` saying what to copy or set when this
        bridge lacks the registry's key."""
        engine = make_engine(url, busy_timeout_ms=round(busy_timeout_s * 1000))
        try:
            migrate.upgrade(engine)
            place = personal_id_key_.default_place(url, personal_id_key)
            if key_dir is not None:
                place = personal_id_key_.KeyPlace(place.configured, key_dir)
            secret = personal_id_key_.establish(writer(engine), place)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, secret)

    def close(self) -> None:
        self._engine.dispose()

    @property
    def engine(self) -> Engine:
        return self._engine

    # --- identifiers ---------------------------------------------------------------------------

    def fingerprint(self, personal_id: str) -> str:
        """HMAC-SHA256 of the 12-digit number: matchable, but useless without the secret."""
        return personal_id_fingerprint(self._secret, personal_id)

    # --- reading -------------------------------------------------------------------------------

    def find(self, keys: Sequence[MatchKey]) -> tuple[CustomerRecord, MatchKey] | None:
        with self._reader.connect() as conn:
            for key in keys:
                row = _find_one(conn, key.kind, key.value)
                if row is not None:
                    return record_from_row(row), key
        return None

    def get(self, customer_id: int) -> CustomerRecord | None:
        """The customer, or None if there is none or they were erased."""
        with self._engine.connect() as conn:
            row = _by(conn, customers.c.id == customer_id)
        return record_from_row(row) if row is not None else None

    def get_by_code(self, customer_code: str) -> CustomerRecord | None:
        with self._engine.connect() as conn:
            row = _find_one(conn, "customer_code", customer_code)
        return record_from_row(row) if row is not None else None

    def ping(self) -> None:
        """Raise unless the database answers."""
        with self._engine.connect() as conn:
            conn.execute(select(1))

    def count_customers(self) -> int:
        with self._engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(customers).where(live())
            ).scalar_one()

    def search(self, text: str, *, limit: int = 20, region: str = "SE",
               group_id: int | None = None) -> list[CustomerRecord]:
        """Customers matching what a cashier typed, as they type: name prefixes in either order
        ("ann sv", "svensson a"), accents and case ignored, a phone number in any format, the
        start of a customer code or an e-mail address.  An exact customer code comes first.
        See :mod:`.search` for the readings.  ``group_id``: only that group's members, up to
        ``limit`` of them (filtered in the query, not after it).  NotFound for no such group."""
        the_plan = search.plan(text, region)
        with self._reader.connect() as conn:
            base = _RECORD_SELECT
            if group_id is not None:
                _name, stored = stored_group(conn, group_id)
                base = base.where(customers.c.group_id.is_(None) if stored is None
                                  else customers.c.group_id == stored)
            rows = search.run(conn, the_plan, base, limit)
        return [record_from_row(row) for row in rows]

    def likely_duplicates(self, probe: DuplicateProbe, *, limit: int = 5
                          ) -> list[tuple[CustomerRecord, str]]:
        """Existing customers who may be the person about to become a member, with the reason:
        ``same_phone``, ``same_email`` (the same mailbox written differently),
        ``same_birth_date_similar_name``, or ``same_birth_date_no_personal_id`` (when no name is
        known yet).  Someone with another personal ID on file is a different person, never a
        duplicate."""
        shown = live()
        found: dict[int, tuple[CustomerRecord, str]] = {}
        with self._engine.connect() as conn:
            if probe.phone:
                for row in conn.execute(_RECORD_SELECT.where(customers.c.phone == probe.phone,
                                                             shown)):
                    if not _another_person(probe, row):
                        found.setdefault(row.id, (record_from_row(row), "same_phone"))
            if probe.email:
                key = email_key(probe.email)
                for row in conn.execute(_RECORD_SELECT.where(customers.c.email_key == key, shown)
                                        .limit(limit)):
                    if not _another_person(probe, row):
                        found.setdefault(row.id, (record_from_row(row), "same_email"))
            if probe.birth_date is not None:
                # Bounded: a common birth date in a big registry has a few dozen customers.
                rows = conn.execute(_RECORD_SELECT.where(
                    customers.c.birth_date == probe.birth_date, shown)
                    .order_by(customers.c.id).limit(500))
                for row in rows:
                    reason = _birth_date_reason(probe, row)
                    if reason:
                        found.setdefault(row.id, (record_from_row(row), reason))
        return list(found.values())[:limit]

    # --- writing -------------------------------------------------------------------------------

    def create_customer(
        self, request_key: str, new: NewCustomer, *, actor: str = "bridge"
    ) -> tuple[CustomerRecord, bool]:
        if not request_key or len(request_key) > 128:
            raise ValueError("a request key has 1 to 128 characters")
        values = customer_values(new)
        for _attempt in range(_CREATE_ATTEMPTS):
            try:
                with self._writer.begin() as conn:
                    return create_on(conn, request_key, new, values, actor=actor)
            except IntegrityError:
                # Another request won a race for one of the unique indexes; find out which.
                with self._engine.connect() as conn:
                    existing = _created_for(conn, request_key, values, new)
                    if existing is not None:
                        return existing, False
                # Nothing of ours is taken: an assigned code or a new group raced; try again.
        raise RuntimeError(f"could not create the customer after {_CREATE_ATTEMPTS} attempts")

    # --- Via mobil -----------------------------------------------------------------------------

    def add_mobile_token(self, token_hash: str, lane: str) -> None:
        mobile.add_token(self._writer, token_hash, lane)

    def mobile_token_lane(self, token_hash: str) -> str | None:
        return mobile.token_lane(self._engine, token_hash)

    def remember_consent_texts(self, texts: Sequence[mobile.ConsentText]) -> None:
        mobile.remember_texts(self._writer, texts)

    def consent_log(self, customer_id: int) -> list[dict[str, object]]:
        return mobile.consent_log(self._engine, customer_id)

    @property
    def lanes(self) -> LaneStore:
        """The lanes' saved states (a narrow store for the lane hub)."""
        return self._lanes

    # --- administration (REST API, cashier console) ---------------------------------------------

    @property
    def api_tokens(self) -> ApiTokenStore:
        """Who may call the REST API (a narrow store for the API and CLI)."""
        return self._api_tokens

    @property
    def lookups(self) -> LookupGuard:
        """Personnummer look-ups per caller: the budget every create, check and change with a
        personnummer spends, and the refusals managers are warned of."""
        return self._lookups

    @property
    def customers(self) -> CustomerAdmin:
        """Customers administration: list, change, check, export, erase."""
        return self._customers

    @property
    def groups(self) -> GroupStore:
        return self._groups

    @property
    def sales(self) -> SaleStore:
        return self._sales

    @property
    def consents(self) -> ConsentStore:
        return self._consents

    @property
    def staff(self) -> StaffStore:
        """Back-office staff accounts, their sessions and lock-out (``/admin``)."""
        return self._staff

    @property
    def merges(self) -> MergeStore:
        """Merging two customers into one and undoing it; the GDPR export's extra reads."""
        return self._merges

    @property
    def settings(self) -> SettingsStore:
        """The shop's settings saved from the back office, and their history."""
        return self._settings

    @property
    def retention(self) -> RetentionStore:
        """The members due for review under the shop's retention setting."""
        return self._retention

    # --- devices -------------------------------------------------------------------------------

    @property
    def devices(self) -> devices.DeviceStore:
        """Paired devices and console sign-in codes (a narrow store for the server and CLI)."""
        return self._devices

    # --- files ---------------------------------------------------------------------------------

    def import_csv(
        self, source: Path | TextIO | bytes, *, region: str = "SE", actor: str = "import",
        filename: str | None = None,
    ) -> BatchReport:
        """Upsert customers from a Lightspeed (X-Series) customer CSV as one batch, matched by
        customer_code (or, for rows without one, by personal ID, phone or email).  A blank cell
        never erases stored data; rows identical to what is stored are skipped.  Each row
        succeeds or fails alone; failures are reported with line and reason.  See
        :mod:`.imports` (preview, progress, undo) and :mod:`.csv_io` (the columns)."""
        if isinstance(source, Path):
            data, filename = source.read_bytes(), filename or source.name
        elif isinstance(source, bytes):
            data = source
        else:
            data = source.read().encode("utf-8")
        return self._imports.run(data, filename=filename, region=region, actor=actor)

    def export_csv(self, out: TextIO) -> int:
        """Write every customer in the Lightspeed columns plus ours (csv_io.HEADER)."""
        return self._imports.export(out)

    @property
    def imports(self) -> ImportStore:
        """CSV import batches: preview, import with progress, list, undo."""
        return self._imports

    def bulk_load(self, rows: Iterable[NewCustomer], *, actor: str = "bulk_load") -> int:
        """Insert many new customers fast (benchmarks, migrations from another system).

        Rows are inserted in chunks, each in its own transaction; a row that breaks a unique
        index fails its whole chunk with IntegrityError (earlier chunks stay).  Use
        :meth:`import_csv` for data that may overlap what is stored.
        """
        return bulk.load(self._writer, rows, actor=actor)


# --- helpers on a connection --------------------------------------------------------------------


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


def _normalise_match_value(kind: str, value: str) -> str:
    if kind == "email":
        return value.strip().lower()
    if kind == "customer_code":
        return "".join(value.split()).upper()
    return value.strip()


def _find_one(conn: Connection, kind: str, value: str) -> Any:
    column = _MATCH_COLUMNS.get(kind)
    if column is None:
        raise ValueError(f"unknown match key kind {kind!r}; expected one of "
                         f"{', '.join(_MATCH_COLUMNS)}")
    value = _normalise_match_value(kind, value)
    if not value:
        return None
    return _by(conn, column == value)


def _by(conn: Connection, condition: ColumnElement[bool]) -> Any:
    return conn.execute(
        _RECORD_SELECT.where(condition, live()).limit(1)
    ).first()


def _prefix(column: Any, text: str) -> ColumnElement[bool]:
    # A range rather than LIKE: it uses the plain index on both SQLite and PostgreSQL ("C").
    return and_(column >= text, column < text + _HIGHEST_CHAR)


def _created_for(conn: Connection, request_key: str, values: dict[str, Any],
                 new: NewCustomer) -> CustomerRecord | None:
    """The customer this request already created, if any; raises DuplicateCustomer if the
    identifiers belong to a customer created by another request."""
    existing = _by(conn, customers.c.request_key == request_key)
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


def _taken(conn: Connection, values: dict[str, Any], check_code: bool,
           *, other_than: int | None = None) -> tuple[Any, str] | None:
    """The first customer (row, field) already holding one of the unique values.  Erased
    customers keep their code, so a code clash is checked against them too."""
    names = (*_UNIQUE_IDENTIFIERS, "customer_code") if check_code else _UNIQUE_IDENTIFIERS
    return first_holder(conn, _RECORD_SELECT, values, names, other_than=other_than)


def create_on(conn: Connection, request_key: str, new: NewCustomer, values: dict[str, Any],
              *, actor: str, extra: Mapping[str, Any] | None = None
              ) -> tuple[CustomerRecord, bool]:
    """Create ``new`` (its :func:`customer_values`, and ``extra`` columns NewCustomer has no
    field for) on ``conn``, unless request ``request_key`` already created it: (customer, True
    if created).  Raises DuplicateCustomer; IntegrityError when a twin request raced it."""
    existing = _created_for(conn, request_key, values, new)
    if existing is not None:
        return existing, False
    row = _insert_customer(conn, {**values, **(extra or {})}, new, request_key=request_key,
                           actor=actor)
    return record_from_row(row), True


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
    return _by(conn, customers.c.id == customer_id)
