"""The kiosk on the customer's monitor of a two-monitor till: drawn there and only there, touched
there and only there, and not closed by the keys that close ordinary windows."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageGrab
from till_harness import (
    EXIT_PIN,
    MONITOR_H,
    MONITOR_W,
    ask_window_to_close,
    cursor_visible_at,
    hold_corner,
    press,
    speak,
    start_kiosk,
    tap,
    type_pin,
    x_tool,
)

from kiosk import theme
from simulator.processes import BridgeProcess, KioskProcess, VirtualScreen, _env

pytestmark = pytest.mark.kiosk


def rgb(colour: tuple[float, ...]) -> tuple[int, int, int]:
    return tuple(round(c * 255) for c in colour[:3])  # type: ignore[return-value]


def near(pixel: object, colour: tuple[int, int, int], tolerance: int = 3) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(p - c) <= tolerance for p, c in zip(pixel, colour, strict=False))


@pytest.fixture(scope="module")
def kiosk(till_display: str, bridge: BridgeProcess,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[KioskProcess]:
    k = start_kiosk(tmp_path_factory.mktemp("till-kiosk"), bridge, till_display)
    k.wait_for(lambda p: p.get("screen") == "idle" and p.get("online"), 30,
               what="the idle screen, connected", since=0)
    yield k
    k.stop()


def test_the_kiosk_fills_the_customer_monitor_and_leaves_the_cashiers_alone(
        kiosk: KioskProcess, till_display: str) -> None:
    shown = kiosk.wait_for(lambda p: p.get("screen") == "idle", what="the idle screen")
    assert shown["window"] == [MONITOR_W, MONITOR_H]

    shot = ImageGrab.grab(xdisplay=till_display).convert("RGB")
    assert shot.size == (2 * MONITOR_W, MONITOR_H)
    cashiers = shot.crop((0, 0, MONITOR_W, MONITOR_H))
    customers = shot.crop((MONITOR_W, 0, 2 * MONITOR_W, MONITOR_H))
    # Nothing of the kiosk on the cashier's monitor: Xvfb's bare black root, every pixel.
    assert cashiers.getextrema() == ((0, 0), (0, 0), (0, 0))
    # The customer's monitor is the kiosk's, edge to edge: the green header from its very
    # first pixel column to its last, the page colour below, down to the bottom row.
    header, page = rgb(theme.PRIMARY), rgb(theme.BACKGROUND)
    for x in (0, MONITOR_W // 2, MONITOR_W - 1):
        assert near(customers.getpixel((x, 2)), header), x
        assert near(customers.getpixel((x, MONITOR_H - 1)), page), x
    assert near(customers.getpixel((MONITOR_W // 2, MONITOR_H // 2 + 200)), page)
    colours = customers.getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 10  # text and icons drawn, not a blank fill
    _keep(shot, kiosk)


def _keep(shot: Image.Image, kiosk: KioskProcess) -> None:
    # For a person looking at a failure: the whole till screen as the test saw it.
    shot.save(kiosk.workdir / "till-screen.png")


def test_a_tap_on_the_customer_monitor_reaches_the_kiosk_and_one_on_the_cashiers_does_not(
        kiosk: KioskProcess, till_display: str) -> None:
    shown = kiosk.wait_for(lambda p: "lang" in p.get("buttons", {}), what="the language button")
    language = shown["language"]
    x, y = shown["buttons"]["lang"]
    mark = kiosk.mark()
    press(till_display, x, y)  # the same spot, on the cashier's monitor
    press(till_display, MONITOR_W + x, y)  # on the customer's
    after = kiosk.wait_for(lambda p: p.get("language") != language, 10,
                           what="the language to change", since=mark)
    # One change, from the customer's tap; the cashier's, delivered first, reached nothing.
    assert after["language"] == {"sv": "en", "en": "nl", "nl": "sv"}[language]
    assert {p["language"] for p in kiosk.history(mark)} <= {language, after["language"]}


def test_escape_and_alt_f4_do_not_close_the_kiosk(kiosk: KioskProcess,
                                                   till_display: str) -> None:
    shown = kiosk.wait_for(lambda p: "lang" in p.get("buttons", {}), what="the language button")
    language = shown["language"]
    # The pointer over the kiosk: with no window manager, X gives the keys to that window.
    x_tool(till_display, "xdotool", "mousemove", str(MONITOR_W + 600), "500",
           "key", "Escape", "key", "alt+F4", "key", "ctrl+q", "key", "ctrl+w")
    mark = kiosk.mark()
    tap(kiosk, "lang")  # handled after the keys: the kiosk is still there to handle it
    kiosk.wait_for(lambda p: p.get("language") != language, 10, what="the language to change",
                   since=mark)
    assert kiosk.proc is not None and kiosk.proc.poll() is None


def test_a_short_touch_or_a_swipe_from_the_corner_does_not_open_the_exit_pad(
        kiosk: KioskProcess, till_display: str) -> None:
    kiosk.wait_for(lambda p: p.get("screen") == "idle", what="the idle screen")
    mark = kiosk.mark()
    log_before = kiosk.log_path.read_text(errors="replace")

    def said(text: str, times: int = 1) -> None:
        """Wait until the kiosk has logged ``text`` this many times since the test began."""
        kiosk.wait_for(lambda _p: kiosk.log_path.read_text(errors="replace")[len(log_before):]
                       .count(text) >= times, 10, what=f"the kiosk to say {text!r} {times}x")

    press(till_display, MONITOR_W + 30, 30)  # a shopper's quick touch on the logo
    said("the exit corner is being held")
    said("the exit corner was let go of before 3 s")
    # A swipe starting there: down (seen by the kiosk), then off the corner, still down.
    x_tool(till_display, "xdotool", "mousemove", str(MONITOR_W + 30), "30", "mousedown", "1")
    try:
        said("the exit corner is being held", times=2)
        x_tool(till_display, "xdotool", "mousemove", str(MONITOR_W + 600), "400")
        said("a touch moved off the exit corner")
    finally:
        x_tool(till_display, "xdotool", "mouseup", "1")
    assert all(p["screen"] != "leave_kiosk" for p in kiosk.history(mark))


def test_wrong_exit_pins_pause_the_pad_and_then_even_the_right_one_waits(
        kiosk: KioskProcess, till_display: str) -> None:
    kiosk.wait_for(lambda p: p.get("screen") == "idle", what="the idle screen")
    speak(kiosk, "sv")
    pad = hold_corner(kiosk)
    assert pad["screen"] == "leave_kiosk"
    assert set(pad["buttons"]) >= {f"pin_{d}" for d in "0123456789"} | {"pin_ok", "pin_cancel"}

    shown = type_pin(kiosk, "0000")
    assert any(t.endswith("2") and "PIN" in t for t in shown["texts"]), shown["texts"]
    shown = type_pin(kiosk, "1234")
    assert any(t.endswith("1") and "PIN" in t for t in shown["texts"]), shown["texts"]
    shown = type_pin(kiosk, "9999")
    paused = [t for t in shown["texts"] if t.startswith("För många felaktiga PIN-koder")]
    assert paused, shown["texts"]
    assert "60 sekunder" in paused[0]
    # During the pause the right PIN does not open the way out either.
    shown = type_pin(kiosk, EXIT_PIN)
    assert shown["screen"] == "leave_kiosk"
    assert any(t.startswith("För många felaktiga PIN-koder") for t in shown["texts"])
    assert kiosk.proc is not None and kiosk.proc.poll() is None
    assert not any("•" in t for t in shown["texts"])  # typed digits never stay on screen

    mark = kiosk.mark()
    tap(kiosk, "pin_cancel")
    kiosk.wait_screen("idle", since=mark)
    log = kiosk.log_path.read_text(errors="replace")
    assert EXIT_PIN not in log and "0000" not in log


def test_an_unknown_display_is_refused_with_the_monitors_the_till_has(
        till_display: str, tmp_path: os.PathLike[str]) -> None:
    env = {**_env(tmp_path), "DISPLAY": till_display,  # type: ignore[arg-type]
           "SELFREG_KIOSK_DISPLAY": "HDMI-9"}
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "--fullscreen"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "there is no monitor 'HDMI-9'" in done.stderr
    assert "0: left 1920x1080+0+0, 344×194 mm" in done.stderr
    assert "1: right 1920x1080+1920+0, 344×194 mm" in done.stderr
    assert "Traceback" not in done.stderr


def _log_line(kiosk: KioskProcess, text: str) -> str:
    """The kiosk's log line containing ``text``, once it is written."""
    def written(_probe: object) -> bool:
        return text in kiosk.log_path.read_text(errors="replace")
    kiosk.wait_for(written, 20, what=f"the log to say {text!r}")
    return next(line for line in kiosk.log_path.read_text(errors="replace").splitlines()
                if text in line)


def test_kivy_is_told_the_monitors_density_and_the_buttons_are_big_enough_for_a_finger(
        kiosk: KioskProcess) -> None:
    # 1920 px across 344 mm: 141.8 dpi, 1.48 times a 96 dpi desktop's.
    assert _log_line(kiosk, "Kivy dpi").endswith(
        "monitor right: 1920x1080 at +1920+0, Kivy dpi 142, density 1.48")
    assert _log_line(kiosk, "smallest button").endswith(
        "smallest button on monitor right: 13.5 mm")
    assert _log_line(kiosk, "smallest text").endswith("smallest text on monitor right: 5.8 mm")
    # Every screen shown so far was checked as it was shown, and none was too small.
    assert "WARNING:selfreg.kiosk:on monitor" not in kiosk.log_path.read_text(errors="replace")


def test_a_customer_screen_too_small_for_fingers_is_warned_about(
        bridge: BridgeProcess, tmp_path: os.PathLike[str]) -> None:
    seven_inch = VirtualScreen(1024, 600)
    display = seven_inch.start()
    try:
        x_tool(display, "xrandr", "--setmonitor", "DSI-1", "1024/154x600/90+0+0", "screen")
        k = start_kiosk(Path(tmp_path), bridge, display, kiosk_display="DSI-1")
        try:
            button = _log_line(k, "the smallest button is")
            text = _log_line(k, "the smallest text is")
        finally:
            k.stop()
    finally:
        seven_inch.stop()
    assert button.startswith("WARNING:")
    assert "on monitor DSI-1 (154 mm wide) the smallest button is 6.3 mm, under the 9 mm a " \
           "finger needs" in button
    assert text.startswith("WARNING:")
    assert "on monitor DSI-1 (154 mm wide) the smallest text is 2.7 mm, under the 4 mm a " \
           "shopper reads at arm's length" in text


def test_the_pointer_is_hidden_over_the_kiosk_and_not_over_the_cashiers_monitor(
        kiosk: KioskProcess, till_display: str) -> None:
    kiosk.wait_for(lambda p: p.get("screen") == "idle", what="the idle screen")
    assert cursor_visible_at(till_display, 600, 500)
    assert not cursor_visible_at(till_display, MONITOR_W + 600, 500)


def test_the_window_managers_close_is_refused_in_kiosk_mode(kiosk: KioskProcess,
                                                            till_display: str) -> None:
    root = x_tool(till_display, "xdotool", "mousemove", "600", "500", "getmouselocation",
                  "--shell")  # over the cashier's monitor: X's root window
    # Alt-F4 or the close button under a window manager
    window = ask_window_to_close(till_display, MONITOR_W + 600, 500)
    assert f"WINDOW={window}\n" not in root  # the message went to the kiosk's window
    kiosk.wait_for(lambda _p: "request to close the kiosk window was refused"
                   in kiosk.log_path.read_text(errors="replace"), 10, what="the refusal")
    shown = kiosk.wait_for(lambda p: "lang" in p.get("buttons", {}), what="the language button")
    mark = kiosk.mark()
    tap(kiosk, "lang")  # still there, still answering
    kiosk.wait_for(lambda p: p.get("language") != shown["language"], 10,
                   what="the language to change", since=mark)
    assert kiosk.proc is not None and kiosk.proc.poll() is None
