"""The duplicate guard: who a cashier is shown before creating a new member."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from cashier_bridge.registry import DuplicateProbe, NewCustomer, Registry, migrate

BORN = dt.date(1985, 3, 12)


def add(registry: Registry, key: str, first: str, last: str, **kw: object) -> int:
    record, _ = registry.customers.create_new(key, NewCustomer(first_name=first, last_name=last,
                                                               created_via="import", **kw))
    return record.id


def reasons(found: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {f"{r.first_name} {r.last_name}": reason for r, reason in found}


def test_same_birth_date_and_a_similar_name(registry: Registry) -> None:
    add(registry, "a", "Åsa", "Öberg", birth_date=BORN)
    add(registry, "b", "Lars", "Öberg", birth_date=BORN)  # her twin brother
    add(registry, "c", "Asa", "Oberg", birth_date=dt.date(1990, 1, 1))  # another day
    found = registry.customers.likely_duplicates(DuplicateProbe(birth_date=BORN, first_name="Asa",
                                                                last_name="Oberg"))
    assert reasons(found) == {"Åsa Öberg": "same_birth_date_similar_name"}


def test_another_personal_id_on_file_is_another_person(registry: Registry) -> None:
    fp_a, fp_b = registry.fingerprint("198503120183"), registry.fingerprint("198503120191")
    add(registry, "a", "Anna", "Ek", birth_date=BORN, personal_id_fingerprint=fp_a)
    found = registry.customers.likely_duplicates(DuplicateProbe(birth_date=BORN, first_name="Anna",
                                                                last_name="Ek",
                                                                personal_id_fingerprint=fp_b))
    assert found == []


def test_without_a_name_only_customers_lacking_a_personal_id_are_offered(
        registry: Registry) -> None:
    fp = registry.fingerprint("198503120183")
    add(registry, "a", "Anna", "Ek", birth_date=BORN, personal_id_fingerprint=fp)
    add(registry, "b", "Berit", "Berg", birth_date=BORN)
    probe = DuplicateProbe(birth_date=BORN,
                           personal_id_fingerprint=registry.fingerprint("198503120191"))
    assert reasons(registry.customers.likely_duplicates(probe)) == {
        "Berit Berg": "same_birth_date_no_personal_id"}


def test_same_mailbox_written_differently(registry: Registry) -> None:
    add(registry, "a", "Anna", "Andersson", email="Anna.Andersson@gmail.com")
    probe = DuplicateProbe(email="annaandersson+kassa@GMAIL.com")
    assert reasons(registry.customers.likely_duplicates(probe)) == {"Anna Andersson": "same_email"}


def test_same_phone(registry: Registry) -> None:
    add(registry, "a", "Anna", "Andersson", phone="+46701234567")
    assert reasons(registry.customers.likely_duplicates(DuplicateProbe(phone="+46701234567"))) == {
        "Anna Andersson": "same_phone"}


def test_erased_customers_are_never_offered(registry: Registry) -> None:
    cid = add(registry, "a", "Anna", "Andersson", phone="+46701234567", birth_date=BORN)
    registry.customers.erase(cid, actor="t")
    assert registry.customers.likely_duplicates(DuplicateProbe(phone="+46701234567",
                                                               birth_date=BORN)) == []


def test_the_list_is_short(registry: Registry) -> None:
    for i in range(12):
        add(registry, f"k{i}", "Anna", "Andersson", birth_date=BORN)
    probe = DuplicateProbe(birth_date=BORN, first_name="Anna", last_name="Andersson")
    assert len(registry.customers.likely_duplicates(probe, limit=5)) == 5


def test_upgrade_fills_the_mailbox_key_of_existing_customers(db_url: str) -> None:
    registry = Registry.open(db_url)
    try:
        add(registry, "a", "Anna", "Andersson", email="Anna.Andersson+x@Gmail.com")
        migrate.downgrade(registry.engine, "0002")
        migrate.upgrade(registry.engine)
        with registry.engine.connect() as conn:
            key = conn.execute(text("SELECT email_key FROM customers")).scalar_one()
        assert key == "annaandersson@gmail.com"
    finally:
        registry.close()
