"""The back office in a real browser (Debian's chromium, headless, through Playwright) against
``selfreg-bridge serve`` in its own process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry import Registry
from simulator.processes import BridgeProcess

ADMIN_PW = "correct horse battery"
CASHIER_PW = "staple paper clip tree"


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    workdir = tmp_path_factory.mktemp("admin-bridge")
    b = BridgeProcess(workdir)
    registry = Registry.open(b.db_url)
    registry.staff.add("root", ADMIN_PW, StaffRole.admin, display_name="Rut Olsson")
    registry.close()
    b.start()
    yield b
    b.stop()
    log = b.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert ADMIN_PW not in log and CASHIER_PW not in log  # no passwords in logs




@pytest.fixture(params=[{"width": 1366, "height": 768}, {"width": 820, "height": 1180}],
                ids=["laptop", "tablet"])
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport=request.param, locale="en-GB")
    yield context.new_page()
    context.close()


def sign_in(page: Any, bridge: BridgeProcess, username: str, password: str) -> None:
    page.goto(f"{bridge.http_url}/admin")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#sign-in")


def test_admin_adds_a_cashier_who_signs_in_and_is_refused_staff(
        page: Any, bridge: BridgeProcess, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import expect

    cashier = f"kim-{request.node.callspec.id}"  # each viewport adds its own
    sign_in(page, bridge, "root", ADMIN_PW)
    expect(page.locator("#me")).to_have_text("Rut Olsson (admin)")
    nav = page.get_by_role("navigation", name="Back office")
    expect(nav.get_by_role("link")).to_have_text(
        ["Customers", "Groups", "Import/Export", "Retention", "Security", "Staff",
         "Settings"])
    expect(page.locator("h1")).to_have_text("Customers")

    nav.get_by_role("link", name="Staff").click()
    page.click("#add-staff")
    page.fill("#username", cashier)
    page.fill("#display_name", "Kim Berg")
    page.select_option("#role", "cashier")
    page.fill("#password", CASHIER_PW)
    page.fill("#password_again", CASHIER_PW)
    page.click("#add")
    expect(page.locator("#done")).to_have_text("The staff account was added.")
    expect(page.locator("#role")).to_have_text("cashier")
    expect(page.locator("#history")).to_contain_text("staff:root")
    expect(page.locator("#history")).to_contain_text("account added")
    page.screenshot(path=str(tmp_path / "staff.png"))

    page.click("#logout")
    expect(page.locator("#signed-out")).to_have_text("You are signed out.")

    sign_in(page, bridge, cashier, CASHIER_PW)
    expect(page.locator("#me")).to_have_text("Kim Berg (cashier)")
    expect(nav.get_by_role("link")).to_have_text(["Customers", "Groups"])
    page.goto(f"{bridge.http_url}/admin/staff")
    expect(page.locator("#reason")).to_have_text(
        "Only admins may manage staff accounts; you are signed in as a cashier.")
    page.click("#logout")
    expect(page.locator("#signed-out")).to_be_visible()
    page.goto(f"{bridge.http_url}/admin/customers")
    expect(page.locator("#sign-in")).to_be_visible()  # signed out for real


def test_a_wrong_password_is_said_plainly(page: Any, bridge: BridgeProcess) -> None:
    from playwright.sync_api import expect

    sign_in(page, bridge, "root", "not the password")
    expect(page.locator("#error")).to_have_text("Wrong username or password.")
    expect(page.locator("#username")).to_have_value("root")
    expect(page.locator("#password")).to_be_focused()
