"""The GDPR pages in a real browser (Debian's chromium through Playwright) against
``selfreg-bridge serve``: a manager merges two duplicates and undoes it from the history, exports
a customer's personal data (the page, then the JSON file), deletes a customer after the
confirmation; a cashier is refused each with the reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from admin.conftest import staffed_bridge
from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry import NewCustomer, Registry
from simulator.processes import BridgeProcess

PW = "correct horse battery"


def _seed(registry: Registry) -> None:
    registry.customers.create_new("a", NewCustomer("Anna", "Andersson", phone="+46701234567",
                                                   customer_code="1001", note="Prefers e-mail"))
    registry.customers.create_new("b", NewCustomer("Anna", "Andersson", email="anna@example.se",
                                                   customer_code="1002", city="Malmö"))
    registry.customers.create_new("c", NewCustomer("Cecilia", "Carlsson", phone="+46705550003",
                                                   customer_code="1003"))


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    staff = {"maja": (StaffRole.manager, PW, "Maja Lind"),
             "kim": (StaffRole.cashier, PW, "Kim Berg")}
    # No personal data in the bridge's log.
    with staffed_bridge(tmp_path_factory.mktemp("gdpr-bridge"), staff, _seed, never_logged=(
            "Andersson", "anna@example.se", "+46701234567", "Carlsson")) as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB",
                                  accept_downloads=True)
    yield context.new_page()
    context.close()


def sign_in(page: Any, bridge: BridgeProcess, username: str) -> None:
    page.goto(f"{bridge.http_url}/admin/login")
    page.fill("#username", username)
    page.fill("#password", PW)
    page.click("#sign-in")


def test_a_manager_merges_undoes_exports_and_deletes(page: Any, bridge: BridgeProcess,
                                                     tmp_path: Path) -> None:
    from playwright.sync_api import expect

    url = bridge.http_url
    sign_in(page, bridge, "maja")
    expect(page.locator("#me")).to_have_text("Maja Lind (manager)")

    # Merge: the preview, swap which one is kept, then back, and merge.
    page.goto(f"{url}/admin/customers/1/merge?other=2")
    expect(page.locator("#kept-head")).to_have_text("Kept: 1001")
    expect(page.locator("#row-email td.result")).to_contain_text("anna@example.se")
    expect(page.locator("#row-email td.result")).to_contain_text("from the other")
    page.click("#swap")
    expect(page.locator("#kept-head")).to_have_text("Kept: 1002")
    page.click("#swap")
    expect(page.locator("#kept-head")).to_have_text("Kept: 1001")
    page.click("#merge-confirm")
    page.wait_for_url("**/admin/customers/1?done=merged&merge=*")

    # The export shows what came over and, in the history, the way back.
    page.goto(f"{url}/admin/customers/1/export")
    expect(page.locator("#addresses")).to_contain_text("Malmö")
    expect(page.locator("#note")).to_contain_text("Prefers e-mail")
    undo = page.locator("#merges a", has_text="Undo this merge")
    undo.click()
    expect(page.locator("#what")).to_contain_text("merged Anna Andersson (1002) into customer 1001")
    page.click("#undo-confirm")
    page.wait_for_url("**/admin/customers/2?done=unmerged")
    page.goto(f"{url}/admin/customers/2/export")
    expect(page.locator("#profile")).to_contain_text("anna@example.se")

    # Personal data: the printable page, then the JSON file.
    page.goto(f"{url}/admin/customers/1/export")
    expect(page.locator("#export-title")).to_have_text(
        "Personal data held about Anna Andersson (1001)")
    expect(page.locator("#addresses")).not_to_contain_text("Malmö")  # the merge was undone
    page.emulate_media(media="print")
    expect(page.locator("header")).to_be_hidden()  # the print layout leaves the shell out
    expect(page.locator("#download-json")).to_be_hidden()
    page.emulate_media(media="screen")
    with page.expect_download() as download_info:
        page.click("#download-json")
    download = download_info.value
    assert download.suggested_filename == "personal-data-1001.json"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["profile"]["phone"] == "+46701234567"
    assert "merge" in [a["action"] for a in data["audit"]]

    # Delete: a wrong number changes nothing; the right one erases.
    page.goto(f"{url}/admin/customers/3/delete")
    expect(page.locator("#goes")).to_contain_text("Phone +46705550003")
    expect(page.locator("#stays")).to_contain_text("anonymised (as ERASED-3), for the books")
    page.fill("#confirm-code", "1001")
    page.click("#delete-confirm")
    expect(page.locator("#error")).to_have_text(
        "“1001” is not this customer's number (1003); nothing was deleted. Type it exactly to "
        "confirm.")
    page.fill("#confirm-code", "1003")
    page.click("#delete-confirm")
    expect(page.locator("#done")).to_contain_text("Cecilia Carlsson (1003) was deleted")
    page.goto(f"{url}/admin/customers/3/export")
    expect(page.locator("#reason")).to_have_text(
        "There is no customer with id 3 (or they were deleted).")


def test_a_cashier_is_refused_each_with_the_reason(page: Any, bridge: BridgeProcess) -> None:
    from playwright.sync_api import expect

    sign_in(page, bridge, "kim")
    expect(page.locator("#me")).to_have_text("Kim Berg (cashier)")
    for path, what in (("/admin/customers/1/merge?other=2", "merge customers"),
                       ("/admin/customers/1/export", "export a customer's personal data"),
                       ("/admin/customers/1/delete", "delete customers")):
        page.goto(bridge.http_url + path)
        expect(page.locator("#reason")).to_have_text(
            f"Only managers and admins may {what}; you are signed in as a cashier.")
