"""The sign-in pages refuse a flood at the door: past its allowance an address gets 429 with
the wait before any page is rendered, any form read or any password checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from admin.conftest import CountingHasher, make_client
from admin.test_admin_http import PW, csrf_of, registry  # noqa: F401 (registry: a fixture)
from cashier_bridge.registry import Registry
from cashier_bridge.web import sign_in_gate
from cashier_bridge.web.sign_in_gate import SignInGate


def test_an_address_past_its_allowance_is_refused_before_any_work(
        registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("SELFREG_SIGN_IN_REQUESTS_PER_MINUTE", "6")
    monkeypatch.setattr(sign_in_gate, "HOLD_S", 0.0)  # the hold has a test of its own
    hasher = CountingHasher()
    registry.staff.hasher = hasher
    with make_client(registry, tmp_path, monkeypatch, address="203.0.113.9") as flood:
        for _ in range(3):  # three wrong guesses: a page and a form each
            form = flood.get("/admin/login")
            assert form.status_code == 200
            flood.post("/admin/login", data={"csrf": csrf_of(form), "username": "root",
                                             "password": "not it at all"})
        verified = hasher.verifies
        for path in ("/admin/login", "/console/sign-in"):
            refused = flood.get(path)
            assert refused.status_code == 429
            assert "try again in" in refused.text and int(refused.headers["retry-after"]) >= 1
            assert 'name="csrf"' not in refused.text  # no page was rendered
        refused = flood.post("/admin/login", data={"username": "root", "password": PW})
        assert refused.status_code == 429 and hasher.verifies == verified  # nothing checked
        assert flood.get("/admin/customers").status_code == 303  # other pages are not gated


def test_each_address_has_its_own_allowance_and_a_refusal_is_held_a_second(
        monkeypatch: pytest.MonkeyPatch) -> None:
    held: list[float] = []

    async def hold(seconds: float) -> None:  # the answer's delay, recorded instead of waited
        held.append(seconds)

    monkeypatch.setattr(sign_in_gate.asyncio, "sleep", hold)
    pages = Starlette(routes=[Route("/admin/login", lambda _: PlainTextResponse("the page"))])
    gated = SignInGate(pages, per_minute=2)
    flood = TestClient(gated, client=("203.0.113.9", 50000))
    office = TestClient(gated, client=("198.51.100.4", 50000))
    assert [flood.get("/admin/login").status_code for _ in range(3)] == [200, 200, 429]
    assert held == [1.0]  # a script that asks again at once asks once a second
    assert office.get("/admin/login").text == "the page"
