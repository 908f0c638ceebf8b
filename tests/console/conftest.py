"""Browser tests of the cashier console: Debian's chromium (headless, a 1280x800 till screen)
driven by Playwright against ``selfreg-bridge serve`` in its own process, which admits only
paired devices; a raw websocket client plays the lane's kiosk."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stdnum import luhn

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cashier_bridge.registry import NewCustomer, Registry  # noqa: E402
from simulator.processes import BridgeProcess  # noqa: E402
from simulator.sync_device import SyncDevice  # noqa: E402

TILL = {"viewport": {"width": 1280, "height": 800}, "locale": "en-GB"}


def personnummer(day: dt.date, serial: int) -> str:
    """A valid 12-digit personnummer (the check digit computed, as the bridge checks it)."""
    body = f"{day:%y%m%d}{serial:03d}"
    return f"{day:%Y%m%d}{serial:03d}{luhn.calc_check_digit(body)}"


ANNA_PNR = personnummer(dt.date(1985, 3, 12), 18)
# Britt has no personnummer on file, only her birth date: a shopper born that day who types
# theirs is offered her as a possible duplicate.
BRITT_BORN = dt.date(1962, 8, 30)
# What shoppers type at the kiosk in these tests (nobody has them until the cashier acts).
NILS_PNR = personnummer(dt.date(1991, 4, 17), 106)
ABORTED_PNR = personnummer(dt.date(1991, 4, 17), 205)
BRITT_TWIN_PNR = personnummer(BRITT_BORN, 304)
PHONES = ("+46701234567", "+46709876543", "+46707654321", "+46704445566", "0707654321")


def seed(registry: Registry) -> None:
    people = [
        ("seed-anna", NewCustomer(first_name="Anna", last_name="Andersson", phone="+46701234567",
                                  personal_id_fingerprint=registry.fingerprint(ANNA_PNR),
                                  personal_id_masked="19850312-****", created_via="import",
                                  customer_code="1001")),
        ("seed-svensson", NewCustomer(first_name="Anna", last_name="Svensson",
                                      phone="+46709876543", email="anna.svensson@example.se",
                                      created_via="import", customer_code="1002")),
        ("seed-orjan", NewCustomer(first_name="Örjan", last_name="Åström", phone="+46731112233",
                                   created_via="import", customer_code="1003")),
        ("seed-britt", NewCustomer(first_name="Britt", last_name="Berg", birth_date=BRITT_BORN,
                                   created_via="import", customer_code="1004")),
    ]
    for key, person in people:
        registry.customers.create_new(key, person)


def start_bridge(workdir: Path) -> BridgeProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    bridge = BridgeProcess(workdir)
    registry = Registry.open(bridge.db_url)
    try:
        seed(registry)
    finally:
        registry.close()
    # Tokens required, as on a shop's network: the console gets in only with its cookie.
    # Every test's till signs in from this one address, dozens a minute: more than the sign-in
    # page lets one address ask for (a shop's tills sign in once, when they are set up).
    bridge.start(auth="required", env={"SELFREG_SIGN_IN_REQUESTS_PER_MINUTE": "1000"})
    return bridge


def stop_bridge(bridge: BridgeProcess, *secrets: str) -> None:
    bridge.stop()
    log = bridge.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    # No personal data, codes or tokens in the log.
    for secret in (ANNA_PNR, NILS_PNR, ABORTED_PNR, BRITT_TWIN_PNR, *PHONES, *secrets):
        assert secret not in log


class Kiosk(SyncDevice):
    """The lane's customer screen, paired as an installer pairs it."""

    def __init__(self, bridge: BridgeProcess, lane: str) -> None:
        super().__init__(bridge, "kiosk", lane)


def sign_in_code(bridge: BridgeProcess, lane: str) -> str:
    """What `selfreg-bridge pair --role register` prints for the console."""
    registry = Registry.open(bridge.db_url)
    try:
        return registry.devices.issue_sign_in(lane, "register")
    finally:
        registry.close()


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    b = start_bridge(tmp_path_factory.mktemp("bridge"))
    yield b
    stop_bridge(b)




_lanes = iter(range(1, 10_000))


class Till:
    """One lane: the console signed in on a till-sized browser, and the lane's kiosk."""

    def __init__(self, bridge: BridgeProcess, browser: Any) -> None:
        from playwright.sync_api import expect

        self.bridge = bridge
        self.lane = f"till-{next(_lanes)}"
        self.kiosk = Kiosk(bridge, self.lane)
        self.context = browser.new_context(**TILL)
        self.page = self.context.new_page()
        self.code = sign_in_code(bridge, self.lane)
        self.page.goto(f"{bridge.http_url}/console/sign-in?code={self.code}")
        expect(self.page.locator("#connection")).to_have_text("live")
        expect(self.page.locator("#phase")).to_have_text("No sale open")

    def close(self) -> None:
        self.context.close()
        self.kiosk.close()


@pytest.fixture
def till(bridge: BridgeProcess, browser: Any) -> Iterator[Till]:
    t = Till(bridge, browser)
    yield t
    t.close()
