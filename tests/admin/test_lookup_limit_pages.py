"""The back office's customer forms count personnummer look-ups (issue 16, finding 2): a
cashier's sign-in tried the numbers behind a masked personnummer in 463 form posts.  Now the
sixth distinct number in a minute comes back with 429, what was typed and why, and managers
see who it was."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from admin.conftest import Clock
from admin.test_admin_http import csrf_of, login, staffed_sqlite, text_of
from admin.test_customer_pages import reason_at, value_of
from cashier_bridge.registry import NewCustomer, Registry
from tests.masked import numbers

ANNA_PNR = "198503121249"
OTHERS = numbers(12, but=ANNA_PNR)
LIMITED = ("Too many personnummer checks in the last minute; try again in {} seconds. "
           "Nothing was saved.")


@pytest.fixture
def registry(tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    reg = staffed_sqlite(tmp_path / "admin.db", clock)
    reg.lookups.clock = clock
    reg.customers.create_new("seed-1", NewCustomer(
        "Anna", "Andersson", customer_code="1001",
        personal_id_fingerprint=reg.fingerprint(ANNA_PNR), personal_id_masked="19850312-****"))
    yield reg
    reg.close()


def new_customer(client: TestClient, number: str, last_name: str) -> httpx.Response:
    form = client.get("/admin/customers/new")
    return client.post("/admin/customers/new", data={
        "csrf": csrf_of(form), "first_name": "Eva", "last_name": last_name,
        "phone": "", "email": "", "personal_id": number, "confirmed": "yes"})


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def banner(page: httpx.Response) -> str | None:
    found = re.search(r'<p class="warning" id="security-warning"[^>]*>(.*?)</p>', page.text,
                      re.S)
    return _text(found.group(1)) if found else None


def rows(page: httpx.Response) -> list[list[str]]:
    table = page.text[page.text.index('id="limit-hits"'):].split("</table>")[0]
    body = table.split("<tbody>")[1]
    return [[_text(cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def page_customer(client: TestClient) -> int:
    found = re.search(r'href="/admin/customers/(\d+)"', client.get("/admin/customers").text)
    assert found
    return int(found.group(1))


def spend(client: TestClient) -> None:
    """Five new customers, each with a number of its own: the minute's budget."""
    for i, number in enumerate(OTHERS[:5]):
        assert new_customer(client, number, f"Ek{i}").status_code == 303


def test_a_cashiers_sixth_number_comes_back_with_what_was_typed(
        client: TestClient, registry: Registry, clock: Clock) -> None:
    login(client, "kim")
    spend(client)
    count = registry.customers.count()
    page = new_customer(client, ANNA_PNR, "Mallory")
    assert page.status_code == 429
    assert reason_at(page, "personal_id") == LIMITED.format(60)
    assert (value_of(page, "first_name"), value_of(page, "last_name"),
            value_of(page, "personal_id")) == ("Eva", "Mallory", ANNA_PNR)
    assert "Anna" not in page.text and "1001" not in page.text
    # Not yet confirmed, the form is first checked for duplicates: refused the same way.
    form = client.get("/admin/customers/new")
    unconfirmed = client.post("/admin/customers/new", data={
        "csrf": csrf_of(form), "first_name": "Eva", "last_name": "Mallory",
        "personal_id": OTHERS[6]})
    assert unconfirmed.status_code == 429
    assert reason_at(unconfirmed, "personal_id") == LIMITED.format(60)
    assert registry.customers.count() == count
    # The same sign-in through the API spends the same budget.
    csrf = csrf_of(client.get("/admin/account"))
    api = client.post("/api/v1/customers/validate", headers={"X-CSRF-Token": csrf}, json={
        "first_name": "Eva", "last_name": "Ek", "personal_id": ANNA_PNR})
    assert api.status_code == 429 and api.json()["error"] == "rate_limited"
    clock.advance(seconds=60)
    taken = new_customer(client, ANNA_PNR, "Mallory")
    assert taken.status_code == 409  # a minute later: checked again, as any number


def test_the_edit_form_counts_too_and_saves_nothing(client: TestClient,
                                                    registry: Registry) -> None:
    login(client, "kim")
    spend(client)
    target = registry.customers.search("eva ek0")[0]
    form = client.get(f"/admin/customers/{target.id}/edit")
    page = client.post(f"/admin/customers/{target.id}/edit", data={
        "csrf": csrf_of(form), "first_name": "Eva", "last_name": "Ek0", "city": "Lund",
        "personal_id": ANNA_PNR, "customer_code": target.customer_code})
    assert page.status_code == 429
    assert reason_at(page, "personal_id") == LIMITED.format(60)
    assert value_of(page, "city") == "Lund"
    after = registry.customers.get(target.id)
    assert after.city is None and after.updated_at == target.updated_at
    # Without a personnummer the form is not a look-up: it saves.
    saved = client.post(f"/admin/customers/{target.id}/edit", data={
        "csrf": csrf_of(form), "first_name": "Eva", "last_name": "Ek0", "city": "Lund",
        "personal_id": "", "customer_code": target.customer_code})
    assert saved.status_code == 303 and registry.customers.get(target.id).city == "Lund"


def test_a_manager_is_warned_of_who_hit_the_limit_and_a_cashier_is_not(
        client: TestClient, clock: Clock) -> None:
    login(client, "kim")
    spend(client)
    assert new_customer(client, ANNA_PNR, "Mallory").status_code == 429
    assert new_customer(client, OTHERS[5], "Mallory").status_code == 429
    assert banner(client.get("/admin/customers")) is None
    assert client.get("/admin/security").status_code == 403

    client.cookies.clear()
    login(client, "maja")
    page = client.get("/admin/customers")
    assert banner(page) == ("Security warning: staff member kim was refused personnummer "
                            "checks (last at 2026-11-24 09:00 UTC). See the security warnings")
    assert 'href="/admin/security"' in page.text
    assert banner(client.get(f"/admin/customers/{page_customer(client)}")) is not None
    listing = client.get("/admin/security")
    assert listing.status_code == 200
    assert rows(listing) == [["staff member kim", "2026-11-24 09:00 UTC",
                              "2026-11-24 09:00 UTC", "2", "5"]]  # 2 refused, 5 checked
    # A day later the banner has gone; the page still lists it.
    clock.advance(hours=25)
    client.cookies.clear()
    login(client, "maja")  # signed out by then
    assert banner(client.get("/admin/customers")) is None
    assert rows(client.get("/admin/security"))[0][0] == "staff member kim"


def test_with_nobody_refused_there_is_no_banner(client: TestClient) -> None:
    login(client, "root")
    assert "security-warning" not in client.get("/admin/customers").text
    listing = client.get("/admin/security")
    assert text_of(listing, "no-hits").startswith("Nobody was refused")
