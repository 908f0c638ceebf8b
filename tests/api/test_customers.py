"""Customers through the API: create (idempotent), check, read, change, list and search — and
every refusal leaves the registry as it was."""

from __future__ import annotations

from typing import Any

import pytest

from cashier_bridge.web.cookies import DEVICE_COOKIE
from tests.api.conftest import ANNA_PNR, API, Api

ANNA = {"first_name": "Anna", "last_name": "Svensson", "phone": "070-123 45 67",
        "email": "Anna.Svensson@Example.se", "personal_id": ANNA_PNR, "city": "Lund"}


def everyone(api: Api) -> list[dict[str, Any]]:
    return api.get("/customers?limit=200").json()["items"]


def test_create_returns_the_customer_as_stored(api: Api) -> None:
    answer = api.post("/customers", json={**ANNA, "note": "prefers e-mail",
                                          "marketing_consent": True})
    assert answer.status_code == 201, answer.text
    anna = answer.json()
    assert anna["phone"] == "+46701234567" and anna["email"] == "anna.svensson@example.se"
    assert anna["personal_id_masked"] == "19850312-****" and anna["birth_date"] == "1985-03-12"
    assert anna["group"]["name"] == "All customers" and anna["note"] == "prefers e-mail"
    assert anna["balances"] == {"account_minor": 0, "loyalty_minor": 0, "store_credit_minor": 0}
    assert anna["created_via"] == "api" and anna["customer_code"].isdigit()
    assert anna["created_at"].endswith("Z") or anna["created_at"].endswith("+00:00")
    assert ANNA_PNR not in answer.text
    assert api.get(f"/customers/{anna['id']}").json() == anna
    consents = api.get(f"/customers/{anna['id']}/consents").json()
    assert consents["current"]["marketing"]["granted"] is True
    assert consents["current"]["marketing"]["source"] == "api"
    # The number itself is nowhere: only its fingerprint finds her.
    found = api.registry.customers.find([_fingerprint_key(api, ANNA_PNR)])
    assert found is not None and found[0].id == anna["id"]


def _fingerprint_key(api: Api, pnr: str):  # type: ignore[no-untyped-def]
    from cashier_bridge.lanes.lane import MatchKey

    return MatchKey(kind="personal_id_fingerprint", value=api.registry.fingerprint(pnr),
                    reading="personnummer")


def test_a_retry_with_the_same_key_makes_no_twin(api: Api) -> None:
    key = {"Idempotency-Key": "order-7f3a"}
    first = api.post("/customers", json=ANNA, headers=key)
    again = api.post("/customers", json=ANNA, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert api.registry.customers.count() == 1
    other = api.post("/customers", json={**ANNA, "city": "Malmö"}, headers=key)
    assert other.status_code == 409 and other.json()["error"] == "conflict"
    assert "Idempotency-Key" in other.json()["message"]
    assert everyone(api) == [first.json()]


def test_a_refused_create_leaves_its_key_free_for_the_corrected_form(api: Api) -> None:
    """The console sends a form with one key until it is saved: a phone someone else has is
    refused (nothing created), and the corrected form with the same key goes through."""
    anna = api.post("/customers", json=ANNA).json()
    key = {"Idempotency-Key": "form-42"}
    taken = api.post("/customers", json={"first_name": "Zelda", "last_name": "Zorn",
                                         "phone": ANNA["phone"]}, headers=key)
    assert taken.status_code == 409 and taken.json()["error"] == "duplicate"
    fixed = api.post("/customers", json={"first_name": "Zelda", "last_name": "Zorn",
                                         "phone": "070 444 55 66"}, headers=key)
    assert fixed.status_code == 201, fixed.text
    assert [c["first_name"] for c in everyone(api)] == [anna["first_name"], "Zelda"]


def test_a_key_claimed_by_a_request_still_under_way_refuses_another_body(api: Api) -> None:
    """Two requests with one key and different bodies at the same moment: the first claims the
    key before it creates anything, so the second gets 409 even though no customer exists
    yet — and the first, retried, still goes through."""
    import hashlib
    import json

    from cashier_bridge.registry.customer_admin import actor_key
    from cashier_bridge.registry.schema import idempotency_keys
    from cashier_bridge.registry.timestamps import utcnow

    body = json.dumps(ANNA, sort_keys=True, default=str, ensure_ascii=False)
    caller = api.registry.api_tokens.check(api.tokens["admin"])
    assert caller is not None
    with api.registry.engine.begin() as conn:  # the first request, caught after its claim
        conn.execute(idempotency_keys.insert().values(
            key=actor_key("api", caller.actor, "order-9c1d"), created_at=utcnow(),
            body_sha256=hashlib.sha256(body.encode()).hexdigest()[:32]))
    other = api.post("/customers", json={**ANNA, "city": "Malmö"},
                     headers={"Idempotency-Key": "order-9c1d"})
    assert other.status_code == 409 and other.json()["error"] == "conflict", other.text
    assert everyone(api) == []
    first = api.post("/customers", json=ANNA, headers={"Idempotency-Key": "order-9c1d"})
    assert first.status_code == 201, first.text
    assert everyone(api) == [first.json()]


def test_an_idempotency_key_is_its_caller_s_own(api: Api) -> None:
    """Issue 16: keys were shared by every caller, so one caller could squat another's key
    (its requests then got 409) or, sending the same key and body, be handed the other's
    customer.  Now the same key from two callers is two requests."""
    key = {"Idempotency-Key": "order-1"}
    eva = {"first_name": "Eva", "last_name": "Ek"}
    # A write token claims the key first, for a body of its own …
    squatter = api.post("/customers", "write", json={"first_name": "Zed", "last_name": "Z"},
                        headers=key)
    assert squatter.status_code == 201, squatter.text
    # … and the admin token's request with that key still goes through, and its retry finds
    # its customer, not the squatter's.
    mine = api.post("/customers", "admin", json=eva, headers=key)
    assert mine.status_code == 201, mine.text
    again = api.post("/customers", "admin", json=eva, headers=key)
    assert (again.status_code, again.json()) == (200, mine.json())
    # The same key and body from a third caller is a request of its own, not a look at the
    # admin's customer.
    third = api.post("/customers", "read", json=eva, headers=key)
    assert third.status_code == 403  # read cannot create; a console can:
    device = api.registry.devices.pair("kassa-1", "register")
    api.client.cookies.set(DEVICE_COOKIE, device.token)
    console = api.client.post(f"{API}/customers", json=eva, headers=key)
    api.client.cookies.clear()
    assert console.status_code == 201 and console.json()["id"] != mine.json()["id"]
    # One caller's key with another body is still a conflict, for that caller only.
    other = api.post("/customers", "admin", json={**eva, "city": "Lund"}, headers=key)
    assert other.status_code == 409 and other.json()["error"] == "conflict"
    assert sorted(c["first_name"] for c in everyone(api)) == ["Eva", "Eva", "Zed"]


def test_a_key_used_before_keys_were_per_caller_still_finds_its_customer(api: Api) -> None:
    """A customer created with a key before this change (request key ``api:<key>:<body
    digest>``): its caller's retry still finds it and another body is still a conflict;
    another caller's request with that key is its own."""
    import hashlib
    import json

    from cashier_bridge.registry import NewCustomer

    admin = api.registry.api_tokens.check(api.tokens["admin"])
    assert admin is not None
    eva = {"first_name": "Eva", "last_name": "Ek"}
    body = json.dumps(eva, sort_keys=True, default=str, ensure_ascii=False)
    digest = hashlib.sha256(body.encode()).hexdigest()[:32]
    old, _ = api.registry.customers.create_new(f"api:order-2:{digest}", NewCustomer(
        "Eva", "Ek", created_via="api"), actor=admin.actor)
    key = {"Idempotency-Key": "order-2"}
    retry = api.post("/customers", "admin", json=eva, headers=key)
    assert (retry.status_code, retry.json()["id"]) == (200, old.id)
    other = api.post("/customers", "admin", json={**eva, "city": "Lund"}, headers=key)
    assert other.status_code == 409 and other.json()["error"] == "conflict"
    someone_else = api.post("/customers", "write", json=eva, headers=key)
    assert someone_else.status_code == 201 and someone_else.json()["id"] != old.id


def test_a_taken_identifier_is_409_naming_field_and_owner(api: Api) -> None:
    anna = api.post("/customers", json=ANNA).json()
    for field, value in (("phone", "+46 70 123 45 67"), ("email", "anna.svensson@example.se"),
                         ("personal_id", "8503121249"), ("customer_code", anna["customer_code"])):
        answer = api.post("/customers", json={"first_name": "Eva", "last_name": "Ek",
                                              field: value})
        assert answer.status_code == 409, (field, answer.text)
        body = answer.json()
        assert (body["error"], body["field"], body["existing_id"]) == (
            "duplicate", field, anna["id"])
    assert everyone(api) == [anna]


@pytest.mark.parametrize(("body", "field", "reason"), [
    ({"email": "x"}, "email", "'x' is not an email address"),
    ({"phone": "070-12"}, "phone", "not a valid phone number"),
    ({"personal_id": "198503121248"}, "personal_id", "Luhn"),
    ({"personal_id": "19851332-1234"}, "personal_id", ""),
    ({"first_name": ""}, "first_name", "is empty"),
    ({"first_name": None}, "first_name", ""),
    ({"last_name": 12}, "last_name", "string"),
    ({"birth_date": "12/03/1985"}, "birth_date", ""),
    ({"group_id": 999}, "group_id", "no group with id 999"),
    ({"group_id": "staff"}, "group_id", "whole number"),
    ({"marketing_consent": "maybe"}, "marketing_consent", "boolean"),
    ({"nickname": "Annie"}, "nickname", "not permitted"),
    ({"note": "x" * 2001}, "note", ""),
    ({"customer_code": "  "}, "customer_code", ""),
])
def test_bad_input_is_422_naming_the_field_and_nothing_is_stored(
        api: Api, body: dict[str, Any], field: str, reason: str) -> None:
    answer = api.post("/customers", json={"first_name": "Eva", "last_name": "Ek", **body})
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["error"] == "invalid"
    assert problem["fields"][0]["field"] == field
    assert reason in problem["fields"][0]["reason"]
    assert problem["message"].startswith(f"{field}: ")
    assert api.registry.customers.count() == 0
    check = api.post("/customers/validate", json={"first_name": "Eva", "last_name": "Ek",
                                                  **body})
    assert check.status_code == 422 and check.json()["fields"][0]["field"] == field


def test_a_missing_name_and_a_body_that_is_no_json_are_422(api: Api) -> None:
    missing = api.post("/customers", json={"first_name": "Eva"})
    assert missing.status_code == 422
    assert missing.json()["fields"] == [{"field": "last_name", "reason": "Field required"}]
    broken = api.post("/customers", content=b'{"first_name": "Eva",',
                      headers={"Content-Type": "application/json"})
    assert broken.status_code == 422 and broken.json()["fields"][0]["field"] == "body"
    bad_key = api.post("/customers", json=ANNA, headers={"Idempotency-Key": "a b"})
    assert bad_key.status_code == 422
    assert bad_key.json()["fields"][0]["field"] == "Idempotency-Key"
    assert api.registry.customers.count() == 0


def test_validate_changes_nothing_and_lists_possible_duplicates(api: Api) -> None:
    anna = api.post("/customers", json=ANNA).json()
    check = api.post("/customers/validate", json={
        "first_name": "Ana", "last_name": "Svenson", "birth_date": "1985-03-12"})
    assert check.status_code == 200, check.text
    assert check.json()["ok"] is True
    assert [(d["customer"]["id"], d["reason"]) for d in check.json()["possible_duplicates"]] == [
        (anna["id"], "same_birth_date_similar_name")]
    taken = api.post("/customers/validate", json={"first_name": "Eva", "last_name": "Ek",
                                                  "phone": "0701234567"})
    assert taken.status_code == 409 and taken.json()["field"] == "phone"
    assert everyone(api) == [anna]


def test_patch_changes_fields_clears_with_null_and_audits_before_and_after(api: Api) -> None:
    anna = api.post("/customers", json=ANNA).json()
    changed = api.patch(f"/customers/{anna['id']}", json={
        "phone": "0709876543", "city": None, "note": "VIP", "marketing_consent": False})
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert (after["phone"], after["city"], after["note"]) == ("+46709876543", None, "VIP")
    assert after["first_name"] == "Anna" and after["updated_at"] >= anna["updated_at"]
    assert api.get(f"/customers/{anna['id']}").json() == after
    audit = api.get(f"/customers/{anna['id']}/export").json()["audit"]
    update, consent, _export = audit[-3:]
    assert update["action"] == "update" and update["actor"].startswith("token:")
    # Who recorded the consent on the customer's behalf, next to what the log says.
    assert consent["action"] == "consent" and consent["actor"] == update["actor"]
    assert (consent["detail"]["purpose"], consent["detail"]["granted"],
            consent["detail"]["source"]) == ("marketing", False, "api")
    assert update["detail"]["before"] == {"phone": "+46701234567", "city": "Lund", "note": None}
    assert update["detail"]["after"] == {"phone": "+46709876543", "city": None, "note": "VIP"}
    consents = api.get(f"/customers/{anna['id']}/consents").json()
    assert consents["current"]["marketing"]["granted"] is False


def test_patch_refusals_change_nothing(api: Api) -> None:
    anna = api.post("/customers", json=ANNA).json()
    eva = api.post("/customers", json={"first_name": "Eva", "last_name": "Ek",
                                       "phone": "0705555555"}).json()
    for body, status, field in (({"phone": "0701234567"}, 409, "phone"),
                                ({"email": "no-at-sign"}, 422, "email"),
                                ({"first_name": None}, 422, "first_name"),
                                ({"personal_id": "123"}, 422, "personal_id"),
                                ({"customer_code": None}, 422, "customer_code")):
        answer = api.patch(f"/customers/{eva['id']}", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert (answer.json().get("field") or answer.json()["fields"][0]["field"]) == field
    assert api.get(f"/customers/{eva['id']}").json() == eva
    assert api.get(f"/customers/{anna['id']}").json() == anna
    assert api.patch("/customers/999", json={"note": "x"}).status_code == 404


def test_unknown_customers_are_404(api: Api) -> None:
    for path in ("/customers/999", "/customers/999/sales", "/customers/999/consents",
                 "/customers/999/export"):
        answer = api.get(path)
        assert answer.status_code == 404 and answer.json()["error"] == "not_found", path
    assert api.delete("/customers/999").status_code == 404
    assert api.get("/customers/abc").status_code == 422
    assert api.get("/no-such-thing").json()["error"] == "not_found"


def test_list_pages_by_id_and_filters_by_group(api: Api) -> None:
    ids = [api.post("/customers", json={"first_name": f"Kund{i}", "last_name": "Test"}).json()
           ["id"] for i in range(5)]
    staff = api.post("/groups", json={"name": "Staff"}).json()
    api.post(f"/groups/{staff['id']}/members", json={"customer_ids": ids[1:3]})
    seen, cursor = [], None
    while True:
        page = api.get("/customers", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
                       ).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    in_staff = api.get("/customers", params={"group_id": staff["id"]}).json()["items"]
    assert [c["id"] for c in in_staff] == ids[1:3]
    assert all(c["group"] == {"id": staff["id"], "name": "Staff"} for c in in_staff)
    default = api.get("/groups").json()["items"][0]["id"]
    rest = api.get("/customers", params={"group_id": default}).json()["items"]
    assert [c["id"] for c in rest] == [ids[0], *ids[3:]]
    for params, field in (({"limit": 0}, "limit"), ({"limit": 201}, "limit"),
                          ({"limit": "many"}, "limit"), ({"cursor": "x1"}, "cursor"),
                          ({"q": "kund", "limit": 51}, "limit"),
                          ({"q": "kund", "cursor": "3"}, "cursor"),
                          ({"group_id": 999}, "group_id")):
        answer = api.get("/customers", params=params)
        assert answer.status_code == 422, params
        assert answer.json()["fields"][0]["field"] == field


@pytest.fixture
def shoppers(api: Api) -> dict[str, int]:
    made = {}
    for first, last, phone, email in (
            ("Anna", "Svensson", "070-123 45 67", "anna.s@example.se"),
            ("Anders", "Svan", "070-222 33 44", None),
            ("Åsa", "Öberg", None, "asa@example.se"),
            ("Sven", "Annersson", None, None)):
        made[first] = api.post("/customers", json={
            "first_name": first, "last_name": last, "phone": phone, "email": email}).json()["id"]
    return made


def test_search_as_you_type(api: Api, shoppers: dict[str, int]) -> None:
    def found(q: str) -> list[int]:
        answer = api.get("/customers", params={"q": q})
        assert answer.status_code == 200, answer.text
        assert answer.json()["next_cursor"] is None
        return [c["id"] for c in answer.json()["items"]]

    # Either order: first name "ann…" and last name "sv…", or the other way round.
    assert found("ann sv") == [shoppers["Anna"], shoppers["Sven"]]
    assert found("svensson anna") == [shoppers["Anna"]]
    assert found("asa") == [shoppers["Åsa"]]
    assert found("ÖBERG") == [shoppers["Åsa"]]
    assert found("070-123 45 67") == found("+46701234567") == [shoppers["Anna"]]
    assert found("anna.s@") == [shoppers["Anna"]]
    code = api.get(f"/customers/{shoppers['Sven']}").json()["customer_code"]
    # The start of a code finds it; assigned codes are random, so a neighbour's shares nothing.
    assert found(code[:-1]) == [shoppers["Sven"]]
    assert found(code)[0] == shoppers["Sven"]
    assert found("nobody") == []
    assert len(api.get("/customers", params={"q": "a", "limit": 2}).json()["items"]) == 2
