"""A chain: several bridge processes on one PostgreSQL registry, faults survived.

Real processes (``selfreg-bridge serve``) on loopback ports, raw websocket devices.  To kill a
process *in the middle* of a lookup or a creation, the test holds a PostgreSQL table lock that
the bridge's query must wait for, sees the bridge waiting on it (``pg_locks``), and only then
pulls the plug: no timing guesses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool
from websockets.asyncio.client import ClientConnection, connect

from cashier_bridge.lanes.lane import MatchKey
from cashier_bridge.registry import NewCustomer, Registry
from simulator.processes import BridgeProcess
from tests.pg_server import PostgresServer

pytestmark = pytest.mark.postgres

ANNA_PNR = "198503120183"
NEW_PNR = "199104170106"


class Device:
    def __init__(self, ws: ClientConnection, role: str) -> None:
        self.ws = ws
        self.role = role

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps({"v": 1, **message}))

    async def next(self, type_: str, timeout: float = 20.0, **match: Any) -> dict[str, Any]:
        """The next message of ``type_`` (with the given fields) this device receives."""

        async def scan() -> dict[str, Any]:
            while True:
                message = json.loads(await self.ws.recv())
                if message["type"] == type_ and all(message.get(k) == v
                                                    for k, v in match.items()):
                    return message

        return await asyncio.wait_for(scan(), timeout)


@contextlib.asynccontextmanager
async def device(bridge: BridgeProcess, role: str, lane: str = "lane-1", *,
                 via: str | None = None) -> AsyncIterator[Device]:
    """A device of ``lane``, paired with the chain's registry, connected to ``bridge`` (or
    through ``via``, a ``ws://`` URL leading to the chain: a proxy, a cable that can be
    pulled)."""
    token = await asyncio.to_thread(bridge.token, lane, role)
    async with connect(f"{via or bridge.url}/ws/{role}") as ws:
        d = Device(ws, role)
        await d.send(type="hello", role=role, lane=lane, token=token)
        await d.next("welcome")
        yield d


def seed_anna(url: str) -> None:
    """The shop's customer 1001, Anna, who identifies with her personnummer or phone."""
    registry = Registry.open(url)
    registry.customers.create_new("seed-anna", NewCustomer(
        first_name="Anna", last_name="Andersson", phone="+46701234567",
        personal_id_fingerprint=registry.fingerprint(ANNA_PNR),
        personal_id_masked="19850312-****", created_via="import", customer_code="1001"))
    registry.close()


@pytest.fixture
def chain_db(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create_database("chain")
    seed_anna(url)
    yield url
    postgres_server.drop_database(url)


@pytest.fixture
def bridges(chain_db: str, tmp_path: Path) -> Iterator[tuple[BridgeProcess, BridgeProcess]]:
    """Two bridge processes of one chain, as a proxy would have them behind it."""
    a = BridgeProcess(tmp_path / "a", db_url=chain_db)
    b = BridgeProcess(tmp_path / "b", db_url=chain_db)
    try:
        for bridge in (a, b):
            bridge.workdir.mkdir()
            bridge.start()
        yield a, b
    finally:  # also when one failed to start: nothing may outlive the test
        for bridge in (a, b):
            bridge.stop()
    for bridge in (a, b):
        log = bridge.log_path.read_text(errors="replace")
        assert "Traceback" not in log, log[-3000:]
        assert ANNA_PNR not in log and NEW_PNR not in log  # no personal data in logs


@contextlib.contextmanager
def table_lock(db_url: str, mode: str) -> Iterator[Connection]:
    """Hold a lock on the customers table until the block ends."""
    engine = create_engine(db_url, poolclass=NullPool)
    with engine.connect() as conn:
        conn.execute(text(f"LOCK TABLE customers IN {mode} MODE"))
        yield conn
        conn.rollback()
    engine.dispose()


def wait_until_blocked_on_customers(db_url: str, timeout: float = 20.0) -> None:
    """Return once some session waits for a lock on the customers table."""
    engine = create_engine(db_url, poolclass=NullPool)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                waiting = conn.execute(text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'customers' AND NOT l.granted")).scalar()
            if waiting:
                return
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise AssertionError("no bridge query waited for the customers table")


def customers_with(db_url: str, pnr: str) -> list[str]:
    registry = Registry.open(db_url)
    try:
        key = MatchKey(kind="personal_id_fingerprint", value=registry.fingerprint(pnr),
                       reading="personnummer")
        found = registry.customers.find([key])
        with registry.engine.connect() as conn:
            total = conn.execute(text(
                "SELECT count(*) FROM customers WHERE personal_id_fingerprint = :fp"),
                {"fp": key.value}).scalar()
        assert total == (1 if found else 0)
        return [found[0].first_name] if found else []
    finally:
        registry.close()


async def to_numpad(kiosk: Device, register: Device, sale: str = "s1") -> None:
    await register.send(type="start_sale", sale_id=sale)
    await kiosk.next("state", phase="choosing")
    await kiosk.send(type="choose", method="numpad")
    await kiosk.next("state", phase="identifying")


async def test_kiosk_on_one_process_and_register_on_another_are_one_lane(
        bridges: tuple[BridgeProcess, BridgeProcess]) -> None:
    a, b = bridges
    async with device(a, "kiosk") as kiosk, device(b, "register") as register:
        await to_numpad(kiosk, register)
        await kiosk.send(type="submit_id", digits=ANNA_PNR)
        event = await register.next("customer_connected")
        assert event["customer"]["customer_code"] == "1001" and event["sale_id"] == "s1"
        welcome = await kiosk.next("state", phase="connected")
        assert welcome["view"]["first_name"] == "Anna"
        await register.send(type="end_sale", sale_id="s1")
        await kiosk.next("state", phase="idle")


async def test_a_new_member_confirmed_on_another_process_is_created_once(
        bridges: tuple[BridgeProcess, BridgeProcess], chain_db: str) -> None:
    a, b = bridges
    async with device(a, "kiosk") as kiosk, device(b, "register") as register:
        await to_numpad(kiosk, register)
        await kiosk.send(type="submit_id", digits=NEW_PNR)
        await kiosk.next("state", phase="ask_member")
        await kiosk.send(type="member_answer", accept=True)
        prompt = (await register.next("member_prompt"))["prompt"]
        details = {"first_name": "Berit", "last_name": "Berg"}
        await register.send(type="confirm_member", prompt_id=prompt["prompt_id"],
                            details=details)
        event = await register.next("customer_connected")
        assert event["customer"]["is_new"] is True
        assert (await kiosk.next("state", phase="connected"))["view"]["first_name"] == "Berit"
    assert customers_with(chain_db, NEW_PNR) == ["Berit"]


async def test_process_killed_mid_creation_another_takes_over_and_creates_once(
        bridges: tuple[BridgeProcess, BridgeProcess], chain_db: str) -> None:
    a, b = bridges
    async with device(a, "kiosk") as kiosk:
        async with device(b, "register") as register:
            await to_numpad(kiosk, register)
            await kiosk.send(type="submit_id", digits=NEW_PNR)
            await kiosk.next("state", phase="ask_member")
            await kiosk.send(type="member_answer", accept=True)
            prompt = (await register.next("member_prompt"))["prompt"]
            # Inserts wait; reads (the lane, the duplicate guard) do not.
            with table_lock(chain_db, "SHARE"):
                await register.send(type="confirm_member", prompt_id=prompt["prompt_id"],
                                    details={"first_name": "Cecilia", "last_name": "Ek"})
                await asyncio.to_thread(wait_until_blocked_on_customers, chain_db)
                b.kill()  # the process creating the customer dies half-way
        # The register's connection died with B; it reconnects through the proxy, to A.
        async with device(a, "register") as register:
            state = await register.next("state", phase="connected", timeout=30)
            assert state["view"]["customer"]["first_name"] == "Cecilia"
        welcome = await kiosk.next("state", phase="connected")
        assert welcome["view"]["first_name"] == "Cecilia"
    assert customers_with(chain_db, NEW_PNR) == ["Cecilia"]
    assert "lane_resumed" in a.log_path.read_text()


async def test_process_killed_mid_identification_another_finishes_it(
        bridges: tuple[BridgeProcess, BridgeProcess], chain_db: str) -> None:
    a, b = bridges
    async with device(a, "register") as register:
        async with device(b, "kiosk") as kiosk:
            await to_numpad(kiosk, register)
            with table_lock(chain_db, "ACCESS EXCLUSIVE"):  # even reads wait
                await kiosk.send(type="submit_id", digits=ANNA_PNR)
                await asyncio.to_thread(wait_until_blocked_on_customers, chain_db)
                b.kill()
        event = await register.next("customer_connected", timeout=30)
        assert event["customer"]["customer_code"] == "1001"
        async with device(a, "kiosk") as kiosk:  # the kiosk comes back through the proxy
            state = await kiosk.next("state")
            assert (state["phase"], state["view"]["first_name"]) == ("connected", "Anna")


async def test_one_shopper_at_two_registers_on_two_processes_is_one_customer(
        bridges: tuple[BridgeProcess, BridgeProcess], chain_db: str) -> None:
    a, b = bridges
    lanes = (("lane-1", a, b), ("lane-2", b, a))
    async with contextlib.AsyncExitStack() as stack:
        pairs = []
        for lane, kiosk_at, register_at in lanes:
            kiosk = await stack.enter_async_context(device(kiosk_at, "kiosk", lane))
            register = await stack.enter_async_context(device(register_at, "register", lane))
            pairs.append((kiosk, register))
        prompts = []
        for kiosk, register in pairs:
            await to_numpad(kiosk, register)
            await kiosk.send(type="submit_id", digits=NEW_PNR)
            await kiosk.next("state", phase="ask_member")
            await kiosk.send(type="member_answer", accept=True)
            prompts.append((await register.next("member_prompt"))["prompt"]["prompt_id"])
        # Both cashiers press Create at the same moment.
        await asyncio.gather(*(register.send(type="confirm_member", prompt_id=pid,
                                             details={"first_name": "Dana", "last_name": "Dahl"})
                               for (_, register), pid in zip(pairs, prompts, strict=True)))
        events = [await register.next("customer_connected") for _, register in pairs]
    ids = {e["customer"]["id"] for e in events}
    assert len(ids) == 1, events
    assert customers_with(chain_db, NEW_PNR) == ["Dana"]


async def test_workers_share_one_port_and_serve_one_chain(chain_db: str, tmp_path: Path) -> None:
    bridge = BridgeProcess(tmp_path, db_url=chain_db)
    bridge.start(args=("--workers", "2"))
    try:
        ready = bridge.get("/ready")
        assert ready is not None and ready["status"] == "ready"
        async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
            await to_numpad(kiosk, register)
            await kiosk.send(type="submit_id", digits=ANNA_PNR)
            event = await register.next("customer_connected")
            assert event["customer"]["customer_code"] == "1001"
            assert (await kiosk.next("state", phase="connected"))["view"]["first_name"] == \
                "Anna"
    finally:
        bridge.stop()
    log = bridge.log_path.read_text(errors="replace")
    assert log.count("bus_listening") == 2, log[-3000:]  # two processes, each on the bus
    assert "Traceback" not in log


async def test_via_mobil_across_processes_with_one_shared_code_key(
        chain_db: str, tmp_path: Path) -> None:
    """The kiosk's code comes from process A; the phone's request lands on process B."""
    from simulator.phone import Phone

    shared = {"SELFREG_MOBILE_TOKEN_KEY": "chain-wide-secret-for-phone-codes"}
    a = BridgeProcess(tmp_path / "a", db_url=chain_db)
    b = BridgeProcess(tmp_path / "b", db_url=chain_db)
    try:
        for bridge in (a, b):
            bridge.workdir.mkdir()
            bridge.start(env=shared)
        async with device(a, "kiosk") as kiosk, device(b, "register") as register:
            await register.send(type="start_sale", sale_id="s1")
            await kiosk.next("state", phase="choosing")
            await kiosk.send(type="choose", method="mobile")
            shown = await kiosk.next("state", phase="identifying")
            url = shown["view"]["mobile_url"]
            assert url and url.startswith(a.http_url + "/m/")
            phone = Phone()
            form = await asyncio.to_thread(phone.open, url.replace(a.http_url, b.http_url))
            assert form.status == 200, form.text[:300]
            await asyncio.to_thread(phone.send, "Anna", "Andersson", "070-123 45 67", ANNA_PNR)
            event = await register.next("customer_connected")
            assert event["customer"]["customer_code"] == "1001"
            assert (await kiosk.next("state", phase="connected"))["view"]["first_name"] == \
                "Anna"
    finally:
        for bridge in (a, b):
            bridge.stop()
    for bridge in (a, b):
        assert "Traceback" not in bridge.log_path.read_text(errors="replace")
