"""Via mobil on the customer screen: a QR code a phone can read, and a code that renews itself."""

from __future__ import annotations

import numpy as np
import pytest
from kiosk_harness import FakeBridge, Kiosk
from PIL import ImageGrab

from cashier_bridge.protocol import Method, Phase, RenewMobile

pytestmark = pytest.mark.kiosk

URL = "http://192.0.2.10:8765/m/Zx8kQ2-example-code_0123456789abcdef"


def fresh(bridge: FakeBridge, kiosk: Kiosk) -> None:
    bridge.set_state(Phase.idle)
    kiosk.wait_screen("idle", seq=bridge.state.seq)


def screen_codes(kiosk: Kiosk) -> list[str]:
    """What a phone camera pointed at the screen reads (the kiosk's own decoder)."""
    from kiosk.scanner import decode

    shot = ImageGrab.grab(xdisplay=kiosk.display).convert("RGB")
    return [code.text for code in decode(np.asarray(shot)[:, :, ::-1].copy())]


def test_the_qr_code_on_screen_leads_to_the_phone_page(bridge: FakeBridge,
                                                         kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    bridge.set_state(Phase.identifying, method=Method.mobile, mobile_url=URL,
                     mobile_expires_in_s=170)
    shown = kiosk.wait_screen("mobile", seq=bridge.state.seq)
    assert any(t.startswith("Koden gäller i 2:") for t in shown["texts"]), shown["texts"]
    assert screen_codes(kiosk) == [URL]
    assert "enter_id" in shown["buttons"] and "cancel" in shown["buttons"]


def test_once_the_phone_has_sent_its_details_the_screen_points_to_the_phone(
        bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    bridge.set_state(Phase.identifying, method=Method.mobile, mobile_submitted=True,
                     busy=True)
    shown = kiosk.wait_screen("mobile", seq=bridge.state.seq)
    assert "Fortsätt i din telefon" in shown["texts"]
    assert screen_codes(kiosk) == []  # the used code is gone from the screen


def test_a_code_that_runs_out_unused_is_renewed(bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    bridge.set_state(Phase.identifying, method=Method.mobile, mobile_url=URL,
                     mobile_expires_in_s=2)
    kiosk.wait_screen("mobile", seq=bridge.state.seq)
    assert bridge.next_intent(10, skip=("screen_timeout",)) == RenewMobile()
    shown = kiosk.wait(lambda p: "Hämtar en ny kod…" in p["texts"], what="getting a new code")
    assert shown["screen"] == "mobile"
    renewed = URL.replace("example", "renewed")
    bridge.set_state(Phase.identifying, method=Method.mobile, mobile_url=renewed,
                     mobile_expires_in_s=180)
    kiosk.wait_screen("mobile", seq=bridge.state.seq)
    assert screen_codes(kiosk) == [renewed]
