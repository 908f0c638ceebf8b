"""Window set-up; must run before anything imports ``kivy.core.window``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.platform import Monitor

# A finger needs a target at least this big (ISO 9241-9 and the platform guidelines agree on
# 9-10 mm); the kiosk checks its smallest button against it on the monitor it is given.
MIN_TOUCH_MM = 9.0
# Text a shopper reads at arm's length (about 60 cm): capitals at least 16 minutes of arc high
# (the minimum of ISO 9241-303 and ANSI/HFES 100), 2.8 mm, which is a font size of about 4 mm.
MIN_TEXT_MM = 4.0
# Kivy's own unit on a desktop: a density of 1 at 96 dpi.
DESKTOP_DPI = 96.0


class UnknownMonitor(ValueError):
    """``--display`` names no monitor the X server has; the message lists the ones it has."""


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    size = (int(width), int(height))
    if min(size) < 100:
        raise ValueError(f"window size {text!r} is too small")
    return size


def describe(monitor: Monitor) -> str:
    size = (f", {monitor.width_mm}×{monitor.height_mm} mm" if monitor.width_mm else "")
    return (f"{monitor.index}: {monitor.name} {monitor.width}x{monitor.height}"
            f"+{monitor.x}+{monitor.y}{size}{' (primary)' if monitor.primary else ''}")


def choose_monitor(monitors: Sequence[Monitor], wanted: str) -> Monitor:
    """The monitor ``wanted`` names: a monitor's name, else its index in the list."""
    for monitor in monitors:
        if monitor.name == wanted:
            return monitor
    if wanted.strip().isdigit():
        for monitor in monitors:
            if monitor.index == int(wanted):
                return monitor
    listed = "\n  ".join(describe(m) for m in monitors) or "(none)"
    raise UnknownMonitor(f"there is no monitor {wanted!r}; the X server has:\n  {listed}\n"
                         "Give --display (or kiosk_display) one of these names or indexes.")


@dataclass(frozen=True)
class Placement:
    """Where the window goes and how Kivy sizes things there."""

    left: int
    top: int
    width: int
    height: int
    kiosk: bool  # the whole monitor, no cursor, no way out but the exit PIN
    dpi: float | None = None  # the monitor's, when the X server knows its physical size


def placement(size: tuple[int, int], *, fullscreen: bool = False,
              monitor: Monitor | None = None) -> Placement:
    """Fullscreen on a monitor is a borderless window exactly over it: SDL's own fullscreen
    takes whichever output SDL thinks is first, and on a till both screens share one X screen."""
    if monitor is None:
        return Placement(0, 0, size[0], size[1], kiosk=fullscreen)
    if fullscreen:
        return Placement(monitor.x, monitor.y, monitor.width, monitor.height, kiosk=True,
                         dpi=monitor.dpi)
    return Placement(monitor.x, monitor.y, min(size[0], monitor.width),
                     min(size[1], monitor.height), kiosk=False, dpi=monitor.dpi)


def configure_window(size: tuple[int, int], *, fullscreen: bool = False,
                     monitor: Monitor | None = None) -> Placement:
    """Borderless at the monitor's corner (0,0 without one), so window pixels are screen pixels
    less that corner (touch injection relies on it)."""
    where = placement(size, fullscreen=fullscreen, monitor=monitor)
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    if where.dpi is not None:
        # Kivy reads these once, when kivy.metrics is first imported: dp and sp then mean the
        # same physical size on this monitor as on any other.
        os.environ["KIVY_DPI"] = f"{where.dpi:.1f}"
        os.environ["KIVY_METRICS_DENSITY"] = f"{where.dpi / DESKTOP_DPI:.3f}"
    # The kiosk shows no image files (icons are drawn, codes are textures): SDL2 alone loads
    # Kivy's own, and Pillow (4 MB, 10 ms) stays out of the process.  Read when kivy is imported.
    os.environ.setdefault("KIVY_IMAGE", "sdl2")
    from kivy.config import Config

    Config.set("graphics", "width", str(where.width))
    Config.set("graphics", "height", str(where.height))
    Config.set("graphics", "borderless", "1")
    Config.set("graphics", "position", "custom")
    Config.set("graphics", "left", str(where.left))
    Config.set("graphics", "top", str(where.top))
    Config.set("graphics", "resizable", "0")
    # Without a monitor, "auto" keeps what --fullscreen always meant: SDL's fullscreen.
    Config.set("graphics", "fullscreen", "auto" if fullscreen and monitor is None else "0")
    Config.set("graphics", "show_cursor", "0" if where.kiosk else "1")
    Config.set("graphics", "always_on_top", "1" if where.kiosk else "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "exit_on_escape", "0")
    # Kivy's default 2x multisampling doubles every framebuffer; with Mesa's software renderer
    # (tills without a GPU driver, and Xvfb) that was 32 MB of the kiosk's 192 MB.  The screen's
    # shapes are flat and large, read at arm's length: their edges need no smoothing.
    Config.set("graphics", "multisamples", "0")
    return where


def smallest_target_mm(sizes_px: Sequence[tuple[float, float]], monitor: Monitor) -> float | None:
    """The smallest side of the given touch targets in millimetres on ``monitor`` (None when
    its physical size is unknown or there are no targets)."""
    if monitor.width_mm <= 0 or not sizes_px:
        return None
    mm_per_px = monitor.width_mm / monitor.width
    return min(min(w, h) for w, h in sizes_px) * mm_per_px


def smallest_text_mm(font_sizes_px: Sequence[float], monitor: Monitor) -> float | None:
    """The smallest font size among ``font_sizes_px`` in millimetres on ``monitor``."""
    if monitor.width_mm <= 0 or not font_sizes_px:
        return None
    return min(font_sizes_px) * monitor.width_mm / monitor.width
