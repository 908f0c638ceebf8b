from __future__ import annotations

import json

from sqlalchemy import select

from cashier_bridge.lane import Lane
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.registry.schema import lanes, sales


def test_unknown_lane_has_no_state(registry: Registry) -> None:
    assert registry.load_lane("lane-1") is None


def test_lane_state_is_saved_replaced_and_kept_per_lane(registry: Registry) -> None:
    first = Lane(name="lane-1").model_dump_json()
    registry.save_lane("lane-1", first)
    assert registry.load_lane("lane-1") == first

    later = Lane(name="lane-1", seq=7, sale_id="S-Å-1").model_dump_json()
    registry.save_lane("lane-1", later)
    registry.save_lane("lane-2", json.dumps({"name": "lane-2"}))
    assert Lane.model_validate_json(registry.load_lane("lane-1")).seq == 7
    assert registry.load_lane("lane-1") == later
    assert json.loads(registry.load_lane("lane-2")) == {"name": "lane-2"}
    with registry.engine.connect() as conn:
        assert conn.execute(select(lanes.c.name).order_by(lanes.c.name)).scalars().all() == [
            "lane-1", "lane-2"]


def test_lane_state_survives_reopening(db_url: str) -> None:
    reg = Registry.open(db_url)
    reg.save_lane("lane-9", '{"seq": 3}')
    reg.close()
    reopened = Registry.open(db_url)
    try:
        assert reopened.load_lane("lane-9") == '{"seq": 3}'
    finally:
        reopened.close()


def test_sale_is_linked_to_the_latest_customer(registry: Registry) -> None:
    anna, _ = registry.create_customer("a", NewCustomer("Anna", "Andersson"))
    erik, _ = registry.create_customer("e", NewCustomer("Erik", "Johansson"))
    registry.link_sale("lane-1", "S1", anna.id)
    registry.link_sale("lane-1", "S1", erik.id)
    registry.link_sale("lane-2", "S1", anna.id)
    with registry.engine.connect() as conn:
        linked = conn.execute(select(sales.c.lane, sales.c.sale_id, sales.c.customer_id)
                              .order_by(sales.c.lane)).all()
    assert [tuple(r) for r in linked] == [("lane-1", "S1", erik.id), ("lane-2", "S1", anna.id)]
