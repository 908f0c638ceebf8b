"""/health's customer count: exact for a small registry, counted now and then for a big one."""

from __future__ import annotations

import asyncio

import pytest

from cashier_bridge.web.health import EXACT_BELOW, MAX_AGE_S, CustomerCount


class Registry:
    def __init__(self, customers: int) -> None:
        self.customers = customers
        self.counts = 0
        self.pings = 0
        self.away = False

    def count(self) -> int:
        self.counts += 1
        return self.customers

    def ping(self) -> None:
        self.pings += 1
        if self.away:
            raise OSError("the database is away")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_small_registry_is_counted_on_every_request() -> None:
    registry = Registry(3)
    count = CustomerCount(registry.count, registry.ping, clock=Clock())
    assert await count.get() == (3, 0.0)
    registry.customers = 4  # a customer was created
    assert await count.get() == (4, 0.0)


async def test_a_big_registry_is_counted_again_only_when_the_figure_is_old() -> None:
    registry, clock = Registry(EXACT_BELOW * 100), Clock()
    count = CustomerCount(registry.count, registry.ping, clock=clock)
    count.start()
    assert await count.get() == (EXACT_BELOW * 100, 0.0)
    registry.customers += 1
    clock.now += MAX_AGE_S - 1
    assert await count.get() == (EXACT_BELOW * 100, MAX_AGE_S - 1)  # the figure it has
    assert registry.counts == 1 and registry.pings == 2  # the database answered each time
    clock.now += 1
    await count.get()  # old now: counted again in the background
    await count.counted()
    assert registry.counts == 2
    assert await count.get() == (EXACT_BELOW * 100 + 1, 0.0)


async def test_a_big_registry_whose_database_is_away_is_not_reported_healthy() -> None:
    registry = Registry(EXACT_BELOW)
    count = CustomerCount(registry.count, registry.ping, clock=Clock())
    await count.get()
    registry.away = True
    with pytest.raises(OSError):
        await count.get()


async def test_the_first_request_waits_for_the_count_begun_at_start() -> None:
    registry = Registry(EXACT_BELOW * 10)
    count = CustomerCount(registry.count, registry.ping, clock=Clock())
    count.start()
    assert (await asyncio.gather(count.get(), count.get())) == [(EXACT_BELOW * 10, 0.0)] * 2
    assert registry.counts == 1
