"""Camera sources are plug-ins: the kiosk finds the ``camera`` setting's scheme among the
``selfreg.frame_sources`` entry points, so the product never imports the simulator's camera."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

import kiosk.camera as camera
from kiosk.camera import BUILTIN, CameraUnavailable, frame_sources, make_camera
from kiosk.camera.opencv import OpenCVCamera

ROOT = Path(__file__).resolve().parents[2]


def test_no_module_of_the_kiosk_imports_the_simulator() -> None:
    offenders = []
    for path in sorted((ROOT / "kiosk").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n.split(".")[0] == "simulator"]
    assert offenders == []


def test_the_installed_package_registers_the_three_camera_sources() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][
        "selfreg.frame_sources"]
    assert frame_sources() == declared  # what pip installed is what pyproject.toml says
    assert set(declared) == {"opencv", "android", "virtual"}
    for name, target in BUILTIN.items():  # the kiosk's own, known without metadata too
        assert declared[name] == target


def test_the_virtual_camera_is_reached_through_its_registration(
        monkeypatch: pytest.MonkeyPatch) -> None:
    source = make_camera("virtual:show=card-qr:1001,seed=2", fps=60)
    assert type(source).__module__ == "simulator.virtual_camera"
    # Without the simulator's registration (a till installed from a wheel of the product only,
    # or an APK: no package metadata), "virtual" is a clear error, and a device index still works.
    monkeypatch.setattr(camera.metadata, "entry_points", lambda group: [])
    with pytest.raises(CameraUnavailable, match=r"no frame source named 'virtual'.*simulator"):
        make_camera("virtual:show=card-qr:1001")
    assert isinstance(make_camera("0"), OpenCVCamera)


def test_another_package_can_plug_in_a_frame_source(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # A real distribution on the path, with its entry point in its metadata.
    (tmp_path / "thermal_cam.py").write_text(
        "from kiosk.platform.fakes import FakeFrameSource\n"
        "def source(options, *, size, fps, mirror):\n"
        "    return FakeFrameSource([], size=size, description=f'thermal {options}')\n")
    info = tmp_path / "thermal_cam-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thermal-cam\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[selfreg.frame_sources]\nthermal = thermal_cam:source\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    source = make_camera("thermal:lane-3", size=(640, 480))
    assert (source.description, source.size) == ("thermal lane-3", (640, 480))
    sys.modules.pop("thermal_cam", None)


def test_an_unknown_scheme_names_what_is_installed() -> None:
    with pytest.raises(CameraUnavailable) as caught:
        make_camera("webcam:2")
    assert "no frame source named 'webcam'" in caught.value.reason
    assert "android, opencv, virtual" in caught.value.reason


def test_a_bare_index_goes_to_the_platform_s_own_source(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(make_camera("2"), OpenCVCamera)
    assert isinstance(make_camera("opencv:2"), OpenCVCamera)
    monkeypatch.setenv("ANDROID_ARGUMENT", "/data/data/se.selfreg.kiosk/files/app")
    from kiosk.camera.android import AndroidCamera

    source = make_camera("1", size=(1920, 1080))
    assert isinstance(source, AndroidCamera)
    assert (source.camera, source.requested_size) == ("1", (1920, 1080))
