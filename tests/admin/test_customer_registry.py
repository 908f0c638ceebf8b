"""The registry under the customer pages, on SQLite and on a real PostgreSQL: keyset browsing
in three orders, merged-away customers hidden, credit terms only through their own method,
group changes audited per member, consents with who recorded them, erasure of the new fields."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from cashier_bridge.lanes.lane import MatchKey
from cashier_bridge.registry import DuplicateProbe, InvalidCustomer, NewCustomer, Registry
from cashier_bridge.registry.problems import NotFound
from cashier_bridge.registry.records import AccountStatus
from cashier_bridge.registry.schema import customers

PEOPLE = [("Åsa", "Östlund", "3003"), ("Bo", "Berg", "1001"), ("Anna", "Berg", "2002"),
          ("Cilla", "Ek", "0004"), ("Dan", "Berg", "5005")]


def seed(registry: Registry) -> dict[str, int]:
    ids = {}
    for first, last, code in PEOPLE:
        record, _ = registry.customers.create_new(f"seed-{code}", NewCustomer(
            first, last, customer_code=code, phone=f"+4670000{code}"))
        ids[first] = record.id
    return ids


def walk(registry: Registry, sort: str, **kw: object) -> list[str]:
    """Every page of the browse, two at a time, following the cursors."""
    names, after = [], None
    while True:
        page, after = registry.customers.browse(sort=sort, limit=2, after=after, **kw)  # type: ignore[arg-type]
        names += [r.first_name for r in page]
        if after is None:
            return names


def test_browse_in_each_order_with_keyset_pages(registry: Registry) -> None:
    seed(registry)
    # Name: last name, then first name, accents folded (Östlund sorts as ostlund).
    assert walk(registry, "name") == ["Anna", "Bo", "Dan", "Cilla", "Åsa"]
    assert walk(registry, "code") == ["Cilla", "Bo", "Anna", "Åsa", "Dan"]
    assert walk(registry, "newest") == ["Dan", "Cilla", "Anna", "Bo", "Åsa"]


def test_browse_filters_by_group_and_refuses_a_forged_cursor(registry: Registry) -> None:
    ids = seed(registry)
    group = registry.groups.create("Berg", actor="test")
    registry.groups.assign(group.id, [ids["Bo"], ids["Dan"]], actor="test")
    assert walk(registry, "name", group_id=group.id) == ["Bo", "Dan"]
    default = registry.groups.list()[0].id
    assert walk(registry, "name", group_id=default) == ["Anna", "Cilla", "Åsa"]
    for cursor in ("[]", "nonsense", '["x"]', '["a", "b", "c"]'):
        with pytest.raises(InvalidCustomer):
            registry.customers.browse(sort="newest" if cursor == '["x"]' else "name", limit=2,
                                      after=cursor)
    with pytest.raises(InvalidCustomer):
        registry.customers.browse(sort="last_sale", limit=2)


def test_a_merged_away_customer_is_hidden_everywhere(registry: Registry) -> None:
    ids = seed(registry)
    with registry.engine.begin() as conn:
        conn.execute(update(customers).where(customers.c.id == ids["Dan"])
                     .values(merged_into_id=ids["Bo"]))
    assert "Dan" not in walk(registry, "name")
    assert "Dan" not in [r.first_name for r in registry.customers.list(limit=10)[0]]
    assert registry.customers.search("dan") == [] and registry.customers.search("5005") == []
    assert registry.customers.find_by_id(ids["Dan"]) is None
    assert registry.customers.find([MatchKey(kind="phone", value="+46700005005",
                                             reading="phone")]) is None
    with pytest.raises(NotFound):
        registry.customers.get(ids["Dan"])
    assert registry.customers.likely_duplicates(DuplicateProbe(phone="+46700005005")) == []
    assert registry.groups.list()[0].members == 4 and registry.customers.count() == 4


def test_credit_terms_change_only_through_their_own_method(registry: Registry) -> None:
    ids = seed(registry)
    bo = ids["Bo"]
    for field, value in (("account_limit_minor", 100), ("loyalty_rate_bp", 5),
                         ("account_status", "closed")):
        with pytest.raises(InvalidCustomer) as refused:
            registry.customers.update(bo, {field: value, "city": "Lund"}, region="SE",
                                      actor="test")
        assert refused.value.field == field and "credit term" in str(refused.value)
    assert registry.customers.get(bo).city is None
    after = registry.customers.update_credit_terms(
        bo, {"account_limit_minor": 250000, "account_status": "on_hold",
             "loyalty_rate_bp": 300}, details={"city": "Lund"}, actor="staff:maja")
    assert (after.account_limit_minor, after.account_status, after.loyalty_rate_bp,
            after.city) == (250000, AccountStatus.on_hold, 300, "Lund")
    entry = registry.customers.history(bo)[0]
    assert (entry.actor, entry.action) == ("staff:maja", "update")
    assert entry.detail == {
        "before": {"account_limit_minor": None, "account_status": "active",
                   "loyalty_rate_bp": None, "city": None},
        "after": {"account_limit_minor": 250000, "account_status": "on_hold",
                  "loyalty_rate_bp": 300, "city": "Lund"}}
    for terms in ({"loyalty_rate_bp": 10001}, {"account_limit_minor": -1},
                  {"account_status": "frozen"}, {"loyalty_rate_bp": "3"}):
        with pytest.raises(InvalidCustomer):
            registry.customers.update_credit_terms(bo, terms, actor="test")
    assert registry.customers.get(bo) == after


def test_deleting_a_group_audits_each_member_falling_back(registry: Registry) -> None:
    ids = seed(registry)
    group = registry.groups.create("Berg", actor="test")
    registry.groups.assign(group.id, [ids["Bo"], ids["Anna"]], actor="staff:maja")
    moved = registry.customers.history(ids["Bo"])[0]
    assert (moved.action, moved.detail["before"], moved.detail["after"]) == \
        ("group_assign", {"group": "All customers"}, {"group": "Berg"})
    registry.groups.delete(group.id, actor="staff:root")
    for name in ("Bo", "Anna"):
        entry = registry.customers.history(ids[name])[0]
        assert (entry.actor, entry.action, entry.detail["before"], entry.detail["after"]) == \
            ("staff:root", "group_assign", {"group": "Berg"}, {"group": "All customers"})
        assert registry.customers.get(ids[name]).customer_group == "All customers"
    assert registry.customers.history(ids["Dan"])[0].action == "create"


def test_an_edit_that_moves_groups_names_them(registry: Registry) -> None:
    ids = seed(registry)
    group = registry.groups.create("Berg", actor="test")
    registry.customers.update(ids["Bo"], {"group_id": group.id}, region="SE", actor="t")
    detail = registry.customers.history(ids["Bo"])[0].detail
    assert (detail["before"], detail["after"], detail["group_id"]) == \
        ({"group": "All customers"}, {"group": "Berg"}, group.id)


def test_consents_recorded_with_who_and_the_log_newest_first(registry: Registry) -> None:
    bo = seed(registry)["Bo"]
    registry.consents.record(bo, "marketing", True, "back_office", "v-1", actor="staff:kim")
    registry.consents.record(bo, "marketing", False, "via_mobil", "v-2")
    log = registry.consents.log_with_actors(bo)
    assert [(e.granted, e.source, e.text_version, who) for e, who in log] == [
        (False, "via_mobil", "v-2", None), (True, "back_office", "v-1", "staff:kim")]


def test_postal_codes_are_checked_and_written_as_the_post_does(registry: Registry) -> None:
    bo = seed(registry)["Bo"]
    after = registry.customers.update(bo, {"postal_code": " 111  51", "delivery_postal_code":
                                           "sw1a 1aa"}, region="SE", actor="t")
    assert (after.postal_code, after.delivery_postal_code) == ("111 51", "SW1A 1AA")
    for bad in ("Storgatan 1", "12", "abc", "1234567890123"):
        with pytest.raises(InvalidCustomer):
            registry.customers.update(bo, {"postal_code": bad}, region="SE", actor="t")


def test_erasure_removes_company_and_delivery_address(registry: Registry) -> None:
    bo = seed(registry)["Bo"]
    registry.customers.update(bo, {"company_name": "Bergs AB", "delivery_street": "Väg 1",
                                   "delivery_city": "Umeå"}, region="SE", actor="t")
    registry.customers.erase(bo, actor="t")
    with registry.engine.connect() as conn:
        row = conn.execute(customers.select().where(customers.c.id == bo)).one()
    assert (row.company_name, row.delivery_street, row.delivery_city) == (None, None, None)
