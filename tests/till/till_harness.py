"""Helpers for the till tests: the two-monitor screen's geometry, the kiosk started as its unit
starts it (settings from the environment), taps at screen pixels, and xset's state."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from simulator.processes import BridgeProcess, KioskProcess

LANE = "lane-1"
MONITOR_W, MONITOR_H = 1920, 1080
# A 15.6" customer display, as its EDID would say.
MONITOR_MM = (344, 194)
EXIT_PIN = "4711"


def x_tool(display: str, *args: str) -> str:
    done = subprocess.run(list(args), env={**os.environ, "DISPLAY": display}, capture_output=True,
                          text=True, timeout=20, check=True)
    return done.stdout


def kiosk_env(**settings: str) -> dict[str, str]:
    env = {"SELFREG_KIOSK_DISPLAY": "right", "SELFREG_KIOSK_FULLSCREEN": "true",
           "SELFREG_KIOSK_EXIT_PIN": EXIT_PIN, "SELFREG_LANGUAGE": "sv"}
    for key, value in settings.items():  # "" leaves the setting out (its default)
        if value:
            env[f"SELFREG_{key.upper()}"] = value
        else:
            env.pop(f"SELFREG_{key.upper()}", None)
    return env


def start_kiosk(workdir: Path, bridge: BridgeProcess, display: str,
                **settings: str) -> KioskProcess:
    kiosk = KioskProcess(workdir, bridge.url, LANE, display, token=bridge.token(LANE, "kiosk"),
                         env=kiosk_env(**settings))
    kiosk.start(timeout=60)
    return kiosk


def press(display: str, x: int, y: int) -> None:
    """A finger's tap at screen pixel (x, y)."""
    x_tool(display, "xdotool", "mousemove", str(x), str(y), "click", "1")


def tap(kiosk: KioskProcess, button: str, origin: tuple[int, int] = (MONITOR_W, 0)) -> None:
    """Tap a kiosk button by its probe id: the probe gives window pixels, the screen has the
    window at the monitor's corner."""
    shown = kiosk.wait_for(lambda p: button in p.get("buttons", {}), 10,
                           what=f"button {button!r}")
    x, y = shown["buttons"][button]
    press(kiosk.display, origin[0] + int(x), origin[1] + int(y))


def screen_saver(display: str) -> dict[str, Any]:
    from kiosk.platform.linux import parse_xset_q

    saved = parse_xset_q(x_tool(display, "xset", "q"))
    return {"timeout": saved.timeout, "blanking": saved.blanking}


def hold_corner(kiosk: KioskProcess, origin: tuple[int, int] = (MONITOR_W, 0)) -> dict[str, Any]:
    """Staff's long press on the kiosk's top left corner: held until the exit pad shows."""
    mark = kiosk.mark()
    x_tool(kiosk.display, "xdotool", "mousemove", str(origin[0] + 30), str(origin[1] + 30),
           "mousedown", "1")
    try:
        return kiosk.wait_screen("leave_kiosk", timeout=15, since=mark)
    finally:
        x_tool(kiosk.display, "xdotool", "mouseup", "1")


def type_pin(kiosk: KioskProcess, pin: str) -> dict[str, Any]:
    """Type ``pin`` on the exit pad and press its button; the pad's screen after it (or the
    last screen before the process ended)."""
    for typed in range(1, len(pin) + 1):
        mark = kiosk.mark()
        tap(kiosk, f"pin_{pin[typed - 1]}")
        # Each key rebuilds the pad: the next tap waits until it is back in place.
        kiosk.wait_for(lambda p, n=typed: "•" * n in p.get("texts", []), 10,
                       what=f"{typed} PIN digits", since=mark)
    mark = kiosk.mark()
    tap(kiosk, "pin_ok")
    return kiosk.wait_for(lambda p: not any("•" in t for t in p.get("texts", [])), 10,
                          what="the PIN to be taken", since=mark)


def cursor_visible_at(display: str, x: int, y: int) -> bool:
    """Whether the X server draws a visible pointer with the pointer at (x, y): the cursor image
    XFixes reports there has any pixel that is not fully transparent."""
    import ctypes
    import ctypes.util

    class CursorImage(ctypes.Structure):
        _fields_ = [("x", ctypes.c_short), ("y", ctypes.c_short),
                    ("width", ctypes.c_ushort), ("height", ctypes.c_ushort),
                    ("xhot", ctypes.c_ushort), ("yhot", ctypes.c_ushort),
                    ("cursor_serial", ctypes.c_ulong),
                    ("pixels", ctypes.POINTER(ctypes.c_ulong))]

    x_tool(display, "xdotool", "mousemove", str(x), str(y))
    xlib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    xfixes = ctypes.CDLL(ctypes.util.find_library("Xfixes") or "libXfixes.so.3")
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    xlib.XFree.argtypes = [ctypes.c_void_p]
    xfixes.XFixesGetCursorImage.restype = ctypes.POINTER(CursorImage)
    xfixes.XFixesGetCursorImage.argtypes = [ctypes.c_void_p]
    connection = xlib.XOpenDisplay(display.encode())
    assert connection, f"cannot open {display}"
    try:
        image = xfixes.XFixesGetCursorImage(connection)
        assert image, "XFixes gave no cursor image"
        try:
            cursor = image.contents
            pixels = [cursor.pixels[i] for i in range(cursor.width * cursor.height)]
        finally:
            xlib.XFree(image)
    finally:
        xlib.XCloseDisplay(connection)
    return any(p >> 24 & 0xFF for p in pixels)  # ARGB: any alpha


def ask_window_to_close(display: str, x: int, y: int) -> int:
    """What a window manager does on Alt-F4 or its close button: a WM_DELETE_WINDOW message to
    the window at screen pixel (x, y). Returns the window id."""
    import ctypes
    import ctypes.util

    where = x_tool(display, "xdotool", "mousemove", str(x), str(y), "getmouselocation",
                   "--shell")
    window = int(dict(line.split("=", 1) for line in where.split())["WINDOW"])

    class Data(ctypes.Union):
        _fields_ = [("l", ctypes.c_long * 5)]

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong),
                    ("send_event", ctypes.c_int), ("display", ctypes.c_void_p),
                    ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("data", Data)]

    class Event(ctypes.Union):
        _fields_ = [("client", ClientMessage), ("pad", ctypes.c_long * 24)]

    xlib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XInternAtom.restype = ctypes.c_ulong
    xlib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    xlib.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                                ctypes.POINTER(Event)]
    xlib.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    connection = xlib.XOpenDisplay(display.encode())
    assert connection, f"cannot open {display}"
    try:
        event = Event()
        event.client.type = 33  # ClientMessage
        event.client.window = window
        event.client.message_type = xlib.XInternAtom(connection, b"WM_PROTOCOLS", 0)
        event.client.format = 32
        event.client.data.l[0] = xlib.XInternAtom(connection, b"WM_DELETE_WINDOW", 0)
        assert xlib.XSendEvent(connection, window, 0, 0, ctypes.byref(event))
        xlib.XSync(connection, 0)
    finally:
        xlib.XCloseDisplay(connection)
    return window


def speak(kiosk: KioskProcess, language: str) -> None:
    """Tap the language button until the kiosk speaks ``language`` (tests share one kiosk)."""
    for _ in range(3):
        shown = kiosk.wait_for(lambda p: "lang" in p.get("buttons", {}), what="the language")
        if shown["language"] == language:
            return
        mark = kiosk.mark()
        tap(kiosk, "lang")
        kiosk.wait_for(lambda p, was=shown["language"]: p.get("language") != was, 10,
                       what="the language to change", since=mark)
    raise AssertionError(f"the kiosk never spoke {language}")
