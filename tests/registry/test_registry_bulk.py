from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from cashier_bridge.lanes.lane import MatchKey
from cashier_bridge.registry import NewCustomer, Registry, bulk
from cashier_bridge.registry.schema import consents

COUNT = 2_345


def people(count: int, start: int = 0) -> Iterator[NewCustomer]:
    for i in range(start, start + count):
        yield NewCustomer(
            first_name=f"Förnamn{i}", last_name=f"Efternamn{i % 97}",
            phone=f"+4670{i:07d}", email=f"kund{i}@example.com",
            personal_id_fingerprint=f"{i:064x}", personal_id_masked="19800101-****",
            customer_code=None if i % 2 else f"B{i}",
            marketing_consent=i % 3 == 0, customer_group="Stamkund" if i % 5 == 0 else None,
            created_via="bulk",
        )


def test_bulk_load_inserts_everything_findably(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "CHUNK", 1000)  # several chunks, the last one partial
    assert registry.imports.bulk_load(people(COUNT)) == COUNT
    assert registry.customers.count() == COUNT

    record, _ = registry.customers.find([MatchKey(kind="phone", value="+46700001789",
                                                  reading="phone")])
    assert (record.first_name, record.email) == ("Förnamn1789", "kund1789@example.com")
    assert registry.customers.find_by_code("B1000").first_name == "Förnamn1000"
    grouped = registry.customers.find([MatchKey(kind="email", value="KUND10@example.com",
                                                reading="email")])
    assert grouped[0].customer_group == "Stamkund"
    with registry.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(consents)).scalar_one() == len(
            range(0, COUNT, 3))
    # Codes it assigned are unique and do not block later creates.
    new, created = registry.customers.create_new("after", NewCustomer("Ny", "Kund"))
    assert created and registry.customers.count() == COUNT + 1
    assert registry.customers.find_by_code(new.customer_code) == new


def test_bulk_load_of_a_duplicate_fails_loudly(registry: Registry) -> None:
    registry.imports.bulk_load(people(10))
    with pytest.raises(IntegrityError):
        registry.imports.bulk_load(people(1, start=5))
    assert registry.customers.count() == 10
