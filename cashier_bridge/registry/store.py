"""The customer registry: who the shop's customers are, and what each lane was doing.

:class:`Registry` opens, checks and closes the database and holds the stores; everything read or
written goes through a store (``registry.customers.find(…)``, ``registry.consents.log(…)``), each
with one contract per operation.  Every store method is a short unit of work on its own
connection, so the bridge can call them from ``asyncio.to_thread`` workers concurrently.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from pathlib import Path

from sqlalchemy import Engine, select

from cashier_bridge.identity import personnummer
from cashier_bridge.registry import devices, migrate
from cashier_bridge.registry import personal_id_key as personal_id_key_
from cashier_bridge.registry.api_tokens import ApiTokenStore
from cashier_bridge.registry.consents import ConsentStore
from cashier_bridge.registry.customer_admin import CustomerAdmin
from cashier_bridge.registry.customer_rows import RECORD_SELECT
from cashier_bridge.registry.engine import BUSY_TIMEOUT_MS, make_engine, writer
from cashier_bridge.registry.groups import GroupStore
from cashier_bridge.registry.imports import ImportStore
from cashier_bridge.registry.lane_store import LaneStore
from cashier_bridge.registry.lookups import LookupGuard
from cashier_bridge.registry.merging import MergeStore
from cashier_bridge.registry.mobile import MobileTokenStore
from cashier_bridge.registry.retention import RetentionStore
from cashier_bridge.registry.sales import SaleStore
from cashier_bridge.registry.shop_settings import SettingsStore
from cashier_bridge.registry.staff import StaffStore


def personal_id_fingerprint(secret: bytes, personal_id: str) -> str:
    """HMAC-SHA256 of the 12-digit number: matchable, but useless without the secret."""
    if len(personal_id) == 12 and personal_id.isdigit():
        number = personal_id
    else:
        number = personnummer.parse(personal_id).number
    return hmac.new(secret, number.encode("ascii"), hashlib.sha256).hexdigest()


class Registry:
    """The registry's lifecycle (:meth:`open`, :meth:`close`, :meth:`ping`), the keyed
    :meth:`fingerprint` of a personnummer (it needs the registry's key), and its stores.  It
    has no customer method of its own: each operation is on its store, with one contract
    (tests/registry/test_registry_facade.py keeps it so)."""

    def __init__(self, engine: Engine, secret: bytes) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._secret = secret
        self._lanes = LaneStore(engine)
        self._devices = devices.DeviceStore(engine, self._writer)
        self._api_tokens = ApiTokenStore(engine, self._writer)
        self._lookups = LookupGuard(engine, self._writer)
        # Lookups read one row by a unique index: on PostgreSQL, without BEGIN and ROLLBACK
        # around them, which are two of a lookup's four round trips to the server.
        lookup_reader = (engine.execution_options(isolation_level="AUTOCOMMIT")
                         if engine.dialect.name == "postgresql" else engine)
        self._customers = CustomerAdmin(engine, self._writer, lookup_reader=lookup_reader,
                                        record_select=RECORD_SELECT,
                                        fingerprint=self.fingerprint, lookups=self._lookups)
        self._groups = GroupStore(engine, self._writer)
        self._sales = SaleStore(engine, self._writer)
        self._consents = ConsentStore(engine, self._writer)
        self._staff = StaffStore(engine, self._writer)
        # A picklable fingerprint: the bridge reads uploads in a worker process.
        self._imports = ImportStore(engine, self._writer,
                                    functools.partial(personal_id_fingerprint, secret))
        self._merges = MergeStore(engine, self._writer)
        self._mobile_tokens = MobileTokenStore(engine, self._writer)
        self._settings = SettingsStore(engine, self._writer)
        self._retention = RetentionStore(engine)

    @classmethod
    def open(cls, url: str, *, busy_timeout_s: float = BUSY_TIMEOUT_MS / 1000,
             personal_id_key: str | None = None, key_dir: Path | None = None) -> Registry:
        """Open ``sqlite:///path`` (parent directories created) or ``postgresql+psycopg://…``,
        upgrade its schema to the newest migration and check the personnummer key against
        it (see :mod:`.personal_id_key`).  One Registry per process; its stores' methods may run
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

    def ping(self) -> None:
        """Raise unless the database answers."""
        with self._engine.connect() as conn:
            conn.execute(select(1))

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
        """Customers: find, search, create, list, change, check, export, erase."""
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

    @property
    def imports(self) -> ImportStore:
        """CSV files and bulk loads: preview, import with progress, list, undo, export."""
        return self._imports

    # --- Via mobil -----------------------------------------------------------------------------

    @property
    def mobile_tokens(self) -> MobileTokenStore:
        """The lane each phone code was issued by (a narrow store for the lane hub)."""
        return self._mobile_tokens
