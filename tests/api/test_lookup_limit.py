"""Personnummer look-ups through the API are limited per caller (issue 16, finding 2): the
masked ``YYYYMMDD-****`` leaves ~1,000 candidates, and validate, create and PATCH each answer
whether a number is someone's.  A write token tried them all in 125 requests; now the sixth
distinct number in a minute gets 429 and learns nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cashier_bridge.config import Settings
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.registry.schema import audit_log
from cashier_bridge.web.app import create_app
from tests.api.conftest import ANNA_PNR, API, Api
from tests.masked import numbers

OTHERS = numbers(40, but=ANNA_PNR)  # numbers of the same birth date nobody has


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def anna(api: Api) -> int:
    """Anna, stored by the shop (not through the API: that would spend a look-up)."""
    record, _ = api.registry.customers.create_new("seed-anna", NewCustomer(
        "Anna", "Svensson", personal_id_fingerprint=api.registry.fingerprint(ANNA_PNR),
        personal_id_masked="19850312-****"))
    return record.id


def check(api: Api, number: str, scope: str = "write"):  # type: ignore[no-untyped-def]
    return api.post("/customers/validate", scope,
                    json={"first_name": "Eva", "last_name": "Ek", "personal_id": number})


def assert_limited(answer: Any) -> int:
    """A 429 with the API's error body and Retry-After, and nothing about anyone."""
    assert answer.status_code == 429, answer.text
    body = answer.json()
    wait = body["retry_after_s"]
    assert set(body) == {"error", "message", "retry_after_s"}
    assert body["error"] == "rate_limited" and isinstance(wait, int) and 1 <= wait <= 60
    assert answer.headers["Retry-After"] == str(wait)
    assert f"try again in {wait} s" in body["message"]
    assert "nothing was checked or changed" in body["message"]
    return int(wait)


def test_the_sixth_number_in_a_minute_is_refused_and_says_nothing_of_its_holder(
        api: Api) -> None:
    anna_id = anna(api)
    for number in OTHERS[:5]:
        assert check(api, number).status_code == 200
    refused = check(api, ANNA_PNR)
    assert_limited(refused)
    assert str(anna_id) not in refused.text and "Anna" not in refused.text
    # Before the limit, the same request named her: the answer the limit withholds.
    assert check(api, ANNA_PNR, "admin").json()["error"] == "duplicate"


def test_create_and_patch_spend_the_same_budget_and_a_refusal_changes_nothing(
        api: Api) -> None:
    anna_id = anna(api)
    assert check(api, OTHERS[0]).status_code == 200
    assert check(api, OTHERS[1]).status_code == 200
    made = [api.post("/customers", "write", json={"first_name": "Eva", "last_name": f"Ek{i}",
                                                  "personal_id": OTHERS[2 + i]})
            for i in range(2)]
    assert [m.status_code for m in made] == [201, 201]
    changed = api.patch(f"/customers/{made[0].json()['id']}", "write",
                        json={"personal_id": OTHERS[4]})
    assert changed.status_code == 200, changed.text
    before = api.get("/customers?limit=200").json()["items"]

    assert_limited(api.post("/customers", "write", json={
        "first_name": "Mallory", "last_name": "Ek", "personal_id": ANNA_PNR}))
    assert_limited(api.patch(f"/customers/{made[1].json()['id']}", "write",
                             json={"personal_id": OTHERS[5], "city": "Lund"}))
    assert_limited(api.patch(f"/customers/{anna_id}", "write",
                             json={"personal_id": OTHERS[6]}))
    assert api.get("/customers?limit=200").json()["items"] == before


def test_the_same_number_again_costs_nothing(api: Api) -> None:
    """Re-sending a form with another field corrected is not another look-up."""
    for number in OTHERS[:5]:
        assert check(api, number).status_code == 200
    for _ in range(5):
        assert check(api, OTHERS[0]).status_code == 200
    created = api.post("/customers", "write", json={"first_name": "Eva", "last_name": "Ek",
                                                    "personal_id": OTHERS[4]})
    assert created.status_code == 201, created.text
    assert_limited(check(api, OTHERS[5]))


def test_an_invalid_number_costs_nothing(api: Api) -> None:
    """One that fails the check digit reveals nothing: it is refused for what it is."""
    for number in OTHERS[:10]:
        wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
        answer = check(api, wrong)
        assert answer.status_code == 422 and answer.json()["fields"][0]["field"] == \
            "personal_id"
    for number in OTHERS[:5]:
        assert check(api, number).status_code == 200
    assert_limited(check(api, OTHERS[5]))


def test_each_token_has_its_own_budget(api: Api) -> None:
    for number in OTHERS[:5]:
        assert check(api, number, "write").status_code == 200
    assert_limited(check(api, OTHERS[5], "write"))
    for number in OTHERS[5:10]:
        assert check(api, number, "admin").status_code == 200
    assert_limited(check(api, OTHERS[10], "admin"))


def test_the_budget_comes_back_as_the_minute_passes(api: Api) -> None:
    clock = Clock()
    api.registry.lookups.clock = clock
    for number in OTHERS[:5]:
        assert check(api, number).status_code == 200
        clock.now += dt.timedelta(seconds=10)  # at 0, 10, 20, 30 and 40 s
    wait = assert_limited(check(api, OTHERS[5]))  # at 50 s: the first leaves at 60 s
    assert wait == 10
    clock.now += dt.timedelta(seconds=wait - 1)
    assert_limited(check(api, OTHERS[5]))
    clock.now += dt.timedelta(seconds=1)
    assert check(api, OTHERS[5]).status_code == 200
    assert_limited(check(api, OTHERS[6]))  # the next one leaves at 70 s


def test_the_shop_sets_the_budget(registry: Registry, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFREG_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("SELFREG_DATA_DIR", str(tmp_path / "data"))
    settings = Settings(db_url=registry.engine.url.render_as_string(hide_password=False),
                        auth="off", personal_id_lookups_per_minute=2)
    token = registry.api_tokens.create("pos", "write").token
    with TestClient(create_app(settings, registry)) as client:
        answers = [client.post(f"{API}/customers/validate", json={
            "first_name": "Eva", "last_name": "Ek", "personal_id": number},
            headers={"Authorization": f"Bearer {token}"}).status_code
            for number in OTHERS[:3]]
    assert answers == [200, 200, 429]


def test_every_look_up_and_refusal_is_audited_with_the_actor_and_no_number(api: Api) -> None:
    for number in [*OTHERS[:5], OTHERS[0], OTHERS[5], OTHERS[5], OTHERS[6]]:
        check(api, number)
    with api.registry.engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.action, audit_log.c.detail,
                                   audit_log.c.customer_id)
                            .where(audit_log.c.action.like("personal_id_lookup%"))
                            .order_by(audit_log.c.id)).all()
    actions = [r.action for r in rows]
    assert actions == ["personal_id_lookup"] * 5 + ["personal_id_lookup_limited"] * 2
    assert len({r.actor for r in rows}) == 1 and rows[0].actor.endswith(":test write")
    assert all(r.customer_id is None for r in rows)
    text = json.dumps([r.detail for r in rows])
    for number in OTHERS[:7]:
        assert number not in text and number[2:] not in text
        assert api.registry.fingerprint(number) not in text
    assert all(json.loads(r.detail)["via"] == "validate" for r in rows)


# --- the class: every operation that takes a personnummer ----------------------------------------

def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def personnummer_operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path) of every operation whose body or query takes ``personal_id``."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            params = {p["name"] for p in operation.get("parameters", [])}
            body = operation.get("requestBody", {}).get("content", {})
            schema = _resolve(document, body.get("application/json", {}).get("schema", {}))
            if "personal_id" in params or "personal_id" in schema.get("properties", {}):
                found.append((method, path))
    return found


def test_every_operation_that_takes_a_personnummer_is_limited(api: Api) -> None:
    """Walks the OpenAPI document: a new route that takes a personnummer without the guard
    (or without its 429 documented) fails here."""
    document = api.client.get("/openapi.json").json()
    operations = personnummer_operations(document)
    assert ("post", "/api/v1/customers/validate") in operations  # the walk finds them
    assert len(operations) >= 3, operations
    target = api.registry.customers.create_new("seed-bo", NewCustomer("Bo", "Berg"))[0].id
    spent = iter(OTHERS)
    for i, (method, path) in enumerate(operations):
        responses = document["paths"][path][method]["responses"]
        assert "429" in responses, f"{method.upper()} {path} does not document its 429"
        assert "Retry-After" in responses["429"].get("headers", {}), path
        token = api.registry.api_tokens.create(f"walk {i}", "admin").token
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(5):  # this caller's budget, spent on the plain check
            assert api.client.post(f"{API}/customers/validate", headers=headers, json={
                "first_name": "Eva", "last_name": "Ek", "personal_id": next(spent)}
            ).status_code == 200
        url = path.replace("{customer_id}", str(target))
        assert "{" not in url, f"fill in the path parameters of {path}"
        body = {"first_name": "Eva", "last_name": "Ek", "personal_id": ANNA_PNR}
        answer = api.client.request(method, url, headers=headers, json=body,
                                    params={"personal_id": ANNA_PNR})
        assert_limited(answer)
