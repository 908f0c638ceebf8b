"""The demo's Skanna ID: the machine's webcam when there is one, else the virtual camera."""

from __future__ import annotations

from pathlib import Path

import pytest

from cashier_bridge.config import Settings
from simulator.demo import _present, choose_camera


def test_a_machine_with_a_webcam_uses_it(tmp_path: Path) -> None:
    webcam = tmp_path / "video0"
    webcam.touch()
    assert choose_camera(Settings(), tmp_path, webcam) == ("0", None)


def test_without_a_webcam_the_virtual_camera_is_steered_from_the_terminal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    camera, control = choose_camera(Settings(), tmp_path, tmp_path / "no-such-device")
    assert control == tmp_path / "camera-control" and camera == f"virtual:control={control}"
    _present(control, "licence")
    assert control.read_text() == "licence"
    _present(control, "banana")
    assert "unknown item 'banana'" in capsys.readouterr().out
    assert control.read_text() == "licence"  # a typo changes nothing


def test_a_configured_camera_is_used_as_configured(tmp_path: Path) -> None:
    assert choose_camera(Settings(camera="/dev/video2"), tmp_path) == ("/dev/video2", None)
