"""The bridge's worker pools: each kind of work has its own threads, and a full pool refuses at
once instead of queueing behind everyone."""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading

import pytest

from cashier_bridge.pools import Busy, Pool, Pools

who = contextvars.ContextVar("who", default="nobody")


async def test_a_full_pool_refuses_at_once_and_takes_calls_again_when_one_ends() -> None:
    pool = Pool("passwords", threads=1, limit=2)
    release = threading.Event()
    started = threading.Event()

    def slow() -> str:
        started.set()
        release.wait(10)
        return "hashed"

    running = asyncio.ensure_future(pool.run(slow))
    waiting = asyncio.ensure_future(pool.run(lambda: "second"))
    await asyncio.to_thread(started.wait, 10)
    with pytest.raises(Busy) as refused:
        await pool.run(lambda: "third")
    assert "busy" in str(refused.value) and refused.value.pool == "passwords"
    release.set()
    assert await running == "hashed"
    assert await waiting == "second"
    assert await pool.run(lambda: "fourth") == "fourth"
    pool.close()


async def test_lane_work_is_not_held_up_by_a_busy_password_pool() -> None:
    pools = Pools()
    release = threading.Event()
    started = threading.Event()

    def hashing() -> None:
        started.set()
        release.wait(10)

    hashes = [asyncio.ensure_future(pools.passwords.run(hashing)) for _ in range(4)]
    await asyncio.to_thread(started.wait, 10)
    # Every password slot is taken, yet a lane step runs at once on its own threads.
    assert await pools.lanes.run(lambda: "step") == "step"
    with pytest.raises(Busy):
        await pools.passwords.run(hashing)
    release.set()
    await asyncio.gather(*hashes)
    pools.close()


async def test_the_callers_context_goes_with_the_call() -> None:
    pool = Pool("lanes", threads=2)
    who.set("lane-1")
    assert await pool.run(who.get) == "lane-1"
    pool.close()


def test_a_pool_needs_room_for_its_threads() -> None:
    with pytest.raises(ValueError):
        Pool("x", threads=2, limit=1)


async def test_password_work_yields_the_cpu_to_the_lanes() -> None:
    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def started_thread_priority() -> int:
        # argon2 starts threads of its own (parallelism 4): they inherit the low priority.
        seen: list[int] = []
        helper = threading.Thread(target=lambda: seen.append(priority()))
        helper.start()
        helper.join()
        return seen[0]

    pools = Pools()
    try:
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert await pools.passwords.run(priority) == min(19, own + 19)
        assert await pools.passwords.run(started_thread_priority) == min(19, own + 19)
        assert await pools.lanes.run(priority) == own
        assert os.getpriority(os.PRIO_PROCESS, 0) == own  # the process itself is untouched
    finally:
        pools.close()
