"""The customer pages in a real browser (Debian's chromium, headless, through Playwright)
against ``selfreg-bridge serve``: search as you type, a profile, an edit with its audit entry,
a group change, a consent ticked into the log, and a cashier refused credit terms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from admin import test_admin_browser as shell
from admin.conftest import staffed_bridge
from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry import NewCustomer, Registry
from simulator.processes import BridgeProcess

MANAGER_PW = "a manager's long secret"
CASHIER_PW = "a cashier's long secret"


def _seed(registry: Registry) -> None:
    registry.customers.create_new("b-1", NewCustomer("Anna", "Svensson", phone="+46701234567",
                                                     customer_code="1001"))
    registry.customers.create_new("b-2", NewCustomer("Anders", "Ek", customer_code="1002"))
    registry.customers.create_new("b-3", NewCustomer("Bo", "Berg", customer_code="1003"))
    registry.groups.create("Stamkunder", actor="test")


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    staff = {"maja": (StaffRole.manager, MANAGER_PW, "Maja Lind"),
             "kim": (StaffRole.cashier, CASHIER_PW, "Kim Berg")}
    # No personal data or passwords in the log.
    with staffed_bridge(tmp_path_factory.mktemp("customer-bridge"), staff, _seed,
                        never_logged=("Svensson", "+46701234567")) as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-GB")
    yield context.new_page()
    context.close()


def test_a_manager_searches_edits_moves_and_records_a_consent(page: Any,
                                                              bridge: BridgeProcess) -> None:
    from playwright.sync_api import expect

    shell.sign_in(page, bridge, "maja", MANAGER_PW)
    expect(page.locator("h1")).to_have_text("Customers")
    rows = page.locator("#customer-rows tr")
    expect(rows).to_have_count(3)
    page.locator("#q").press_sequentially("ann sv")  # no submit: the list follows the typing
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Anna Svensson")
    page.locator("#q").fill("zlatan")
    page.locator("#q").dispatch_event("input")
    expect(page.locator("#nothing")).to_have_text("No customer matches “zlatan”.")
    page.locator("#q").fill("070 123")
    page.locator("#q").dispatch_event("input")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link", name="Anna Svensson").click()

    expect(page.locator("#customer-name")).to_have_text("Anna Svensson")
    expect(page.locator("#account-balance")).to_have_text("0,00\u00a0kr")
    page.click("#edit")
    page.fill("#postal_code", "Storgatan 1")
    page.fill("#city", "Lund")
    page.fill("#account_limit", "5 000")
    page.click("#save")
    expect(page.locator("#postal_code-error")).to_contain_text("is not a postal code")
    expect(page.locator("#postal_code")).to_have_value("Storgatan 1")
    expect(page.locator("#city")).to_have_value("Lund")  # nothing typed is lost
    page.fill("#postal_code", "222 22")
    page.click("#save")
    expect(page.locator("#done")).to_have_text("The changes were saved.")
    expect(page.locator("#account-limit")).to_have_text("5\u00a0000,00\u00a0kr")
    latest = page.locator("#audit-trail tbody tr").first
    expect(latest).to_contain_text("staff:maja")
    expect(latest).to_contain_text("City: — → Lund")
    expect(latest).to_contain_text("Account limit: — → 5\u00a0000,00\u00a0kr")

    page.select_option("#group_id", label="Stamkunder")
    page.click("#change-group")
    expect(page.locator("#group")).to_have_text("Stamkunder")
    expect(page.locator("#audit-trail tbody tr").first).to_contain_text(
        "Group: All customers → Stamkunder")

    page.click("#tick-marketing")
    expect(page.locator("#done")).to_have_text("The consent was recorded in the log.")
    entry = page.locator("#consent-log tbody tr").first
    expect(entry).to_contain_text("marketing")
    expect(entry).to_contain_text("yes")
    expect(entry).to_contain_text("back office")
    expect(entry).to_contain_text("staff:maja")
    expect(page.locator("#untick-marketing")).to_be_visible()


def test_a_cashier_sees_credit_terms_read_only_and_is_refused_them(
        page: Any, bridge: BridgeProcess) -> None:
    from playwright.sync_api import expect

    shell.sign_in(page, bridge, "kim", CASHIER_PW)
    expect(page.locator("#me")).to_have_text("Kim Berg (cashier)")
    expect(page.locator("#assign-button")).to_have_count(0)
    page.get_by_role("link", name="Bo Berg").click()
    expect(page.locator("#group-form")).to_have_count(0)
    page.click("#edit")
    expect(page.locator("#credit-why")).to_have_text(
        "Only managers and admins change credit terms.")
    expect(page.locator("#account_limit")).to_have_count(0)
    # A form made by hand in the same browser (its cookie and CSRF token) is still refused.
    page.evaluate("""() => {
        const form = document.getElementById('customer-form');
        const extra = document.createElement('input');
        extra.name = 'account_limit'; extra.value = '99 000';
        form.appendChild(extra);
        form.submit();
    }""")
    expect(page.locator("#reason")).to_have_text(
        "Only managers and admins may change a customer's loyalty rate and account limit; "
        "you are signed in as a cashier. Nothing was changed.")
    page.go_back()
    page.goto(page.url.replace("/edit", ""))
    expect(page.locator("#account-limit")).to_have_text("no limit set")
