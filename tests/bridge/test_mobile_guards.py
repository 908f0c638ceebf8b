"""The phone page's guards: the consent text's version in the language the shopper saw
(issue 16, Low items).

A real bridge on loopback, real websockets for the kiosk and the register, httpx as the phone.
"""

from __future__ import annotations

import httpx

from cashier_bridge.config import Settings
from cashier_bridge.mobile.consent import version
from cashier_bridge.registry import Registry
from tests.bridge.test_bridge_server import ANNA_PNR, db, device
from tests.bridge.test_mobile_http import (
    MobileBridge,
    bridge,
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
            "receipt": receipt_of(page.text), "lang": "en"})
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
