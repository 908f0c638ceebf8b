"""Via mobil must not hand a member over to whoever knows her personnummer (issue 16, finding 1).

A real bridge on loopback, real websockets for the kiosk and the register, httpx as the phone:
what a stranger's phone can load, what the register is asked, what is stored.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.registry.mobile import SOURCE as VIA_MOBIL
from tests.bridge.test_bridge_server import ANNA_PNR, NEW_PNR, db, device
from tests.bridge.test_mobile_http import (
    MobileBridge,
    bridge,
    path_of,
    phone,
    send_form,
    show_code,
)

__all__ = ["bridge", "db", "phone"]

STRANGER = {"first_name": "Eva", "last_name": "Svensson", "phone": "070-999 99 99"}
BERTIL_PHONE = "+46705550000"  # Bertil has no personnummer on file
ASA_PNR = "199001012385"


@pytest.fixture
def registry(db: str) -> Iterator[Registry]:
    r = Registry.open(db)
    yield r
    r.close()


@pytest.fixture
def anna(registry: Registry) -> int:
    """Anna (seeded by ``db``) said no to marketing at the till last year."""
    found = registry.customers.find_by_code("1001")
    assert found is not None
    registry.consents.record(found.id, "marketing", False, VIA_MOBIL, "v-earlier",
                             request_key="earlier-visit")
    return found.id


def log_of(registry: Registry, customer_id: int) -> list[tuple[object, ...]]:
    return [(r.purpose, r.granted, r.source, r.text_version)
            for r in registry.consents.log(customer_id)]


def reveals(page: str, *secrets: str) -> list[str]:
    return [s for s in secrets if s in page]


async def test_a_stranger_with_a_members_personnummer_learns_and_changes_nothing(
        bridge: MobileBridge, phone: httpx.AsyncClient, registry: Registry, anna: int) -> None:
    before = log_of(registry, anna)
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        sent = await send_form(phone, path, personal_id=ANNA_PNR, consent_marketing="on",
                               member="on", **STRANGER)
        assert sent.status_code == 303
        prompt = (await register.next("member_prompt"))["prompt"]
        assert prompt["kind"] == "details_mismatch"
        assert (prompt["first_name"], prompt["last_name"], prompt["phone"]) == (
            "Eva", "Svensson", "+46709999999")  # what the shopper typed
        (on_file,) = prompt["possible_duplicates"]  # the member on file, the one possible match
        assert (on_file["customer_code"], on_file["first_name"]) == ("1001", "Anna")
        waiting = await kiosk.next("state", phase="await_cashier")
        assert waiting["view"]["notice"] == "ask_cashier"
        assert waiting["view"]["first_name"] is None

        status = await phone.get(path)
        assert status.status_code == 200
        assert "Please turn to the cashier" in status.text
        assert reveals(status.text, "Anna", "Andersson", "1001", "<svg", "0701234567",
                       "1234567") == []
        async with phone.stream("GET", path + "/events") as stream:
            lines = stream.aiter_lines()
            first = [await anext(lines), await anext(lines)]
        assert first == ["event: stage", "data: with_cashier"]  # as for a would-be member

        await register.send(type="confirm_member", prompt_id=prompt["prompt_id"],
                            details={"first_name": "Eva", "last_name": "Svensson"})
        refused = await register.next("error")
        assert refused["code"] == "not_allowed" and "do not match" in refused["message"]

        # The cashier checked her ID: it is Anna after all.  The phone still learns nothing.
        await register.send(type="connect_existing", prompt_id=prompt["prompt_id"],
                            customer_id=on_file["id"])
        connected = await register.next("customer_connected")
        assert connected["customer"]["matched_on"] == "cashier"
        await kiosk.next("state", phase="connected")
        after = await phone.get(path)
        assert reveals(after.text, "Anna", "Andersson", "1001", "<svg") == []
        assert "The cashier has taken care of the rest" in after.text
        await bridge.app.state.hub.drain()  # nothing left in flight that could still write
    assert log_of(registry, anna) == before  # no new consent, no refusal


async def test_the_right_names_with_another_phone_than_on_file_go_to_the_cashier(
        bridge: MobileBridge, phone: httpx.AsyncClient) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        await send_form(phone, path, personal_id=ANNA_PNR, first_name="Anna",
                        last_name="Andersson", phone="070-999 99 99")
        prompt = (await register.next("member_prompt"))["prompt"]
        assert prompt["kind"] == "details_mismatch"
        assert reveals((await phone.get(path)).text, "Anna", "1001", "<svg") == []


async def test_a_phone_number_and_any_personnummer_do_not_make_a_stranger_a_member_without_one(
        bridge: MobileBridge, phone: httpx.AsyncClient, registry: Registry) -> None:
    bertil, _ = registry.customers.create_new("seed-bertil", NewCustomer(
        first_name="Bertil", last_name="Berg", phone=BERTIL_PHONE, created_via="import",
        customer_code="2002"))
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        await send_form(phone, path, personal_id=NEW_PNR, first_name="Eva",
                        last_name="Svensson", phone="070-555 00 00", consent_marketing="on")
        prompt = (await register.next("member_prompt"))["prompt"]
        assert prompt["kind"] == "details_mismatch"
        assert [d["customer_code"] for d in prompt["possible_duplicates"]] == ["2002"]
        assert prompt["possible_duplicates"][0]["matched_on"] == "phone"
        page = (await phone.get(path)).text
        assert reveals(page, "Bertil", "Berg", "2002", "<svg") == []
        await bridge.app.state.hub.drain()
    assert registry.consents.log(bertil.id) == []


async def test_his_own_names_with_his_phone_connect_a_member_without_a_personnummer(
        bridge: MobileBridge, phone: httpx.AsyncClient, registry: Registry) -> None:
    registry.customers.create_new("seed-bertil", NewCustomer(
        first_name="Bertil", last_name="Berg", phone=BERTIL_PHONE, created_via="import",
        customer_code="2002"))
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        await send_form(phone, path, personal_id=NEW_PNR, first_name=" bertil ",
                        last_name="BERG", phone="070-555 00 00")
        connected = await register.next("customer_connected")
        assert connected["customer"]["customer_code"] == "2002"
        page = (await phone.get(path)).text
        assert "Welcome, Bertil!" in page and "2002" in page and "<svg" in page


async def test_names_in_another_case_and_without_accents_are_her_names(
        bridge: MobileBridge, phone: httpx.AsyncClient, registry: Registry) -> None:
    registry.customers.create_new("seed-asa", NewCustomer(
        first_name="Åsa", last_name="Östlund-Bjørk", phone="+46706660000",
        personal_id_fingerprint=registry.fingerprint(ASA_PNR),
        personal_id_masked="19900101-****", created_via="import", customer_code="3003"))
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        await send_form(phone, path, personal_id=ASA_PNR, first_name="ASA",
                        last_name="ostlund-bjork", phone="070-666 00 00")
        connected = await register.next("customer_connected")
        assert connected["customer"]["customer_code"] == "3003"
        page = (await phone.get(path)).text
        assert "Welcome, Åsa!" in page and 'id="customer-code">3003<' in page and "<svg" in page


async def test_unticked_boxes_record_nothing_for_a_member(
        bridge: MobileBridge, phone: httpx.AsyncClient, registry: Registry, anna: int) -> None:
    before = log_of(registry, anna)
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        path = path_of(await show_code(kiosk, register))
        await send_form(phone, path, personal_id=ANNA_PNR, first_name="Anna",
                        last_name="Andersson", phone="070-123 45 67")  # no box ticked
        await register.next("customer_connected")
        await kiosk.next("state", phase="connected")
        await bridge.app.state.hub.drain()
    assert log_of(registry, anna) == before  # her earlier "no" is not asked again, nor overwritten
