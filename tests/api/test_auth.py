"""Who may call the API: tokens by scope, the cashier console's cookie, and refusals that change
nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from cashier_bridge.registry import Registry
from cashier_bridge.registry.api_tokens import Scope
from cashier_bridge.registry.problems import NotFound
from cashier_bridge.registry.schema import api_tokens
from cashier_bridge.web.cookies import DEVICE_COOKIE
from tests.api.conftest import API, Api

ANNA = {"first_name": "Anna", "last_name": "Svensson", "phone": "070-123 45 67"}


def test_a_token_is_shown_once_and_stored_as_a_hash(registry: Registry) -> None:
    issued = registry.api_tokens.create("POS sync", "write")
    assert issued.token.startswith("sra_") and len(issued.token) > 40
    with registry.engine.connect() as conn:
        stored = conn.execute(select(api_tokens)).one()
    assert issued.token not in [str(v) for v in stored]
    assert [(t.id, t.name, t.scope) for t in registry.api_tokens.list()] == [
        (issued.id, "POS sync", Scope.write)]
    principal = registry.api_tokens.check(issued.token)
    assert principal is not None and principal.scope is Scope.write
    assert registry.api_tokens.check(issued.token + "x") is None
    registry.api_tokens.revoke(issued.id)
    assert registry.api_tokens.check(issued.token) is None
    assert registry.api_tokens.list()[0].revoked_at is not None
    with pytest.raises(NotFound):
        registry.api_tokens.revoke(issued.id + 1)


def test_last_used_is_written_at_most_once_a_minute(registry: Registry) -> None:
    issued = registry.api_tokens.create("reader", "read")
    registry.api_tokens.check(issued.token)
    first = registry.api_tokens.list()[0].last_used_at
    assert first is not None
    registry.api_tokens.check(issued.token)
    assert registry.api_tokens.list()[0].last_used_at == first
    # A minute later it moves on.
    with registry.engine.begin() as conn:
        conn.execute(update(api_tokens).values(last_used_at=first - dt.timedelta(minutes=2)))
    registry.api_tokens.check(issued.token)
    assert registry.api_tokens.list()[0].last_used_at > first - dt.timedelta(minutes=1)


def test_scopes_include_the_smaller_ones() -> None:
    assert Scope.admin.covers(Scope.write) and Scope.write.covers(Scope.read)
    assert not Scope.read.covers(Scope.write) and not Scope.write.covers(Scope.admin)


def test_no_token_a_wrong_one_or_a_revoked_one_is_401_and_nothing_changes(api: Api) -> None:
    revoked = api.registry.api_tokens.create("old", "admin")
    api.registry.api_tokens.revoke(revoked.id)
    for headers in ({}, {"Authorization": "Bearer sra_nonsense"},
                    {"Authorization": f"Bearer {revoked.token}"},
                    {"Authorization": "Basic dXNlcjpwYXNz"}):
        answer = api.client.post(f"{API}/customers", json=ANNA, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert api.client.get(f"{API}/customers", headers=headers).status_code == 401
    assert api.registry.customers.count() == 0


@pytest.mark.parametrize(("scope", "method", "path", "needed"), [
    ("read", "post", "/customers", "write"),
    ("read", "post", "/groups", "write"),
    ("write", "delete", "/customers/{id}", "admin"),
    ("write", "get", "/customers/{id}/export", "admin"),
    ("write", "delete", "/groups/{group}", "admin"),
])
def test_a_scope_too_small_is_403_naming_the_scope_needed(
        api: Api, scope: str, method: str, path: str, needed: str) -> None:
    anna = api.post("/customers", json=ANNA).json()
    group = api.post("/groups", json={"name": "Staff"}).json()
    url = API + path.format(id=anna["id"], group=group["id"])
    kwargs = {"json": {"name": "X", **ANNA}} if method == "post" else {}
    answer = getattr(api.client, method)(url, headers=api.headers(scope), **kwargs)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "forbidden" and answer.json()["needed_scope"] == needed
    assert api.registry.customers.count() == 1
    assert api.get(f"/customers/{anna['id']}").json() == anna
    assert [g["name"] for g in api.get("/groups").json()["items"]] == ["All customers", "Staff"]


def test_read_scope_reads(api: Api) -> None:
    anna = api.post("/customers", json=ANNA).json()
    assert api.get(f"/customers/{anna['id']}", "read").json()["first_name"] == "Anna"
    assert api.get("/customers?q=anna", "read").json()["items"][0]["id"] == anna["id"]
    assert api.get("/groups", "read").status_code == 200
    assert api.get(f"/customers/{anna['id']}/sales", "read").json() == {"items": []}


def test_the_console_cookie_acts_with_write_scope_and_not_admin(api: Api) -> None:
    device = api.registry.devices.pair("kassa-1", "register")
    api.client.cookies.set(DEVICE_COOKIE, device.token)
    created = api.client.post(f"{API}/customers", json=ANNA)
    assert created.status_code == 201, created.text
    anna = created.json()
    export = api.client.get(f"{API}/customers/{anna['id']}/export")
    assert export.status_code == 403 and export.json()["needed_scope"] == "admin"
    assert api.client.delete(f"{API}/customers/{anna['id']}").status_code == 403
    audit = api.get(f"/customers/{anna['id']}/export").json()["audit"]
    assert [(a["actor"][:8], a["action"]) for a in audit] == [
        ("console:", "create"), ("token:3:", "export_personal_data")]
    assert audit[0]["actor"] == "console:kassa-1"
    # A kiosk's token, or a register's once unpaired, is no console.
    kiosk = api.registry.devices.pair("kassa-1", "kiosk")
    api.client.cookies.set(DEVICE_COOKIE, kiosk.token)
    assert api.client.get(f"{API}/customers").status_code == 401
    api.client.cookies.set(DEVICE_COOKIE, device.token)
    api.registry.devices.revoke("kassa-1")
    assert api.client.get(f"{API}/customers").status_code == 401
    assert api.registry.customers.count() == 1
