"""Retention (GDPR storage limitation) through the bridge's real app: with "review members
inactive for 2 years" set, the members with no sale and no sign-in since are listed (and counted
on the settings page), and a manager erases them in one confirmed batch; a wrong confirmation, a
list that changed since it was shown, a hand-made form and a cashier are refused, erasing
nothing."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from admin.conftest import Clock
from admin.test_admin_http import login, staffed_sqlite, text_of
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.registry.schema import audit_log, customers

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
NOW = dt.datetime.now(dt.UTC)


def years_ago(years: float) -> dt.datetime:
    return NOW - dt.timedelta(days=365.25 * years)


def add(reg: Registry, code: str, first: str, created: dt.datetime,
        sale: dt.datetime | None = None) -> int:
    record, _ = reg.customers.create_new(code, NewCustomer(first, "Lund", customer_code=code))
    with reg.engine.begin() as conn:
        conn.execute(update(customers).where(customers.c.id == record.id)
                     .values(created_at=created))
    if sale is not None:
        reg.sales.record(record.id, sale_id=f"s-{code}", register="kassa-1", total_minor=100,
                         currency="SEK", at=sale, recorded_by="register:kassa-1")
    return record.id


@pytest.fixture
def registry(tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    reg = staffed_sqlite(tmp_path / "retention.db", clock)
    add(reg, "2001", "Astrid", years_ago(5))  # never bought anything: due
    add(reg, "2002", "Bertil", years_ago(5), sale=years_ago(1))  # bought last year
    add(reg, "2003", "Cissi", years_ago(5), sale=years_ago(3))  # quiet for three years: due
    add(reg, "2004", "David", years_ago(0.1))  # new
    yield reg
    reg.close()


def codes(registry: Registry) -> list[str]:
    with registry.engine.connect() as conn:
        return list(conn.execute(select(customers.c.customer_code)
                                 .order_by(customers.c.id)).scalars())


def listed(page: Any) -> list[str]:
    return re.findall(r'<td><a href="/admin/customers/\d+">(\d+)</a></td>', page.text)


def set_years(client: TestClient, years: str) -> None:
    csrf = login(client, "root")
    saved = client.post("/admin/settings", content=f"csrf={csrf}&retention_years={years}",
                        headers=FORM)
    assert saved.status_code == 303, saved.text
    client.cookies.clear()  # signed out: the next test step signs in as someone else


def test_until_the_shop_sets_it_members_are_kept(client: TestClient) -> None:
    login(client, "root")
    page = client.get("/admin/retention")
    assert page.status_code == 200
    assert "Members are kept until they are erased" in text_of(page, "off")
    assert 'href="/admin/settings#retention_years"' in page.text
    assert "retention-due" not in client.get("/admin/settings").text


def test_a_manager_reviews_and_erases_the_inactive_members(client: TestClient,
                                                           registry: Registry) -> None:
    set_years(client, "2")
    login(client, "root")
    assert ('<p id="retention-due"><a href="/admin/retention">2 members to review</a></p>'
            in client.get("/admin/settings").text)
    client.cookies.clear()

    csrf = login(client, "maja")
    page = client.get("/admin/retention")
    assert "for 2 years" in text_of(page, "rule")
    assert listed(page) == ["2001", "2003"]
    assert re.search(r'id="count"><b>2</b> members to review', page.text)
    cutoff = re.search(r'name="cutoff" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

    # A wrong confirmation: nothing goes.
    wrong = client.post("/admin/retention", headers=FORM,
                        content=f"csrf={csrf}&cutoff={cutoff.replace('+', '%2B')}&reviewed=2"
                                "&confirm=3")
    assert wrong.status_code == 422
    assert text_of(wrong, "error") == (
        "Type 2 (how many members will be erased) to confirm; nothing was erased.")
    assert codes(registry) == ["2001", "2002", "2003", "2004"]

    done = client.post("/admin/retention", headers=FORM,
                       content=f"csrf={csrf}&cutoff={cutoff.replace('+', '%2B')}&reviewed=2"
                               "&confirm=2")
    assert done.status_code == 303 and done.headers["location"] == "/admin/retention?erased=2"
    after = client.get(done.headers["location"])
    assert text_of(after, "erased") == "2 members erased."
    assert listed(after) == []
    assert codes(registry) == ["ERASED-1", "2002", "ERASED-3", "2004"]
    with registry.engine.connect() as conn:
        erasures = conn.execute(select(audit_log.c.customer_id, audit_log.c.actor)
                                .where(audit_log.c.action == "erase")).all()
    assert sorted(erasures) == [(1, "staff:maja"), (3, "staff:maja")]


def test_a_list_that_changed_since_it_was_shown_is_not_erased(client: TestClient,
                                                              registry: Registry) -> None:
    set_years(client, "2")
    csrf = login(client, "maja")
    page = client.get("/admin/retention")
    cutoff = re.search(r'name="cutoff" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    # Meanwhile Astrid buys something at the till.
    registry.sales.record(1, sale_id="s-new", register="kassa-2", total_minor=5,
                          currency="SEK", at=None, recorded_by="register:kassa-2")
    response = client.post("/admin/retention", headers=FORM,
                           content=f"csrf={csrf}&cutoff={cutoff.replace('+', '%2B')}"
                                   "&reviewed=2&confirm=2")
    assert response.status_code == 409
    assert text_of(response, "error").startswith(
        "The list changed since you reviewed it (1 member is due now, 2 were shown); "
        "nothing was erased.")
    assert listed(response) == ["2003"]
    assert codes(registry) == ["2001", "2002", "2003", "2004"]


@pytest.mark.parametrize("content", ["cutoff=yesterday&reviewed=2&confirm=2",
                                     "cutoff=2020-01-01T00:00:00&reviewed=2&confirm=2",
                                     "cutoff=2020-01-01T00:00:00%2B00:00&reviewed=99999"
                                     "&confirm=99999"])
def test_a_hand_made_form_erases_nothing(client: TestClient, registry: Registry,
                                         content: str) -> None:
    set_years(client, "2")
    csrf = login(client, "maja")
    response = client.post("/admin/retention", headers=FORM, content=f"csrf={csrf}&{content}")
    assert response.status_code == 400
    assert text_of(response, "reason") == (
        "This form did not come from the retention page; nothing was erased.")
    assert codes(registry) == ["2001", "2002", "2003", "2004"]


def test_a_cashier_may_not_review_or_erase(client: TestClient, registry: Registry) -> None:
    set_years(client, "2")
    csrf = login(client, "kim")
    for response in (client.get("/admin/retention"),
                     client.post("/admin/retention", headers=FORM,
                                 content=f"csrf={csrf}&cutoff={NOW.isoformat()}&reviewed=2"
                                         "&confirm=2")):
        assert response.status_code == 403
        assert text_of(response, "reason") == (
            "Only managers and admins may delete customers; you are signed in as a cashier.")
    assert codes(registry) == ["2001", "2002", "2003", "2004"]


def test_retention_years_are_a_whole_number_in_range(client: TestClient) -> None:
    csrf = login(client, "root")
    for bad in ("0", "21", "2.5", "two"):
        response = client.post("/admin/settings", headers=FORM,
                               content=f"csrf={csrf}&retention_years={bad}")
        assert response.status_code == 422
        assert text_of(response, "retention_years-error") == (
            "Review members inactive for (years) is a whole number of years from 1 to 20, or "
            "empty (members are kept until erased)")
