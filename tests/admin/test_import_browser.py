"""A manager moves a Lightspeed customer list over in a real browser (Debian's chromium through
Playwright) against ``selfreg-bridge serve``: upload, preview with the bad rows, import with
the progress bar to the end, the report, undo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from admin.test_admin_browser import sign_in
from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry import Registry
from cashier_bridge.registry.csv_io import HEADER
from simulator.processes import BridgeProcess

MANAGER_PW = "tulips in the rain"
ROWS = 20_000  # enough for the import to take a moment, so the page shows it running


def big_file(path: Path) -> None:
    lines = [",".join(HEADER)]
    blank = dict.fromkeys(HEADER, "")
    for n in range(1, ROWS + 1):
        row = {**blank, "customer_code": f"LS{n:06d}", "first_name": "Testa",
               "last_name": f"Person{n}", "mobile": f"070{n:07d}",
               "customer_group_name": "All Customers", "postal_country_id": "SE"}
        if n == 13:
            row["email"] = "anna@"  # line 14
        if n == 500:
            row["mobile"] = "0700000001"  # line 501: the first row's number
        lines.append(",".join(row[h] for h in HEADER))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_manager_imports_a_lightspeed_file_and_undoes_it(
        browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    bridge = BridgeProcess(tmp_path / "bridge")
    registry = Registry.open(bridge.db_url)
    registry.staff.add("maja", MANAGER_PW, StaffRole.manager, display_name="Maja Lind")
    registry.close()
    source = tmp_path / "lightspeed_customers.csv"
    big_file(source)
    bridge.start()
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-GB")
    try:
        page = context.new_page()
        progress: list[dict[str, Any]] = []

        def watch(route: Any) -> None:  # every progress answer the page's script reads
            answer = route.fetch()
            progress.append(json.loads(answer.text()))
            route.fulfill(response=answer)

        page.route("**/progress", watch)
        sign_in(page, bridge, "maja", MANAGER_PW)
        page.get_by_role("navigation", name="Back office").get_by_role(
            "link", name="Import/Export").click()
        expect(page.locator("#no-batches")).to_have_text("Nothing was imported yet.")
        page.set_input_files("#file", str(source))
        page.click("#check")

        # The file is checked in a worker process while the page shows progress.
        expect(page.locator("#creates")).to_have_text(f"{ROWS - 2}", timeout=60_000)
        expect(page.locator("#failed")).to_have_text("2")
        errors = page.locator("#errors tbody tr")
        expect(errors).to_have_count(2)
        expect(errors.nth(0)).to_contain_text("14")
        expect(errors.nth(0)).to_contain_text("email: 'anna@' is not an email address")
        expect(errors.nth(1)).to_contain_text("mobile +46700000001 already belongs to "
                                              "customer LS000001 (Testa Person1)")
        expect(page.locator("#sample tbody tr").first).to_contain_text("new customer")

        page.click("#import")
        expect(page.locator("h1")).to_have_text("Import batch 1", timeout=60_000)
        expect(page.locator("#created")).to_have_text(f"{ROWS - 2}")
        expect(page.locator("#failed")).to_have_text("2")
        expect(page.locator("#errors")).to_contain_text("is not an email address")
        # The page followed the import through its progress endpoint to the end.
        assert progress, "the progress page never polled"
        last = progress[-1]
        assert last["finished"] and last["done"] == last["total"] == ROWS - 2

        page.click("#undo")  # without the box: nothing happens, and the page says why
        expect(page.locator("#error")).to_contain_text("Tick the box")
        page.check("#confirm")
        page.click("#undo")
        expect(page.locator("#done")).to_have_text("The import was undone.", timeout=60_000)
        expect(page.locator("#undo-result")).to_contain_text(
            f"Removed {ROWS - 2} new customers")
        page.get_by_role("link", name="Back to Import/Export").click()
        expect(page.locator("#batches")).to_contain_text("undone")
    finally:
        context.close()
        bridge.stop()
    log = bridge.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "Person1" not in log and "anna@" not in log  # no personal data in the log
