from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from cashier_bridge.identity import IdentityError, personnummer
from cashier_bridge.lanes.lane import MatchKey
from cashier_bridge.registry import (
    CustomerRecord,
    DuplicateCustomer,
    InvalidCustomer,
    NewCustomer,
    Registry,
)
from cashier_bridge.registry.problems import NotFound
from cashier_bridge.registry.schema import audit_log, consents, customers

ANNA_PNR = "19850312-1249"
ERIK_PNR = "19781120-4572"


def key(kind: str, value: str) -> MatchKey:
    return MatchKey(kind=kind, value=value, reading=kind)


def member(reg: Registry, pnr: str | None = None, **fields: Any) -> NewCustomer:
    if pnr is not None:
        pid = personnummer.parse(pnr)
        fields.update(personal_id_fingerprint=reg.fingerprint(pid.number),
                      personal_id_masked=pid.masked, birth_date=pid.birth_date)
    fields.setdefault("first_name", "Anna")
    fields.setdefault("last_name", "Andersson")
    return NewCustomer(**fields)


def rows(reg: Registry, table: Any) -> list[Any]:
    with reg.engine.connect() as conn:
        return list(conn.execute(select(table)))


def test_create_then_find_by_every_key(registry: Registry) -> None:
    new = member(registry, ANNA_PNR, phone="+46701234567", email="anna@example.com",
                 created_via="scan")
    created, is_new = registry.customers.create_new("req-1", new)
    assert is_new
    assert (created.first_name, created.last_name) == ("Anna", "Andersson")
    assert created.personal_id_masked == "19850312-****"
    assert created.birth_date == dt.date(1985, 3, 12)
    assert created.created_via == "scan"
    assert created.customer_code

    for match in (key("personal_id_fingerprint", registry.fingerprint(ANNA_PNR)),
                  key("phone", "+46701234567"),
                  key("customer_code", created.customer_code),
                  key("email", "anna@example.com")):
        found = registry.customers.find([match])
        assert found == (created, match)
    assert registry.customers.get(created.id) == created
    assert registry.customers.find_by_id(created.id) == created
    assert registry.customers.count() == 1


def test_card_shows_what_the_register_needs(registry: Registry) -> None:
    record, _ = registry.customers.create_new("req-1", member(registry, ANNA_PNR,
                                                              phone="+46701234567"))
    card = registry.customers.find([key("phone", "+46701234567")])[0].to_card(matched_on="phone")
    assert card.id == record.id
    assert card.customer_code == record.customer_code
    assert card.personal_id_masked == "19850312-****"
    assert card.matched_on == "phone"
    assert card.is_new is False
    assert record.to_card(is_new=True).is_new is True


def test_nothing_found_is_none(registry: Registry) -> None:
    registry.customers.create_new("req-1", member(registry, ANNA_PNR))
    assert registry.customers.find([]) is None
    assert registry.customers.find([key("phone", "+46739876543"),
                                    key("personal_id_fingerprint",
                                        registry.fingerprint(ERIK_PNR))]) is None
    assert registry.customers.find_by_id(999_999) is None
    assert registry.customers.find_by_code("NOBODY") is None
    with pytest.raises(NotFound):
        registry.customers.get(999_999)


def test_find_tries_keys_in_the_order_given(registry: Registry) -> None:
    anna, _ = registry.customers.create_new("a", member(registry, ANNA_PNR))
    erik, _ = registry.customers.create_new(
        "e", member(registry, first_name="Erik", last_name="Johansson", phone="+46723456789"))
    by_pnr = key("personal_id_fingerprint", registry.fingerprint(ANNA_PNR))
    by_phone = key("phone", "+46723456789")
    missing = key("email", "nobody@example.com")

    assert registry.customers.find([by_pnr, by_phone]) == (anna, by_pnr)
    assert registry.customers.find([by_phone, by_pnr]) == (erik, by_phone)
    assert registry.customers.find([missing, by_phone, by_pnr]) == (erik, by_phone)


def test_unknown_key_kind_is_a_clear_error(registry: Registry) -> None:
    with pytest.raises(ValueError, match="unknown match key kind 'shoe_size'"):
        registry.customers.find([key("shoe_size", "42")])


def test_email_matches_whatever_its_case(registry: Registry) -> None:
    record, _ = registry.customers.create_new(
        "r", member(registry, email="  Anna.Andersson@Example.COM "))
    assert record.email == "anna.andersson@example.com"
    found = registry.customers.find([key("email", "ANNA.ANDERSSON@example.com")])
    assert found is not None and found[0].id == record.id
    with pytest.raises(DuplicateCustomer) as dup:
        registry.customers.create_new("r2", member(registry, first_name="Other",
                                                   email="anna.andersson@EXAMPLE.com"))
    assert dup.value.field == "email"


def test_customer_code_is_matched_trimmed_and_upper_cased(registry: Registry) -> None:
    record, _ = registry.customers.create_new("r", member(registry, customer_code="ab-12"))
    assert record.customer_code == "AB-12"
    assert registry.customers.find([key("customer_code", " ab-12 ")])[0].id == record.id


def test_same_request_key_gives_the_same_customer(registry: Registry) -> None:
    first, created_first = registry.customers.create_new("req-7", member(registry, ANNA_PNR))
    # A retry after a dropped connection: even with different details, nothing new is made.
    again, created_again = registry.customers.create_new(
        "req-7", member(registry, first_name="Someone", last_name="Else"))
    assert created_first and not created_again
    assert again == first
    assert registry.customers.count() == 1


def _race(count: int, work: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_creates_with_one_request_key_make_one_customer(registry: Registry) -> None:
    new = member(registry, ANNA_PNR, phone="+46701234567")
    results = _race(8, lambda _i: registry.customers.create_new("same-key", new))
    assert all(isinstance(r, tuple) for r in results), results
    assert len({record.id for record, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert registry.customers.count() == 1


def test_concurrent_creates_of_one_person_make_one_customer(registry: Registry) -> None:
    # Two lanes, same shopper, different request keys: one wins, the rest are duplicates.
    results = _race(6, lambda i: registry.customers.create_new(
        f"lane-{i}", member(registry, ANNA_PNR, phone="+46701234567")))
    winners = [r for r in results if isinstance(r, tuple)]
    losers = [r for r in results if isinstance(r, DuplicateCustomer)]
    assert len(winners) == 1 and winners[0][1] is True
    assert len(losers) == 5
    assert all(dup.existing.id == winners[0][0].id for dup in losers)
    assert registry.customers.count() == 1


def test_concurrent_creates_of_different_people_get_distinct_codes(registry: Registry) -> None:
    results = _race(6, lambda i: registry.customers.create_new(
        f"r{i}", member(registry, first_name=f"P{i}", phone=f"+4670123450{i}")))
    assert all(isinstance(r, tuple) and r[1] for r in results), results
    assert len({record.customer_code for record, _ in results}) == 6
    assert registry.customers.count() == 6


@pytest.mark.parametrize("field", ["personal_id_fingerprint", "phone", "email"])
def test_identifier_of_another_customer_raises_duplicate(registry: Registry, field: str) -> None:
    anna, _ = registry.customers.create_new(
        "a", member(registry, ANNA_PNR, phone="+46701234567", email="anna@example.com"))
    clash = {
        "personal_id_fingerprint": member(registry, ANNA_PNR, first_name="Annie"),
        "phone": member(registry, first_name="Annie", phone="+46701234567"),
        "email": member(registry, first_name="Annie", email="ANNA@example.com"),
    }[field]
    with pytest.raises(DuplicateCustomer) as dup:
        registry.customers.create_new("b", clash)
    assert dup.value.field == field
    assert dup.value.existing == anna
    assert registry.customers.count() == 1


def test_given_customer_code_that_is_taken_raises_duplicate(registry: Registry) -> None:
    anna, _ = registry.customers.create_new("a", member(registry, customer_code="1001"))
    with pytest.raises(DuplicateCustomer) as dup:
        registry.customers.create_new("b", member(registry, first_name="Bo", customer_code="1001"))
    assert (dup.value.field, dup.value.existing.id) == ("customer_code", anna.id)


# Assigned codes skipping codes already in use: test_registry_codes.py (codes are random now).


def test_fingerprint_is_stable_secret_and_not_the_number(db_url: str) -> None:
    reg = Registry.open(db_url)
    fp = reg.fingerprint("198503121249")
    assert len(fp) == 64 and "198503121249" not in fp and "8503121249" not in fp
    assert reg.fingerprint(ANNA_PNR) == fp  # any accepted spelling of the same number
    assert reg.fingerprint("850312-1249") == fp
    assert reg.fingerprint(ERIK_PNR) != fp
    reg.customers.create_new("a", member(reg, ANNA_PNR))
    reg.close()

    reopened = Registry.open(db_url)
    try:
        assert reopened.fingerprint("198503121249") == fp
        assert reopened.customers.find([key("personal_id_fingerprint", fp)]) is not None
    finally:
        reopened.close()


def test_two_installations_fingerprint_differently(tmp_path: Any) -> None:
    one = Registry.open(f"sqlite:///{tmp_path / 'one' / 'selfreg.db'}")
    two = Registry.open(f"sqlite:///{tmp_path / 'two' / 'selfreg.db'}")
    try:
        assert one.fingerprint(ANNA_PNR) != two.fingerprint(ANNA_PNR)
    finally:
        one.close()
        two.close()


def test_fingerprint_of_an_invalid_number_is_an_identity_error(registry: Registry) -> None:
    with pytest.raises(IdentityError, match="Luhn"):
        registry.fingerprint("19850312-1248")


def test_the_full_personal_id_is_stored_nowhere(registry: Registry) -> None:
    registry.customers.create_new("a", member(registry, ANNA_PNR, phone="+46701234567"))
    with registry.engine.connect() as conn:
        for table in (customers, audit_log, consents):
            dumped = json.dumps([list(map(str, row)) for row in conn.execute(select(table))])
            assert "8503121249" not in dumped


def test_consent_and_audit_are_recorded_on_create(registry: Registry) -> None:
    yes, _ = registry.customers.create_new(
        "a", member(registry, phone="+46701234567", marketing_consent=True, created_via="mobile",
                    consent_text_version="2024-01"))
    no, _ = registry.customers.create_new("b", member(registry, first_name="Bo"))
    consent_rows = rows(registry, consents)
    assert [(c.customer_id, c.purpose, c.granted, c.source, c.text_version)
            for c in consent_rows] == [(yes.id, "marketing", True, "mobile", "2024-01")]
    assert registry.consents.granted(yes.id) is True
    assert registry.consents.granted(no.id) is None
    audit = [(a.action, a.customer_id, a.actor) for a in rows(registry, audit_log)]
    assert audit == [("create", yes.id, "bridge"), ("create", no.id, "bridge")]


def test_consent_source_overrides_created_via(registry: Registry) -> None:
    record, _ = registry.customers.create_new(
        "a", member(registry, marketing_consent=True, consent_source="cashier"))
    assert [c.source for c in rows(registry, consents)] == ["cashier"]
    assert record.created_via == "numpad"


def test_timestamps_are_aware_utc(registry: Registry) -> None:
    before = dt.datetime.now(dt.UTC)
    record, _ = registry.customers.create_new("a", member(registry))
    after = dt.datetime.now(dt.UTC)
    assert record.created_at.tzinfo is not None
    assert record.created_at.utcoffset() == dt.timedelta(0)
    assert before - dt.timedelta(seconds=1) <= record.created_at <= after
    assert registry.customers.get(record.id).updated_at == record.updated_at


def test_group_and_address_are_kept(registry: Registry) -> None:
    record, _ = registry.customers.create_new("a", member(
        registry, customer_group="Stamkund", street="Storgatan 12", postal_code="111 51",
        city="Stockholm", country="SE"))
    other, _ = registry.customers.create_new("b", member(registry, first_name="Bo",
                                                          customer_group="Stamkund"))
    assert (record.customer_group, record.street, record.city) == (
        "Stamkund", "Storgatan 12", "Stockholm")
    assert other.customer_group == "Stamkund"


@pytest.mark.parametrize(("new", "message"), [
    (NewCustomer("", "Andersson"), "first_name: is empty"),
    (NewCustomer("Anna", "   "), "last_name: is empty"),
    (NewCustomer("Anna", "Andersson", email="anna(at)example.com"),
     "email: 'anna(at)example.com' is not an email address"),
    (NewCustomer("Anna", "A" * 101), "last_name: has more than 100 characters"),
])
def test_invalid_details_are_refused_and_nothing_is_stored(
    registry: Registry, new: NewCustomer, message: str
) -> None:
    with pytest.raises(InvalidCustomer, match=message.replace("(", r"\(").replace(")", r"\)")):
        registry.customers.create_new("a", new)
    assert registry.customers.count() == 0


def test_erased_customers_are_not_found(registry: Registry) -> None:
    anna, _ = registry.customers.create_new(
        "a", member(registry, ANNA_PNR, phone="+46701234567", email="anna@example.com"))
    registry.customers.erase(anna.id, actor="t")
    with pytest.raises(NotFound):
        registry.customers.erase(anna.id, actor="t")
    for match in (key("personal_id_fingerprint", registry.fingerprint(ANNA_PNR)),
                  key("phone", "+46701234567"), key("email", "anna@example.com"),
                  key("customer_code", anna.customer_code)):
        assert registry.customers.find([match]) is None
    assert registry.customers.find_by_id(anna.id) is None
    with pytest.raises(NotFound):
        registry.customers.get(anna.id)
    assert registry.customers.count() == 0
    assert registry.customers.search("anna") == []
    with registry.engine.connect() as conn:
        row = conn.execute(select(customers).where(customers.c.id == anna.id)).one()
    assert (row.first_name, row.phone, row.email, row.personal_id_fingerprint) == (
        "", None, None, None)
    assert row.erased_at is not None
    # The same person may sign up again afterwards.
    again, created = registry.customers.create_new(
        "b", member(registry, ANNA_PNR, phone="+46701234567", email="anna@example.com"))
    assert created and again.id != anna.id
    assert [a.action for a in rows(registry, audit_log)] == ["create", "erase", "create"]


def test_search_by_name_prefix_ignores_case_and_swedish_letters(registry: Registry) -> None:
    def add(first: str, last: str) -> CustomerRecord:
        return registry.customers.create_new(f"{first}-{last}", member(
            registry, first_name=first, last_name=last))[0]

    asa = add("Åsa", "Öberg")
    anna = add("Anna", "Andersson")
    annika = add("Annika", "Berg")
    add("Erik", "Johansson")
    assert registry.customers.search("ann") == [anna, annika]
    assert registry.customers.search("ÅS") == [asa]
    assert registry.customers.search("öb") == [asa]
    assert registry.customers.search("anna and") == [anna]
    assert registry.customers.search("berg annika") == [annika]
    assert registry.customers.search("zz") == []
    assert registry.customers.search(asa.customer_code) == [asa]
    assert registry.customers.search("  ") == []


def test_search_lists_last_name_matches_before_first_name_matches(registry: Registry) -> None:
    create = registry.customers.create_new
    berit, _ = create("1", member(registry, first_name="Berit", last_name="Holm"))
    bengt, _ = create("2", member(registry, first_name="Bengt", last_name="Berg"))
    ake, _ = create("3", member(registry, first_name="Åke", last_name="Bergman"))
    assert registry.customers.search("ber") == [bengt, ake, berit]
    assert registry.customers.search("ber", limit=2) == [bengt, ake]
