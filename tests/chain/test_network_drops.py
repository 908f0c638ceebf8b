"""The network between a device and the bridge drops during the cashier's confirmation."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets

from simulator.netfault import NetworkFault
from simulator.processes import BridgeProcess
from tests.chain.test_chain import NEW_PNR, Device, customers_with, device, to_numpad


@pytest.fixture
async def bridge(db_url: str, tmp_path: Path) -> AsyncIterator[BridgeProcess]:
    b = BridgeProcess(tmp_path, db_url=db_url)
    b.start()
    yield b
    b.stop()
    assert "Traceback" not in b.log_path.read_text(errors="replace")


@contextlib.asynccontextmanager
async def cable(bridge: BridgeProcess) -> AsyncIterator[NetworkFault]:
    fault = NetworkFault("127.0.0.1", bridge.port)
    await fault.start()
    try:
        yield fault
    finally:
        await fault.close()


async def _until_prompt(kiosk: Device, register: Device) -> str:
    await to_numpad(kiosk, register)
    await kiosk.send(type="submit_id", digits=NEW_PNR)
    await kiosk.next("state", phase="ask_member")
    await kiosk.send(type="member_answer", accept=True)
    return str((await register.next("member_prompt"))["prompt"]["prompt_id"])


async def _gone(d: Device) -> None:
    with pytest.raises(websockets.ConnectionClosed):
        await d.next("never")


async def test_kiosk_cut_off_while_the_cashier_confirms(bridge: BridgeProcess,
                                                        db_url: str) -> None:
    async with cable(bridge) as net, device(bridge, "register") as register:
        async with device(bridge, "kiosk", via=net.url) as kiosk:
            prompt_id = await _until_prompt(kiosk, register)
            net.cut()
            await _gone(kiosk)
        await register.send(type="confirm_member", prompt_id=prompt_id,
                            details={"first_name": "Frida", "last_name": "Falk"})
        event = await register.next("customer_connected")
        assert event["customer"]["is_new"] is True
        net.restore()
        async with device(bridge, "kiosk", via=net.url) as kiosk:  # the kiosk reconnects
            state = await kiosk.next("state")
            assert (state["phase"], state["view"]["first_name"]) == ("connected", "Frida")
        await register.send(type="end_sale", sale_id="s1")
        await register.next("state", phase="idle")  # the lane is not stuck
    assert customers_with(db_url, NEW_PNR) == ["Frida"]


async def test_register_cut_off_right_after_confirming_retries_without_a_twin(
        bridge: BridgeProcess, db_url: str) -> None:
    async with cable(bridge) as net, device(bridge, "kiosk") as kiosk:
        async with device(bridge, "register", via=net.url) as register:
            prompt_id = await _until_prompt(kiosk, register)
            details = {"first_name": "Gustav", "last_name": "Gran"}
            await register.send(type="confirm_member", prompt_id=prompt_id, details=details)
            net.cut()  # did the confirm arrive? the register cannot know
            await _gone(register)
        net.restore()
        async with device(bridge, "register", via=net.url) as register:
            state = await register.next("state")
            # A POS that is unsure repeats its confirm: the prompt id makes it harmless.
            await register.send(type="confirm_member", prompt_id=prompt_id, details=details)
            if state["phase"] != "connected":
                await register.next("state", phase="connected")
            await register.send(type="ping")
            await register.next("pong")
        welcome = await kiosk.next("state", phase="connected")
        assert welcome["view"]["first_name"] == "Gustav"
    assert customers_with(db_url, NEW_PNR) == ["Gustav"]
