"""bulk_load into an empty registry: one transaction, secondary indexes rebuilt at the end."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from cashier_bridge.lanes.lane import MatchKey
from cashier_bridge.registry import NewCustomer, Registry, bulk
from cashier_bridge.registry.schema import consents, customers

CHUNK = 100


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK", CHUNK)  # several chunks: the fresh path


def people(count: int, *, duplicate_phone_at: int | None = None) -> Iterator[NewCustomer]:
    for i in range(count):
        phone = i if duplicate_phone_at != i else 0
        yield NewCustomer(
            first_name=f"Förnamn{i}", last_name="Efternamn", phone=f"+4670{phone:07d}",
            email=f"kund{i}@example.com", personal_id_fingerprint=f"{i:064x}",
            customer_code=f"F{i}", marketing_consent=i % 3 == 0, created_via="bulk")


def schema_of(registry: Registry) -> dict[str, Any]:
    found = inspect(registry.engine)
    return {
        "indexes": sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                          for ix in found.get_indexes("customers")),
        "unique": sorted((uc["name"], tuple(uc["column_names"]))
                         for uc in found.get_unique_constraints("customers")),
    }


def sqlite_pragma(registry: Registry, name: str) -> Any:
    with registry.engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()


def test_a_duplicate_in_a_later_chunk_leaves_the_registry_as_it_was(registry: Registry) -> None:
    before = schema_of(registry)
    with pytest.raises(IntegrityError):
        registry.imports.bulk_load(people(3 * CHUNK + 50, duplicate_phone_at=2 * CHUNK + 20))
    assert registry.customers.count() == 0
    assert schema_of(registry) == before
    if registry.engine.dialect.name == "sqlite":
        assert sqlite_pragma(registry, "journal_mode") == "wal"
    # And a clean load afterwards takes the same path and works.
    assert registry.imports.bulk_load(people(3 * CHUNK + 50)) == 3 * CHUNK + 50
    assert schema_of(registry) == before


def test_every_row_and_consent_lands_with_the_right_customer(registry: Registry) -> None:
    count = 3 * CHUNK + 50
    assert registry.imports.bulk_load(people(count)) == count
    found = registry.customers.find([MatchKey(kind="phone", value="+46700000217", reading="phone")])
    assert found is not None and found[0].customer_code == "F217"
    assert registry.customers.find_by_code("F349").first_name == "Förnamn349"
    with registry.engine.connect() as conn:
        consenting = conn.execute(
            select(customers.c.customer_code).join(consents,
                                                   consents.c.customer_id == customers.c.id)
        ).scalars().all()
        audit_rows = conn.execute(text(
            "SELECT count(*) FROM audit_log WHERE action = 'bulk_load'")).scalar_one()
        assert conn.execute(select(func.count()).select_from(consents)).scalar_one() == len(
            consenting)
    assert sorted(consenting) == sorted(f"F{i}" for i in range(0, count, 3))
    assert audit_rows == 4  # one per chunk, as before


def test_a_second_load_into_a_filled_registry_goes_chunk_by_chunk(registry: Registry) -> None:
    registry.imports.bulk_load(people(2 * CHUNK))
    late = (NewCustomer(first_name="Sen", last_name="Kund", phone=f"+4673{i:07d}",
                        customer_code=f"S{i}", created_via="bulk") for i in range(3 * CHUNK))
    dup = NewCustomer(first_name="Dubbel", last_name="Kund", phone="+46700000001",
                      created_via="bulk")
    with pytest.raises(IntegrityError):
        registry.imports.bulk_load([*late, dup])
    # The chunks before the failing one stay: this registry was not empty.
    assert registry.customers.count() == 2 * CHUNK + 3 * CHUNK


def test_sqlite_keeps_wal_when_another_connection_has_the_file_open(tmp_path: Path) -> None:
    """SQLite only: its journal mode is what a bulk load must leave as it found it."""
    registry = Registry.open(f"sqlite:///{tmp_path / 'shop.db'}")
    other = sqlite3.connect(registry.engine.url.database)
    try:
        other.execute("SELECT count(*) FROM customers").fetchone()
        assert registry.imports.bulk_load(people(2 * CHUNK)) == 2 * CHUNK
        assert sqlite_pragma(registry, "journal_mode") == "wal"
        assert sqlite_pragma(registry, "cache_size") == -65536  # engine.py's, put back
    finally:
        other.close()
        registry.close()
