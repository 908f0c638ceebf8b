"""Every role × every action: allowed, or refused with the reason a person reads; and the
README's table is the permissions table."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

from cashier_bridge import permissions
from cashier_bridge.permissions import Action, StaffRole, allowed, refusal

ROOT = Path(__file__).resolve().parents[2]
C, M, A = StaffRole.cashier, StaffRole.manager, StaffRole.admin

# The issue's rules, written out independently of the module: cashiers view, create and
# correct customers; managers also change credit terms, groups, bulk import/export, delete,
# merge and export personal data; only admins manage staff and settings.
EXPECTED: dict[Action, set[StaffRole]] = {
    Action.view_customers: {C, M, A},
    Action.create_customer: {C, M, A},
    Action.edit_customer: {C, M, A},
    Action.edit_credit_terms: {M, A},
    Action.manage_groups: {M, A},
    Action.import_customers: {M, A},
    Action.export_customers: {M, A},
    Action.delete_customer: {M, A},
    Action.merge_customers: {M, A},
    Action.export_personal_data: {M, A},
    Action.view_security_warnings: {M, A},
    Action.manage_staff: {A},
    Action.manage_settings: {A},
}


def test_every_action_is_in_the_expectations() -> None:
    assert set(EXPECTED) == set(Action)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(StaffRole))
def test_role_and_action(role: StaffRole, action: Action) -> None:
    assert allowed(role, action) is (role in EXPECTED[action])
    if role in EXPECTED[action]:
        with pytest.raises(ValueError, match="nothing to refuse"):
            refusal(role, action)
        return
    who = " and ".join(f"{r.value}s" for r in StaffRole if r in EXPECTED[action])
    reason = refusal(role, action)
    assert reason == f"Only {who} may {action.describe}; you are signed in as a {role.value}."


def test_the_reasons_read_as_the_issue_says() -> None:
    assert refusal(C, Action.delete_customer) == \
        "Only managers and admins may delete customers; you are signed in as a cashier."
    assert refusal(M, Action.manage_settings) == \
        "Only admins may change the settings; you are signed in as a manager."
    assert refusal(C, Action.edit_credit_terms) == ("Only managers and admins may change a "
                                                    "customer's loyalty rate and account "
                                                    "limit; you are signed in as a cashier.")


def test_an_admin_may_do_whatever_a_manager_may() -> None:
    for action in Action:
        if allowed(M, action):
            assert allowed(A, action)
        if allowed(C, action):
            assert allowed(M, action)


def test_the_module_examples_hold() -> None:
    result = doctest.testmod(permissions)
    assert result.attempted >= 8 and result.failed == 0


def test_the_readme_table_is_the_permissions_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- permissions table -->\n(.*?)\n<!-- end permissions table -->",
                      readme, re.S)
    assert found, "README.md lost its permissions table markers"
    assert found.group(1).strip() == permissions.markdown_table(), (
        "README.md's roles table differs from cashier_bridge/permissions.py; paste "
        "permissions.markdown_table() between the markers")
