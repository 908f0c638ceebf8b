"""What other processes' devices are told: from the notification when it fits, else the outbox."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from cashier_bridge.lanes import lane as machine
from cashier_bridge.lanes.hub import LaneHub
from cashier_bridge.protocol import Hello, Method, Role
from cashier_bridge.registry import Registry
from tests.pg_server import PostgresServer

pytestmark = pytest.mark.postgres


class Screen:
    role = Role.kiosk
    lane = ""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def send(self, text: str) -> None:
        self.seen.append(text)


@pytest.fixture
def registry(postgres_server: PostgresServer) -> Iterator[Registry]:
    url = postgres_server.create_database("bus")
    reg = Registry.open(url)
    yield reg
    reg.close()
    postgres_server.drop_database(url)


async def test_steps_reach_devices_in_order_with_or_without_a_body(registry: Registry) -> None:
    here = LaneHub(registry)  # this process: its kiosk is attached here
    screen = Screen()
    await here.attach(screen, Hello(role=Role.kiosk, lane="lane-1"))
    other = LaneHub(registry)  # the process that makes the steps

    writes = []
    for step in (lambda ln: machine.start_sale(ln, "s1"),
                 lambda ln: machine.choose(ln, Method.numpad),
                 lambda ln: machine.cancel(ln)):
        writes.append(registry.lanes.transact(
            "lane-1", other.process_key,
            lambda stored, step=step: other._step(
                "lane-1", stored, step, [])))  # what `apply` stores, bodies included
    assert [w.seq for w in writes] == [1, 2, 3]
    # Step 1 came with its body, step 2 was too large for a notification (none), step 3 did.
    here.notified("lane-1", 1, writes[0].outbox)
    here.notified("lane-1", 2, None)
    here.notified("lane-1", 3, writes[2].outbox)
    slot = here._slots["lane-1"]
    while slot.catching_up is not None and not slot.catching_up.done():
        await slot.catching_up
    states = [json.loads(text) for text in screen.seen[2:]]  # after welcome and first view
    assert [(s["seq"], s["phase"]) for s in states] == [
        (1, "choosing"), (2, "identifying"), (3, "choosing")]
    assert slot.inbox == {}
