"""Screenshots of the back office (``/admin``) at 1280x800: sign-in, the customer list, a
profile and its edit form with a field's reason, groups, the import preview, merging two
duplicates, a customer's personal-data export, the delete confirmation, staff, settings and a
refusal.

A real bridge on a throwaway SQLite registry with the demo customers plus a staged duplicate;
Debian's chromium, headless, driven by Playwright.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

from cashier_bridge.registry.csv_io import HEADER
from simulator.browser import chromium
from simulator.processes import BridgeProcess
from simulator.scenarios import demo_csv

SIZE = (1280, 800)
PASSWORD = "screenshot pass 1"
# Every page taken, in this order.
ALWAYS = ("login", "customers", "profile", "edit-error", "groups", "import", "merge", "export",
          "delete", "staff", "settings", "retention", "refused")


def run(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="selfreg-admin-") as tmp:
        bridge = BridgeProcess(Path(tmp))
        bridge.cli("import-csv", str(demo_csv()))
        kept, other = _stage(bridge.db_url)
        bridge.start()
        try:
            with chromium() as browser:
                context = browser.new_context(
                    viewport={"width": SIZE[0], "height": SIZE[1]}, locale="en-GB")
                return _pages(context.new_page(), bridge.http_url, out_dir, kept, other,
                              Path(tmp))
        finally:
            bridge.stop()


def _stage(db_url: str) -> tuple[int, int]:
    """Staff of every role, and a duplicate of a demo customer for the merge preview."""
    from cashier_bridge.permissions import StaffRole
    from cashier_bridge.registry import NewCustomer, Registry

    registry = Registry.open(db_url)
    try:
        registry.staff.add("rut", PASSWORD, StaffRole.admin, display_name="Rut Olsson")
        registry.staff.add("maja", PASSWORD, StaffRole.manager, display_name="Maja Lind")
        registry.staff.add("kim", PASSWORD, StaffRole.cashier, display_name="Kim Berg")
        kept = registry.customers.find_by_code("1001")
        assert kept is not None, "the demo customers have no 1001"
        twin, _ = registry.customers.create_new("shots-twin", NewCustomer(
            first_name=kept.first_name, last_name=kept.last_name, email="anna.a@example.se",
            street="Lilla torget 2", postal_code="211 34", city="Malmö", created_via="import",
            note="Second loyalty card, issued in Malmö"))
        registry.sales.record(kept.id, sale_id="4711", register="kassa-1", total_minor=24950,
                              currency="SEK", at=None, recorded_by="register")
        registry.consents.record(kept.id, "marketing", True, "via_mobil")
        return kept.id, twin.id
    finally:
        registry.close()


def _pages(page: Any, url: str, out_dir: Path, kept: int, other: int, work: Path
           ) -> list[Path]:
    from playwright.sync_api import expect

    shots: list[Path] = []

    def shoot(name: str) -> None:
        path = out_dir / f"admin-{name}_en_{SIZE[0]}x{SIZE[1]}.png"
        page.screenshot(path=str(path))
        shots.append(path)

    def sign_in(username: str) -> None:
        page.context.clear_cookies()  # whoever was signed in before
        page.goto(f"{url}/admin/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        expect(page.locator("#me")).to_be_visible()

    page.goto(f"{url}/admin/login")
    shoot("login")
    sign_in("maja")
    page.goto(f"{url}/admin/customers?q=and")
    expect(page.locator("h1")).to_have_text("Customers")
    shoot("customers")
    page.goto(f"{url}/admin/customers/{kept}")
    expect(page.locator("#customer-name")).to_be_visible()
    shoot("profile")
    page.goto(f"{url}/admin/customers/{kept}/edit")
    page.fill("form input[name=email]", "anna@")
    page.locator("form input[name=email]").press("Enter")
    expect(page.locator("#error-summary")).to_be_visible()
    shoot("edit-error")
    page.goto(f"{url}/admin/groups")
    expect(page.locator("h1")).to_have_text("Groups")
    shoot("groups")
    page.goto(f"{url}/admin/import-export")
    page.set_input_files("#file", str(_lightspeed_file(work)))
    page.click("#check")
    # Checked in a worker process while a progress page shows; then the preview.
    expect(page.locator("#failed")).to_have_text("1", timeout=60_000)
    shoot("import")
    page.goto(f"{url}/admin/customers/{kept}/merge?other={other}")
    expect(page.locator("#merge-preview")).to_be_visible()
    shoot("merge")
    page.goto(f"{url}/admin/customers/{kept}/export")
    expect(page.locator("#export-title")).to_be_visible()
    shoot("export")
    page.goto(f"{url}/admin/customers/{other}/delete")
    expect(page.locator("#delete-confirm")).to_be_visible()
    shoot("delete")
    sign_in("rut")
    page.goto(f"{url}/admin/staff")
    shoot("staff")
    page.goto(f"{url}/admin/settings")
    expect(page.locator("#shop-settings")).to_be_visible()
    shoot("settings")
    page.goto(f"{url}/admin/retention")
    expect(page.locator("h1")).to_have_text("Retention")
    shoot("retention")
    sign_in("kim")
    page.goto(f"{url}/admin/customers/{kept}/delete")
    expect(page.locator("#reason")).to_be_visible()
    shoot("refused")
    return shots


def _lightspeed_file(directory: Path) -> Path:
    """A small Lightspeed X-Series export with one row the import refuses (for the preview)."""
    path = directory / "lightspeed-sample.csv"
    rows = [{"customer_code": "LS-1", "first_name": "Greta", "last_name": "Sjöberg",
             "mobile": "070-765 43 21", "postal_city": "Uppsala", "customer_group_name": "VIP"},
            {"customer_code": "LS-2", "first_name": "Olle", "last_name": "Holm",
             "email": "olle.holm@", "postal_city": "Lund"},
            {"customer_code": "LS-3", "first_name": "Ida", "last_name": "Berg",
             "email": "ida.berg@example.se", "customer_group_name": "All Customers"}]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path
