"""Faults a shop lives through: the database going away, the power going out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from stdnum import luhn

from cashier_bridge.lanes import lane as machine
from cashier_bridge.lanes import presenting
from cashier_bridge.lanes.hub import Delivery
from cashier_bridge.lanes.lane import CreateCustomer, Lane, Lookup
from cashier_bridge.protocol import MemberDetails, Method, dump
from cashier_bridge.registry import Registry
from cashier_bridge.registry.lane_store import LaneWrite
from simulator.processes import FLAT_OUT, BridgeProcess
from tests.chain.test_chain import (
    ANNA_PNR,
    NEW_PNR,
    customers_with,
    device,
    seed_anna,
    to_numpad,
)
from tests.pg_server import UNAVAILABLE, Cluster, start_cluster


@pytest.fixture
def own_postgres() -> Iterator[Cluster]:
    """A PostgreSQL server of this test's own, which it may stop and start."""
    cluster = start_cluster()
    if cluster is None:
        pytest.skip(UNAVAILABLE)
    yield cluster
    cluster.stop()


def ready_status(bridge: BridgeProcess) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(bridge.http_url + "/ready", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.postgres
async def test_database_outage_is_survived_without_restarting_the_bridge(
        own_postgres: Cluster, tmp_path: Path) -> None:
    url = own_postgres.admin_url.set(drivername="postgresql+psycopg").render_as_string(
        hide_password=False)
    seed_anna(url)
    bridge = BridgeProcess(tmp_path, db_url=url)
    bridge.start()
    try:
        async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
            await to_numpad(kiosk, register)
            own_postgres.pause()
            # The shopper presses OK while the registry is away: told to try again shortly.
            await kiosk.send(type="submit_id", digits=ANNA_PNR)
            error = await kiosk.next("error")
            assert error["code"] == "unavailable" and "try again" in error["message"]
            # The cashier's action gets the same clear answer, and changes nothing.
            await register.send(type="end_sale", sale_id="s1")
            assert (await register.next("error"))["code"] == "unavailable"
            status, body = ready_status(bridge)
            assert (status, body["reason"]) == (503, "database")

            own_postgres.resume()
            while ready_status(bridge)[0] != 200:  # the bridge notices by itself
                await asyncio.sleep(0.1)
            await kiosk.send(type="submit_id", digits=ANNA_PNR)
            event = await register.next("customer_connected")
            assert event["customer"]["customer_code"] == "1001" and event["sale_id"] == "s1"
            assert (await kiosk.next("state", phase="connected"))["view"]["first_name"] == \
                "Anna"
    finally:
        bridge.stop()
    log = bridge.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "registry_unavailable" in log
    assert '"reconnected": true' in log or "reconnected=True" in log


def _personnummer(n: int) -> str:
    body = f"770101{100 + n:03d}"
    return f"19{body}{luhn.calc_check_digit(body)}"


async def test_power_loss_during_a_burst_keeps_every_acknowledged_customer(
        tmp_path: Path) -> None:
    """kill -9 while several lanes create members: every creation the register was told of
    is in the database when it opens again, and the lanes resume with no twin."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    bridge = BridgeProcess(tmp_path, db_url=url)
    bridge.start(env=FLAT_OUT)  # each lane creates member after member, faster than a shopper
    acknowledged: dict[str, int] = {}
    enough = asyncio.Event()
    counter = iter(range(1000))

    async def lane_loop(lane: str) -> None:
        async with device(bridge, "kiosk", lane) as kiosk, \
                device(bridge, "register", lane) as register:
            for sale in range(100):
                pnr = _personnummer(next(counter))
                await to_numpad(kiosk, register, sale=f"{lane}-{sale}")
                await kiosk.send(type="submit_id", digits=pnr)
                await kiosk.next("state", phase="ask_member")
                await kiosk.send(type="member_answer", accept=True)
                prompt = (await register.next("member_prompt"))["prompt"]
                await register.send(type="confirm_member", prompt_id=prompt["prompt_id"],
                                    details={"first_name": "Eva", "last_name": lane})
                event = await register.next("customer_connected")
                acknowledged[pnr] = event["customer"]["id"]
                if len(acknowledged) >= 12:
                    enough.set()
                await register.send(type="end_sale", sale_id=f"{lane}-{sale}")
                await kiosk.next("state", phase="idle")

    tasks = [asyncio.create_task(lane_loop(f"lane-{i}")) for i in range(4)]
    try:
        await asyncio.wait_for(enough.wait(), 120)
    finally:
        bridge.kill()  # the plug is pulled while the other lanes are mid-way (or the test failed)
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, Exception) for r in done)  # every lane lost its bridge
    told = dict(acknowledged)

    # The file opens cleanly and holds every customer whose creation was acknowledged.
    with sqlite3.connect(tmp_path / "shop.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    for pnr in told:
        assert customers_with(url, pnr) == ["Eva"], pnr

    # Back on: every lane resumes; a register repeating its confirm makes no twin.
    bridge.start()
    try:
        for i in range(4):
            async with device(bridge, "register", f"lane-{i}") as register:
                state = await register.next("state")
                prompt = state["view"]["prompt"]
                if state["phase"] == "await_cashier" and prompt:
                    await register.send(type="confirm_member", prompt_id=prompt["prompt_id"],
                                        details={"first_name": "Eva", "last_name": "again"})
                    # The sweep may finish a creation that was in flight before this confirm
                    # lands: either way the lane ends connected, once.
                    await register.next("state", phase="connected")
    finally:
        bridge.stop()
    registry = Registry.open(url)
    try:
        with registry.engine.connect() as conn:
            twins = conn.execute(text(
                "SELECT count(*) FROM (SELECT personal_id_fingerprint FROM customers "
                "GROUP BY personal_id_fingerprint HAVING count(*) > 1)")).scalar()
        assert twins == 0
    finally:
        registry.close()
    assert "Traceback" not in bridge.log_path.read_text(errors="replace")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB file system of the test's own, to fill up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # A full disk needs a file system of the test's own; CI runs as root and can mount one.
        pytest.fail(f"cannot mount a small tmpfs (run the tests as root, as CI does): "
                    f"{done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk``; the file to delete to give them back."""
    filler = disk / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    with contextlib.suppress(OSError):
        os.sync()
    return filler


async def test_a_full_disk_is_a_clear_error_and_nothing_is_half_written(
        small_disk: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{small_disk / 'shop.db'}"
    bridge = BridgeProcess(tmp_path, db_url=url)
    bridge.start()
    try:
        async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
            await to_numpad(kiosk, register)
            await kiosk.send(type="submit_id", digits=NEW_PNR)
            await kiosk.next("state", phase="ask_member")
            await kiosk.send(type="member_answer", accept=True)
            prompt = (await register.next("member_prompt"))["prompt"]
            filler = fill(small_disk)
            details = {"first_name": "Hugo", "last_name": "Holm"}
            await register.send(type="confirm_member", prompt_id=prompt["prompt_id"],
                                details=details)
            error = await register.next("error")
            assert error["code"] == "storage_full" and "disk is full" in error["message"]
            assert customers_with(url, NEW_PNR) == []  # nothing half-written
            filler.unlink()  # IT frees space; the cashier presses Create again
            await register.send(type="confirm_member", prompt_id=prompt["prompt_id"],
                                details=details)
            event = await register.next("customer_connected")
            assert event["customer"]["first_name"] == "Hugo"
    finally:
        bridge.stop()
    assert customers_with(url, NEW_PNR) == ["Hugo"]
    with sqlite3.connect(small_disk / "shop.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    log = bridge.log_path.read_text(errors="replace")
    assert "registry_storage_full" in log and "Traceback" not in log, log[-3000:]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shop_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
        seed_anna(url)
        yield url
        return
    server = request.getfixturevalue("postgres_server")
    url = server.create_database("faults")
    seed_anna(url)
    yield url
    server.drop_database(url)


def _as_if_killed_during(db_url: str, lane_name: str, step: object) -> None:
    """Store the lane exactly as a bridge stores it right before carrying out an effect —
    what a bridge killed at that moment leaves behind — with a driver that is long gone."""
    registry = Registry.open(db_url)
    try:
        def write(stored: str | None) -> LaneWrite:
            lane = Lane.model_validate_json(stored or "")
            after, effects = step(lane)  # type: ignore[operator]
            assert any(isinstance(e, Lookup | CreateCustomer) for e in effects)
            return LaneWrite(state_json=after.model_dump_json(), seq=after.seq, pending=True,
                             outbox=Delivery(seq=after.seq, events=[],
                                             kiosk_state=dump(machine.kiosk_state(after)),
                                             register_state=dump(machine.register_state(after))
                                             ).model_dump_json())
        registry.lanes.transact(lane_name, 7, write)
    finally:
        registry.close()


async def test_bridge_killed_mid_creation_creates_the_customer_once_on_restart(
        shop_db: str, tmp_path: Path) -> None:
    bridge = BridgeProcess(tmp_path, db_url=shop_db)
    bridge.start()
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await to_numpad(kiosk, register)
        await kiosk.send(type="submit_id", digits=NEW_PNR)
        await kiosk.next("state", phase="ask_member")
        await kiosk.send(type="member_answer", accept=True)
        prompt_id = (await register.next("member_prompt"))["prompt"]["prompt_id"]
        bridge.kill()
    details = MemberDetails(first_name="Ida", last_name="Isaksson")
    _as_if_killed_during(shop_db, "lane-1",
                         lambda lane: machine.confirm_member(lane, prompt_id, details))
    bridge.start()
    try:
        async with device(bridge, "register") as register, device(bridge, "kiosk") as kiosk:
            state = await register.next("state", phase="connected")
            assert state["view"]["customer"]["first_name"] == "Ida"
            assert (await kiosk.next("state", phase="connected"))["view"]["first_name"] == "Ida"
            # The POS, unsure whether its confirm went through, repeats it: nothing more.
            await register.send(type="confirm_member", prompt_id=prompt_id,
                                details=details.model_dump())
            await register.send(type="ping")
            await register.next("pong")
    finally:
        bridge.stop()
    assert customers_with(shop_db, NEW_PNR) == ["Ida"]
    assert "lane_resumed" in bridge.log_path.read_text()


async def test_bridge_killed_mid_identification_finishes_it_on_restart(
        shop_db: str, tmp_path: Path) -> None:
    bridge = BridgeProcess(tmp_path, db_url=shop_db)
    bridge.start()
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await to_numpad(kiosk, register)
        bridge.kill()
    registry = Registry.open(shop_db)
    fingerprint = registry.fingerprint
    _as_if_killed_during(shop_db, "lane-1", lambda lane: presenting.present(
        lane, ANNA_PNR, Method.numpad, lookup_id="lookup-before-the-crash",
        fingerprint=fingerprint))
    registry.close()
    bridge.start()
    try:
        async with device(bridge, "register") as register:
            state = await register.next("state", phase="connected")
            assert state["view"]["customer"]["customer_code"] == "1001"
            assert state["view"]["sale_id"] == "s1"
    finally:
        bridge.stop()
    assert "Traceback" not in bridge.log_path.read_text()
