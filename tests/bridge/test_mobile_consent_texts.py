"""Consent texts edited in the back office reach the phone page, and the consent log keeps the
version the shopper actually read: a text changed while a phone's form was open asks again (and
records nothing), and a version a phone makes up is never recorded.

A real bridge on loopback, real websockets for the kiosk and the register, httpx as the phone."""

from __future__ import annotations

import re

import httpx

from cashier_bridge.registry import Registry
from cashier_bridge.registry.mobile import SOURCE as VIA_MOBIL
from cashier_bridge.web.mobile.consent import version
from tests.bridge.test_bridge_server import ANNA_PNR, db, device
from tests.bridge.test_mobile_http import (
    FORM,
    MobileBridge,
    bridge,
    hidden_of,
    path_of,
    phone,
    show_code,
)
from tests.bridge.test_mobile_trust import anna, log_of, registry

__all__ = ["anna", "bridge", "db", "phone", "registry"]

ANNA = {"first_name": "Anna", "last_name": "Andersson", "phone": "070-123 45 67",
        "personal_id": ANNA_PNR}
REWORDED = "Yes, send me offers by text message (at most two a month)."


async def reword(bridge: MobileBridge, registry: Registry, text: str) -> None:
    """What an admin's save does (tests/admin/test_settings_http.py drives the page itself)."""
    shop = bridge.app.state.shop
    texts = {p: dict(t) for p, t in (await shop.current()).consent_texts.items()}
    before = {"consent_texts": {p: dict(t) for p, t in texts.items()}}
    texts["marketing"]["en"] = text
    registry.settings.save({"consent_texts": texts}, actor="staff:root", unsaved=before)
    shop.expire()


async def test_a_reworded_text_is_shown_and_its_version_recorded(
        bridge: MobileBridge, phone: httpx.AsyncClient, registry: Registry, anna: int) -> None:
    await reword(bridge, registry, REWORDED)
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        page = await phone.get(path)
        assert REWORDED in page.text
        sent = await phone.post(path, data={**FORM, **hidden_of(page.text), **ANNA,
                                            "consent_marketing": "on"})
        assert sent.status_code == 303
        await register.next("customer_connected")
        await bridge.app.state.hub.drain()
    assert log_of(registry, anna)[-1] == ("marketing", True, VIA_MOBIL,
                                          version("marketing", "en", REWORDED))
    # The log can say what that version said.
    filed = registry.merges.consent_texts([version("marketing", "en", REWORDED)])
    assert [t["text"] for t in filed.values()] == [REWORDED]


async def test_a_text_changed_while_the_form_was_open_asks_again(
        bridge: MobileBridge, phone: httpx.AsyncClient, registry: Registry, anna: int) -> None:
    before = log_of(registry, anna)
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        page = await phone.get(path)
        assert REWORDED not in page.text
        await reword(bridge, registry, REWORDED)  # the shop rewords it meanwhile
        sent = await phone.post(path, data={**FORM, **hidden_of(page.text), **ANNA,
                                            "consent_marketing": "on"})
        assert sent.status_code == 422
        assert ("The shop has changed the text. Read it and tick again if you wish."
                in sent.text)
        assert REWORDED in sent.text and 'id="consent_marketing">' in sent.text  # unticked
        assert log_of(registry, anna) == before  # nothing recorded for a text not read

        again = await phone.post(path, data={**FORM, **hidden_of(sent.text), **ANNA,
                                             "consent_marketing": "on"})
        assert again.status_code == 303
        await register.next("customer_connected")
        await bridge.app.state.hub.drain()
    assert log_of(registry, anna)[-1][3] == version("marketing", "en", REWORDED)


async def test_a_version_a_phone_makes_up_is_never_recorded(
        bridge: MobileBridge, phone: httpx.AsyncClient, registry: Registry, anna: int) -> None:
    before = log_of(registry, anna)
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        page = await phone.get(path)
        forged = {**hidden_of(page.text), "version_marketing": "v-0000000000000000"}
        # Also a real version, but of another purpose's text.
        other = re.search(r'name="version_personalised_offers" value="([^"]+)"', page.text)
        assert other is not None
        for versions in (forged, {**hidden_of(page.text), "version_marketing": other.group(1)}):
            sent = await phone.post(path, data={**FORM, **versions, **ANNA,
                                                "consent_marketing": "on"})
            assert sent.status_code == 422
    assert log_of(registry, anna) == before
