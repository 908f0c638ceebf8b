"""Via mobil over HTTP against a real bridge (uvicorn on loopback, real websockets for the kiosk
and the register, httpx as the phone)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cashier_bridge.registry import Registry
from tests.bridge.test_bridge_server import ANNA_PNR, NEW_PNR, Bridge, Device, db, device

__all__ = ["db"]  # the registry fixture (SQLite and PostgreSQL), seeded with Anna

FORM = {"first_name": "Nils", "last_name": "Nilsson", "phone": "070-765 43 21",
        "personal_id": NEW_PNR}


class MobileBridge(Bridge):
    def __init__(self, db_url: str, **settings: Any) -> None:
        super().__init__(db_url, auth="off", **settings)
        self.settings.setdefault("public_url", self.http)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def bridge(db: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
                 ) -> AsyncIterator[MobileBridge]:
    monkeypatch.setenv("SELFREG_DATA_DIR", str(tmp_path / "data"))
    b = MobileBridge(db)
    await b.start()
    yield b
    await b.stop()


@pytest.fixture
async def phone(bridge: MobileBridge) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=bridge.http, headers={"Accept-Language": "en"}) as c:
        yield c


async def show_code(kiosk: Device, register: Device, sale: str = "s1") -> dict[str, Any]:
    await register.send(type="start_sale", sale_id=sale)
    await kiosk.next("state", phase="choosing")
    await kiosk.send(type="choose", method="mobile")
    return await kiosk.next("state", phase="identifying")


def path_of(state: dict[str, Any]) -> str:
    url = state["view"]["mobile_url"]
    assert url and re.fullmatch(r"http://127\.0\.0\.1:\d+/m/[A-Za-z0-9_-]{43}", url), url
    return "/m/" + url.rsplit("/", 1)[1]


def receipt_of(html: str) -> str:
    m = re.search(r'name="receipt" value="([^"]+)"', html)
    assert m
    return m.group(1)


def hidden_of(html: str) -> dict[str, str]:
    """The form's hidden fields, as a browser sends them: the receipt, the language, the version
    of each consent text shown."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


async def send_form(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return await client.post(path, data={**FORM, **hidden_of(page.text), **fields})


async def test_the_kiosk_shows_a_code_that_opens_the_form(bridge: MobileBridge,
                                                          phone: httpx.AsyncClient) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        state = await show_code(kiosk, register)
        assert 170 <= state["view"]["mobile_expires_in_s"] <= 180
        assert state["view"]["times_out"] is False
        page = await phone.get(path_of(state))
    assert page.status_code == 200
    html = page.text
    assert "Butiken" in html and "Send" in html and "privacy notice" in html
    for attr in ('autocomplete="given-name"', 'autocomplete="family-name"',
                 'type="tel" autocomplete="tel"', 'inputmode="numeric"'):
        assert attr in html
    assert 'name="consent_marketing"' in html and "checked" not in html  # unticked boxes
    assert "<script src" not in html and "<link" not in html  # nothing external


async def test_a_known_customer_is_connected_at_once_and_their_consents_logged(
        bridge: MobileBridge, phone: httpx.AsyncClient, db: str) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        sent = await send_form(phone, path, personal_id=ANNA_PNR, first_name="Anna",
                               last_name="Andersson", phone="070-123 45 67",
                               consent_marketing="on")
        assert sent.status_code == 303
        event = await register.next("customer_connected")
        assert event["customer"]["customer_code"] == "1001"
        assert event["customer"]["matched_on"] == "personnummer"
        await kiosk.next("state", phase="connected")
        status = await phone.get(path)
        assert "Welcome, Anna!" in status.text and "<svg" in status.text and "1001" in status.text
    registry = Registry.open(db)
    try:
        log = registry.consents.log(event["customer"]["id"])
    finally:
        registry.close()
    # The ticked box; the unticked one is no answer and writes nothing.
    assert {(r.purpose, r.granted, r.source) for r in log} == {
        ("marketing", True, "via_mobil")}
    assert all(r.text_version is not None and r.text_version.startswith("v-") for r in log)


async def test_a_new_member_the_cashier_confirms(bridge: MobileBridge,
                                                 phone: httpx.AsyncClient) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        sent = await send_form(phone, path, member="on")
        assert sent.status_code == 303
        prompt = (await register.next("member_prompt"))["prompt"]
        assert (prompt["first_name"], prompt["last_name"], prompt["phone"], prompt["source"]) == (
            "Nils", "Nilsson", "+46707654321", "mobile")
        assert prompt["personal_id_masked"] == "19910417-****"
        assert "Please turn to the cashier" in (await phone.get(path)).text
        await register.send(type="confirm_member", prompt_id=prompt["prompt_id"],
                            details={"first_name": "Nils", "last_name": "Nilsson"})
        event = await register.next("customer_connected")
        assert event["customer"]["is_new"] is True
        page = (await phone.get(path)).text
        assert "Welcome as a member, Nils!" in page
        assert event["customer"]["customer_code"] in page


async def test_double_submits_create_nothing_twice_and_a_second_phone_is_refused(
        bridge: MobileBridge, phone: httpx.AsyncClient) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        page = await phone.get(path)
        data = {**FORM, "receipt": receipt_of(page.text)}
        first, second = await asyncio.gather(phone.post(path, data=data),
                                             phone.post(path, data=data))
        assert first.status_code == second.status_code == 303
        await kiosk.next("state", phase="ask_member")
        async with httpx.AsyncClient(base_url=bridge.http,
                                     headers={"Accept-Language": "en"}) as other:
            opened = await other.get(path)
            assert opened.status_code == 410 and "already been used" in opened.text
            posted = await other.post(path, data={**FORM, "receipt": "x" * 32})
            assert posted.status_code == 410


async def test_invalid_fields_are_explained_next_to_the_field_and_nothing_changes(
        bridge: MobileBridge, phone: httpx.AsyncClient) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        sent = await send_form(phone, path, personal_id="198503121248", phone="12")
        assert sent.status_code == 422
        assert re.search(r'id="personal_id-err"[^>]*>The last digit does not match', sent.text)
        assert re.search(r'id="phone-err"[^>]*>The number has the wrong number', sent.text)
        assert 'value="198503121248"' in sent.text  # nothing typed is lost
        checked = await phone.post(path + "/check", json={"field": "personal_id",
                                                          "value": "19850312-1248"})
        assert checked.json()["code"] == "invalid_checksum"
        assert (await phone.post(path + "/check", json={"field": "x", "value": ""})
                ).status_code == 422
        ok = await send_form(phone, path)  # the same code still works
        assert ok.status_code == 303


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/m/not-a-code", 404, "Scan the code on the screen"),
    ("/m/" + "A" * 43, 404, "Scan the code on the screen"),
])
async def test_bad_codes_get_a_clear_page(phone: httpx.AsyncClient, path: str, status: int,
                                          says: str) -> None:
    for response in (await phone.get(path), await phone.post(path, data=FORM)):
        assert response.status_code == status
        assert says in response.text and "Traceback" not in response.text


class Clock:
    """The bridge's clock, moved forward by the test instead of waiting for it."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def time(self) -> float:
        return time.time() + self.ahead

    def monotonic(self) -> float:
        return time.monotonic() + self.ahead


async def test_an_expired_code_says_scan_the_new_one_and_the_kiosk_gets_one(
        bridge: MobileBridge, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr("cashier_bridge.web.mobile.routes.time", clock)
    monkeypatch.setattr("cashier_bridge.lanes.hub.time", clock)
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register, \
            httpx.AsyncClient(base_url=bridge.http, headers={"Accept-Language": "sv"}) as phone:
        state = await show_code(kiosk, register)
        path = path_of(state)
        page = await phone.get(path)
        await kiosk.send(type="renew_mobile")  # too early: the code is kept
        await kiosk.send(type="ping")  # answered in order: the renewal was handled
        await kiosk.next("pong")
        clock.ahead = 181.0
        assert (await phone.post(path, data={**FORM, "receipt": receipt_of(page.text)})
                ).status_code == 410
        page = await phone.get(path)
        assert page.status_code == 410 and "Skanna den nya koden på skärmen" in page.text
        await kiosk.send(type="renew_mobile")
        renewed = await kiosk.next("state", phase="identifying")
        assert path_of(renewed) != path and renewed["view"]["mobile_expires_in_s"] == 180
        assert renewed["seq"] == state["seq"] + 1  # the early request changed nothing
        assert (await phone.get(path)).status_code == 410  # the old one stays dead
        assert (await phone.get(path_of(renewed))).status_code == 200


async def test_choosing_another_method_voids_the_code(bridge: MobileBridge,
                                                      phone: httpx.AsyncClient) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        await kiosk.send(type="choose", method="numpad")
        await kiosk.next("state", phase="identifying")
        page = await phone.get(path)
        assert page.status_code == 410 and "no longer valid" in page.text


async def test_languages_by_accept_language_and_the_switch(bridge: MobileBridge) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register, \
            httpx.AsyncClient(base_url=bridge.http,
                              headers={"Accept-Language": "nl-NL,nl;q=0.9"}) as phone:
        path = path_of(await show_code(kiosk, register))
        assert "Voornaam" in (await phone.get(path)).text
        assert "Förnamn" in (await phone.get(path + "?lang=sv")).text
        assert "Förnamn" in (await phone.get(path)).text  # the choice is remembered


async def test_the_phone_page_is_small(bridge: MobileBridge, phone: httpx.AsyncClient) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        page = await phone.get(path_of(await show_code(kiosk, register)))
    assert len(page.content) < 30_000
