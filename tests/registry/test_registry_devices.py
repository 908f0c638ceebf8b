"""Pairing tokens: only a device paired for a lane and role may act on it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from cashier_bridge.registry import Registry


def test_a_paired_register_is_allowed_on_its_lane_only(registry: Registry) -> None:
    device = registry.devices.pair("lane-1", "register", label="Kassa 1")
    assert len(device.token) >= 40
    assert registry.devices.allowed("lane-1", "register", device.token)
    assert not registry.devices.allowed("lane-2", "register", device.token)
    assert not registry.devices.allowed("lane-1", "kiosk", device.token)
    assert not registry.devices.allowed("lane-1", "register", device.token + "x")
    assert not registry.devices.allowed("lane-1", "register", None)


def test_tokens_are_not_stored(registry: Registry) -> None:
    device = registry.devices.pair("lane-1", "kiosk")
    with registry.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM devices")).scalar_one()
    assert device.token not in stored and len(stored) == 64


def test_revoked_tokens_stop_working(registry: Registry) -> None:
    kiosk = registry.devices.pair("lane-1", "kiosk")
    register = registry.devices.pair("lane-1", "register")
    assert registry.devices.revoke("lane-1", "kiosk") == 1
    assert not registry.devices.allowed("lane-1", "kiosk", kiosk.token)
    assert registry.devices.allowed("lane-1", "register", register.token)


def test_unknown_roles_are_refused(registry: Registry) -> None:
    with pytest.raises(ValueError, match="kiosk"):
        registry.devices.pair("lane-1", "toaster")


def test_many_devices_are_paired_at_once_or_none_are(registry: Registry) -> None:
    paired = registry.devices.pair_many(
        [(f"bench-{i}", role) for i in range(3) for role in ("kiosk", "register")])
    assert len({d.token for d in paired}) == 6
    assert all(registry.devices.allowed(d.lane, d.role, d.token) for d in paired)
    assert not registry.devices.allowed("bench-1", "kiosk", paired[0].token)
    with pytest.raises(ValueError, match="kiosk"):
        registry.devices.pair_many([("lane-9", "kiosk"), ("lane-9", "toaster")])
    with registry.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM devices")).scalar_one() == 6
