"""Every id a back-office page reads — in its path, a query or a form, or inside the list's
page position (``after=``) — refuses what ``int()`` and ``str.isdigit()`` let through: a
number past the databases' integers, digits other than 0-9, a cursor nested thousands deep
(issue 16: each was a 500 with a traceback).  The routes come from the app itself, so a new
page with an id is checked too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from admin.conftest import Clock
from admin.test_admin_http import login, staffed_sqlite, text_of
from admin.test_customer_pages import names_in
from cashier_bridge.registry import NewCustomer, Registry

BAD_IDS = [str(2**63), "²", "١٢", "9" * 30]


@pytest.fixture
def registry(tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    reg = staffed_sqlite(tmp_path / "ids.db", clock)
    reg.customers.create_new("seed-1", NewCustomer("Anna", "Andersson", customer_code="1001"))
    reg.customers.create_new("seed-2", NewCustomer("Bo", "Berg", customer_code="1002"))
    reg.groups.create("Staff", actor="test")
    yield reg
    reg.close()


def id_routes(client: TestClient) -> list[tuple[str, str, str]]:
    """(method, path, parameter) of every back-office route with a number in its path."""
    found = []
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        path = route.path or ""
        if not path.startswith("/admin/") or "{" not in path:
            continue
        names = [p.name for p in route.dependant.path_params
                 if p.field_info.annotation is int]
        found += [(method, path, name) for method in sorted(route.methods or ())
                  for name in names]
    return found


def test_every_id_in_a_back_office_path_refuses_what_is_not_an_id(
        client: TestClient) -> None:
    csrf = login(client, "root")
    routes = id_routes(client)
    assert {name for _m, _p, name in routes} >= {"customer_id", "group_id", "entry_id",
                                                  "batch_id"}
    for method, path, name in routes:
        for bad in BAD_IDS:
            url = path.replace("{" + name + "}", bad)
            for other in ("customer_id", "group_id", "entry_id", "batch_id"):
                url = url.replace("{" + other + "}", "1")
            answer = client.request(method, url, data={"csrf": csrf} if method == "POST"
                                    else None)
            said = f"{method} {url}: {answer.status_code} {answer.text[:300]}"
            assert 400 <= answer.status_code < 500, said
            assert name in answer.text, said


def test_a_forged_or_deep_page_position_is_a_400_naming_it_with_the_first_page(
        client: TestClient) -> None:
    login(client, "kim")
    for sort, after in (("name", "[" * 3000 + "]" * 3000),
                        ("name", json.dumps(["berg", "bo", str(2**63)])),
                        ("name", json.dumps(["berg", "bo", "²"])),
                        ("name", json.dumps(["berg", "bo", "1"]) + " " * 3000),
                        ("newest", json.dumps([str(2**63)])),
                        ("newest", json.dumps(["²"])),
                        ("newest", json.dumps([["1"]])),
                        ("code", json.dumps([{"a": 1}]))):
        page = client.get("/admin/customers", params={"sort": sort, "after": after})
        assert page.status_code == 400, (sort, after[:40], page.text[:300])
        assert "(after=)" in text_of(page, "error")
        assert sorted(names_in(page)) == ["Anna Andersson", "Bo Berg"]
    # A page position the list gave out still works.
    good = client.get("/admin/customers", params={"after": json.dumps(["andersson", "anna",
                                                                       "1"])})
    assert good.status_code == 200 and names_in(good) == ["Bo Berg"]


def test_the_customer_to_merge_with_is_an_id_or_the_page_says_which(
        client: TestClient) -> None:
    csrf = login(client, "maja")
    for bad in BAD_IDS:
        page = client.get("/admin/customers/1/merge", params={"other": bad})
        assert page.status_code == 400, page.text
        assert "other is a whole number from 1 to" in page.text
        posted = client.post("/admin/customers/1/merge", data={"csrf": csrf, "other": bad})
        assert posted.status_code == 400, posted.text
        assert "other is a whole number from 1 to" in posted.text
    for params in ({"group": "²"}, {"group": str(2**63)}, {"done": "assigned", "n": "²",
                                                            "to": str(2**63)}):
        assert client.get("/admin/customers", params=params).status_code == 200


JUNK = [str(2**63), "²", "-1", "99", "[" * 3000, "x" * 5000, "<b>Call 070-123 45 67</b>"]


def test_no_query_parameter_of_a_back_office_page_breaks_it_or_speaks_for_it(
        client: TestClient, registry: Registry) -> None:
    """Every query parameter a back-office page declares (from the app's routes) and the ones it
    reads by hand, given junk: never a 5xx, never an HTTP status the caller chose, never the
    caller's text on the page (a batch page took ?status= and ?error= from anyone)."""
    registry.imports.run(b"first_name,last_name\nEva,Ek\n", actor="test")
    login(client, "root")
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        path = route.path or ""
        if not path.startswith("/admin") or "GET" not in (route.methods or ()):
            continue
        url = path.replace("{username}", "kim").replace("{job_id}", "none")
        for name in ("customer_id", "group_id", "entry_id", "batch_id"):
            url = url.replace("{" + name + "}", "1")
        declared = [p.name for p in route.dependant.query_params]
        for name in [*declared, "after", "group", "other", "sort", "q", "done", "n", "to"]:
            for junk in JUNK:
                answer = client.get(url, params={name: junk})
                said = f"{url}?{name}={junk[:30]}: {answer.status_code}"
                assert answer.status_code < 500 and answer.status_code not in (99, 299), said
                assert "<b>Call 070" not in answer.text, said
