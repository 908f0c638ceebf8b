"""Leaving kiosk mode: only the exit PIN, with the exit status the unit does not restart on; the
screen saver is off while the kiosk runs and the till's own settings come back after."""

from __future__ import annotations

from pathlib import Path

import pytest
from till_harness import EXIT_PIN, hold_corner, screen_saver, start_kiosk, tap, x_tool

from kiosk import EXIT_LEFT_KIOSK
from simulator.processes import BridgeProcess, KioskProcess

pytestmark = pytest.mark.kiosk


def _till_saver(display: str) -> dict[str, object]:
    # What the till's desktop had before the kiosk came: blank after five minutes.
    x_tool(display, "xset", "s", "300", "300", "s", "blank")
    saver = screen_saver(display)
    assert saver == {"timeout": 300, "blanking": True}
    return saver


def _started(tmp_path: Path, bridge: BridgeProcess, display: str,
             **settings: str) -> KioskProcess:
    kiosk = start_kiosk(tmp_path, bridge, display, **settings)
    kiosk.wait_for(lambda p: p.get("screen") == "idle" and p.get("online"), 30,
                   what="the idle screen, connected", since=0)
    return kiosk


def test_the_right_pin_leaves_kiosk_mode_with_exit_status_10_and_the_screen_saver_back(
        till_display: str, bridge: BridgeProcess, tmp_path: Path) -> None:
    before = _till_saver(till_display)
    kiosk = _started(tmp_path, bridge, till_display)
    try:
        assert screen_saver(till_display) == {"timeout": 0, "blanking": False}
        hold_corner(kiosk)
        for digit in EXIT_PIN:
            mark = kiosk.mark()
            tap(kiosk, f"pin_{digit}")
            kiosk.wait_for(lambda p: "•" in "".join(p.get("texts", [])), 10, since=mark,
                           what="the digit")
        tap(kiosk, "pin_ok")
        assert kiosk.proc is not None
        assert kiosk.proc.wait(30) == EXIT_LEFT_KIOSK == 10
    finally:
        kiosk.stop()
    assert screen_saver(till_display) == before
    log = kiosk.log_path.read_text(errors="replace")
    assert "kiosk mode left with the exit PIN" in log
    assert EXIT_PIN not in log
    assert "Traceback" not in log


def test_without_an_exit_pin_the_corner_opens_nothing_and_the_unit_can_still_stop_it(
        till_display: str, bridge: BridgeProcess, tmp_path: Path) -> None:
    before = _till_saver(till_display)
    kiosk = _started(tmp_path, bridge, till_display, kiosk_exit_pin="")
    try:
        mark = kiosk.mark()
        x_tool(till_display, "xdotool", "mousemove", "1950", "30", "mousedown", "1")
        # The kiosk says in its log when the press has lasted long enough to count.
        kiosk.wait_for(lambda _p: "no kiosk_exit_pin is set" in kiosk.log_path.read_text(
            errors="replace"), 15, what="the long press to be noticed")
        x_tool(till_display, "xdotool", "mouseup", "1")
        assert all(p["screen"] != "leave_kiosk" for p in kiosk.history(mark))
        # systemd stops it with SIGTERM: a clean exit, status 0, whatever kiosk mode refuses.
        assert kiosk.proc is not None
        kiosk.proc.terminate()
        assert kiosk.proc.wait(30) == 0
    finally:
        kiosk.stop()
    assert screen_saver(till_display) == before
