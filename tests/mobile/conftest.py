"""Browser tests of the phone page: Debian's chromium (headless, phone viewport) driven by
Playwright against ``selfreg-bridge serve`` in its own process; raw websocket clients play the
kiosk and the cashier's register."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from cashier_bridge.registry import NewCustomer, Registry  # noqa: E402
from simulator.processes import BridgeProcess  # noqa: E402
from simulator.sync_device import SyncDevice as Device  # noqa: E402

PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True,
         "locale": "en-GB", "extra_http_headers": {"Accept-Language": "en-GB,en;q=0.9"}}
ANNA_PNR = "198503120183"
NEW_PNR = "199104170106"


def start_bridge(workdir: Path, monkeypatch: pytest.MonkeyPatch | None = None,
                 **env: str) -> BridgeProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    bridge = BridgeProcess(workdir)
    registry = Registry.open(bridge.db_url)
    registry.customers.create_new("seed-anna", NewCustomer(
        first_name="Anna", last_name="Andersson", phone="+46701234567",
        personal_id_fingerprint=registry.fingerprint(ANNA_PNR),
        personal_id_masked="19850312-****", created_via="import", customer_code="1001"))
    registry.close()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)  # BridgeProcess hands the environment to the process
        bridge.start()
    return bridge


def stop_bridge(bridge: BridgeProcess) -> None:
    bridge.stop()
    log = bridge.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert ANNA_PNR not in log and NEW_PNR not in log  # no personal data in logs


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    b = start_bridge(tmp_path_factory.mktemp("bridge"))
    yield b
    stop_bridge(b)




@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(**PHONE)
    yield context.new_page()
    context.close()


_lanes = iter(range(1, 10_000))


@pytest.fixture
def lane(bridge: BridgeProcess) -> Iterator[tuple[Device, Device]]:
    """A fresh lane with its kiosk and register (each test its own, on the shared bridge)."""
    name = f"phone-{next(_lanes)}"
    kiosk, register = Device(bridge, "kiosk", name), Device(bridge, "register", name)
    yield kiosk, register
    kiosk.close()
    register.close()


def show_code(kiosk: Device, register: Device, sale: str = "s1") -> str:
    """The cashier starts a sale, the shopper taps Via mobil: the URL the QR code holds."""
    register.send(type="start_sale", sale_id=sale)
    kiosk.next("state", phase="choosing")
    kiosk.send(type="choose", method="mobile")
    url = kiosk.next("state", phase="identifying")["view"]["mobile_url"]
    assert url and "/m/" in url
    return str(url)


def fill(page: Any, *, first: str = "Nils", last: str = "Nilsson", phone: str = "070-765 43 21",
         personal_id: str = NEW_PNR) -> None:
    page.fill("#first_name", first)
    page.fill("#last_name", last)
    page.fill("#phone", phone)
    page.fill("#personal_id", personal_id)
