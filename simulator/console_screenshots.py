"""Screenshots of the cashier console on a till's screen (1280x800) and a tablet (768x1024) in
every state a cashier meets: no sale, a sale open, the shopper identifying, the member prompt
with a possible duplicate, the new-member form with a field's reason, search results, a
connected customer, and the page reconnecting while the bridge is away.

A real bridge on a throwaway SQLite registry with the demo customers; a raw websocket client
plays the kiosk; Debian's chromium, headless, driven by Playwright, is the cashier's browser.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from stdnum import luhn

from simulator.browser import chromium
from simulator.processes import BridgeProcess
from simulator.sync_device import SyncDevice

SIZES: tuple[tuple[int, int], ...] = ((1280, 800), (768, 1024))
STATES = ("idle", "sale-open", "identifying", "member-prompt", "member-form", "search",
          "connected", "reconnecting")
# A demo shopper with only a birth date on file: the member prompt offers her as a duplicate.
_TWIN_BORN = dt.date(1962, 8, 30)


def run(out_dir: Path, sizes: tuple[tuple[int, int], ...] = SIZES) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with chromium() as browser:
        for size in sizes:
            # Each size ends with the bridge stopped (the reconnecting shot): its own bridge.
            with tempfile.TemporaryDirectory(prefix="selfreg-console-") as tmp:
                written += _one_size(browser, Path(tmp), out_dir, size)
    return written


def _one_size(browser: Any, tmp: Path, out_dir: Path, size: tuple[int, int]) -> list[Path]:
    from cashier_bridge.registry import NewCustomer, Registry

    bridge = BridgeProcess(tmp)
    bridge.cli("import-csv", str(resources.files("cashier_bridge") / "data" / "demo_customers.csv"))
    registry = Registry.open(bridge.db_url)
    try:
        registry.customers.create_new("shots-britt", NewCustomer(
            first_name="Britt", last_name="Berg", birth_date=_TWIN_BORN, created_via="import",
            phone="+46705550001"))
        code = registry.devices.issue_sign_in("lane-1", "register")
    finally:
        registry.close()
    bridge.start()
    context = browser.new_context(viewport={"width": size[0], "height": size[1]},
                                  locale="en-GB")
    kiosk: SyncDevice | None = None
    try:
        page = context.new_page()
        page.goto(f"{bridge.http_url}/console/sign-in?code={code}")
        kiosk = SyncDevice(bridge, "kiosk", "lane-1")
        return _states(page, kiosk, bridge, out_dir, size)
    finally:
        context.close()
        if kiosk is not None:
            kiosk.ws.close()  # its bridge may be gone already
        bridge.stop()


def _states(page: Any, kiosk: SyncDevice, bridge: BridgeProcess, out_dir: Path,
            size: tuple[int, int]) -> list[Path]:
    from playwright.sync_api import expect

    shots: list[Path] = []

    def shoot(name: str) -> None:
        path = out_dir / f"console-{name}_en_{size[0]}x{size[1]}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    phase = page.locator("#phase")
    expect(page.locator("#connection")).to_have_text("live")
    expect(phase).to_have_text("No sale open")
    shoot("idle")
    page.click("#start-sale")
    kiosk.next("state", phase="choosing")
    expect(phase).to_have_text("Sale open — the shopper is choosing")
    shoot("sale-open")
    kiosk.send(type="choose", method="numpad")
    kiosk.next("state", phase="identifying")
    expect(phase).to_have_text("The shopper is identifying themselves")
    shoot("identifying")
    body = f"{_TWIN_BORN:%y%m%d}304"
    kiosk.send(type="submit_id", digits=f"{_TWIN_BORN:%Y%m%d}304{luhn.calc_check_digit(body)}")
    kiosk.next("state", phase="ask_member")
    kiosk.send(type="member_answer", accept=True)
    expect(page.locator("#duplicates li")).to_have_count(1)
    shoot("member-prompt")
    page.click("#create-member")
    page.fill("#f-first_name", "Britta")
    page.fill("#f-last_name", "Bergström")
    page.fill("#f-email", "britta@")
    page.click("#form-save")
    expect(page.locator("#f-email-err")).to_be_visible()
    shoot("member-form")
    page.keyboard.press("Escape")
    page.click("#abort-member")
    expect(phase).to_have_text("Sale open — the shopper is choosing")
    page.locator("#search").type("ann")
    expect(page.locator("#results [role=option]").first).to_be_visible()
    page.locator("#search").press("ArrowDown")
    shoot("search")
    page.locator("#search").press("Enter")
    expect(phase).to_have_text("Customer connected")
    expect(page.locator("#balance-account")).to_contain_text("kr")
    shoot("connected")
    bridge.stop()
    expect(page.locator("#connection")).to_have_text("reconnecting…")
    shoot("reconnecting")
    return shots
