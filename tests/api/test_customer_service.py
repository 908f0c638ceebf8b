"""Creating and changing a customer through the one customer service (SQLite and PostgreSQL):
a creation is one transaction with every field, its consent and its key; who may set which
field is one rule (the field table's ``write`` and cashier_bridge.permissions), the same for an
API token and a back-office sign-in calling the API."""

from __future__ import annotations

from tests.api.conftest import Api

ANNA = {"first_name": "Anna", "last_name": "Svensson", "phone": "070-123 45 67"}
TERMS = {"account_limit_minor": 500000, "account_status": "on_hold", "loyalty_rate_bp": 250}
DETAILS = {"company_name": "Svenssons Bygg AB", "delivery_street": "Lagervägen 9",
           "delivery_postal_code": "123 45", "delivery_city": "Solna", "delivery_country": "SE"}


def test_a_creation_with_every_field_is_one_entry_in_the_history(api: Api) -> None:
    made = api.post("/customers", "admin", headers={"Idempotency-Key": "k-1"},
                    json={**ANNA, **DETAILS, **TERMS, "marketing_consent": False})
    assert made.status_code == 201, made.text
    body = made.json()
    assert {k: body[k] for k in DETAILS} == DETAILS
    assert {k: body[k] for k in TERMS} == TERMS
    export = api.get(f"/customers/{body['id']}/export").json()
    # Created, then exported: no "update" entry for the fields creation used to set after.
    assert [a["action"] for a in export["audit"]] == ["create", "export_personal_data"]
    assert [(c["purpose"], c["granted"], c["source"]) for c in export["consents"]["log"]] == \
        [("marketing", False, "api")]
    again = api.post("/customers", "admin", headers={"Idempotency-Key": "k-1"},
                     json={**ANNA, **DETAILS, **TERMS, "marketing_consent": False})
    assert again.status_code == 200 and again.json() == body
    other = api.post("/customers", "admin", headers={"Idempotency-Key": "k-1"},
                     json={**ANNA, **DETAILS, **TERMS, "loyalty_rate_bp": 300})
    assert other.status_code == 409 and other.json()["error"] == "conflict"


def test_a_refused_creation_leaves_nothing_and_its_key_free(api: Api) -> None:
    api.post("/customers", "write", json={**ANNA, "email": "anna@example.se"})
    taken = api.post("/customers", "write", headers={"Idempotency-Key": "k-2"},
                     json={"first_name": "Bo", "last_name": "Ek", "phone": "0709999999",
                           "email": "anna@example.se", "marketing_consent": True,
                           **DETAILS})
    assert taken.status_code == 409 and taken.json()["field"] == "email"
    assert api.get("/customers", params={"q": "0709999999"}).json()["items"] == []
    fixed = api.post("/customers", "write", headers={"Idempotency-Key": "k-2"},
                     json={"first_name": "Bo", "last_name": "Ek", "phone": "0709999999",
                           "email": "bo@example.se", "marketing_consent": True, **DETAILS})
    assert fixed.status_code == 201, fixed.text


def test_a_search_in_a_group_fills_its_page_with_the_groups_members(api: Api) -> None:
    group = api.post("/groups", "write", json={"name": "Stamkunder"}).json()
    for n, last in enumerate(("Andersson", "Berg", "Carlsson", "Dahl", "Ek")):
        api.post("/customers", "write", json={"first_name": "Anna", "last_name": last,
                                              "phone": f"070123450{n}"})
    for n, last in enumerate(("Öberg", "Östlund", "Örn")):
        made = api.post("/customers", "write", json={
            "first_name": "Anna", "last_name": last, "phone": f"070765430{n}",
            "group_id": group["id"]})
        assert made.status_code == 201, made.text
    page = api.get("/customers", params={"q": "anna", "limit": 2, "group_id": group["id"]})
    assert page.status_code == 200
    # The first two Annas by name are in no group: the page still holds two of the group's.
    assert [c["last_name"] for c in page.json()["items"]] == ["Öberg", "Örn"]
    assert {c["group"]["name"] for c in page.json()["items"]} == {"Stamkunder"}
    everyone = api.get("/customers", params={"q": "anna", "limit": 2})
    assert [c["last_name"] for c in everyone.json()["items"]] == ["Andersson", "Berg"]
