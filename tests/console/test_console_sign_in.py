"""The cashier console's sign-in form through the bridge's real app: wrong codes are counted per
client address, and a flood of them gets 429 with the wait (issue 16, "console sign-in … no
throttle")."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cashier_bridge.config import Settings
from cashier_bridge.registry import Registry
from cashier_bridge.registry.schema import audit_log
from cashier_bridge.web.app import create_app
from tests.admin.conftest import Clock, clock

__all__ = ["clock"]  # the admin tests' clock fixture


@pytest.fixture
def registry(tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    reg = Registry.open(f"sqlite:///{tmp_path / 'console.db'}")
    reg.staff.clock = clock
    yield reg
    reg.close()


@pytest.fixture
def app(registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("SELFREG_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("SELFREG_DATA_DIR", str(tmp_path / "data"))
    return create_app(Settings(db_url=registry.engine.url.render_as_string(hide_password=False)),
                      registry)


def browser(app: object, address: str) -> TestClient:
    return TestClient(app, follow_redirects=False, client=(address, 50000))  # type: ignore[arg-type]


def error_of(page: httpx.Response) -> str:
    found = re.search(r'id="code-err"[^>]*>(.*?)</', page.text, re.S)
    assert found, page.text
    return html.unescape(found.group(1)).strip()


def test_a_flood_of_wrong_codes_is_refused_with_the_wait(app: object, registry: Registry,
                                                         clock: Clock) -> None:
    code = registry.devices.issue_sign_in("till-1", "register")
    with browser(app, "203.0.113.7") as guesser:
        answers = [guesser.post("/console/sign-in", data={"code": f"WRONG-{i:05d}"})
                   for i in range(12)]
        assert [a.status_code for a in answers] == [400] * 9 + [429] * 3
        last = answers[-1]
        assert error_of(last) == ("Too many wrong codes from this address: try again in 15 "
                                  "minutes. Nothing was signed in.")
        assert last.headers["retry-after"] == "900"
        assert 'value="WRONG-00011"' in last.text  # what was typed stays
        # Even the right code waits, and is not spent meanwhile.
        assert guesser.post("/console/sign-in", data={"code": code}).status_code == 429
        clock.advance(minutes=15)
        assert guesser.post("/console/sign-in", data={"code": "WRONG-again"}).status_code == 400
    with registry.engine.connect() as conn:
        detail = conn.execute(select(audit_log.c.detail).where(
            audit_log.c.action == "sign_in_throttled")).scalar_one()
    assert '"address": "203.0.113.7"' in detail and '"where": "cashier console"' in detail


def test_another_address_still_signs_in(app: object, registry: Registry) -> None:
    code = registry.devices.issue_sign_in("till-1", "register")
    with browser(app, "203.0.113.7") as guesser:
        for i in range(10):
            guesser.post("/console/sign-in", data={"code": f"WRONG-{i:05d}"})
    with browser(app, "10.0.0.2") as till:
        signed_in = till.post("/console/sign-in", data={"code": code})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/console"
