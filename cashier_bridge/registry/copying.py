"""Copy a whole registry to another database: how one shop's SQLite file becomes a chain's
PostgreSQL registry (or a backup goes back) with nothing lost.

A CSV export cannot do this: personal ID numbers are stored only as fingerprints, so the
fingerprints, consents, sales, the audit log, paired devices and lanes must travel as they are.
The key the fingerprints were made with does not travel: it lives outside the database
(:mod:`.personal_id_key`), and whoever opens the copy needs it; only its check value is copied.
The target must be an empty database; it is brought to the newest schema first, then filled
table by table in foreign-key order in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, Integer, func, insert, select, text
from sqlalchemy.engine import Connection, make_url

from cashier_bridge.registry import migrate
from cashier_bridge.registry.engine import make_engine, writer
from cashier_bridge.registry.personal_id_key import LEGACY_ROW, PersonalIdKeyError
from cashier_bridge.registry.schema import customers, installation, metadata

BATCH = 5000


class TargetNotEmpty(Exception):
    """The target database already holds customers: copying would mix two registries."""


Progress = Callable[[str, int], None]


def copy_registry(source: Engine, target_url: str,
                  progress: Progress = lambda table, rows: None) -> dict[str, int]:
    """Copy every table of ``source`` into the database at ``target_url``; rows per table."""
    migrate.upgrade(source)  # read what the code knows how to read
    with source.connect() as conn:
        if conn.execute(select(installation.c.key).where(
                installation.c.key == LEGACY_ROW)).first() is not None:
            raise PersonalIdKeyError("the source registry still holds its personnummer key; "
                                     "open it once with this version (any selfreg-bridge "
                                     "command), which moves the key out, then copy")
    target = make_engine(target_url)
    try:
        migrate.upgrade(target)
        counts: dict[str, int] = {}
        with writer(target).begin() as out, source.connect() as src:
            if out.execute(select(func.count()).select_from(customers)).scalar():
                raise TargetNotEmpty(f"{_safe(target_url)} already holds customers; copy "
                                     "into an empty database")
            for table in metadata.sorted_tables:
                # The target's own migration wrote its installation rows: the source's win.
                out.execute(table.delete())
                rows = 0
                result = src.execution_options(yield_per=BATCH).execute(select(table))
                for chunk in result.partitions(BATCH):
                    out.execute(insert(table), [dict(r._mapping) for r in chunk])
                    rows += len(chunk)
                    progress(table.name, rows)
                counts[table.name] = rows
            if out.dialect.name == "postgresql":
                _advance_sequences(out)
        return counts
    finally:
        target.dispose()


def _advance_sequences(conn: Connection) -> None:
    """Rows came with their ids; PostgreSQL's id sequences must continue after them."""
    for table in metadata.sorted_tables:
        for column in table.primary_key.columns:
            if isinstance(column.type, Integer) and column.autoincrement is not False and \
                    len(table.primary_key.columns) == 1:
                seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                   {"t": table.name, "c": column.name}).scalar()
                if seq:
                    conn.execute(text(f"SELECT setval('{seq}', COALESCE((SELECT max("
                                      f"{column.name}) FROM {table.name}), 0) + 1, false)"))


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
