"""A till under Xvfb: one 3840×1080 X screen split into the cashier's monitor (left) and the
customer's (right) with ``xrandr --setmonitor``, and a real bridge."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from till_harness import MONITOR_H, MONITOR_MM, MONITOR_W, x_tool

from simulator.processes import BridgeProcess, VirtualScreen


@pytest.fixture(scope="session")
def till_display() -> Iterator[str]:
    """The till's X screen with two monitors; VirtualScreen runs Xvfb with -noreset, without
    which the server forgets the monitors when the last client (xrandr) disconnects."""
    for tool, package in (("Xvfb", "xvfb"), ("xdotool", "xdotool"),
                          ("xrandr", "x11-xserver-utils"), ("xset", "x11-xserver-utils"),
                          ("xinput", "xinput")):
        if shutil.which(tool) is None:
            pytest.fail(f"the till tests need {tool} (apt-get install {package})")
    screen = VirtualScreen(2 * MONITOR_W, MONITOR_H)
    display = screen.start()
    w_mm, h_mm = MONITOR_MM
    # "left" takes over Xvfb's only output, so the automatic whole-screen monitor goes away.
    x_tool(display, "xrandr", "--setmonitor", "left",
           f"{MONITOR_W}/{w_mm}x{MONITOR_H}/{h_mm}+0+0", "screen")
    x_tool(display, "xrandr", "--setmonitor", "right",
           f"{MONITOR_W}/{w_mm}x{MONITOR_H}/{h_mm}+{MONITOR_W}+0", "none")
    try:
        yield display
    finally:
        screen.stop()


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    b = BridgeProcess(tmp_path_factory.mktemp("till-bridge"))
    b.start()
    yield b
    b.stop()


