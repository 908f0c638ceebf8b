"""Merging two customers and undoing it, on SQLite and PostgreSQL: what moves, what the kept
customer ends with, that an undo restores both rows exactly, and when an undo is refused."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select, update

from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.registry.merging import MergeRefused
from cashier_bridge.registry.problems import NotFound
from cashier_bridge.registry.schema import audit_log, consents, customers, sales


def full_row(registry: Registry, customer_id: int) -> dict[str, Any]:
    with registry.engine.connect() as conn:
        return dict(conn.execute(select(customers).where(customers.c.id == customer_id))
                    .one()._mapping)


def owners(registry: Registry, table: Any) -> dict[int, int]:
    with registry.engine.connect() as conn:
        return dict(conn.execute(select(table.c.id, table.c.customer_id)).all())


def pair(registry: Registry) -> tuple[int, int]:
    """Anna twice: the kept one with a phone and a note, the other with e-mail, personnummer,
    an address, a note, balances, a sale and consents."""
    kept, _ = registry.customers.create_new("k", NewCustomer(
        "Anna", "Andersson", phone="+46701234567", customer_code="1001",
        customer_group="Staff", note="Prefers e-mail receipts"))
    other, _ = registry.customers.create_new("o", NewCustomer(
        "Anna", "Andersson-Berg", email="anna@example.se", customer_code="1002",
        personal_id_fingerprint=registry.fingerprint("198503121249"),
        personal_id_masked="19850312-****", birth_date=dt.date(1985, 3, 12), street="Storgatan 1",
        postal_code="111 22", city="Stockholm", marketing_consent=True, consent_source="numpad",
        note="Allergic to nuts (ask)"))
    registry.customers.update(other.id, {"phone": None}, region="SE", actor="staff:maja")
    with registry.engine.begin() as conn:
        conn.execute(update(customers).where(customers.c.id == other.id).values(
            account_balance_minor=5000, loyalty_balance_minor=120, store_credit_minor=0))
        conn.execute(update(customers).where(customers.c.id == kept.id).values(
            account_balance_minor=-1500, loyalty_balance_minor=80, store_credit_minor=300))
    registry.sales.record(other.id, sale_id="s-1", register="kassa-1", total_minor=24950,
                          currency="SEK", at=None, recorded_by="api:pos")
    registry.sales.record(kept.id, sale_id="s-2", register="kassa-1", total_minor=1000,
                          currency="SEK", at=None, recorded_by="api:pos")
    registry.consents.record(other.id, "personalised_offers", True, "via_mobil", "v1")
    return kept.id, other.id


def test_preview_shows_what_the_kept_customer_ends_with(registry: Registry) -> None:
    kept, other = pair(registry)
    before = full_row(registry, kept), full_row(registry, other)
    plan = registry.merges.preview(kept, other)
    assert plan.refusal is None
    by_key = {f.key: f for f in plan.fields}
    assert (by_key["last_name"].result, by_key["last_name"].source) == ("Andersson", "kept")
    assert by_key["last_name"].dropped  # "Andersson-Berg" is not kept (an undo brings it back)
    assert (by_key["email"].result, by_key["email"].source) == ("anna@example.se", "other")
    assert by_key["personal_id"].result == "19850312-****"
    assert by_key["address"].result == "Storgatan 1, 111 22, Stockholm"
    assert by_key["group"].result == "Staff"
    assert (by_key["account_balance_minor"].result, by_key["account_balance_minor"].source) == \
        (3500, "added")
    assert by_key["note"].result == "Prefers e-mail receipts\n\nAllergic to nuts (ask)"
    assert by_key["customer_code"].result == "1001"
    assert (plan.sales, plan.consents) == (1, 2)
    assert (full_row(registry, kept), full_row(registry, other)) == before  # nothing changed


def test_merge_moves_sales_consents_notes_balances_and_identifiers(registry: Registry) -> None:
    kept, other = pair(registry)
    fingerprint = registry.fingerprint("198503121249")
    registry.merges.merge(kept, other, actor="staff:maja")

    row = full_row(registry, kept)
    assert (row["first_name"], row["last_name"], row["phone"]) == \
        ("Anna", "Andersson", "+46701234567")
    assert (row["email"], row["personal_id_fingerprint"], row["birth_date"]) == \
        ("anna@example.se", fingerprint, dt.date(1985, 3, 12))
    assert (row["street"], row["city"]) == ("Storgatan 1", "Stockholm")
    assert row["note"] == "Prefers e-mail receipts\n\nAllergic to nuts (ask)"
    assert (row["account_balance_minor"], row["loyalty_balance_minor"],
            row["store_credit_minor"]) == (3500, 200, 300)
    assert {s.sale_id for s in registry.sales.list(kept)} == {"s-1", "s-2"}
    assert {(e.purpose, e.granted) for e in registry.consents.log(kept)} == \
        {("marketing", True), ("personalised_offers", True)}

    hidden = full_row(registry, other)
    assert hidden["merged_into_id"] == kept and hidden["customer_code"] == f"MERGED-{other}"
    assert (hidden["first_name"], hidden["email"], hidden["personal_id_fingerprint"]) == \
        ("", None, None)
    # Gone for everyone: lookups, search, the API's get.
    assert registry.customers.find_by_id(other) is None
    assert registry.customers.find_by_code("1002") is None
    assert [c.id for c in registry.customers.search("anna")] == [kept]
    with pytest.raises(NotFound):
        registry.customers.get(other)
    assert registry.merges.merged_into(other) == kept
    # The kept customer is found by what came over.
    assert registry.customers.search("anna@example.se")[0].id == kept


def test_undo_restores_both_rows_exactly_and_moves_everything_back(registry: Registry) -> None:
    kept, other = pair(registry)
    rows_before = full_row(registry, kept), full_row(registry, other)
    sale_owners, consent_owners = owners(registry, sales), owners(registry, consents)
    audit_owners = owners(registry, audit_log)
    entry = registry.merges.merge(kept, other, actor="staff:maja")
    assert registry.merges.undo_preview(entry).refusal is None

    assert registry.merges.undo(entry, actor="staff:root") == other
    assert (full_row(registry, kept), full_row(registry, other)) == rows_before
    assert owners(registry, sales) == sale_owners
    assert owners(registry, consents) == consent_owners
    assert {k: v for k, v in owners(registry, audit_log).items() if k in audit_owners} == \
        audit_owners
    assert registry.customers.find_by_code("1002") is not None
    with registry.engine.connect() as conn:
        entries = conn.execute(select(audit_log.c.action, audit_log.c.customer_id,
                                      audit_log.c.actor, audit_log.c.detail)
                               .where(audit_log.c.id >= entry).order_by(audit_log.c.id)).all()
    assert [(e.action, e.customer_id, e.actor) for e in entries] == [
        ("merge", kept, "staff:maja"), ("merged_into", other, "staff:maja"),
        ("unmerge", kept, "staff:root"), ("unmerge", other, "staff:root")]
    # Once undone, the merge entry no longer holds the other person's details.
    assert "Andersson-Berg" not in entries[0].detail
    assert json.loads(entries[0].detail)["undone_by"] == entry + 2
    refused = registry.merges.undo_preview(entry).refusal
    assert refused is not None and refused.startswith("This merge was already undone on ")
    with pytest.raises(MergeRefused):
        registry.merges.undo(entry, actor="staff:root")


def test_undo_keeps_a_sale_made_after_the_merge_with_the_kept_customer(
        registry: Registry) -> None:
    kept, other = pair(registry)
    entry = registry.merges.merge(kept, other, actor="staff:maja")
    registry.sales.record(kept, sale_id="s-3", register="kassa-2", total_minor=500,
                          currency="SEK", at=None, recorded_by="api:pos")
    with registry.engine.begin() as conn:  # the sale earned loyalty
        conn.execute(update(customers).where(customers.c.id == kept).values(
            loyalty_balance_minor=customers.c.loyalty_balance_minor + 25))
    registry.merges.undo(entry, actor="staff:maja")
    assert {s.sale_id for s in registry.sales.list(kept)} == {"s-2", "s-3"}
    assert [s.sale_id for s in registry.sales.list(other)] == ["s-1"]
    assert full_row(registry, kept)["loyalty_balance_minor"] == 80 + 25
    assert full_row(registry, other)["loyalty_balance_minor"] == 120


@pytest.mark.parametrize("what", ["erased", "merged_again", "edited", "identifier_taken"])
def test_undo_is_refused_with_the_reason_when_unsafe(registry: Registry, what: str) -> None:
    kept, other = pair(registry)
    entry = registry.merges.merge(kept, other, actor="staff:maja")
    if what == "erased":
        registry.customers.erase(kept, actor="staff:maja")
        reason = f"Customer {kept} was deleted (erased) after the merge"
    elif what == "merged_again":
        third, _ = registry.customers.create_new("t", NewCustomer("Anna", "A",
                                                                  customer_code="1003"))
        registry.merges.merge(third.id, kept, actor="staff:maja")
        reason = f"customer 1001 (id {kept}) was merged into customer {third.id}"
    elif what == "edited":
        registry.customers.update(kept, {"city": "Uppsala"}, region="SE", actor="staff:kim")
        reason = f"customer 1001 (id {kept}) was changed after the merge (city)"
    else:
        registry.customers.create_new("n", NewCustomer("Nils", "Nyman", customer_code="1002"))
        reason = "The merged customer's customer number now belongs to customer 1002"
    with registry.engine.connect() as conn:
        everything = {t.name: conn.execute(select(t).order_by(t.c.id)).all()
                      for t in (customers, sales, consents, audit_log)}
    refusal = registry.merges.undo_preview(entry).refusal
    assert refusal is not None and reason in refusal, refusal
    with pytest.raises(MergeRefused) as raised:
        registry.merges.undo(entry, actor="staff:maja")
    assert raised.value.reason == refusal
    with registry.engine.connect() as conn:
        assert {t.name: conn.execute(select(t).order_by(t.c.id)).all()
                for t in (customers, sales, consents, audit_log)} == everything


def test_a_merge_that_must_not_happen_is_refused_and_changes_nothing(registry: Registry) -> None:
    kept, other = pair(registry)
    twin, _ = registry.customers.create_new("p", NewCustomer(
        "Anna", "Andersson", customer_code="1004",
        personal_id_fingerprint=registry.fingerprint("199001012351"),
        personal_id_masked="19900101-****"))
    cases = {(other, twin.id): "They have different personnummer on file (19850312-**** and "
                              "19900101-****)",
             (kept, kept): "A customer cannot be merged with themselves"}
    for (a, b), reason in cases.items():
        rows = full_row(registry, a), full_row(registry, b)
        plan = registry.merges.preview(a, b)
        assert plan.refusal is not None and plan.refusal.startswith(reason)
        with pytest.raises(MergeRefused):
            registry.merges.merge(a, b, actor="staff:maja")
        assert (full_row(registry, a), full_row(registry, b)) == rows
    registry.merges.merge(kept, other, actor="staff:maja")
    with pytest.raises(MergeRefused, match=f"Customer {other} was already merged into"):
        registry.merges.merge(kept, other, actor="staff:maja")
    with pytest.raises(NotFound):
        registry.merges.preview(kept, 999_999)


def test_erasing_the_kept_customer_erases_what_came_from_the_other(registry: Registry) -> None:
    kept, other = pair(registry)
    registry.merges.merge(kept, other, actor="staff:maja")
    registry.customers.erase(kept, actor="staff:maja")
    with registry.engine.connect() as conn:
        details = [d for d in conn.execute(select(audit_log.c.detail)).scalars() if d]
        rows = conn.execute(select(customers)).all()
    text = json.dumps(details) + repr(rows)
    for personal in ("Andersson", "anna@example.se", "Storgatan", "19850312", "+46701234567",
                     "nuts", registry.fingerprint("198503121249")):
        assert personal not in text, personal
    with registry.engine.connect() as conn:  # the books keep both sales, anonymised
        assert set(conn.execute(select(sales.c.sale_id).where(sales.c.customer_id == kept))
                   .scalars()) == {"s-1", "s-2"}
