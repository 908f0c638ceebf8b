"""The back office's GDPR pages through the bridge's real app: merge and undo, export (page and
JSON), delete, settings; every role, CSRF, and refusals that change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from admin.conftest import Clock
from admin.test_admin_http import USERS, login, staffed_sqlite, text_of
from cashier_bridge.permissions import Action, allowed
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.registry.schema import audit_log, consents, customers, sales


@pytest.fixture
def registry(tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    reg = staffed_sqlite(tmp_path / "gdpr.db", clock)
    anna, _ = reg.customers.create_new("a", NewCustomer(
        "Anna", "Andersson", phone="+46701234567", customer_code="1001",
        personal_id_fingerprint=reg.fingerprint("198503121249"),
        personal_id_masked="19850312-****", street="Storgatan 1", city="Stockholm",
        note="Allergic to nuts", marketing_consent=True, consent_source="via_mobil",
        consent_text_version="v-marketing-sv"))
    reg.customers.create_new("a2", NewCustomer("Anna", "Andersson", email="anna@example.se",
                                               customer_code="1003", note="Second card"))
    reg.customers.create_new("b", NewCustomer("Bo", "Berg", phone="+46709999999",
                                              email="bo@example.se", customer_code="1002"))
    reg.sales.record(anna.id, sale_id="s-1", register="kassa-1", total_minor=24950,
                     currency="SEK", at=None, recorded_by="api:pos")
    reg.sales.record(3, sale_id="s-bo", register="kassa-1", total_minor=990,
                     currency="SEK", at=None, recorded_by="api:pos")
    from cashier_bridge.registry.consents import ConsentText
    reg.consents.remember_texts([ConsentText("v-marketing-sv", "marketing", "sv",
                                             "Ja, skicka mig erbjudanden.")])
    yield reg
    reg.close()


def everything(registry: Registry) -> dict[str, Any]:
    with registry.engine.connect() as conn:
        return {t.name: conn.execute(select(t).order_by(t.c.id)).all()
                for t in (customers, sales, consents, audit_log)}


# --- who may -----------------------------------------------------------------------------------

REQUESTS: list[tuple[str, str, str, Action]] = [
    ("GET", "/admin/customers/1/merge?other=2", "", Action.merge_customers),
    ("POST", "/admin/customers/1/merge", "other=2", Action.merge_customers),
    ("GET", "/admin/customers/1/export", "", Action.export_personal_data),
    ("GET", "/admin/customers/1/export.json", "", Action.export_personal_data),
    ("GET", "/admin/customers/1/delete", "", Action.delete_customer),
    ("POST", "/admin/customers/1/delete", "confirm_code=1001", Action.delete_customer),
    ("GET", "/admin/settings", "", Action.manage_settings),
]


@pytest.mark.parametrize("username", list(USERS))
@pytest.mark.parametrize(("method", "path", "body", "action"), REQUESTS,
                         ids=[f"{m} {p}" for m, p, _b, _a in REQUESTS])
def test_every_role_on_every_gdpr_page(client: TestClient, registry: Registry, username: str,
                                       method: str, path: str, body: str,
                                       action: Action) -> None:
    csrf = login(client, username)
    before = everything(registry)
    if method == "GET":
        response = client.get(path)
    else:
        response = client.post(path, content=f"csrf={csrf}&{body}",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    role = USERS[username]
    if allowed(role, action):
        assert response.status_code in (200, 303), response.text
        return
    assert response.status_code == 403
    who = "admins" if action is Action.manage_settings else "managers and admins"
    assert text_of(response, "reason") == (
        f"Only {who} may {action.describe}; you are signed in as a {role.value}.")
    assert everything(registry) == before  # refused: nothing changed, not even the audit log


@pytest.mark.parametrize(("path", "body"), [("/admin/customers/1/merge", "other=2"),
                                           ("/admin/customers/1/delete", "confirm_code=1001"),
                                           ("/admin/audit/1/undo-merge", "")])
def test_a_form_without_the_csrf_token_changes_nothing(client: TestClient, registry: Registry,
                                                       path: str, body: str) -> None:
    login(client, "maja")
    before = everything(registry)
    response = client.post(path, content=f"csrf=forged&{body}",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 403
    assert "did not carry the security code" in text_of(response, "reason")
    assert everything(registry) == before


# --- merge -------------------------------------------------------------------------------------

def test_a_manager_merges_two_duplicates_and_undoes_it(client: TestClient,
                                                       registry: Registry) -> None:
    csrf = login(client, "maja")
    preview = client.get("/admin/customers/1/merge?other=2")
    assert preview.status_code == 200
    assert text_of(preview, "kept-head") == "Kept: 1001"
    assert "Allergic to nuts\n\nSecond card" in preview.text
    assert 'href="/admin/customers/2/merge?other=1"' in preview.text  # swap which is kept
    before = everything(registry)

    done = client.post("/admin/customers/1/merge", data={"csrf": csrf, "other": "2"})
    assert done.status_code == 303
    assert done.headers["location"].startswith("/admin/customers/1?done=merged&merge=")
    entry = int(done.headers["location"].rsplit("=", 1)[1])
    assert registry.customers.get(1).email == "anna@example.se"
    gone = client.get("/admin/customers/2/export")
    assert gone.status_code == 404
    assert text_of(gone, "reason").startswith("Customer 2 was merged into customer 1")

    export = client.get("/admin/customers/1/export")
    assert f'href="/admin/audit/{entry}/undo-merge"' in export.text
    confirm = client.get(f"/admin/audit/{entry}/undo-merge")
    assert "merged Anna Andersson (1003) into customer 1001" in " ".join(
        text_of(confirm, "what").split())
    undone = client.post(f"/admin/audit/{entry}/undo-merge", data={"csrf": csrf})
    assert undone.status_code == 303 and undone.headers["location"] == \
        "/admin/customers/2?done=unmerged"
    after = everything(registry)
    assert after["customers"] == before["customers"] and after["sales"] == before["sales"]
    again = client.get(f"/admin/audit/{entry}/undo-merge")
    assert text_of(again, "error").startswith("This merge was already undone on ")
    assert 'id="undo-confirm"' not in again.text


def test_two_people_are_not_merged_and_the_page_says_why(client: TestClient,
                                                         registry: Registry) -> None:
    registry.customers.update(3, {"personal_id": "199001012351"}, region="SE", actor="t")
    csrf = login(client, "maja")
    preview = client.get("/admin/customers/1/merge?other=3")
    assert text_of(preview, "error").startswith("They have different personnummer on file")
    assert 'id="merge-confirm"' not in preview.text
    before = everything(registry)
    refused = client.post("/admin/customers/1/merge", data={"csrf": csrf, "other": "3"})
    assert refused.status_code == 409
    assert everything(registry) == before
    assert client.get("/admin/customers/1/merge").status_code == 400  # no ?other=


# --- export ------------------------------------------------------------------------------------

def test_export_json_holds_every_section_and_nobody_else(client: TestClient,
                                                         registry: Registry) -> None:
    login(client, "maja")
    response = client.get("/admin/customers/1/export.json")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == \
        'attachment; filename="personal-data-1001.json"'
    data = response.json()
    assert set(data) == {"export", "profile", "addresses", "group", "balances", "credit_terms",
                         "note", "consents", "consent_log", "consent_texts", "sales", "audit"}
    assert (data["profile"]["first_name"], data["profile"]["personal_id"]) == \
        ("Anna", "19850312-****")
    assert data["addresses"]["postal"]["street"] == "Storgatan 1"
    assert data["note"] == "Allergic to nuts"
    assert data["consents"]["marketing"]["text"] == "Ja, skicka mig erbjudanden."
    assert data["consent_texts"]["v-marketing-sv"]["text"] == "Ja, skicka mig erbjudanden."
    assert [s["sale_id"] for s in data["sales"]] == ["s-1"]
    assert [a["action"] for a in data["audit"]] == ["create", "export_personal_data"]
    assert data["audit"][-1]["actor"] == "staff:maja"
    text = response.text
    for elsewhere in ("Berg", "+46709999999", "bo@example.se", "s-bo", "Second card",
                      registry.fingerprint("198503121249")):
        assert elsewhere not in text, elsewhere


def test_the_printable_page_shows_every_section_and_is_audited(client: TestClient,
                                                               registry: Registry) -> None:
    login(client, "root")
    page = client.get("/admin/customers/1/export")
    assert page.status_code == 200
    assert text_of(page, "export-title") == \
        "Personal data held about Anna Andersson (1001)"
    for section in ("profile", "addresses", "account", "note", "consents", "sales", "history"):
        assert f'id="{section}"' in page.text
    assert "Ja, skicka mig erbjudanden." in page.text and "249,50\u00a0kr" in page.text
    assert "Bo" not in page.text.replace("Back office", "")
    with registry.engine.connect() as conn:
        entry = conn.execute(select(audit_log).order_by(audit_log.c.id.desc())).first()
    assert (entry.actor, entry.action, entry.customer_id, json.loads(entry.detail)) == \
        ("staff:root", "export_personal_data", 1, {"source": "page"})


# --- delete ------------------------------------------------------------------------------------

def test_delete_names_what_goes_and_what_stays_then_erases(client: TestClient,
                                                           registry: Registry) -> None:
    csrf = login(client, "maja")
    confirm = client.get("/admin/customers/1/delete")
    goes, stays = confirm.text.split('id="goes"')[1].split('id="stays"')
    for item in ("The name: Anna Andersson", "Phone +46701234567",
                 "The personnummer's fingerprint (19850312-****)",
                 "Address Storgatan 1, Stockholm", "The note",
                 "The customer number 1001: it becomes ERASED-1"):
        assert item in goes, item
    assert "Their 1 sale(s), anonymised (as ERASED-1), for the books" in stays
    assert "consent was withdrawn by erasure (marketing)" in stays

    before = everything(registry)
    wrong = client.post("/admin/customers/1/delete", data={"csrf": csrf, "confirm_code": "1002"})
    assert wrong.status_code == 422
    assert text_of(wrong, "error") == ("“1002” is not this customer's number (1001); nothing "
                                       "was deleted. Type it exactly to confirm.")
    assert everything(registry) == before

    done = client.post("/admin/customers/1/delete", data={"csrf": csrf, "confirm_code": "1001"})
    assert done.status_code == 200
    assert "stay in the books as ERASED-1" in " ".join(text_of(done, "done").split())
    with registry.engine.connect() as conn:
        row = conn.execute(select(customers).where(customers.c.id == 1)).one()
        kept_sales = conn.execute(select(sales.c.sale_id).where(sales.c.customer_id == 1)
                                  ).scalars().all()
        # The log of an erased customer is read from its rows: nobody is shown it.
        logged = conn.execute(select(consents.c.purpose, consents.c.granted, consents.c.source)
                              .where(consents.c.customer_id == 1)
                              .order_by(consents.c.id)).all()
    assert (row.customer_code, row.first_name, row.phone, row.personal_id_fingerprint,
            row.street, row.note) == ("ERASED-1", "", None, None, None, None)
    assert kept_sales == ["s-1"]
    assert tuple(logged[-1]) == ("marketing", False, "erasure")
    assert client.get("/admin/customers/1/delete").status_code == 404


# --- settings ----------------------------------------------------------------------------------

def test_settings_show_the_privacy_settings_read_only(client: TestClient) -> None:
    login(client, "root")
    page = client.get("/admin/settings")
    assert page.status_code == 200
    assert text_of(page, "config-file").endswith("none.toml")
    assert text_of(page, "database").startswith("SQLite file ")
    assert "valid 180 seconds" in text_of(page, "token-lifetime")
    assert "Yes, send me offers and news by text message and e-mail." in page.text
    assert "<form" not in page.text.split('id="where"')[1]  # nothing to change here
