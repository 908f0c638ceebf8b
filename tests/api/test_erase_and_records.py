"""GDPR erasure and export, sales, consents and groups through the API."""

from __future__ import annotations

import json

from sqlalchemy import select

from cashier_bridge.config import Settings
from cashier_bridge.registry.consents import ConsentText
from cashier_bridge.registry.schema import audit_log, consents, customers, sales
from cashier_bridge.web.mobile.consent import version
from tests.api.conftest import ANNA_PNR, Api

ANNA = {"first_name": "Anna", "last_name": "Svensson", "phone": "070-123 45 67",
        "email": "anna@example.se", "personal_id": ANNA_PNR, "street": "Storgatan 1",
        "city": "Lund", "note": "allergic to nuts", "marketing_consent": True}
TEXTS = Settings.model_fields["consent_texts"].get_default(call_default_factory=True)
MARKETING_SV = version("marketing", "sv", TEXTS["marketing"]["sv"])
SALE = {"sale_id": "s-100", "register": "kassa-1", "total_minor": 12950, "currency": "SEK"}


def test_export_holds_everything_about_the_customer(api: Api) -> None:
    anna = api.post("/customers", json=ANNA).json()
    api.post(f"/customers/{anna['id']}/sales", json=SALE)
    api.post(f"/customers/{anna['id']}/consents",
             json={"purpose": "personalised_offers", "granted": False})
    export = api.get(f"/customers/{anna['id']}/export")
    assert export.status_code == 200, export.text
    body = export.json()
    assert body["customer"] == anna
    assert body["sales"][0]["total_minor"] == 12950
    assert set(body["consents"]["current"]) == {"marketing", "personalised_offers"}
    assert len(body["consents"]["log"]) == 2
    # The answer posted through the API names its caller in the audit log.
    assert [a["action"] for a in body["audit"]] == ["create", "consent", "export_personal_data"]
    assert ANNA_PNR not in export.text


def test_an_api_export_is_audited_with_its_caller_as_the_back_office_s_is(api: Api) -> None:
    """Issue 16: who read everything about a person is on record, however they asked."""
    anna = api.post("/customers", json=ANNA).json()
    first = api.get(f"/customers/{anna['id']}/export").json()["audit"]
    # Audited before it is read: the export lists itself, with the token that asked.
    assert first[-1]["action"] == "export_personal_data"
    assert first[-1]["actor"].startswith("token:") and first[-1]["detail"] == {"source": "api"}
    api.get(f"/customers/{anna['id']}/export")
    with api.registry.engine.connect() as conn:
        entries = conn.execute(select(audit_log).where(
            audit_log.c.action == "export_personal_data").order_by(audit_log.c.id)).all()
    assert [(e.customer_id, e.actor, json.loads(e.detail)) for e in entries] == \
        [(anna["id"], first[-1]["actor"], {"source": "api"})] * 2
    # Nobody there: nothing exported, nothing written.
    assert api.get("/customers/999/export").status_code == 404
    with api.registry.engine.connect() as conn:
        assert conn.execute(select(audit_log).where(audit_log.c.customer_id == 999)).all() == []


def test_export_after_a_merge_shows_no_personal_id_fingerprint(api: Api) -> None:
    """A merge's audit entry keeps the merged rows (so it can be undone), fingerprints
    included; the person's export says one was there, never what it is."""
    kept = api.post("/customers", json={"first_name": "Anna", "last_name": "Svensson",
                                        "phone": "070-123 45 67"}).json()
    other = api.post("/customers", json={"first_name": "Anna", "last_name": "Svensson",
                                         "personal_id": ANNA_PNR}).json()
    api.registry.merges.merge(kept["id"], other["id"], actor="test")
    with api.registry.engine.connect() as conn:
        stored = conn.execute(select(audit_log.c.detail).where(
            audit_log.c.action == "merge")).scalar_one()
    fingerprint = api.registry.fingerprint(ANNA_PNR)
    assert fingerprint in stored  # the undo needs it
    export = api.get(f"/customers/{kept['id']}/export")
    assert export.status_code == 200, export.text
    assert fingerprint not in export.text and ANNA_PNR not in export.text
    assert "fingerprint of the personnummer, not shown" in export.text


def test_erase_removes_the_person_and_keeps_the_books(api: Api) -> None:
    anna = api.post("/customers", json=ANNA).json()
    api.post(f"/customers/{anna['id']}/sales", json=SALE)
    api.patch(f"/customers/{anna['id']}", json={"city": "Malmö"})
    erased = api.delete(f"/customers/{anna['id']}")
    assert erased.status_code == 204 and erased.content == b""

    for path in ("", "/sales", "/consents", "/export"):
        assert api.get(f"/customers/{anna['id']}{path}").status_code == 404, path
    assert api.patch(f"/customers/{anna['id']}", json={"note": "x"}).status_code == 404
    assert api.delete(f"/customers/{anna['id']}").status_code == 404
    assert api.get("/customers", params={"q": "anna"}).json()["items"] == []
    assert api.get("/customers").json()["items"] == []

    with api.registry.engine.connect() as conn:
        row = conn.execute(select(customers).where(customers.c.id == anna["id"])).one()
        kept_sales = conn.execute(select(sales)).all()
        audit = conn.execute(select(audit_log).where(audit_log.c.customer_id == anna["id"])
                             .order_by(audit_log.c.id)).all()
        # Read from its rows: the consent store shows nobody an erased customer's log.
        log = conn.execute(select(consents).where(consents.c.customer_id == anna["id"])
                           .order_by(consents.c.id)).all()
    assert row.customer_code == f"ERASED-{anna['id']}"
    assert (row.first_name, row.last_name, row.email, row.phone, row.personal_id_fingerprint,
            row.personal_id_masked, row.birth_date, row.street, row.city, row.note) == (
        "", "", None, None, None, None, None, None, None, None)
    # The sale stays for the books, pointing at the anonymous row.
    assert [(s.customer_id, s.total_minor) for s in kept_sales] == [(anna["id"], 12950)]
    # The consent log keeps that consent was withdrawn by erasure.
    assert [(e.purpose, e.granted, e.source) for e in log] == [
        ("marketing", True, "api"), ("marketing", False, "erasure")]
    # Who erased whom; earlier entries keep only which fields changed.
    assert [(a.action, a.customer_id) for a in audit] == [
        ("create", anna["id"]), ("update", anna["id"]), ("erase", anna["id"])]
    assert audit[-1].actor.startswith("token:") and audit[-1].actor.endswith("test admin")
    details = " ".join(a.detail or "" for a in audit)
    for personal in ("Lund", "Malmö", anna["customer_code"], "Anna", "+46701234567"):
        assert personal not in details
    assert json.loads(audit[1].detail) == {"fields": ["city"]}
    # The same person may become a customer again.
    again = api.post("/customers", json=ANNA)
    assert again.status_code == 201 and again.json()["id"] != anna["id"]


def test_sales_are_recorded_once_per_register_and_sale_id(api: Api) -> None:
    anna = api.post("/customers", json=ANNA).json()
    eva = api.post("/customers", json={"first_name": "Eva", "last_name": "Ek"}).json()
    path = f"/customers/{anna['id']}/sales"
    first = api.post(path, json={**SALE, "at": "2026-11-20T10:15:00+01:00"}, scope="write")
    assert first.status_code == 201, first.text
    sale = first.json()
    assert sale["ended_at"].startswith("2026-11-20T09:15:00")
    assert sale["register"] == "kassa-1" and sale["recorded_by"].startswith("token:")
    again = api.post(path, json={**SALE, "at": "2026-11-20T10:15:00+01:00"})
    assert again.status_code == 200 and again.json() == sale
    other = api.post(path, json={**SALE, "total_minor": 1})
    assert other.status_code == 409 and other.json()["error"] == "conflict"
    elsewhere = api.post(f"/customers/{eva['id']}/sales", json=SALE)
    assert elsewhere.status_code == 409
    for bad, field in (({"currency": "kr"}, "currency"), ({"total_minor": "12,50"}, "total_minor"),
                       ({"at": "2026-11-20T10:15:00"}, "at"), ({"sale_id": ""}, "sale_id")):
        answer = api.post(path, json={**SALE, "sale_id": "s-200", **bad})
        assert answer.status_code == 422 and answer.json()["fields"][0]["field"] == field
    assert api.get(path).json()["items"] == [sale]
    assert api.get(f"/customers/{eva['id']}/sales").json()["items"] == []


def test_consents_are_an_append_only_log(api: Api) -> None:
    anna = api.post("/customers", json={"first_name": "Anna", "last_name": "Svensson"}).json()
    path = f"/customers/{anna['id']}/consents"
    assert api.get(path).json() == {"current": {}, "log": []}
    given = api.post(path, json={"purpose": "marketing", "granted": True,
                                 "text_version": MARKETING_SV}, scope="write")
    assert given.status_code == 201, given.text
    assert given.json()["source"] == "api" and given.json()["granted"] is True
    api.post(path, json={"purpose": "marketing", "granted": False, "source": "in_store_form"})
    body = api.get(path).json()
    assert body["current"]["marketing"]["granted"] is False
    assert body["current"]["marketing"]["source"] == "in_store_form"
    assert [(e["granted"], e["text_version"]) for e in body["log"]] == [
        (True, MARKETING_SV), (False, None)]
    for bad, field in (({"purpose": "Marketing!"}, "purpose"), ({"granted": "yes"}, "granted"),
                       ({}, "purpose")):
        answer = api.post(path, json={"purpose": "marketing", "granted": True, **bad}
                          if bad else {"granted": True})
        assert answer.status_code == 422 and answer.json()["fields"][0]["field"] == field
    assert len(api.get(path).json()["log"]) == 2
    # The text it was given to is filed, so the export can say what the customer read.
    assert MARKETING_SV in api.registry.merges.consent_texts([MARKETING_SV])


def test_a_consent_through_the_api_is_to_a_purpose_source_and_text_the_shop_has(
        api: Api) -> None:
    """Issue 16: a write token could record any purpose, any source (even the phone page's)
    and any text version; each is refused, naming the field, and nothing is recorded."""
    anna = api.post("/customers", json={"first_name": "Anna", "last_name": "Svensson"}).json()
    path = f"/customers/{anna['id']}/consents"
    offers_sv = version("personalised_offers", "sv", TEXTS["personalised_offers"]["sv"])
    for bad, field, reason in (
            ({"purpose": "newsletter"}, "purpose", "is not a consent this shop asks for: one "
             "of marketing, personalised_offers"),
            ({"source": "via_mobil"}, "source", "Input should be 'api', 'register', "
             "'in_store_form', 'web' or 'customer_service'"),
            ({"source": "back_office"}, "source", None),
            ({"text_version": "v-1"}, "text_version", "is not the version of a consent text "
             "this bridge has shown (the back office's settings list them)"),
            ({"text_version": offers_sv}, "text_version",
             "is the version of the personalised_offers text, not of marketing")):
        answer = api.post(path, json={"purpose": "marketing", "granted": True, **bad},
                          scope="write")
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["fields"][0]["field"] == field, answer.text
        if reason is not None:
            assert answer.json()["fields"][0]["reason"] == reason
    assert api.get(path).json() == {"current": {}, "log": []}
    # A text a phone showed (filed then) is a good version, as is every source of the enum.
    api.registry.consents.remember_texts([ConsentText("v-shown-once", "marketing", "en",
                                                      "Yes, offers please.")])
    for source in ("register", "web", "customer_service"):
        done = api.post(path, json={"purpose": "marketing", "granted": True,
                                    "source": source, "text_version": "v-shown-once"})
        assert done.status_code == 201, done.text
    done = api.post(path, json={"purpose": "personalised_offers", "granted": True,
                                "text_version": offers_sv})
    assert done.status_code == 201, done.text
    assert [e["source"] for e in api.get(path).json()["log"]] == [
        "register", "web", "customer_service", "api"]
    # The document says which sources there are.
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]
    assert schema["AnswerSource"]["enum"] == ["api", "register", "in_store_form", "web",
                                              "customer_service"]


def test_groups(api: Api) -> None:
    ids = [api.post("/customers", json={"first_name": n, "last_name": "Ek"}).json()["id"]
           for n in ("Anna", "Bo", "Cia")]
    listed = api.get("/groups").json()["items"]
    assert listed == [{"id": listed[0]["id"], "name": "All customers", "is_default": True,
                       "members": 3}]
    default = listed[0]["id"]
    staff = api.post("/groups", json={"name": "Staff"}, scope="write")
    assert staff.status_code == 201
    staff_id = staff.json()["id"]
    assert api.post("/groups", json={"name": "Staff"}).status_code == 409
    assert api.post("/groups", json={"name": " "}).json()["fields"][0]["field"] == "name"
    moved = api.post(f"/groups/{staff_id}/members", json={"customer_ids": ids[:2]},
                     scope="write")
    assert moved.status_code == 200 and moved.json()["members"] == 2
    assert api.get(f"/customers/{ids[0]}").json()["group"] == {"id": staff_id, "name": "Staff"}
    missing = api.post(f"/groups/{staff_id}/members", json={"customer_ids": [ids[2], 999]})
    assert missing.status_code == 404
    assert api.get(f"/customers/{ids[2]}").json()["group"]["name"] == "All customers"
    renamed = api.patch(f"/groups/{staff_id}", json={"name": "Personal"}, scope="write")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Personal"
    for refused in (api.patch(f"/groups/{default}", json={"name": "Alla"}),
                    api.delete(f"/groups/{default}")):
        assert refused.status_code == 409 and refused.json()["error"] == "conflict"
    assert api.delete("/groups/999").status_code == 404
    assert api.delete(f"/groups/{staff_id}").status_code == 204
    assert api.get("/groups").json()["items"] == [
        {"id": default, "name": "All customers", "is_default": True, "members": 3}]
    assert api.get(f"/customers/{ids[0]}").json()["group"] == {"id": default,
                                                                "name": "All customers"}
    back = api.post(f"/groups/{default}/members", json={"customer_ids": ids[:1]})
    assert back.status_code == 200 and back.json()["members"] == 3


def test_the_docs_page_loads_nothing_from_elsewhere(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    assert "http://" not in page.text and "https://" not in page.text
    assert api.client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert api.client.get("/docs/assets/swagger-ui.css").status_code == 200
    schema = api.client.get("/openapi.json").json()
    assert {"/api/v1/customers", "/api/v1/customers/{customer_id}",
            "/api/v1/groups"} <= set(schema["paths"])
    assert {"token", "console"} <= set(schema["components"]["securitySchemes"])


def test_a_body_too_large_is_413(api: Api) -> None:
    answer = api.post("/customers", content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                      headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert api.registry.customers.count() == 0
