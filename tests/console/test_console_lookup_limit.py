"""The cashier console's create form counts personnummer look-ups like every other caller
(issue 16, finding 2): a lane's console that ran out sees the bridge's reason and creates
nobody."""

from __future__ import annotations

from playwright.sync_api import expect

from cashier_bridge.registry import Registry
from tests.console.conftest import ANNA_PNR, Till
from tests.masked import numbers


def test_a_console_out_of_look_ups_says_so_and_creates_nobody(till: Till) -> None:
    page = till.page
    registry = Registry.open(till.bridge.db_url)
    try:
        # This lane's consoles checked five numbers this minute (on any bridge process).
        for number in numbers(5, birth="19700101"):
            registry.customers.validate({"first_name": "Eva", "last_name": "Ek",
                                         "personal_id": number}, region="SE",
                                        actor=f"console:{till.lane}")
        count = registry.customers.count()
        page.locator("#search").type("Mallory Ek")
        page.click("#add-new")
        page.fill("#f-personal_id", ANNA_PNR)
        page.click("#form-save")
        expect(page.locator("#form-err")).to_contain_text(
            "too many personnummer look-ups in the last minute")
        expect(page.locator("#form-err")).to_contain_text("try again in")
        expect(page.locator("#customer-form-dialog")).to_be_visible()
        expect(page.locator("#f-personal_id")).to_have_value(ANNA_PNR)
        assert "Anna" not in page.locator("#customer-form-dialog").inner_text()
        assert registry.customers.count() == count
    finally:
        registry.close()
