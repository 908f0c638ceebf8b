"""The bridge over real websockets on loopback, with a real SQLite registry."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from cashier_bridge.config import Settings, auth_refusal, tokens_required
from cashier_bridge.lanes.lane import MatchKey
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.web.app import create_app
from simulator.processes import Pairings

ANNA_PNR = "198503120183"  # valid (Luhn, date); see test_fixture_numbers_are_valid
NEW_PNR = "199104170106"
ANNA_PHONE = "+46701234567"


def test_fixture_numbers_are_valid() -> None:
    from cashier_bridge.identity import personnummer

    assert personnummer.is_valid(ANNA_PNR) and personnummer.is_valid(NEW_PNR)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bridge:
    def __init__(self, db_url: str, auth: str = "required", **settings: Any) -> None:
        self.db_url = db_url
        self.auth = auth
        self.settings = settings  # more bridge settings, as the tests need them
        self.port = _free_port()
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None
        self.pairings = Pairings(db_url)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def token(self, lane: str, role: str) -> str:
        """The token of this test's device of ``lane`` and ``role`` (paired once, as an
        installer pairs a device: the bridge lets in nothing else, on loopback too)."""
        return self.pairings.token(lane, role)

    async def start(self) -> None:
        settings = Settings(db_url=self.db_url, port=self.port, auth=self.auth, **self.settings)
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                ws="websockets-sansio", log_config=None, lifespan="on")
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        assert self.server and self.task
        self.server.should_exit = True
        await self.task


class Device:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps({"v": 1, **message}))

    async def next(self, type_: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        async def scan() -> dict[str, Any]:
            while True:
                message = json.loads(await self.ws.recv())
                if message["type"] == type_ and all(message.get(k) == v for k, v in match.items()):
                    return message

        return await asyncio.wait_for(scan(), timeout)


@contextlib.asynccontextmanager
async def device(bridge: Bridge, role: str, lane: str = "lane-1") -> AsyncIterator[Device]:
    async with connect(f"{bridge.url}/ws/{role}") as ws:
        d = Device(ws)
        await d.send(type="hello", role=role, lane=lane, token=bridge.token(lane, role))
        await d.next("welcome")
        yield d


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bridge.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database("bridge")
    registry = Registry.open(url)
    registry.customers.create_new("seed-anna", NewCustomer(
        first_name="Anna", last_name="Andersson", phone=ANNA_PHONE,
        personal_id_fingerprint=registry.fingerprint(ANNA_PNR),
        personal_id_masked="19850312-****", created_via="import", customer_code="1001"))
    registry.close()
    yield url
    if request.param == "postgresql":
        request.getfixturevalue("postgres_server").drop_database(url)


@pytest.fixture
async def bridge(db: str) -> AsyncIterator[Bridge]:
    b = Bridge(db)
    await b.start()
    yield b
    if b.server and not b.task.done():  # type: ignore[union-attr]
        await b.stop()


async def start_numpad(kiosk: Device, register: Device, sale: str = "s1") -> None:
    await register.send(type="start_sale", sale_id=sale)
    await kiosk.next("state", phase="choosing")
    await kiosk.send(type="choose", method="numpad")
    await kiosk.next("state", phase="identifying")


async def ask_membership(kiosk: Device, register: Device, pnr: str) -> dict[str, Any]:
    """An unknown shopper types their number and says yes; the register's prompt."""
    await start_numpad(kiosk, register)
    await kiosk.send(type="submit_id", digits=pnr)
    await kiosk.next("state", phase="ask_member")
    await kiosk.send(type="member_answer", accept=True)
    return (await register.next("member_prompt"))["prompt"]


async def test_known_customer_by_personnummer(bridge: Bridge) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await start_numpad(kiosk, register)
        await kiosk.send(type="submit_id", digits=ANNA_PNR)
        event = await register.next("customer_connected")
        assert event["customer"]["customer_code"] == "1001"
        assert event["customer"]["matched_on"] == "personnummer"
        assert event["sale_id"] == "s1"
        state = await kiosk.next("state", phase="connected")
        assert state["view"]["first_name"] == "Anna"
        assert "Andersson" not in json.dumps(state) and ANNA_PHONE not in json.dumps(state)


@pytest.mark.parametrize("typed", ["070-123 45 67", "0701234567", "+46701234567",
                                   "0046 70 123 45 67"])
async def test_known_customer_by_phone_however_typed(bridge: Bridge, typed: str) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await start_numpad(kiosk, register)
        await kiosk.send(type="submit_id", digits=typed)
        event = await register.next("customer_connected")
        assert (event["customer"]["first_name"], event["customer"]["matched_on"]) == (
            "Anna", "phone")


async def test_known_customer_by_customer_code(bridge: Bridge) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await start_numpad(kiosk, register)
        await kiosk.send(type="submit_id", digits="1001")
        event = await register.next("customer_connected")
        assert event["customer"]["matched_on"] == "customer_code"


async def test_new_member_confirmed_once_even_when_the_register_repeats(bridge: Bridge,
                                                                         db: str) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await start_numpad(kiosk, register)
        await kiosk.send(type="submit_id", digits=NEW_PNR)
        asked = await kiosk.next("state", phase="ask_member")
        assert asked["view"]["masked_id"] == "19910417-****"
        await kiosk.send(type="member_answer", accept=True)
        prompt = (await register.next("member_prompt"))["prompt"]
        assert (prompt["personal_id_masked"], prompt["birth_date"]) == ("19910417-****",
                                                                        "1991-04-17")
        details = {"first_name": "Berit", "last_name": "Berg", "marketing_consent": True}
        await register.send(type="confirm_member", prompt_id=prompt["prompt_id"], details=details)
        event = await register.next("customer_connected")
        await register.send(type="confirm_member", prompt_id=prompt["prompt_id"], details=details)
        assert event["customer"]["is_new"] is True
        welcome = await kiosk.next("state", phase="connected")
        assert welcome["view"]["first_name"] == "Berit"
        await register.send(type="ping")
        await register.next("pong")
    registry = Registry.open(db)
    try:
        assert registry.customers.count() == 2
        key = MatchKey(kind="personal_id_fingerprint", value=registry.fingerprint(NEW_PNR),
                       reading="personnummer")
        found = registry.customers.find([key])
        assert found is not None and found[0].first_name == "Berit"
        assert found[0].personal_id_masked == "19910417-****"
    finally:
        registry.close()


async def test_cashier_abort_sends_the_kiosk_back_to_the_choices(bridge: Bridge) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        prompt = await ask_membership(kiosk, register, NEW_PNR)
        await register.send(type="abort_member", prompt_id=prompt["prompt_id"])
        back = await kiosk.next("state", phase="choosing")
        assert back["view"]["notice"] == "member_aborted"


async def test_mistyped_personnummer_is_explained_to_the_shopper(bridge: Bridge) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await start_numpad(kiosk, register)
        await kiosk.send(type="submit_id", digits=ANNA_PNR[:-1] + "8")
        shown = await kiosk.next("state", phase="not_found")
        assert shown["view"]["notice"] == "invalid_checksum"


async def test_bad_messages_get_specific_errors_and_the_connection_stays(bridge: Bridge) -> None:
    async with connect(f"{bridge.url}/ws/kiosk") as ws:
        kiosk = Device(ws)
        await kiosk.send(type="choose", method="numpad")
        assert (await kiosk.next("error"))["code"] == "hello_required"
        await ws.send("{oops")
        assert (await kiosk.next("error"))["code"] == "invalid_json"
        await kiosk.send(type="hello", role="register", lane="lane-1")
        assert (await kiosk.next("error"))["code"] == "wrong_role"
        await kiosk.send(type="hello", role="kiosk", lane="lane-1",
                         token=bridge.token("lane-1", "kiosk"))
        await kiosk.next("welcome")
        await kiosk.next("state", phase="idle")
        await kiosk.send(type="start_sale", sale_id="x")
        assert (await kiosk.next("error"))["code"] == "wrong_role"
        await kiosk.send(type="choose", method="numpad")
        error = await kiosk.next("error")
        assert error["code"] == "not_allowed" and "idle" in error["message"]
        await kiosk.send(type="submit_id", digits="abc")
        assert (await kiosk.next("error"))["code"] == "invalid_message"
        await kiosk.send(type="ping")
        await kiosk.next("pong")


async def test_a_reconnecting_kiosk_is_sent_the_current_state(bridge: Bridge) -> None:
    async with device(bridge, "register") as register:
        async with device(bridge, "kiosk") as kiosk:
            await start_numpad(kiosk, register)
        async with connect(f"{bridge.url}/ws/kiosk") as ws:
            again = Device(ws)
            await again.send(type="hello", role="kiosk", lane="lane-1",
                             token=bridge.token("lane-1", "kiosk"))
            await again.next("welcome")
            state = await again.next("state")
            assert (state["phase"], state["view"]["method"]) == ("identifying", "numpad")


async def test_lanes_are_independent(bridge: Bridge) -> None:
    async with device(bridge, "register", "lane-1") as r1, device(bridge, "kiosk", "lane-2") as k2:
        await r1.send(type="start_sale", sale_id="s1")
        await r1.next("state", phase="choosing")
        with pytest.raises(TimeoutError):
            await k2.next("state", timeout=0.3, phase="choosing")


async def test_restarted_bridge_resumes_the_lane_and_creates_no_twin(bridge: Bridge,
                                                                     db: str) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        prompt = await ask_membership(kiosk, register, NEW_PNR)
    await bridge.stop()
    restarted = Bridge(db)
    restarted.port = bridge.port
    await restarted.start()
    try:
        async with device(restarted, "kiosk") as kiosk, device(restarted, "register") as register:
            assert (await kiosk.next("state"))["phase"] == "await_cashier"
            state = await register.next("state")
            assert state["view"]["prompt"]["prompt_id"] == prompt["prompt_id"]
            await register.send(type="confirm_member", prompt_id=prompt["prompt_id"],
                                details={"first_name": "Cecilia", "last_name": "Ek"})
            event = await register.next("customer_connected")
            assert event["customer"]["first_name"] == "Cecilia"
    finally:
        await restarted.stop()
    registry = Registry.open(db)
    try:
        assert registry.customers.count() == 2
    finally:
        registry.close()


async def test_health(bridge: Bridge) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{bridge.port}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["customers"] == 1


VCARD = ("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lindqvist;Greta;;;\r\nFN:Greta Lindqvist\r\n"
         "TEL;TYPE=CELL:+46 73 555 12 34\r\nEMAIL:Greta.Lindqvist@Example.se\r\n"
         "BDAY:1979-06-02\r\nEND:VCARD\r\n")


async def test_scanned_vcard_of_nobody_becomes_a_member_proposal_with_its_fields(
        bridge: Bridge) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await register.send(type="start_sale", sale_id="s1")
        await kiosk.next("state", phase="choosing")
        await kiosk.send(type="scan", text=VCARD, symbology="QRCode")  # no need to choose first
        asked = await kiosk.next("state", phase="ask_member")
        assert asked["view"]["method"] == "scan"
        assert "Lindqvist" not in json.dumps(asked)
        await kiosk.send(type="member_answer", accept=True)
        prompt = (await register.next("member_prompt"))["prompt"]
        assert (prompt["first_name"], prompt["last_name"]) == ("Greta", "Lindqvist")
        assert (prompt["phone"], prompt["email"]) == ("+46735551234",
                                                      "greta.lindqvist@example.se")
        assert (prompt["birth_date"], prompt["document"], prompt["source"]) == (
            "1979-06-02", "vcard", "scan")


async def test_scanned_mecard_with_a_known_phone_connects_that_customer(bridge: Bridge) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await register.send(type="start_sale", sale_id="s1")
        await kiosk.next("state", phase="choosing")
        await kiosk.send(type="scan", text="MECARD:N:Andersson,Anna;TEL:0701234567;;")
        event = await register.next("customer_connected")
        assert (event["customer"]["customer_code"], event["customer"]["matched_on"]) == (
            "1001", "phone")


async def test_an_unreadable_scan_is_explained(bridge: Bridge) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await register.send(type="start_sale", sale_id="s1")
        await kiosk.next("state", phase="choosing")
        await kiosk.send(type="scan", text="BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nEND:VCARD")
        shown = await kiosk.next("state", phase="identifying")
        assert shown["view"]["notice"] and shown["view"]["method"] == "scan"


async def test_cashier_connects_a_possible_duplicate_instead_of_creating_a_twin(
        bridge: Bridge, db: str) -> None:
    registry = Registry.open(db)
    lars, _ = registry.customers.create_new("seed-lars", NewCustomer(
        first_name="Lars", last_name="Nilsson", phone="+46765551234",
        birth_date=dt.date(1991, 4, 17), created_via="import"))  # on file without personnummer
    registry.close()
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await start_numpad(kiosk, register)
        await kiosk.send(type="submit_id", digits=NEW_PNR)
        asked = await kiosk.next("state", phase="ask_member")
        assert "Nilsson" not in json.dumps(asked)
        await kiosk.send(type="member_answer", accept=True)
        prompt = (await register.next("member_prompt"))["prompt"]
        offered = [(d["id"], d["first_name"], d["matched_on"])
                   for d in prompt["possible_duplicates"]]
        assert offered == [(lars.id, "Lars", "same_birth_date_no_personal_id")]
        await register.send(type="connect_existing", prompt_id=prompt["prompt_id"],
                            customer_id=lars.id)
        event = await register.next("customer_connected")
        assert (event["customer"]["id"], event["customer"]["matched_on"]) == (lars.id, "cashier")
        welcome = await kiosk.next("state", phase="connected")
        assert welcome["view"]["first_name"] == "Lars"
    registry = Registry.open(db)
    try:
        assert registry.customers.count() == 2  # Anna and Lars; no twin
    finally:
        registry.close()


async def test_a_database_failure_mid_lookup_is_shown_not_hung(bridge: Bridge) -> None:
    customers = bridge.app.state.registry.customers  # its find: the read of every identification

    def broken(keys: object) -> None:
        raise OSError("disk I/O error")

    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await start_numpad(kiosk, register)
        customers.find = broken
        await kiosk.send(type="submit_id", digits=ANNA_PNR)
        while True:
            shown = await kiosk.next("state", phase="identifying")
            if shown["view"]["notice"]:
                break
        assert (shown["view"]["notice"], shown["view"]["busy"]) == ("unavailable", False)
        del customers.find  # the database is back
        await kiosk.send(type="submit_id", digits=ANNA_PNR)
        event = await register.next("customer_connected")
        assert event["customer"]["customer_code"] == "1001"


async def test_a_register_unpaired_while_connected_is_sent_away(db: str) -> None:
    """`selfreg-bridge unpair` runs in another process; the bridge notices and closes the
    revoked register's connection (it would otherwise keep hearing customers' details), while
    the lane's kiosk, paired separately, stays."""
    registry = Registry.open(db)
    register_token = registry.devices.pair("lane-1", "register").token
    kiosk_token = registry.devices.pair("lane-1", "kiosk").token
    bridge = Bridge(db, auth="required", revocation_check_s=0.2)
    await bridge.start()
    try:
        async with connect(f"{bridge.url}/ws/register") as rws, \
                connect(f"{bridge.url}/ws/kiosk") as kws:
            register, kiosk = Device(rws), Device(kws)
            await register.send(type="hello", role="register", lane="lane-1",
                                token=register_token)
            await register.next("welcome")
            await kiosk.send(type="hello", role="kiosk", lane="lane-1", token=kiosk_token)
            await kiosk.next("welcome")
            assert registry.devices.revoke("lane-1", "register") == 1
            error = await register.next("error")
            assert error["code"] == "unauthorized" and "unpaired" in error["message"]
            with pytest.raises(ConnectionClosed):
                await register.next("state", timeout=5)
            assert rws.close_code == 1008
            # The kiosk was not revoked: it still answers.
            await kiosk.send(type="ping")
            await kiosk.next("pong")
    finally:
        registry.close()
        await bridge.stop()


async def test_with_pairing_required_only_paired_devices_get_in(db: str) -> None:
    registry = Registry.open(db)
    register_token = registry.devices.pair("lane-1", "register").token
    kiosk_token = registry.devices.pair("lane-1", "kiosk").token
    registry.close()
    bridge = Bridge(db, auth="required")
    await bridge.start()
    try:
        for token in (None, "guess", kiosk_token):  # none, wrong, another role's
            async with connect(f"{bridge.url}/ws/register") as ws:
                stranger = Device(ws)
                await stranger.send(type="hello", role="register", lane="lane-1", token=token)
                error = await stranger.next("error")
                assert error["code"] == "unauthorized" and "selfreg-bridge pair" in error["message"]
                with pytest.raises(ConnectionClosed):
                    await stranger.next("state", timeout=2)
        async with connect(f"{bridge.url}/ws/register") as ws:
            register = Device(ws)
            await register.send(type="hello", role="register", lane="lane-1",
                                token=register_token)
            await register.next("welcome")
            state = await register.next("state")
            assert state["phase"] == "idle"
    finally:
        await bridge.stop()


def test_pairing_is_needed_wherever_the_bridge_listens() -> None:
    # Loopback too: every web page the till's browser shows can reach 127.0.0.1.
    assert tokens_required(Settings(host="127.0.0.1"))
    assert tokens_required(Settings(host="0.0.0.0"))
    assert tokens_required(Settings(host="127.0.0.1", auth="auto"))  # older files said "auto"
    assert not tokens_required(Settings(host="127.0.0.1", auth="off"))  # development only
    assert auth_refusal(Settings(host="127.0.0.1", auth="off")) is None
    refusal = auth_refusal(Settings(host="0.0.0.0", auth="off"))
    assert refusal is not None and "selfreg-bridge pair" in refusal
    with pytest.raises(ValueError, match="selfreg-bridge pair"):
        create_app(Settings(host="0.0.0.0", auth="off"))


async def test_an_in_store_ean13_loyalty_card_held_up_connects_its_customer(
        bridge: Bridge) -> None:
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await register.send(type="start_sale", sale_id="s1")
        await kiosk.next("state", phase="choosing")
        await kiosk.send(type="scan", text="2000000010014", symbology="EAN13")
        event = await register.next("customer_connected")
        assert event["customer"]["customer_code"] == "1001"
        assert event["customer"]["matched_on"] == "customer_code"
