"""Loading many new customers at once (ten million for a chain benchmark, or a shop changing
systems).

Rows are checked and converted to database values in plain Python, then inserted per chunk with
the driver's executemany (SQLite) or COPY (PostgreSQL): SQLAlchemy's per-value processing would
otherwise cost more than the database's own work.  (Preparing the next chunk in a second thread
was tried and was slower: the driver needs the GIL to bind every row.)

Two ways to load:

- **Into an empty registry, more than one chunk** (a first import, a benchmark): everything goes
  in ONE transaction that drops the customers table's secondary indexes (PostgreSQL: the unique
  constraints too), inserts every row and builds them again.  Building an index by sorting is
  many times faster than updating it row by row, and the transaction makes it all-or-nothing: a
  duplicate is found when its unique index is rebuilt, the load fails with IntegrityError and
  the registry is left as it was, indexes included.  The customers table is locked for the whole
  load.  On SQLite the connection also leaves WAL for a rollback journal while it loads (pages
  are then written once instead of to the WAL and again at the checkpoint) when no other
  connection has the file open, and uses a large page cache; both are put back afterwards.
- **Otherwise** (a registry in use): one transaction per chunk; a row that breaks a unique index
  fails its chunk with IntegrityError, earlier chunks stay.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, select
from sqlalchemy.exc import IntegrityError

from cashier_bridge.audit import AuditAction
from cashier_bridge.identity import customer_code
from cashier_bridge.registry.records import NewCustomer
from cashier_bridge.registry.schema import consents, customers
from cashier_bridge.registry.timestamps import utcnow
from cashier_bridge.registry.writes import (
    MARKETING,
    assign_codes,
    audit,
    consent_values,
    customer_values,
    group_id,
    insert_many,
)

# Large chunks: each commit of a WAL database may checkpoint, rewriting the indexes' pages.
CHUNK = 50_000
COLUMNS = (
    "customer_code", "first_name", "last_name", "first_name_key", "last_name_key", "email",
    "email_key", "phone", "personal_id_fingerprint", "personal_id_masked", "birth_date", "street",
    "postal_code", "city", "country", "group_id", "created_via", "created_at", "updated_at",
)
_CODE = COLUMNS.index("customer_code")
_GROUP = COLUMNS.index("group_id")
_VIA = COLUMNS.index("created_via")
# customer_values() gives every column up to "country"; the rest are filled in per chunk.
_VALUE_COLUMNS = COLUMNS[:COLUMNS.index("country") + 1]
_FROM_VALUES = itemgetter(*_VALUE_COLUMNS)
# SQLite page cache while loading, in KiB: index builds sort in memory and a long transaction
# does not spill pages early.  An upper bound, not an allocation.
SQLITE_LOAD_CACHE_KIB = 1_048_576


@dataclass
class _Chunk:
    rows: list[list[Any]]  # database-ready values in COLUMNS order, code/group still to fill
    groups: list[str | None]
    consenting: list[NewCustomer | None]
    now: Any


def load(engine: Engine, rows: Iterable[NewCustomer], *, actor: str) -> int:
    chunks = _chunks(rows)
    first = next(chunks, None)
    if first is None:
        return 0
    groups: dict[str, int] = {}
    chunks = itertools.chain([first], chunks)
    if len(first) >= CHUNK and _no_customers(engine):
        return _load_fresh(engine, chunks, groups, actor)
    total = 0
    for chunk in chunks:
        with engine.begin() as conn:
            total += _insert(conn, _prepare(chunk, engine.dialect), groups, actor)
    return total


def _chunks(rows: Iterable[NewCustomer]) -> Iterator[list[NewCustomer]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, CHUNK)):
        yield chunk


def _no_customers(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(customers.c.id).limit(1)).first() is None


def _prepare(chunk: list[NewCustomer], dialect: Dialect) -> _Chunk:
    now = utcnow()
    converters = []
    for i, name in enumerate(COLUMNS):
        process = customers.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None and name not in ("customer_code", "group_id"):
            converters.append((i, process, name.endswith("_at")))
    stamps = [(i, process(now)) for i, process, stamp in converters if stamp]
    per_row = [(i, process) for i, process, stamp in converters if not stamp]
    tail = [None, None, now, now]  # group_id, created_via, created_at, updated_at
    for i, value in stamps:
        tail[i - _GROUP] = value
    rows = []
    # Dates repeat a lot (a birth date per ~350 customers at ten million); convert each once.
    seen: dict[int, dict[Any, Any]] = {i: {} for i, _ in per_row}
    for new in chunk:
        row = [*_FROM_VALUES(customer_values(new)), *tail]
        row[_VIA] = new.created_via
        for i, process in per_row:
            value = row[i]
            if value is not None:
                known = seen[i]
                converted = known.get(value)
                if converted is None:
                    converted = known[value] = process(value)
                row[i] = converted
        rows.append(row)
    return _Chunk(rows, [new.customer_group or None for new in chunk],
                  [new if new.marketing_consent else None for new in chunk], now)


def _insert(conn: Connection, chunk: _Chunk, groups: dict[str, int], actor: str,
            stage: _ConsentStage | None = None, load_codes: set[str] | None = None) -> int:
    """``load_codes``: loading into an empty registry, the codes of selfreg's shape this load
    holds so far (the database is not asked: its indexes are being rebuilt)."""
    # Only codes of the shape selfreg assigns can clash with the ones it draws.
    given = {row[_CODE] for row in chunk.rows
             if row[_CODE] is not None and customer_code.is_assigned_shape(row[_CODE])}
    if load_codes is not None:
        load_codes.update(given)
    missing = sum(1 for row in chunk.rows if row[_CODE] is None)
    new_codes = assign_codes(conn, missing, avoid=given if load_codes is None else load_codes,
                             look_up=load_codes is None) if missing else []
    if load_codes is not None:
        load_codes.update(new_codes)
    fresh = iter(new_codes)
    for row, group in zip(chunk.rows, chunk.groups, strict=True):
        if row[_CODE] is None:
            row[_CODE] = next(fresh)
        if group is not None:
            if group not in groups:
                groups[group] = group_id(conn, group)
            row[_GROUP] = groups[group]
    if conn.dialect.name == "postgresql":
        _copy(conn, chunk.rows)
    else:
        conn.exec_driver_sql(
            f"INSERT INTO customers ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join(['?'] * len(COLUMNS))})",
            [tuple(row) for row in chunk.rows])
    consenting = {row[_CODE]: new for row, new in zip(chunk.rows, chunk.consenting,
                                                      strict=True) if new is not None}
    if consenting and stage is not None:
        stage.add(conn, consenting, chunk.now)
    elif consenting:
        ids = conn.execute(select(customers.c.customer_code, customers.c.id)
                           .where(customers.c.customer_code.in_(list(consenting))))
        insert_many(conn, consents, [consent_values(customer_id, consenting[code], chunk.now)
                                     for code, customer_id in ids])
    audit(conn, actor, AuditAction.bulk_load, None, {"rows": len(chunk.rows)})
    return len(chunk.rows)


def _copy(conn: Connection, rows: list[list[Any]]) -> None:
    """PostgreSQL's COPY: several times faster than INSERT executemany for the same rows."""
    statement = f"COPY customers ({', '.join(COLUMNS)}) FROM STDIN"
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.IntegrityError as err:
        # The same exception the SQLite path (through SQLAlchemy) raises for a duplicate.
        raise IntegrityError(statement, None, err) from err


# --- loading into an empty registry ------------------------------------------------------------


def _load_fresh(engine: Engine, chunks: Iterator[list[NewCustomer]], groups: dict[str, int],
                actor: str) -> int:
    with engine.connect() as conn:
        settings = (_sqlite_load_settings(conn) if engine.dialect.name == "sqlite"
                    else contextlib.nullcontext())
        with settings, conn.begin():
            if engine.dialect.name == "postgresql":
                # Index builds sort in memory up to this (the default, 64 MB, spills to disk).
                conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
            rebuild = _drop_secondary_indexes(conn)
            stage = _ConsentStage()
            load_codes: set[str] = set()
            total = 0
            for chunk in chunks:
                total += _insert(conn, _prepare(chunk, engine.dialect), groups, actor, stage,
                                 load_codes)
            # A duplicate shows up here, as IntegrityError, when its unique index is rebuilt.
            for statement in rebuild:
                conn.exec_driver_sql(statement)
            stage.finish(conn)
    return total


# Consents need the new customers' ids.  Looking them up per chunk by code would scan the whole
# table on PostgreSQL while its code index is dropped, so they wait in a temporary table and go
# in with one join once the indexes are back.
_STAGE = "selfreg_bulk_consents"
_STAGE_COLUMNS = ("customer_code", "granted", "source", "text_version", "recorded_at")


class _ConsentStage:
    """The temporary table, created with the first consenting customer (in the load's
    transaction, so a failed load takes it away too)."""

    def __init__(self) -> None:
        self.created = False

    def add(self, conn: Connection, consenting: dict[str, NewCustomer], now: Any) -> None:
        dialect = conn.dialect
        if not self.created:
            if dialect.name == "postgresql":
                conn.exec_driver_sql(
                    f"CREATE TEMPORARY TABLE {_STAGE} (customer_code varchar(64), "
                    "granted boolean, source varchar(32), text_version varchar(32), "
                    "recorded_at timestamptz) ON COMMIT DROP")
            else:
                conn.exec_driver_sql(
                    f"CREATE TEMPORARY TABLE {_STAGE} ({', '.join(_STAGE_COLUMNS)})")
            self.created = True
        process = {name: consents.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                   for name in _STAGE_COLUMNS[1:]}
        rows = []
        for code, new in consenting.items():
            values = consent_values(0, new, now)  # the same values as the per-chunk path
            row = [code]
            for name in _STAGE_COLUMNS[1:]:
                value, convert = values[name], process[name]
                row.append(convert(value) if convert is not None and value is not None
                           else value)
            rows.append(tuple(row))
        conn.exec_driver_sql(
            f"INSERT INTO {_STAGE} VALUES ({', '.join([_placeholder(conn)] * 5)})", rows)

    def finish(self, conn: Connection) -> None:
        if not self.created:
            return
        conn.exec_driver_sql(
            "INSERT INTO consents (customer_id, purpose, granted, source, text_version, "
            f"recorded_at) SELECT c.id, {_placeholder(conn)}, s.granted, s.source, "
            f"s.text_version, s.recorded_at FROM {_STAGE} s "
            "JOIN customers c ON c.customer_code = s.customer_code ORDER BY c.id",
            (MARKETING,))
        if conn.dialect.name == "sqlite":  # PostgreSQL drops it at commit
            conn.exec_driver_sql(f"DROP TABLE temp.{_STAGE}")


def _placeholder(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _drop_secondary_indexes(conn: Connection) -> list[str]:
    """Drop the customers table's indexes that can be rebuilt later in the same transaction;
    returns the statements that rebuild them.  Read from the database itself, so that indexes
    a later migration adds are covered too.

    SQLite: the plain indexes; its UNIQUE constraints are part of the table (autoindexes, which
    cannot be dropped) and stay.  PostgreSQL: the unique constraints too (not the primary key,
    which other tables' foreign keys need).
    """
    if conn.dialect.name == "sqlite":
        found = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'customers' AND sql IS NOT NULL").all()
        for name, _ in found:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        return [sql for _, sql in found]
    constraints = conn.exec_driver_sql(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'customers'::regclass AND contype = 'u' ORDER BY conname").all()
    indexes = conn.exec_driver_sql(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = 'customers'::regclass AND NOT x.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
        "ORDER BY i.relname").all()
    rebuild = []
    for name, definition in constraints:
        conn.exec_driver_sql(f'ALTER TABLE customers DROP CONSTRAINT "{name}"')
        rebuild.append(f'ALTER TABLE customers ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
        rebuild.append(definition)
    return rebuild


@contextlib.contextmanager
def _sqlite_load_settings(conn: Connection) -> Iterator[None]:
    """A rollback journal (if nobody else has the file open) and a large page cache for the
    duration of a load; both put back afterwards, also when the load fails."""
    raw = conn.connection.driver_connection
    cache = raw.execute("PRAGMA cache_size").fetchone()[0]
    timeout = raw.execute("PRAGMA busy_timeout").fetchone()[0]
    journal = raw.execute("PRAGMA journal_mode").fetchone()[0]
    switched = False
    if journal.lower() == "wal":
        # Leaving WAL needs the file to ourselves; ask once, do not wait for others to go.
        raw.execute("PRAGMA busy_timeout=0")
        with contextlib.suppress(raw.OperationalError):
            switched = raw.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
        raw.execute(f"PRAGMA busy_timeout={int(timeout)}")
    raw.execute(f"PRAGMA cache_size=-{SQLITE_LOAD_CACHE_KIB}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size={int(cache)}")
        if switched:
            raw.execute("PRAGMA journal_mode=WAL")

