"""deploy/map-touch.sh on the two-monitor till screen: the touch device's transformation matrix
is what puts its whole surface onto the customer's monitor, and a second run changes nothing.

Xvfb has no touch screen, so its mouse stands in for one through --device; the matrix X applies
to an absolute (touch) device is the same property."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from till_harness import x_tool

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "map-touch.sh"
DEVICE = "Xvfb mouse"


def map_touch(display: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], env={**os.environ, "DISPLAY": display},
                          capture_output=True, text=True, timeout=60, check=False)


def matrix(display: str) -> list[float]:
    props = x_tool(display, "xinput", "list-props", DEVICE)
    found = re.search(r"Coordinate Transformation Matrix \(\d+\):\s*(.*)", props)
    assert found is not None, props
    return [round(float(v), 6) for v in found[1].split(",")]


@pytest.fixture
def unmapped(till_display: str) -> str:
    x_tool(till_display, "xinput", "set-prop", DEVICE, "Coordinate Transformation Matrix",
           "1", "0", "0", "0", "1", "0", "0", "0", "1")
    return till_display


def test_the_touch_device_is_mapped_onto_the_customer_monitor_once(unmapped: str) -> None:
    first = map_touch(unmapped, "--device", DEVICE, "right")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == \
        "map-touch: mapped 'Xvfb mouse' onto right (1920x1080+1920+0)"
    # x' = 0.5·x + 0.5: the device's left edge lands at the customer monitor's left edge, its
    # right edge at the screen's; y untouched.
    assert matrix(unmapped) == [0.5, 0, 0.5, 0, 1, 0, 0, 0, 1]

    again = map_touch(unmapped, "--device", DEVICE, "right")
    assert again.returncode == 0
    assert again.stdout.strip() == "map-touch: 'Xvfb mouse' is already mapped onto right"
    assert matrix(unmapped) == [0.5, 0, 0.5, 0, 1, 0, 0, 0, 1]


def test_a_monitor_is_also_found_by_its_index_and_the_setting(unmapped: str) -> None:
    by_index = map_touch(unmapped, "--device", DEVICE, "0")  # the cashier's, on the left
    assert by_index.returncode == 0, by_index.stderr
    assert matrix(unmapped) == [0.5, 0, 0, 0, 1, 0, 0, 0, 1]
    from_setting = subprocess.run(
        [str(SCRIPT), "--device", DEVICE], capture_output=True, text=True, timeout=60,
        env={**os.environ, "DISPLAY": unmapped, "SELFREG_KIOSK_DISPLAY": "right"}, check=False)
    assert from_setting.returncode == 0, from_setting.stderr
    assert matrix(unmapped) == [0.5, 0, 0.5, 0, 1, 0, 0, 0, 1]


def test_with_no_monitor_given_it_takes_the_kiosks_from_its_configuration_file(
        unmapped: str, tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('lane = "kassa-1"\nkiosk_display = "right"  # the customer screen\n')
    env = {k: v for k, v in os.environ.items() if k != "SELFREG_KIOSK_DISPLAY"}
    done = subprocess.run([str(SCRIPT), "--device", DEVICE], capture_output=True, text=True,
                          timeout=60, check=False,
                          env={**env, "DISPLAY": unmapped, "SELFREG_CONFIG": str(config)})
    assert done.returncode == 0, done.stderr
    assert "onto right (1920x1080+1920+0)" in done.stdout
    assert matrix(unmapped) == [0.5, 0, 0.5, 0, 1, 0, 0, 0, 1]
    config.write_text('lane = "kassa-1"\n')
    done = subprocess.run([str(SCRIPT), "--device", DEVICE], capture_output=True, text=True,
                          timeout=60, check=False,
                          env={**env, "DISPLAY": unmapped, "SELFREG_CONFIG": str(config)})
    assert done.returncode == 2
    assert "which monitor?" in done.stderr


def test_an_output_is_mapped_with_xinput_map_to_output(unmapped: str) -> None:
    map_touch(unmapped, "--device", DEVICE, "right")
    # "screen" is Xvfb's one RandR output (the whole 3840×1080), not a monitor of its own here.
    done = map_touch(unmapped, "--device", DEVICE, "--dry-run", "screen")
    assert done.stdout.strip() == "map-touch: would run: xinput map-to-output Xvfb mouse screen"
    assert matrix(unmapped) == [0.5, 0, 0.5, 0, 1, 0, 0, 0, 1]  # a dry run changes nothing
    done = map_touch(unmapped, "--device", DEVICE, "screen")
    assert done.returncode == 0, done.stderr
    assert matrix(unmapped) == [1, 0, 0, 0, 1, 0, 0, 0, 1]


def test_an_unknown_monitor_lists_the_monitors(unmapped: str) -> None:
    done = map_touch(unmapped, "--device", DEVICE, "HDMI-9")
    assert done.returncode == 2
    assert "there is no monitor 'HDMI-9'; the X server has:" in done.stderr
    assert "0: left 1920/344x1080/194+0+0" in done.stderr
    assert "1: right 1920/344x1080/194+1920+0" in done.stderr
    assert matrix(unmapped) == [1, 0, 0, 0, 1, 0, 0, 0, 1]


def test_with_no_touch_screen_plugged_in_it_says_so_and_names_the_devices(
        unmapped: str) -> None:
    done = map_touch(unmapped, "right")
    assert done.returncode == 1
    assert "no touch screen found among the X input devices" in done.stderr
    assert "  Xvfb mouse" in done.stderr


def test_without_an_x_session_it_says_what_is_missing(tmp_path: Path) -> None:
    done = subprocess.run([str(SCRIPT), "right"], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "DISPLAY"},
                          check=False)
    assert done.returncode == 3
    assert "DISPLAY is not set" in done.stderr
