"""deploy/android/buildozer.spec: what a device build depends on, checked without building (the
Android SDK/NDK cannot be downloaded here).  Parsed with configparser as buildozer parses it."""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANDROID = ROOT / "deploy" / "android"

# python-for-android's recipes at the release the spec pins (p4a.branch), name -> version, read
# from pythonforandroid/recipes/*/__init__.py at tag v2026.05.09.  A requirement that is not a
# recipe is pure Python and must be pinned with ==.
P4A_RELEASE = "v2026.05.09"
RECIPES = {"python3": "3.14.2", "kivy": "2.3.1", "pyjnius": "1.7.0", "android": "",
           "numpy": "2.3.0", "opencv": "4.12.0", "libzbar": "0.10", "pyzbar": "0.1.9",
           "pydantic-core": "2.41.4", "pillow": "11.3.0"}
# Where a Linux distribution's name differs from the recipe's.
RECIPE_OF = {"opencv-python-headless": "opencv", "opencv-python": "opencv"}


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def spec() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(allow_no_value=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # buildozer's keys keep case
    assert parser.read(ANDROID / "buildozer.spec") == [str(ANDROID / "buildozer.spec")]
    return parser["app"]


def listed(spec: configparser.SectionProxy, key: str) -> list[str]:
    return [v.strip() for v in spec[key].split(",") if v.strip()]  # buildozer's getlist


def requirements(spec: configparser.SectionProxy) -> dict[str, str]:
    out = {}
    for req in listed(spec, "requirements"):
        name, _, version = req.partition("==")
        out[normal(name)] = version
    return out


def test_the_app_asks_for_the_camera_keeps_the_screen_on_and_reaches_the_bridge(
        spec: configparser.SectionProxy) -> None:
    assert set(listed(spec, "android.permissions")) == {"CAMERA", "INTERNET", "WAKE_LOCK"}
    assert spec.getboolean("android.wakelock")
    assert spec["orientation"] == "landscape"
    assert spec.getboolean("fullscreen")
    assert not spec.getboolean("android.allow_backup")  # personal data stays off backups


def test_the_api_levels_match_what_the_code_and_python_for_android_support(
        spec: configparser.SectionProxy) -> None:
    from kiosk.platform.android import LAUNCH_DISPLAY_API

    minapi, target = spec.getint("android.minapi"), spec.getint("android.api")
    assert minapi == spec.getint("android.ndk_api") == 24  # Android 7.0
    assert target >= 30  # python-for-android warns below it
    assert minapi < LAUNCH_DISPLAY_API <= target  # Android 7 runs, on the built-in display
    assert spec["android.manifest.launch_mode"] == "standard"


def test_every_requirement_is_a_recipe_of_the_pinned_release_or_pinned(
        spec: configparser.SectionProxy) -> None:
    assert spec["p4a.branch"] == P4A_RELEASE
    reqs = requirements(spec)
    unpinned = [name for name, version in reqs.items() if name not in RECIPES and not version]
    assert unpinned == []
    assert "zxing-cpp" not in reqs and "zxingcpp" not in reqs  # python-for-android has no recipe
    # pydantic pinned to the release built on the recipe's pydantic-core.
    assert (reqs["pydantic"], RECIPES["pydantic-core"]) == ("2.12.3", "2.41.4")


def test_the_version_is_the_kiosk_s(spec: configparser.SectionProxy) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert spec["version"] == pyproject["project"]["version"]


def test_the_java_helper_is_where_the_spec_adds_sources(spec: configparser.SectionProxy) -> None:
    src = ANDROID / spec["android.add_src"]
    assert (src / "org" / "selfreg" / "kiosk" / "CameraBridge.java").is_file()


# The kiosk's runtime, imported in a child from the prepared APK folder with no zxing-cpp (as in
# the APK); prints the third-party distributions it loaded.
CHILD = r"""
import importlib, json, pkgutil, sys
before = set(sys.modules)  # the interpreter's own start-up (site, the venv's .pth hooks)
sys.modules["zxingcpp"] = None
sys.path.insert(0, ".")
import kiosk
modules = ["main"] + [m.name for m in pkgutil.walk_packages(kiosk.__path__, "kiosk.")]
for name in modules:
    importlib.import_module(name)
import numpy, kiosk.scanner
kiosk.scanner.decode(numpy.zeros((64, 64), numpy.uint8))  # zbar loads on its first frame
from importlib.metadata import packages_distributions
owners = packages_distributions()
first_party = {"kiosk", "cashier_bridge", "main"}
tops = {n.split(".")[0] for n, m in list(sys.modules.items())
        if m is not None and n not in before}
third = sorted({d for t in tops - set(sys.stdlib_module_names) - first_party
                for d in owners.get(t, [])})
print(json.dumps({"kiosk": kiosk.__file__, "distributions": third}))
"""


def test_the_prepared_folder_holds_the_entry_point_and_everything_the_kiosk_imports(
        spec: configparser.SectionProxy, tmp_path: Path) -> None:
    app = tmp_path / spec["source.dir"]
    subprocess.run([str(ANDROID / "prepare.sh"), str(app)], check=True, timeout=120,
                   capture_output=True)
    assert (app / "main.py").is_file()  # python-for-android starts main.py at the root
    assert (app / "assets" / "locale" / "sv" / "LC_MESSAGES" / "selfreg.po").is_file()
    included = set(listed(spec, "source.include_exts"))
    shipped = {p.suffix.lstrip(".") for p in app.rglob("*") if p.is_file()}
    assert {"py", "kv", "po", "png"} <= included and {"py", "kv", "po", "png"} <= shipped

    env = {"KIVY_NO_ARGS": "1", "KIVY_LOG_MODE": "PYTHON", "PATH": "/usr/bin",
           "KIVY_HOME": str(tmp_path / "kivy")}
    result = subprocess.run([sys.executable, "-c", CHILD], cwd=app, env=env, timeout=240,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.splitlines()[-1])
    assert Path(out["kiosk"]).resolve().is_relative_to(app)  # the copy, not the source tree
    reqs = requirements(spec)
    imported = {RECIPE_OF.get(normal(d), normal(d)) for d in out["distributions"]}
    assert imported - set(reqs) == set()
    assert {"numpy", "opencv", "pyzbar", "kivy", "pydantic", "websockets"} <= imported
    # Imported only inside the APK (kiosk/platform/android.py, kiosk/camera/android.py), and
    # zbar's C library under pyzbar.
    assert {"pyjnius", "android", "libzbar"} <= set(reqs)
