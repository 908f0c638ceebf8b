"""The lane store: transitions as transactions, pending effects and who drives them."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from cashier_bridge.lanes.lane import Lane
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.registry.lane_store import PROCESS_LOCK_CLASS, LaneWrite, SaleLink
from cashier_bridge.registry.schema import lanes, sales
from tests.pg_server import PostgresServer

ME, OTHER = 101, 202


def _write(lane: Lane, *, pending: bool = False, link: SaleLink | None = None) -> LaneWrite:
    return LaneWrite(state_json=lane.model_dump_json(), seq=lane.seq, pending=pending,
                     outbox=f'{{"seq": {lane.seq}}}', sale_link=link)


def _advance(registry: Registry, name: str, *, pending: bool = False, driver: int = ME,
             link: SaleLink | None = None) -> Lane:
    seen: list[Lane] = []

    def step(stored: str | None) -> LaneWrite:
        before = Lane.model_validate_json(stored) if stored else Lane(name=name)
        after = before.model_copy(update={"seq": before.seq + 1})
        seen.append(after)
        return _write(after, pending=pending, link=link)

    registry.lanes.transact(name, driver, step)
    return seen[-1]


def test_unknown_lane_has_no_state(registry: Registry) -> None:
    assert registry.lanes.load("lane-1") is None


def test_each_transition_reads_the_stored_state_and_replaces_it(registry: Registry) -> None:
    for _ in range(3):
        _advance(registry, "lane-1")
    _advance(registry, "lane-2")
    assert Lane.model_validate_json(registry.lanes.load("lane-1")).seq == 3
    assert Lane.model_validate_json(registry.lanes.load("lane-2")).seq == 1
    with registry.engine.connect() as conn:
        rows = conn.execute(select(lanes.c.name, lanes.c.seq).order_by(lanes.c.name)).all()
    assert [tuple(r) for r in rows] == [("lane-1", 3), ("lane-2", 1)]


def test_a_step_that_raises_changes_nothing(registry: Registry) -> None:
    _advance(registry, "lane-1")

    def refuse(stored: str | None) -> LaneWrite:
        raise ValueError("not now")

    with pytest.raises(ValueError, match="not now"):
        registry.lanes.transact("lane-1", ME, refuse)
    assert Lane.model_validate_json(registry.lanes.load("lane-1")).seq == 1
    assert registry.lanes.transact("lane-1", ME, lambda stored: None) is None
    assert Lane.model_validate_json(registry.lanes.load("lane-1")).seq == 1


def test_concurrent_transitions_on_one_lane_lose_no_step(registry: Registry) -> None:
    threads = [threading.Thread(target=lambda: [_advance(registry, "busy") for _ in range(10)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Lane.model_validate_json(registry.lanes.load("busy")).seq == 40


def test_lane_state_survives_reopening(db_url: str) -> None:
    reg = Registry.open(db_url)
    _advance(reg, "lane-9", pending=True)
    reg.close()
    reopened = Registry.open(db_url)
    try:
        assert Lane.model_validate_json(reopened.lanes.load("lane-9")).seq == 1
        assert reopened.lanes.pending() == [("lane-9", ME)]
    finally:
        reopened.close()


def test_a_lane_with_an_effect_in_flight_names_its_driver_until_done(registry: Registry) -> None:
    _advance(registry, "lane-1", pending=True, driver=ME)
    _advance(registry, "lane-2")
    assert registry.lanes.pending() == [("lane-1", ME)]
    _advance(registry, "lane-1", pending=False, driver=ME)
    assert registry.lanes.pending() == []


def test_a_pending_lane_whose_driver_is_gone_is_taken_over_once(registry: Registry) -> None:
    # OTHER holds no process lock (on SQLite: is not this process), so it is gone.
    _advance(registry, "lane-1", pending=True, driver=OTHER)
    state = registry.lanes.take_over("lane-1", ME)
    assert state is not None and Lane.model_validate_json(state).seq == 1
    assert registry.lanes.pending() == [("lane-1", ME)]
    assert registry.lanes.take_over("lane-1", ME) is not None  # asking again changes nothing
    assert registry.lanes.pending() == [("lane-1", ME)]


@pytest.mark.postgres
def test_a_living_driver_keeps_its_lane(postgres_server: PostgresServer) -> None:
    """PostgreSQL only: SQLite serves one bridge process, so there is no other living driver."""
    url = postgres_server.create_database("lanes")
    registry = Registry.open(url)
    try:
        _a_living_driver_keeps_its_lane(registry)
    finally:
        registry.close()
        postgres_server.drop_database(url)


def _a_living_driver_keeps_its_lane(registry: Registry) -> None:
    _advance(registry, "lane-1", pending=True, driver=OTHER)
    with registry.engine.connect() as conn:  # OTHER's process lock, as its bus holds it
        conn.execute(text("SELECT pg_advisory_lock(:c, :k)"),
                     {"c": PROCESS_LOCK_CLASS, "k": OTHER})
        assert registry.lanes.take_over("lane-1", ME) is None
        assert registry.lanes.pending() == [("lane-1", OTHER)]
        assert registry.lanes.pending(me=ME) == []  # nothing for ME while OTHER lives
        conn.execute(text("SELECT pg_advisory_unlock(:c, :k)"),
                     {"c": PROCESS_LOCK_CLASS, "k": OTHER})
    assert registry.lanes.pending(me=ME) == [("lane-1", OTHER)]  # OTHER is gone
    assert registry.lanes.take_over("lane-1", ME) is not None
    assert registry.lanes.pending() == [("lane-1", ME)]


def test_a_lane_that_is_not_pending_is_not_taken_over(registry: Registry) -> None:
    _advance(registry, "lane-1", pending=False)
    assert registry.lanes.take_over("lane-1", ME) is None
    assert registry.lanes.take_over("nowhere", ME) is None


def test_connecting_a_customer_links_the_sale_in_the_same_transaction(
        registry: Registry) -> None:
    anna, _ = registry.customers.create_new("a", NewCustomer("Anna", "Andersson"))
    erik, _ = registry.customers.create_new("e", NewCustomer("Erik", "Johansson"))
    _advance(registry, "lane-1", link=SaleLink("S1", anna.id))
    _advance(registry, "lane-1", link=SaleLink("S1", erik.id))
    _advance(registry, "lane-2", link=SaleLink("S1", anna.id))

    def fail_after_linking(stored: str | None) -> LaneWrite:
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        registry.lanes.transact("lane-2", ME, fail_after_linking)
    with registry.engine.connect() as conn:
        linked = conn.execute(select(sales.c.lane, sales.c.sale_id, sales.c.customer_id)
                              .order_by(sales.c.lane)).all()
    assert [tuple(r) for r in linked] == [("lane-1", "S1", erik.id), ("lane-2", "S1", anna.id)]


def test_other_processes_read_what_to_tell_their_devices_in_order(registry: Registry) -> None:
    for _ in range(3):
        _advance(registry, "lane-1")
    if not registry.lanes.shared:
        assert registry.lanes.outbox_since("lane-1", 0) == []  # one process: told directly
        return
    assert registry.lanes.outbox_since("lane-1", 1) == [(2, '{"seq": 2}'), (3, '{"seq": 3}')]
    assert registry.lanes.prune_outbox() == 0
