"""Screenshots of the Via mobil phone page (375x812, as a phone shows it) in every language and
every state: the form, a field error, waiting for the cashier, the member card, an expired code.

A real bridge on a throwaway SQLite registry with the demo customers; raw websocket clients play
the kiosk and the cashier; Debian's chromium, headless, driven by Playwright, is the phone.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from simulator.browser import chromium
from simulator.processes import BridgeProcess
from simulator.scenarios import demo_csv, known_customer, unknown_personnummer
from simulator.sync_device import SyncDevice

LANGUAGES = ("sv", "en", "nl")


def run(out_dir: Path, languages: tuple[str, ...] = LANGUAGES) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="selfreg-phone-") as tmp:
        bridge = BridgeProcess(Path(tmp))
        bridge.cli("import-csv", str(demo_csv()))
        bridge.start()
        try:
            with chromium() as browser:
                for n, lang in enumerate(languages):
                    written += _one_language(browser, bridge, out_dir, lang, f"lane-{n}")
        finally:
            bridge.stop()
    return written


def _one_language(browser: Any, bridge: BridgeProcess, out_dir: Path, lang: str,
                  lane: str) -> list[Path]:
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True,
                                  has_touch=True, locale=lang,
                                  extra_http_headers={"Accept-Language": lang})
    page = context.new_page()
    kiosk, register = SyncDevice(bridge, "kiosk", lane), SyncDevice(bridge, "register", lane)
    try:
        return _states(context, page, kiosk, register, out_dir, lang)
    finally:
        kiosk.close()
        register.close()
        context.close()


def _states(context: Any, page: Any, kiosk: SyncDevice, register: SyncDevice, out_dir: Path,
            lang: str) -> list[Path]:
    shots: list[Path] = []

    def shoot(name: str) -> None:
        path = out_dir / f"phone-{name}_{lang}_375x812.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    def new_code(sale: str) -> str:
        register.send(type="start_sale", sale_id=sale)
        kiosk.next("state", phase="choosing")
        kiosk.send(type="choose", method="mobile")
        return str(kiosk.next("state", phase="identifying")["view"]["mobile_url"])

    first = new_code("s1")
    page.goto(first)
    shoot("form")
    anna = known_customer()
    page.fill("#first_name", anna["first_name"])
    page.fill("#last_name", anna["last_name"])
    page.fill("#phone", anna["phone"])
    page.fill("#personal_id", "198503121248")  # the check digit is wrong
    page.click("#send")
    page.wait_for_selector("#personal_id[aria-invalid=true]")
    shoot("error")
    pnr = unknown_personnummer()
    page.fill("#first_name", "Linnea")
    page.fill("#last_name", "Lund")
    page.fill("#phone", "070-555 12 34")
    page.fill("#personal_id", pnr)
    page.check("#member")
    page.click("#send")
    prompt = register.next("member_prompt")["prompt"]
    page.wait_for_selector("#status")  # the page that follows the steps
    shoot("waiting")
    register.send(type="confirm_member", prompt_id=prompt["prompt_id"],
                  details={"first_name": "Linnea", "last_name": "Lund"})
    code = register.next("customer_connected")["customer"]["customer_code"]
    page.wait_for_selector(f"#customer-code:has-text('{code}')")
    shoot("card")
    # Another phone opening a code that ran out: what to do instead.
    stale = new_code("s2")
    register.send(type="end_sale", sale_id="s2")
    kiosk.next("state", phase="idle")
    page = context.browser.new_context(
        viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True,
        locale=lang, extra_http_headers={"Accept-Language": lang}).new_page()
    page.goto(stale)
    shoot("expired")
    return shots
