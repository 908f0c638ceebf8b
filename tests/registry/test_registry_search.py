"""Search as you type (the console's search box and ``GET /api/v1/customers?q=``): what a
cashier types and whom it must find, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from cashier_bridge.registry import CustomerRecord, NewCustomer, Registry
from cashier_bridge.registry.search import plan


def add(registry: Registry, first: str, last: str, **extra: str) -> CustomerRecord:
    return registry.customers.create_new(f"{first}-{last}", NewCustomer(
        first_name=first, last_name=last, **extra))[0]


@pytest.fixture
def people(registry: Registry) -> dict[str, CustomerRecord]:
    return {
        "anna": add(registry, "Anna", "Svensson", phone="+46701234567",
                    email="anna.svensson@example.se", customer_code="77001"),
        "anna_maria": add(registry, "Anna Maria", "Lind", phone="+46731112233"),
        "asa": add(registry, "Åsa", "Östlund", email="asa.o@example.com"),
        "soren": add(registry, "Søren", "Kierkegaard", phone="+4520123456"),
        "sven": add(registry, "Sven", "Annersten", customer_code="ABC-123"),
    }


def names(found: list[CustomerRecord]) -> list[str]:
    return [f"{c.first_name} {c.last_name}" for c in found]


def test_first_and_last_name_prefixes_in_either_order(registry: Registry, people) -> None:
    # First name first is the likelier reading; the other order follows.
    assert names(registry.customers.search("ann sv")) == ["Anna Svensson", "Sven Annersten"]
    assert names(registry.customers.search("svensson a")) == ["Anna Svensson"]
    assert names(registry.customers.search("ANNA SVENSSON")) == ["Anna Svensson"]
    assert names(registry.customers.search("anna maria")) == ["Anna Maria Lind"]
    assert names(registry.customers.search("anna maria li")) == ["Anna Maria Lind"]
    assert names(registry.customers.search("ann sx")) == []


def test_accents_and_case_are_ignored_both_ways(registry: Registry, people) -> None:
    assert names(registry.customers.search("asa ost")) == ["Åsa Östlund"]
    assert names(registry.customers.search("ÅSA")) == ["Åsa Östlund"]
    assert names(registry.customers.search("soren")) == ["Søren Kierkegaard"]
    assert names(registry.customers.search("Sören")) == ["Søren Kierkegaard"]


def test_one_word_lists_last_names_then_first_names(registry: Registry, people) -> None:
    # "ann": Annersten by last name first, then the Annas by first name.
    assert names(registry.customers.search("ann")) == ["Sven Annersten", "Anna Svensson",
                                                       "Anna Maria Lind"]


@pytest.mark.parametrize("typed", ["070-123 45 67", "0701234567", "+46 70 123 45 67",
                                   "0046701234567", "(070) 123-4567", "070 12",
                                   "+46 (0)70-123 45 67"])
def test_a_phone_number_typed_in_any_format_finds_its_owner(registry: Registry, people,
                                                            typed: str) -> None:
    assert names(registry.customers.search(typed)) == ["Anna Svensson"]


def test_a_foreign_number_with_its_country_code(registry: Registry, people) -> None:
    assert names(registry.customers.search("+45 20 12")) == ["Søren Kierkegaard"]


def test_customer_code_exact_first_then_prefix(registry: Registry, people) -> None:
    assert names(registry.customers.search("77001")) == ["Anna Svensson"]
    assert names(registry.customers.search("770")) == ["Anna Svensson"]
    assert names(registry.customers.search("abc-1")) == ["Sven Annersten"]


def test_email_prefix(registry: Registry, people) -> None:
    assert names(registry.customers.search("anna.sv")) == ["Anna Svensson"]
    assert names(registry.customers.search("ASA.O@EX")) == ["Åsa Östlund"]


def test_erased_customers_are_never_found(registry: Registry, people) -> None:
    registry.customers.erase(people["anna"].id, actor="t")
    for typed in ("anna sv", "0701234567", "77001", "anna.sv"):
        assert "Anna Svensson" not in names(registry.customers.search(typed)), typed


def test_the_limit_holds_and_each_customer_comes_once(registry: Registry) -> None:
    for i in range(12):
        add(registry, "Anna", f"Andersson{i:02d}", phone=f"+467000000{i:02d}")
    found = registry.customers.search("ann", limit=5)
    assert len(found) == 5 == len({c.id for c in found})
    assert len(registry.customers.search("070 000 00", limit=20)) == 12


def test_plan_reads_short_digit_runs_as_no_phone_number() -> None:
    assert plan("07").phone_prefix is None
    assert plan("070").phone_prefix == "+4670"
    assert plan("anna").phone_prefix is None
    assert plan("").phrase is None



def test_every_reading_reads_an_index_in_order_and_stops_at_the_limit(tmp_path: Path) -> None:
    """SQLite plans without statistics: no reading may sort the table, or a search over a
    million customers takes seconds, not milliseconds.  (PostgreSQL plans from statistics;
    bench/search.py measures it.)"""
    from sqlalchemy import text

    from cashier_bridge.registry import search as search_module
    from cashier_bridge.registry.customer_rows import RECORD_SELECT

    registry = Registry.open(f"sqlite:///{tmp_path / 'plans.db'}")
    engine = registry.engine
    for typed in ("anna", "ann sv", "svensson anna maria", "070 123", "77001", "anna.s@"):
        for query in search_module.queries(plan(typed), RECORD_SELECT, 10, "sqlite"):
            sql = str(query.compile(compile_kwargs={"literal_binds": True}))
            with engine.connect() as conn:
                steps = " | ".join(str(r[-1]) for r in conn.execute(text(
                    "EXPLAIN QUERY PLAN " + sql)))
            assert "TEMP B-TREE" not in steps and "merged_into_id" not in steps, (typed, steps)
    registry.close()
