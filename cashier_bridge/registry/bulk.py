"""Loading many new customers at once (a million for the benchmark, or a shop changing systems).

Rows are checked and converted to database values in plain Python, then inserted per chunk with
the driver's executemany: SQLAlchemy's per-value processing would otherwise cost more than the
database's own work.  (Preparing the next chunk in a second thread was tried and was slower:
the driver needs the GIL to bind every row.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, select
from sqlalchemy.exc import IntegrityError

from .records import NewCustomer
from .schema import consents, customers
from .timestamps import utcnow
from .writes import audit, consent_values, customer_values, group_id, insert_many, reserve_codes

# Large chunks: each commit of a WAL database may checkpoint, rewriting the indexes' pages.
CHUNK = 50_000
COLUMNS = (
    "customer_code", "first_name", "last_name", "first_name_key", "last_name_key", "email",
    "email_key", "phone", "personal_id_fingerprint", "personal_id_masked", "birth_date", "street",
    "postal_code", "city", "country", "group_id", "created_via", "created_at", "updated_at",
)
_CODE = COLUMNS.index("customer_code")
_GROUP = COLUMNS.index("group_id")


@dataclass
class _Chunk:
    rows: list[list[Any]]  # database-ready values in COLUMNS order, code/group still to fill
    groups: list[str | None]
    consenting: list[NewCustomer | None]
    now: Any


def load(engine: Engine, rows: Iterable[NewCustomer], *, actor: str) -> int:
    total = 0
    groups: dict[str, int] = {}
    for chunk in _chunks(rows):
        total += _insert(engine, _prepare(chunk, engine.dialect), groups, actor)
    return total


def _chunks(rows: Iterable[NewCustomer]) -> Iterator[list[NewCustomer]]:
    chunk: list[NewCustomer] = []
    for new in rows:
        chunk.append(new)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _prepare(chunk: list[NewCustomer], dialect: Dialect) -> _Chunk:
    now = utcnow()
    converters = []
    for i, name in enumerate(COLUMNS):
        process = customers.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None and name not in ("customer_code", "group_id"):
            converters.append((i, process))
    stamp = {i: process(now) for i, process in converters if COLUMNS[i].endswith("_at")}
    rows = []
    for new in chunk:
        values = customer_values(new)
        row = [values.get(name) for name in COLUMNS]
        row[COLUMNS.index("created_via")] = new.created_via
        for i, process in converters:
            if i in stamp:
                row[i] = stamp[i]
            elif row[i] is not None:
                row[i] = process(row[i])
        rows.append(row)
    return _Chunk(rows, [new.customer_group or None for new in chunk],
                  [new if new.marketing_consent else None for new in chunk], now)


def _insert(engine: Engine, chunk: _Chunk, groups: dict[str, int], actor: str) -> int:
    with engine.begin() as conn:
        missing = sum(1 for row in chunk.rows if row[_CODE] is None)
        next_code = reserve_codes(conn, missing) if missing else 0
        for row, group in zip(chunk.rows, chunk.groups, strict=True):
            if row[_CODE] is None:
                row[_CODE] = str(next_code)
                next_code += 1
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
        if consenting:
            ids = conn.execute(select(customers.c.customer_code, customers.c.id)
                               .where(customers.c.customer_code.in_(list(consenting))))
            insert_many(conn, consents, [consent_values(customer_id, consenting[code], chunk.now)
                                         for code, customer_id in ids])
        audit(conn, actor, "bulk_load", None, {"rows": len(chunk.rows)})
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
