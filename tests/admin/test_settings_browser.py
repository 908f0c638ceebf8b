"""The settings page in a real browser (Debian's chromium through Playwright) against
``selfreg-bridge serve``: an admin renames the shop and puts its colours on the console and the
phone page; a colour pair too hard to read is refused with its contrast; a hand-made form is
refused; a cashier and a manager neither see the page in the menu nor get in by its address."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from admin.conftest import staffed_bridge
from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.registry.schema import customers
from simulator.processes import BridgeProcess

PW = "correct horse battery"


def _seed(registry: Registry) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=4 * 365)
    for code, first in (("3001", "Greta"), ("3002", "Hugo")):
        record, _ = registry.customers.create_new(
            code, NewCustomer(first, "Ek", customer_code=code))
        with registry.engine.begin() as conn:
            conn.execute(update(customers).where(customers.c.id == record.id)
                         .values(created_at=long_ago))
    registry.customers.create_new("3003", NewCustomer("Ines", "Ek", customer_code="3003"))


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    staff = {"root": (StaffRole.admin, PW, "Rut Olsson"),
             "maja": (StaffRole.manager, PW, "Maja Lind"),
             "kim": (StaffRole.cashier, PW, "Kim Berg")}
    with staffed_bridge(tmp_path_factory.mktemp("settings-bridge"), staff, _seed,
                        never_logged=("Greta", "Hugo", "Ines")) as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    yield context.new_page()
    context.close()


def sign_in(page: Any, bridge: BridgeProcess, username: str) -> None:
    page.goto(f"{bridge.http_url}/admin/login")
    page.fill("#username", username)
    page.fill("#password", PW)
    page.click("#sign-in")
    page.wait_for_url("**/admin/customers")


def test_an_admin_renames_the_shop_and_brands_its_pages(page: Any,
                                                        bridge: BridgeProcess) -> None:
    from playwright.sync_api import expect

    url = bridge.http_url
    sign_in(page, bridge, "root")
    page.get_by_role("navigation", name="Back office").get_by_role(
        "link", name="Settings").click()
    expect(page.locator("h1")).to_have_text("Settings")
    expect(page.locator("#shop_name-source")).to_contain_text("From the configuration file")

    # Too hard to read: refused with the ratio, and what was typed stays for correcting.
    page.fill("#shop_name", "Butiken Söder")
    page.fill("#brand_colour", "#ffff00")
    page.click("#save")
    expect(page.locator("#brand_text_colour-error")).to_have_text(
        "Text on the brand colour is too hard to read on it: contrast 1.07:1, and at least "
        "4.5:1 is needed (WCAG AA)")
    expect(page.locator("#error-summary")).to_contain_text("Nothing was saved")
    expect(page.locator("#shop_name")).to_have_value("Butiken Söder")
    page.goto(f"{url}/console/sign-in")
    expect(page.locator("header b")).not_to_have_text("Butiken Söder")

    page.goto(f"{url}/admin/settings")
    page.fill("#shop_name", "Butiken Söder")
    page.fill("#brand_colour", "#1e5631")
    page.fill('[id="consent_texts.marketing.en"]', "Yes, offers by text message, twice a month.")
    page.click("#save")
    expect(page.locator("#saved")).to_contain_text("The settings were saved")
    expect(page.locator("#shop_name-source")).to_contain_text("Saved here by staff member root")
    expect(page.locator("#history tbody tr")).to_have_count(3)
    expect(page.locator("#history")).to_contain_text("marketing (English)")
    expect(page.locator('[id="consent_texts.marketing.en"]')).to_have_value(
        "Yes, offers by text message, twice a month.")
    expect(page.locator(".brand")).to_have_text("Butiken Söder · Back office")

    # The cashier console's bar and the phone page's header wear the shop's colours now.
    page.goto(f"{url}/console/sign-in")
    bar = page.locator("header.bar")
    expect(bar.locator("b")).to_have_text("Butiken Söder")
    expect(bar).to_have_css("background-color", "rgb(30, 86, 49)")
    expect(bar).to_have_css("color", "rgb(255, 255, 255)")
    page.goto(f"{url}/m/privacy")
    expect(page.locator("header b")).to_have_text("Butiken Söder")
    expect(page.locator("header")).to_have_css("background-color", "rgb(30, 86, 49)")


def test_a_hand_made_form_is_refused_and_saves_nothing(page: Any,
                                                       bridge: BridgeProcess) -> None:
    from playwright.sync_api import expect

    sign_in(page, bridge, "root")
    page.goto(f"{bridge.http_url}/admin/settings")
    before = page.locator("#shop_name").input_value()
    # What a tinkerer does in the developer tools: a field the page never offered.
    page.evaluate("""() => {
        const form = document.getElementById('shop-settings');
        const extra = document.createElement('input');
        extra.name = 'db_url'; extra.value = 'sqlite:////tmp/elsewhere.db';
        form.appendChild(extra);
        document.getElementById('shop_name').value = 'Someone else';
    }""")
    page.click("#save")
    expect(page.locator("#unknown-1")).to_have_text("“db_url” is not a setting.")
    page.goto(f"{bridge.http_url}/admin/settings")
    expect(page.locator("#shop_name")).to_have_value(before)


@pytest.mark.parametrize(("username", "role"), [("kim", "cashier"), ("maja", "manager")])
def test_only_admins_reach_the_settings(page: Any, bridge: BridgeProcess, username: str,
                                        role: str) -> None:
    from playwright.sync_api import expect

    sign_in(page, bridge, username)
    nav = page.get_by_role("navigation", name="Back office")
    expect(nav.get_by_role("link", name="Customers")).to_be_visible()
    expect(nav.get_by_role("link", name="Settings")).to_have_count(0)
    # Erasing is a manager's: the retention review is in a manager's menu, not a cashier's.
    expect(nav.get_by_role("link", name="Retention")).to_have_count(
        1 if role == "manager" else 0)
    page.goto(f"{bridge.http_url}/admin/settings")
    expect(page.locator("#reason")).to_have_text(
        f"Only admins may change the settings; you are signed in as a {role}.")


def test_an_admin_sets_retention_and_erases_the_inactive_members(page: Any,
                                                                bridge: BridgeProcess) -> None:
    from playwright.sync_api import expect

    sign_in(page, bridge, "root")
    page.goto(f"{bridge.http_url}/admin/settings")
    page.fill("#retention_years", "3")
    page.click("#save")
    expect(page.locator("#retention-due")).to_have_text("2 members to review")
    page.click("#retention-due a")
    expect(page.locator("#rule")).to_contain_text("for 3 years")
    expect(page.locator("#dormant tbody tr")).to_have_count(2)
    expect(page.locator("#dormant")).to_contain_text("Greta Ek")
    expect(page.locator("#dormant")).not_to_contain_text("Ines")
    page.fill("#confirm", "2")
    page.click("#erase")
    expect(page.locator("#erased")).to_have_text("2 members erased.")
    expect(page.locator("#count")).to_have_text("0 members to review.")
    page.goto(f"{bridge.http_url}/admin/customers")
    expect(page.locator("main")).to_contain_text("Ines")
    expect(page.locator("main")).not_to_contain_text("Greta")
