"""The codes the registry gives new members: random with a check digit, wherever a member is
made (one at a time, in bulk, by CSV import), never one a customer already holds; the codes
issued before (sequential) and imported ones keep working."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from stdnum import luhn

from cashier_bridge.identity import customer_code
from cashier_bridge.identity.classify import classify
from cashier_bridge.lanes.lane import MatchKey
from cashier_bridge.registry import NewCustomer, Registry, bulk
from cashier_bridge.registry.schema import customers

CSV_HEADER = "first_name,last_name,phone\n"


def assert_new_member_codes(codes: list[str]) -> None:
    assert all(len(c) == 11 and c[0] != "0" and luhn.is_valid(c) for c in codes), codes
    assert len(set(codes)) == len(codes)
    # Not a count: consecutive members' codes differ beyond their last digits.
    ordered = sorted(int(c) for c in codes)
    assert all(b - a > 1 for a, b in itertools.pairwise(ordered)), codes
    assert len({c[:6] for c in codes}) >= len(codes) - 2, codes


def find_by_code(registry: Registry, typed: str) -> str | None:
    """What the register is told when ``typed`` is keyed in at the kiosk."""
    keys = [MatchKey(kind="customer_code", value=r.value, reading="customer_code")
            for r in classify(typed, "numpad").readings if r.kind == "customer_code"]
    found = registry.customers.find(keys) if keys else None
    return found[0].customer_code if found else None


def test_consecutive_new_members_get_unrelated_codes(registry: Registry) -> None:
    codes = [registry.customers.create_new(f"r{i}", NewCustomer(first_name="Anna",
                                                                last_name=f"N{i}"))
             [0].customer_code for i in range(20)]
    assert_new_member_codes(codes)
    for code in codes:
        assert find_by_code(registry, code) == code
        typo = code[:5] + str((int(code[5]) + 1) % 10) + code[6:]
        assert find_by_code(registry, typo) is None


def test_bulk_loaded_and_imported_members_get_such_codes_too(
        registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK", 25)  # several chunks: the empty-registry path
    loaded = registry.imports.bulk_load(NewCustomer(first_name="Bo", last_name=f"B{i}",
                                                    created_via="bulk") for i in range(60))
    assert loaded == 60
    more = registry.imports.bulk_load(NewCustomer(first_name="Cia", last_name=f"C{i}",
                                                  created_via="bulk") for i in range(10))
    assert more == 10
    imported = registry.imports.run(io.StringIO(CSV_HEADER + "".join(
        f"Dan,D{i},+4670555{i:04d}\n" for i in range(15))))
    assert imported.created == 15
    codes = all_codes(registry)
    assert len(codes) == 85
    assert_new_member_codes(codes)


def all_codes(registry: Registry) -> list[str]:
    with registry.engine.connect() as conn:
        return list(conn.execute(select(customers.c.customer_code)).scalars())


def test_a_drawn_code_someone_holds_is_never_given_again(
        registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = customer_code.new_assigned()
    registry.customers.create_new("imported", NewCustomer(first_name="Imp", last_name="Orted",
                                                          customer_code=taken))
    free = customer_code.new_assigned()
    draws: Iterator[str] = iter([taken, taken, free])
    monkeypatch.setattr(customer_code, "new_assigned", lambda: next(draws))
    made, _ = registry.customers.create_new("new", NewCustomer(first_name="Ny", last_name="Kund"))
    assert made.customer_code == free


def test_codes_issued_before_and_imported_codes_still_connect(registry: Registry) -> None:
    for code in ("500001", "500002", "1001", "LS-7"):
        registry.customers.create_new(code, NewCustomer(first_name="Old", last_name=code,
                                                        customer_code=code, created_via="import"))
    for code in ("500001", "500002", "1001", "LS-7"):
        assert find_by_code(registry, code) == code


def test_an_eleven_digit_code_with_a_wrong_check_digit_is_refused_at_import(
        registry: Registry) -> None:
    good = customer_code.new_assigned()
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    report = registry.imports.run(io.StringIO(
        f"customer_code,first_name,last_name\n{good},Ok,A\n{bad},Typo,B\n"))
    assert report.created == 1
    assert [(i.line, "check digit" in i.reason) for i in report.issues] == [(3, True)]
