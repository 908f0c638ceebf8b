"""While the bridge is unreachable the customer screen says "out of order – please ask the
cashier" (never a stack trace or the desktop), and it comes back by itself when the bridge does:
a real bridge process, started late, killed and started again."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import ImageGrab
from till_harness import LANE, MONITOR_H, MONITOR_W, start_kiosk, tap

from kiosk import theme
from simulator.processes import BridgeProcess, KioskProcess

pytestmark = pytest.mark.kiosk

OUT_OF_ORDER = {"sv": "Ur funktion – fråga kassören",
                "en": "Out of order – please ask the cashier",
                "nl": "Buiten gebruik – vraag het de kassamedewerker"}


def _out_of_order(kiosk: KioskProcess, since: int) -> dict[str, object]:
    shown = kiosk.wait_for(lambda p: p.get("screen") == "offline", 20,
                           what="the out of order screen", since=since)
    assert shown["online"] is False
    return shown


def _covers_the_customer_monitor(display: str) -> None:
    """No desktop showing through: the kiosk's page colour edge to edge."""
    shot = ImageGrab.grab(xdisplay=display).convert("RGB")
    page = tuple(round(c * 255) for c in theme.BACKGROUND[:3])
    for x, y in ((MONITOR_W + 2, MONITOR_H - 2), (2 * MONITOR_W - 2, MONITOR_H - 2),
                 (MONITOR_W + 2, MONITOR_H // 2)):
        pixel = shot.getpixel((x, y))
        assert isinstance(pixel, tuple)
        assert all(abs(a - b) <= 3 for a, b in zip(pixel, page, strict=False)), (x, y, pixel)


def test_the_kiosk_is_out_of_order_while_the_bridge_is_away_and_comes_back_by_itself(
        till_display: str, tmp_path: Path) -> None:
    bridge = BridgeProcess(tmp_path / "bridge")
    (tmp_path / "bridge").mkdir()
    token = bridge.token(LANE, "kiosk")  # paired before the till boots; the bridge is not up
    kiosk = start_kiosk(tmp_path / "kiosk", bridge, till_display)
    assert kiosk.token == token
    try:
        # The till boots faster than the bridge: the shopper sees out of order, not an error.
        shown = _out_of_order(kiosk, since=0)
        assert OUT_OF_ORDER["sv"] in shown["texts"]
        _covers_the_customer_monitor(till_display)

        mark = kiosk.mark()
        bridge.start()
        kiosk.wait_for(lambda p: p.get("screen") == "idle" and p.get("online"), 30,
                       what="the idle screen once the bridge is up", since=mark)

        # The bridge dies (kill -9: no goodbye on the websocket).
        mark = kiosk.mark()
        bridge.kill()
        shown = _out_of_order(kiosk, since=mark)
        assert OUT_OF_ORDER["sv"] in shown["texts"]
        assert set(shown["buttons"]) == {"lang"}  # nothing to press that could go nowhere
        # A shopper who reads another language gets it in theirs.
        for language in ("en", "nl"):
            mark = kiosk.mark()
            tap(kiosk, "lang")
            shown = kiosk.wait_for(lambda p, lang=language: p.get("language") == lang, 10,
                                   what=f"the screen in {language}", since=mark)
            assert shown["screen"] == "offline"
            assert OUT_OF_ORDER[language] in shown["texts"]

        mark = kiosk.mark()
        bridge.start()  # systemd restarts it, on the same port
        back = kiosk.wait_for(lambda p: p.get("screen") == "idle" and p.get("online"), 30,
                              what="the idle screen once the bridge is back", since=mark)
        assert not any(t in back["texts"] for t in OUT_OF_ORDER.values())
        assert kiosk.proc is not None and kiosk.proc.poll() is None  # never restarted
    finally:
        kiosk.stop()
        bridge.stop()
    log = kiosk.log_path.read_text(errors="replace")
    assert "Traceback" not in log
