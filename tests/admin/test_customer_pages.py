"""The back office's customer pages through the bridge's real app, as a browser uses them: the
list (search, sorting, paging, group filter, assign many), the profile, the edit and new forms,
consents; every role × action that matters, and a refused action changes nothing."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from admin.conftest import Clock
from admin.test_admin_http import USERS, audit_count, csrf_of, login, staffed_sqlite, text_of
from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.registry.records import AccountStatus
from cashier_bridge.registry.schema import customers
from cashier_bridge.web.mobile.consent import version

NBSP = "\u00a0"
MARKETING_SV = "Ja, skicka mig erbjudanden och nyheter via sms och e-post."


@pytest.fixture
def registry(tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    reg = staffed_sqlite(tmp_path / "admin.db", clock)
    reg.customers.create_new("seed-1", NewCustomer("Anna", "Andersson", phone="+46701234567",
                                                   email="anna@example.se", customer_code="1001"))
    reg.customers.create_new("seed-2", NewCustomer("Bo", "Berg", customer_code="1002"))
    yield reg
    reg.close()


def anna(registry: Registry) -> int:
    found = registry.customers.find_by_code("1001")
    assert found is not None
    return found.id


def names_in(page: httpx.Response, table: str = "customers") -> list[str]:
    body = page.text[page.text.index(f'id="{table}"'):]
    body = body[:body.index("</table>")]
    return [html.unescape(n) for n in re.findall(r'<a href="/admin/customers/\d+">([^<]+)</a>',
                                                  body)]


def reason_at(page: httpx.Response, field: str) -> str:
    return text_of(page, f"{field}-error")


def value_of(page: httpx.Response, field: str) -> str:
    found = re.search(rf'<input id="{field}" name="{field}"[^>]*value="([^"]*)"', page.text)
    assert found, f"no input {field}"
    return html.unescape(found.group(1))


def edit_form(client: TestClient, customer_id: int) -> dict[str, str]:
    """Every field of the edit form as the page fills it in."""
    page = client.get(f"/admin/customers/{customer_id}/edit")
    assert page.status_code == 200, page.text
    form = {name: html.unescape(value) for name, value in re.findall(
        r'<input id="[^"]+" name="([^"]+)" type="[^"]+" value="([^"]*)"', page.text)}
    for name, value in re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>([^<]*)<',
                                  page.text):
        form[name] = html.unescape(value)
    status = re.search(r'<option value="([a-z_]+)" selected>', page.text)
    if 'name="account_status"' in page.text and status:
        form["account_status"] = status.group(1)
    form["csrf"] = csrf_of(page)
    return form


# --- the list ----------------------------------------------------------------------------------

def test_list_sorts_by_name_code_and_newest_and_pages_on(client: TestClient,
                                                         registry: Registry) -> None:
    for i in range(55):
        registry.customers.create_new(f"many-{i}", NewCustomer(f"Per{i:02d}", "Ceder",
                                                               customer_code=f"{2100 - i}"))
    login(client, "kim")
    first = client.get("/admin/customers")  # by name: last name, first name
    shown = names_in(first)
    assert shown[:3] == ["Anna Andersson", "Bo Berg", "Per00 Ceder"] and len(shown) == 50
    second = client.get(re.search(r'href="([^"]+)" id="next"', first.text).group(1)
                        .replace("&amp;", "&"))
    assert names_in(second) == [f"Per{i:02d} Ceder" for i in range(48, 55)]
    assert 'id="next"' not in second.text
    by_code = names_in(client.get("/admin/customers", params={"sort": "code"}))
    assert by_code[:3] == ["Anna Andersson", "Bo Berg", "Per54 Ceder"]
    newest = names_in(client.get("/admin/customers", params={"sort": "newest"}))
    assert newest[:2] == ["Per54 Ceder", "Per53 Ceder"]


def test_a_forged_page_link_shows_the_first_page_and_says_so(client: TestClient) -> None:
    login(client, "kim")
    page = client.get("/admin/customers", params={"after": "not-a-cursor"})
    assert page.status_code == 400
    assert "out of date" in text_of(page, "error") and "(after=)" in text_of(page, "error")
    assert names_in(page) == ["Anna Andersson", "Bo Berg"]


def test_list_search_and_group_filter(client: TestClient, registry: Registry) -> None:
    group = registry.groups.create("Stamkunder", actor="test")
    registry.groups.assign(group.id, [anna(registry)], actor="test")
    login(client, "kim")
    assert names_in(client.get("/admin/customers", params={"q": "070 123 45 67"})) == \
        ["Anna Andersson"]
    assert names_in(client.get("/admin/customers", params={"group": group.id})) == \
        ["Anna Andersson"]
    default = registry.groups.list()[0]
    assert names_in(client.get("/admin/customers", params={"group": default.id})) == ["Bo Berg"]
    both = client.get("/admin/customers", params={"q": "b", "group": group.id})
    assert names_in(both) == [] and text_of(both, "nothing") == "No customer matches “b”."


def test_the_list_offers_new_customer_to_all_and_bulk_assign_to_managers(
        client: TestClient) -> None:
    login(client, "kim")
    page = client.get("/admin/customers")
    assert 'id="new-customer"' in page.text
    assert 'id="assign-button"' not in page.text and 'type="checkbox"' not in page.text
    assert '<script src="/admin/static/customers.js">' in page.text
    client.cookies.clear()
    login(client, "maja")
    page = client.get("/admin/customers")
    assert 'id="assign-button"' in page.text and page.text.count('type="checkbox"') == 2


def test_a_manager_assigns_many_customers_to_a_group(client: TestClient,
                                                     registry: Registry) -> None:
    group = registry.groups.create("Företag", actor="test")
    ids = [c.id for c in registry.customers.list(limit=10)[0]]
    csrf = login(client, "maja")
    done = client.post("/admin/customers/assign", data={
        "csrf": csrf, "group_id": str(group.id), "customer": [str(i) for i in ids]})
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert text_of(page, "done") == "2 customers moved to Företag."
    assert registry.groups.get(group.id).members == 2
    history = registry.customers.history(ids[0])
    assert history[0].actor == "staff:maja" and history[0].detail["before"] == {
        "group": "All customers"} and history[0].detail["after"] == {"group": "Företag"}


def test_a_cashier_cannot_assign_to_a_group_and_nothing_changes(client: TestClient,
                                                               registry: Registry) -> None:
    group = registry.groups.create("Företag", actor="test")
    csrf = login(client, "kim")
    before = audit_count(registry)
    refused = client.post("/admin/customers/assign", data={
        "csrf": csrf, "group_id": str(group.id), "customer": [str(anna(registry))]})
    assert refused.status_code == 403
    assert text_of(refused, "reason") == ("Only managers and admins may manage customer "
                                          "groups; you are signed in as a cashier.")
    assert registry.groups.get(group.id).members == 0 and audit_count(registry) == before


def test_assign_without_the_csrf_token_is_refused(client: TestClient,
                                                  registry: Registry) -> None:
    group = registry.groups.create("Företag", actor="test")
    login(client, "maja")
    refused = client.post("/admin/customers/assign", data={
        "csrf": "forged", "group_id": str(group.id), "customer": [str(anna(registry))]})
    assert refused.status_code == 403 and "Nothing was changed" in text_of(refused, "reason")
    assert registry.groups.get(group.id).members == 0


# --- the profile -------------------------------------------------------------------------------

def test_the_profile_shows_details_addresses_balances_sales_and_audit(
        client: TestClient, registry: Registry) -> None:
    customer_id = anna(registry)
    registry.customers.update(customer_id, {
        "company_name": "Andersson Bygg AB", "street": "Storgatan 1", "postal_code": "111 51",
        "city": "Stockholm", "delivery_street": "Lagervägen 9",
        "delivery_postal_code": "12345", "delivery_city": "Solna"}, region="SE", actor="test")
    registry.customers.update_credit_terms(customer_id, {
        "account_limit_minor": 500000, "loyalty_rate_bp": 250,
        "account_status": "on_hold"}, actor="test")
    with registry.engine.begin() as conn:
        conn.execute(update(customers).where(customers.c.id == customer_id).values(
            account_balance_minor=124950, loyalty_balance_minor=3000,
            store_credit_minor=-5))
    registry.sales.record(customer_id, sale_id="S-1", register="kassa-1", total_minor=24950,
                          currency="SEK", at=None, recorded_by="test")
    login(client, "kim")
    page = client.get(f"/admin/customers/{customer_id}")
    assert page.status_code == 200
    assert text_of(page, "customer-name") == "Anna Andersson"
    assert text_of(page, "company") == "Andersson Bygg AB"
    assert text_of(page, "phone") == "+46701234567"
    assert text_of(page, "group") == "All customers"
    assert "Storgatan 1<br>111 51 Stockholm" in page.text
    assert "Lagervägen 9<br>12345 Solna" in page.text
    assert text_of(page, "account-balance") == f"1{NBSP}249,50{NBSP}kr"
    assert text_of(page, "account-limit") == f"5{NBSP}000,00{NBSP}kr"
    assert "on hold" in page.text[page.text.index('id="account-status"'):][:120]
    assert text_of(page, "loyalty-balance") == f"30,00{NBSP}kr"
    assert text_of(page, "loyalty-rate") == f"2,5{NBSP}%"
    assert text_of(page, "store-credit") == f"−0,05{NBSP}kr"
    sales = page.text[page.text.index('id="sales-table"'):]
    assert "kassa-1" in sales and f"249,50{NBSP}kr" in sales
    trail = page.text[page.text.index('id="audit-trail"'):]
    assert f"Account limit: <del>—</del> → <ins>5{NBSP}000,00{NBSP}kr</ins>" in trail
    assert "Delivery address" in page.text and "Postal code: <del>—</del> → <ins>111 51</ins>" \
        in trail


def test_an_unknown_customer_is_a_404_that_says_so(client: TestClient) -> None:
    login(client, "kim")
    page = client.get("/admin/customers/999")
    assert page.status_code == 404
    assert text_of(page, "reason").startswith("There is no customer with number 999")


@pytest.mark.parametrize("username", list(USERS))
def test_merge_export_and_delete_links_only_for_roles_that_may(
        client: TestClient, registry: Registry, username: str) -> None:
    customer_id = anna(registry)
    born = dt.date(1985, 3, 12)
    registry.customers.update(customer_id, {"birth_date": born}, region="SE", actor="test")
    twin, _ = registry.customers.create_new("twin", NewCustomer("Ana", "Andersson",
                                                                birth_date=born))
    login(client, username)
    page = client.get(f"/admin/customers/{customer_id}")
    duplicates = page.text[page.text.index('id="duplicates"'):]
    assert f'href="/admin/customers/{twin.id}">Ana Andersson' in duplicates
    assert "same birth date, similar name" in duplicates
    manager = USERS[username] != StaffRole.cashier
    assert (f'href="/admin/customers/{customer_id}/merge?other={twin.id}"' in page.text) \
        is manager
    assert (f'href="/admin/customers/{customer_id}/export"' in page.text) is manager
    assert (f'href="/admin/customers/{customer_id}/delete"' in page.text) is manager
    assert ('id="group-form"' in page.text) is manager
    assert 'id="edit"' in page.text  # every role edits details


# --- creating ----------------------------------------------------------------------------------

def test_a_cashier_creates_a_customer_who_has_a_profile(client: TestClient,
                                                        registry: Registry) -> None:
    login(client, "kim")
    form = client.get("/admin/customers/new")
    request_key = re.search(r'name="request" value="([^"]+)"', form.text).group(1)
    data = {"csrf": csrf_of(form), "request": request_key, "first_name": "Cecilia",
            "last_name": "Dahl", "phone": "070-765 43 21", "company_name": "Dahls Blommor",
            "delivery_city": "Malmö", "personal_id": "", "email": "", "postal_code": "211 22"}
    done = client.post("/admin/customers/new", data=data)
    assert done.status_code == 303, done.text
    page = client.get(done.headers["location"])
    assert text_of(page, "done") == "The customer was created."
    assert text_of(page, "phone") == "+46707654321" and text_of(page, "company") == \
        "Dahls Blommor"
    assert "staff:kim" in page.text[page.text.index('id="audit-trail"'):]
    created = registry.customers.search("cecilia dahl")[0]
    assert (created.created_via, created.delivery_city, created.postal_code) == \
        ("back_office", "Malmö", "211 22")
    # The same form sent twice (a double click, a reload) makes one customer.
    again = client.post("/admin/customers/new", data=data)
    assert again.headers["location"] == done.headers["location"]
    assert len(registry.customers.search("cecilia dahl")) == 1


def test_a_new_customer_form_keeps_what_was_typed_and_says_why_per_field(
        client: TestClient, registry: Registry) -> None:
    login(client, "kim")
    form = client.get("/admin/customers/new")
    count = registry.customers.count()
    page = client.post("/admin/customers/new", data={
        "csrf": csrf_of(form), "first_name": "", "last_name": "Dahl", "email": "cecilia@",
        "phone": "12", "personal_id": "19850312-1248", "postal_code": "Storgatan 1",
        "birth_date": "12/03/1985"})
    assert page.status_code == 422
    assert reason_at(page, "first_name") == "Required."
    assert reason_at(page, "email") == "'cecilia@' is not an email address."
    assert reason_at(page, "postal_code").startswith("'STORGATAN 1' is not a postal code")
    assert reason_at(page, "birth_date").startswith("'12/03/1985' is not a date")
    assert reason_at(page, "phone") and reason_at(page, "personal_id")
    assert (value_of(page, "email"), value_of(page, "phone"), value_of(page, "postal_code"),
            value_of(page, "personal_id")) == ("cecilia@", "12", "Storgatan 1", "19850312-1248")
    assert registry.customers.count() == count


def test_a_taken_phone_names_its_owner_and_a_likely_duplicate_asks_first(
        client: TestClient, registry: Registry) -> None:
    login(client, "kim")
    form = client.get("/admin/customers/new")
    taken = client.post("/admin/customers/new", data={
        "csrf": csrf_of(form), "first_name": "Eva", "last_name": "Ek",
        "phone": "0701234567"})
    assert taken.status_code == 409
    assert reason_at(taken, "phone") == "Already belongs to customer 1001 (Anna Andersson)."
    registry.customers.update(anna(registry), {"birth_date": dt.date(1985, 3, 12)},
                              region="SE", actor="test")
    similar = client.post("/admin/customers/new", data={
        "csrf": csrf_of(form), "first_name": "Ana", "last_name": "Andersson",
        "birth_date": "1985-03-12", "request": "abcdefgh12"})
    assert similar.status_code == 409
    duplicates = similar.text[similar.text.index('id="possible-duplicates"'):]
    assert "Anna Andersson (1001)</a> — same birth date, similar name" in duplicates
    assert 'name="confirmed" value="yes"' in similar.text
    assert value_of(similar, "birth_date") == "1985-03-12"  # what was typed stays
    count = registry.customers.count()
    anyway = client.post("/admin/customers/new", data={
        "csrf": csrf_of(form), "first_name": "Anna", "last_name": "Andersson",
        "phone": "0709999999", "request": "abcdefgh13", "confirmed": "yes"})
    assert anyway.status_code == 303 and registry.customers.count() == count + 1


# --- editing -----------------------------------------------------------------------------------

def test_an_edit_is_saved_and_the_profile_shows_who_and_before_after(
        client: TestClient, registry: Registry) -> None:
    customer_id = anna(registry)
    login(client, "kim")
    form = edit_form(client, customer_id)
    assert "account_limit" not in form  # a cashier's form has no credit terms
    form.update({"email": "anna.a@example.se", "city": "Lund", "note": "Ringer hellre"})
    done = client.post(f"/admin/customers/{customer_id}/edit", data=form)
    assert done.headers["location"] == f"/admin/customers/{customer_id}?done=saved"
    page = client.get(done.headers["location"])
    assert text_of(page, "email") == "anna.a@example.se"
    first = page.text[page.text.index('id="audit-trail"'):].split("</tr>")[1]
    assert "staff:kim" in first and "changed" in first
    assert "E-mail: <del>anna@example.se</del> → <ins>anna.a@example.se</ins>" in first
    assert "City: <del>—</del> → <ins>Lund</ins>" in first
    entry = registry.customers.history(customer_id)[0]
    assert entry.detail["before"] == {"email": "anna@example.se", "city": None, "note": None}
    # The same form again changes nothing and says so.
    again = client.post(f"/admin/customers/{customer_id}/edit", data=form)
    assert again.headers["location"].endswith("done=unchanged")
    assert len(registry.customers.history(customer_id)) == 2


@pytest.mark.parametrize(("field", "typed", "reason"), [
    ("email", "anna@", "'anna@' is not an email address."),
    ("phone", "070", None),
    ("personal_id", "19850312-1248", None),
    ("postal_code", "Box 12 345 678", "'BOX 12 345 678' is not a postal code"),
    ("delivery_postal_code", "--", "'--' is not a postal code"),
    ("first_name", "", "Is required."),
    ("customer_code", "", "Cannot be empty; every customer has one."),
])
def test_a_bad_field_keeps_what_was_typed_shows_why_and_changes_nothing(
        client: TestClient, registry: Registry, field: str, typed: str,
        reason: str | None) -> None:
    customer_id = anna(registry)
    login(client, "kim")
    form = edit_form(client, customer_id)
    before, audits = registry.customers.get(customer_id), audit_count(registry)
    form.update({field: typed, "city": "Lund"})  # a good change alongside is not saved either
    page = client.post(f"/admin/customers/{customer_id}/edit", data=form)
    assert page.status_code == 422
    shown = reason_at(page, field)
    assert shown.startswith(reason) if reason else shown
    assert value_of(page, field) == typed and value_of(page, "city") == "Lund"
    assert text_of(page, "error-summary").startswith("Nothing was saved")
    assert registry.customers.get(customer_id) == before and audit_count(registry) == audits


def test_a_phone_taken_by_another_customer_is_named(client: TestClient,
                                                    registry: Registry) -> None:
    bo = registry.customers.find_by_code("1002")
    login(client, "kim")
    form = edit_form(client, bo.id)
    form["phone"] = "+46 70 123 45 67"
    page = client.post(f"/admin/customers/{bo.id}/edit", data=form)
    assert page.status_code == 409
    assert reason_at(page, "phone") == "Already belongs to customer 1001 (Anna Andersson)."
    assert registry.customers.get(bo.id).phone is None


CREDIT = {"account_limit": "5 000", "account_status": "on_hold", "loyalty_rate": "2,5"}


def test_a_cashier_sees_credit_terms_read_only_and_a_forged_post_is_refused(
        client: TestClient, registry: Registry) -> None:
    customer_id = anna(registry)
    login(client, "kim")
    page = client.get(f"/admin/customers/{customer_id}/edit")
    assert 'name="account_limit"' not in page.text and 'name="loyalty_rate"' not in page.text
    assert text_of(page, "account-limit") == "no limit set"
    assert text_of(page, "credit-why") == "Only managers and admins change credit terms."
    before, audits = registry.customers.get(customer_id), audit_count(registry)
    for forged in ({"account_limit": "5 000"}, {"loyalty_rate": "10"},
                   {"account_status": "closed"}):
        form = {**edit_form(client, customer_id), **forged, "city": "Lund"}
        refused = client.post(f"/admin/customers/{customer_id}/edit", data=form)
        assert refused.status_code == 403
        assert text_of(refused, "reason") == (
            "Only managers and admins may change a customer's loyalty rate and account limit; "
            "you are signed in as a cashier. Nothing was changed.")
    assert registry.customers.get(customer_id) == before and audit_count(registry) == audits


@pytest.mark.parametrize("username", ["maja", "root"])
def test_managers_and_admins_change_credit_terms_with_details(
        client: TestClient, registry: Registry, username: str) -> None:
    customer_id = anna(registry)
    login(client, username)
    form = {**edit_form(client, customer_id), **CREDIT, "city": "Lund"}
    done = client.post(f"/admin/customers/{customer_id}/edit", data=form)
    assert done.status_code == 303, done.text
    after = registry.customers.get(customer_id)
    assert (after.account_limit_minor, after.account_status, after.loyalty_rate_bp,
            after.city) == (500000, AccountStatus.on_hold, 250, "Lund")
    entry = registry.customers.history(customer_id)[0]
    assert entry.actor == f"staff:{username}"
    assert entry.detail["after"] == {"account_limit_minor": 500000, "account_status": "on_hold",
                                     "loyalty_rate_bp": 250, "city": "Lund"}
    page = client.get(f"/admin/customers/{customer_id}")
    trail = page.text[page.text.index('id="audit-trail"'):]
    assert "Account status: <del>active</del> → <ins>on hold</ins>" in trail
    assert f"Loyalty rate: <del>—</del> → <ins>2,5{NBSP}%</ins>" in trail
    # The form shows the terms as they were typed, in kronor and per cent.
    again = edit_form(client, customer_id)
    assert (again["account_limit"], again["loyalty_rate"], again["account_status"]) == \
        (f"5{NBSP}000,00", "2,5", "on_hold")


def test_bad_credit_terms_say_why_and_change_nothing(client: TestClient,
                                                     registry: Registry) -> None:
    customer_id = anna(registry)
    login(client, "maja")
    before = registry.customers.get(customer_id)
    form = {**edit_form(client, customer_id), "account_limit": "fem tusen",
            "loyalty_rate": "150", "account_status": "frozen"}
    page = client.post(f"/admin/customers/{customer_id}/edit", data=form)
    assert page.status_code == 422
    assert reason_at(page, "account_limit") == \
        "'fem tusen' is not an amount in kronor (like 5 000 or 249,50)"
    assert reason_at(page, "loyalty_rate") == "is at most 100 %"
    assert reason_at(page, "account_status") == "choose active, on hold or closed"
    assert value_of(page, "account_limit") == "fem tusen"
    assert registry.customers.get(customer_id) == before


def test_a_cashier_cannot_move_a_customer_to_another_group(client: TestClient,
                                                          registry: Registry) -> None:
    group = registry.groups.create("Företag", actor="test")
    customer_id = anna(registry)
    csrf = login(client, "kim")
    refused = client.post(f"/admin/customers/{customer_id}/group",
                          data={"csrf": csrf, "group_id": str(group.id)})
    assert refused.status_code == 403
    forged = client.post(f"/admin/customers/{customer_id}/edit",
                         data={**edit_form(client, customer_id), "group_id": str(group.id)})
    assert forged.status_code == 403
    assert registry.customers.get(customer_id).customer_group == "All customers"


def test_a_manager_moves_a_customer_and_the_trail_names_both_groups(
        client: TestClient, registry: Registry) -> None:
    group = registry.groups.create("Företag", actor="test")
    customer_id = anna(registry)
    csrf = login(client, "maja")
    done = client.post(f"/admin/customers/{customer_id}/group",
                       data={"csrf": csrf, "group_id": str(group.id)})
    page = client.get(done.headers["location"])
    assert text_of(page, "done") == "The customer's group was changed."
    assert text_of(page, "group") == "Företag"
    assert "Group: <del>All customers</del> → <ins>Företag</ins>" in page.text


# --- consents ----------------------------------------------------------------------------------

def test_ticking_and_unticking_a_consent_writes_the_log_with_who_source_and_version(
        client: TestClient, registry: Registry) -> None:
    customer_id = anna(registry)
    csrf = login(client, "kim")
    page = client.get(f"/admin/customers/{customer_id}")
    assert text_of(page, "no-consents") == "No answers recorded."
    assert "never asked" in page.text[page.text.index('id="consent-marketing"'):][:400]
    for granted in ("yes", "no"):
        done = client.post(f"/admin/customers/{customer_id}/consents",
                           data={"csrf": csrf, "purpose": "marketing", "granted": granted})
        assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert text_of(page, "done") == "The consent was recorded in the log."
    expected = version("marketing", "sv", MARKETING_SV)
    log = page.text[page.text.index('id="consent-log"'):]
    rows = re.findall(r"<tr><td>[^<]+</td><td>([^<]+)</td><td>([^<]+)</td>\s*"
                      r"<td>([^<]+)</td><td>([^<]+)</td><td><code>([^<]+)</code>", log)
    assert rows == [("marketing", "no", "back office", "staff:kim", expected),
                    ("marketing", "yes", "back office", "staff:kim", expected)]
    state = page.text[page.text.index('id="consent-marketing"'):][:600]
    assert '<span class="tag off">no</span>' in state and 'id="tick-marketing"' in state
    stored = registry.consents.log(customer_id)
    assert [(e.granted, e.source, e.text_version) for e in stored] == \
        [(True, "back_office", expected), (False, "back_office", expected)]


def test_an_unknown_consent_purpose_is_refused_and_nothing_logged(
        client: TestClient, registry: Registry) -> None:
    customer_id = anna(registry)
    csrf = login(client, "kim")
    refused = client.post(f"/admin/customers/{customer_id}/consents",
                          data={"csrf": csrf, "purpose": "telemarketing", "granted": "yes"})
    assert refused.status_code == 422
    assert "not one the shop asks for" in text_of(refused, "reason")
    assert registry.consents.log(customer_id) == []


# --- every page by role --------------------------------------------------------------------------

@pytest.mark.parametrize("username", list(USERS))
def test_every_customer_page_opens_or_says_why_not(client: TestClient, registry: Registry,
                                                   username: str) -> None:
    group = registry.groups.create("Företag", actor="test")
    customer_id = anna(registry)
    login(client, username)
    pages = {"/admin/customers": StaffRole.cashier, "/admin/customers/new": StaffRole.cashier,
             f"/admin/customers/{customer_id}": StaffRole.cashier,
             f"/admin/customers/{customer_id}/edit": StaffRole.cashier,
             "/admin/groups": StaffRole.cashier, f"/admin/groups/{group.id}": StaffRole.cashier,
             f"/admin/groups/{group.id}/delete": StaffRole.manager}
    for path, least in pages.items():
        response = client.get(path)
        if USERS[username].covers(least):
            assert response.status_code == 200, (path, response.text)
        else:
            assert response.status_code == 403, path
            assert text_of(response, "reason") == ("Only managers and admins may manage "
                                                   "customer groups; you are signed in as a "
                                                   f"{USERS[username].value}.")


def test_signed_out_pages_go_to_the_sign_in(client: TestClient, registry: Registry) -> None:
    customer_id = anna(registry)
    response = client.get(f"/admin/customers/{customer_id}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/login?next=%2Fadmin%2Fcustomers%2F{customer_id}"
