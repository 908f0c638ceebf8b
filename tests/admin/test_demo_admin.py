"""./demo.sh's back office: the first run makes an admin and prints its password once."""

from __future__ import annotations

from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry import Registry
from cashier_bridge.registry.staff import SignedIn
from simulator.demo import DEMO_ADMIN, _demo_admin


def test_the_first_demo_makes_an_admin_who_can_sign_in_and_later_runs_make_none(
        db_url: str) -> None:
    password = _demo_admin(db_url)
    assert password is not None
    assert _demo_admin(db_url) is None  # an account exists: nothing new, nothing printed
    registry = Registry.open(db_url)
    try:
        (account,) = registry.staff.list()
        assert account.username == DEMO_ADMIN and account.role is StaffRole.admin
        assert isinstance(registry.staff.login(DEMO_ADMIN, password), SignedIn)
    finally:
        registry.close()
