"""Ange ID at a real bridge: a stranger at the kiosk trying number after number is paused, the
kiosk says for how long, and managers can see it happened."""

from __future__ import annotations

import datetime as dt
import json
import time

from stdnum import luhn

from cashier_bridge.registry import Registry
from cashier_bridge.registry.lookups import LIMITED, LOOKUP
from cashier_bridge.registry.schema import audit_log
from tests.bridge.test_bridge_server import ANNA_PNR, Bridge, bridge, db, device, start_numpad

__all__ = ["bridge", "db"]


def candidates(birth: str = "19900101", count: int = 7) -> list[str]:
    """Valid personnummer of one birth date: what a masked 19900101-**** leaves to try."""
    out = []
    for serial in range(100, 100 + count):
        body = f"{birth[2:]}{serial:03d}"
        out.append(f"{birth}{serial:03d}{luhn.calc_check_digit(body)}")
    return out


async def test_a_stranger_trying_numbers_at_the_kiosk_is_paused_and_managers_see_it(
        bridge: Bridge) -> None:
    tried = candidates()
    async with device(bridge, "kiosk") as kiosk, device(bridge, "register") as register:
        await start_numpad(kiosk, register)
        first_try = time.monotonic()
        for number in tried[:5]:  # nobody has them: each is a "become a member?"
            await kiosk.send(type="submit_id", digits=number)
            await kiosk.next("state", phase="ask_member")
            await kiosk.send(type="cancel")
            await kiosk.next("state", phase="choosing")
            await kiosk.send(type="choose", method="numpad")
            await kiosk.next("state", phase="identifying")
        # The sixth, even a member's number, is not looked up: the kiosk says to wait.
        await kiosk.send(type="submit_id", digits=ANNA_PNR)
        paused = await kiosk.next("state", phase="identifying")
        assert paused["view"]["notice"] == "too_many_tries"
        # The pause lasts until the first of the five leaves the minute, not a fixed time.
        since_first = time.monotonic() - first_try
        assert 60 - since_first - 1 <= paused["view"]["retry_in_s"] <= 60
        assert paused["view"]["first_name"] is None and paused["view"]["masked_id"] is None
        # The register was not told of a customer.
        await register.send(type="ping")
        while (message := json.loads(await register.ws.recv()))["type"] != "pong":
            assert message["type"] != "customer_connected"

    await bridge.app.state.hub.drain()  # the audit entries are written after their steps
    registry = Registry.open(bridge.db_url)
    try:
        hits = registry.lookups.limit_hits(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        assert [(h.actor, h.refused, h.looked_up) for h in hits] == [("kiosk:lane-1", 1, 5)]
        with registry.engine.connect() as conn:
            details = [r.detail for r in conn.execute(
                audit_log.select().where(audit_log.c.action.in_([LOOKUP, LIMITED])))]
        assert details and not any(number[-4:] in d for d in details for number in tried)
    finally:
        registry.close()
