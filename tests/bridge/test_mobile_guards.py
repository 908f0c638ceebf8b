"""The phone page's guards: the consent text's version in the language the shopper saw, a
throttle per address, and the headers every response carries (issue 16, Low items).

A real bridge on loopback, real websockets for the kiosk and the register, httpx as the phone.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from cashier_bridge.config import Settings
from cashier_bridge.registry import Registry
from cashier_bridge.web.mobile.consent import version
from cashier_bridge.web.mobile.routes import RATE_WINDOW_S
from tests.bridge.test_bridge_server import ANNA_PNR, db, device
from tests.bridge.test_mobile_http import (
    MobileBridge,
    bridge,
    hidden_of,
    path_of,
    phone,
    receipt_of,
    send_form,
    show_code,
)
from tests.bridge.test_mobile_trust import anna, log_of, registry

__all__ = ["anna", "bridge", "db", "phone", "registry"]


async def test_a_ticked_box_records_the_version_of_the_text_in_the_language_shown(
        bridge: MobileBridge, registry: Registry, anna: int) -> None:
    english = Settings().consent_texts["marketing"]["en"]
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register, \
            httpx.AsyncClient(base_url=bridge.http, headers={"Accept-Language": "sv"}) as phone:
        path = path_of(await show_code(kiosk, register))
        page = await phone.get(path + "?lang=en")
        assert english in page.text
        phone.cookies.clear()  # a phone that keeps no cookie: the form alone says what it showed
        sent = await phone.post(path, data={
            "first_name": "Anna", "last_name": "Andersson", "phone": "070-123 45 67",
            "personal_id": ANNA_PNR, "consent_marketing": "on",
            **hidden_of(page.text), "receipt": receipt_of(page.text), "lang": "en"})
        assert sent.status_code == 303
        await register.next("customer_connected")
        await kiosk.next("state", phase="connected")
        await bridge.app.state.hub.drain()
    new = log_of(registry, anna)[1:]
    assert new == [("marketing", True, "via_mobil", version("marketing", "en", english))]


async def test_a_forged_language_in_the_form_records_no_unknown_version(
        bridge: MobileBridge, phone: httpx.AsyncClient, registry: Registry, anna: int) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        await send_form(phone, path, personal_id=ANNA_PNR, first_name="Anna",
                        last_name="Andersson", phone="070-123 45 67", consent_marketing="on",
                        lang="xx\" onload=")
        await register.next("customer_connected")
        await kiosk.next("state", phase="connected")
        await bridge.app.state.hub.drain()
    (row,) = log_of(registry, anna)[1:]
    english = Settings().consent_texts["marketing"]["en"]  # the phone asked for English
    assert row == ("marketing", True, "via_mobil", version("marketing", "en", english))


@pytest.fixture
async def throttled(db: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
                    ) -> AsyncIterator[MobileBridge]:
    monkeypatch.setenv("SELFREG_DATA_DIR", str(tmp_path / "data"))
    b = MobileBridge(db, mobile_requests_per_minute=6)
    await b.start()
    yield b
    await b.stop()


async def test_the_phone_page_answers_a_flood_with_429_and_when_to_retry(
        throttled: MobileBridge, monkeypatch: pytest.MonkeyPatch) -> None:
    logged: list[tuple[str, str, dict[str, object]]] = []

    class Log:  # the phone page's log, read back
        def __getattr__(self, level: str) -> Callable[..., None]:
            return lambda event, **fields: logged.append((level, event, fields))

    monkeypatch.setattr("cashier_bridge.web.mobile.routes.log", Log())
    async with device(throttled, "kiosk") as kiosk, device(throttled, "register") as register, \
            httpx.AsyncClient(base_url=throttled.http,
                              headers={"Accept-Language": "en"}) as phone:
        path = path_of(await show_code(kiosk, register))
        first = time.monotonic()
        answers = [(await phone.get(path)).status_code for _ in range(6)]
        assert answers == [200] * 6
        refused = await phone.get(path)
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        # One hit is earned back every window/limit seconds from the first of the six: the
        # rest of that, rounded up, not a fixed wait.
        earned_every = RATE_WINDOW_S / 6
        assert earned_every - (time.monotonic() - first) - 1 <= wait <= earned_every
        assert "Too many requests" in refused.text and refused.headers["Cache-Control"] == \
            "no-store"
        for other in (phone.post(path + "/check", json={"field": "phone", "value": "1"}),
                      phone.get(path + "/events"), phone.get("/m/privacy"),
                      phone.post(path, data={"receipt": "x" * 20})):
            response = await other
            assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
        # The flood is logged once, not once a request.
        assert [entry for entry in logged if entry[1] == "mobile_throttled"] == [
            ("warning", "mobile_throttled", {"route": "phone_page", "refused": 1})]
        # Another address (here: behind the proxy on loopback) is not held up by this one.
        async with httpx.AsyncClient(base_url=throttled.http,
                                     headers={"X-Forwarded-For": "198.51.100.7"}) as other:
            assert (await other.get("/m/privacy")).status_code == 200


async def test_every_phone_page_response_forbids_framing_sniffing_caching_and_referrers(
        bridge: MobileBridge, phone: httpx.AsyncClient) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        form_page = await phone.get(path)
        responses = {
            "form": form_page,
            "problem": await phone.get("/m/" + "A" * 43),
            "privacy": await phone.get("/m/privacy"),
            "check": await phone.post(path + "/check", json={"field": "phone", "value": "1"}),
            "invalid": await phone.post(path, data={"receipt": receipt_of(form_page.text)}),
            "sent": await send_form(phone, path),
        }
        responses["status"] = await phone.get(path)
    for name, response in responses.items():
        h = response.headers
        assert h["Cache-Control"] == "no-store", name
        assert h["X-Content-Type-Options"] == "nosniff", name
        assert h["Referrer-Policy"] == "no-referrer", name
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"], name
    for name in ("form", "problem", "privacy", "invalid", "status"):
        csp = responses[name].headers["Content-Security-Policy"]
        nonce = re.search(r"script-src 'nonce-([A-Za-z0-9_-]{16,})'", csp)
        assert nonce and "unsafe-inline" not in csp, (name, csp)
        html = responses[name].text
        scripts = re.findall(r"<(script|style)\b([^>]*)>", html)
        assert scripts, name
        for tag, attrs in scripts:
            assert f'nonce="{nonce.group(1)}"' in attrs, (name, tag)
