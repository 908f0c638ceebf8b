"""The API's customer fields for the back office (SQLite and PostgreSQL): company, delivery
address and credit terms; credit terms need scope admin, and a refusal changes nothing."""

from __future__ import annotations

from tests.api.conftest import Api

ANNA = {"first_name": "Anna", "last_name": "Svensson", "phone": "070-123 45 67"}
TERMS = {"account_limit_minor": 500000, "account_status": "on_hold", "loyalty_rate_bp": 250}


def test_company_and_delivery_address_are_created_changed_and_checked(api: Api) -> None:
    made = api.post("/customers", "write", json={
        **ANNA, "company_name": "Svenssons Bygg AB", "delivery_street": "Lagervägen 9",
        "delivery_postal_code": "123 45", "delivery_city": "Solna"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["company_name"], body["delivery_street"], body["delivery_postal_code"],
            body["delivery_city"], body["delivery_country"]) == (
        "Svenssons Bygg AB", "Lagervägen 9", "123 45", "Solna", None)
    assert (body["account_status"], body["account_limit_minor"], body["loyalty_rate_bp"]) == \
        ("active", None, None)
    bad = api.patch(f"/customers/{body['id']}", "write",
                    json={"delivery_postal_code": "Lagervägen 9", "city": "Lund"})
    assert bad.status_code == 422
    assert bad.json()["fields"] == [{"field": "delivery_postal_code", "reason":
                                     "'LAGERVÄGEN 9' is not a postal code (digits and "
                                     "letters, like 111 51)"}]
    assert api.get(f"/customers/{body['id']}").json() == body  # nothing changed
    cleared = api.patch(f"/customers/{body['id']}", "write", json={"company_name": None})
    assert cleared.json()["company_name"] is None


def test_credit_terms_need_scope_admin_and_a_refusal_changes_nothing(api: Api) -> None:
    anna = api.post("/customers", "write", json=ANNA).json()
    for body in ({**TERMS, "city": "Lund"}, {"loyalty_rate_bp": 100}):
        refused = api.patch(f"/customers/{anna['id']}", "write", json=body)
        assert refused.status_code == 403
        assert refused.json() == {"error": "forbidden", "message": "this needs scope admin; "
                                  "the caller has write", "needed_scope": "admin"}
    assert api.get(f"/customers/{anna['id']}").json() == anna
    refused = api.post("/customers", "write", json={**ANNA, "phone": "0709999999", **TERMS})
    assert refused.status_code == 403
    assert api.get("/customers", params={"q": "0709999999"}).json()["items"] == []

    changed = api.patch(f"/customers/{anna['id']}", "admin", json={**TERMS, "city": "Lund"})
    assert changed.status_code == 200, changed.text
    assert {k: changed.json()[k] for k in TERMS} == TERMS and changed.json()["city"] == "Lund"
    audit = api.get(f"/customers/{anna['id']}/export").json()["audit"][-2]  # before the export
    assert audit["detail"]["after"] == {**TERMS, "city": "Lund"}
    assert audit["detail"]["before"] == {"account_limit_minor": None,
                                         "account_status": "active",
                                         "loyalty_rate_bp": None, "city": None}
    made = api.post("/customers", "admin", json={**ANNA, "phone": "0709999999", **TERMS})
    assert made.status_code == 201 and made.json()["account_limit_minor"] == 500000


def test_credit_terms_out_of_range_are_invalid(api: Api) -> None:
    anna = api.post("/customers", "write", json=ANNA).json()
    for body, field in (({"loyalty_rate_bp": 10001}, "loyalty_rate_bp"),
                        ({"account_limit_minor": -1}, "account_limit_minor"),
                        ({"account_status": "frozen"}, "account_status"),
                        ({"account_status": None}, "account_status")):
        answer = api.patch(f"/customers/{anna['id']}", "admin", json=body)
        assert answer.status_code == 422, body
        assert answer.json()["fields"][0]["field"] == field
    assert api.get(f"/customers/{anna['id']}").json() == anna
