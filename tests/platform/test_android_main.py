"""The APK's entry point (deploy/android/main.py), with the platform fakes: the kiosk goes to the
customer display, keeps the screen on while it runs and asks for the camera."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from kiosk.platform import Monitor
from kiosk.platform.android import DisplayUnavailable
from kiosk.platform.choose import Platform
from kiosk.platform.fakes import FakeCameraPermission, FakeDisplays, FakeScreenKeeper

MAIN = Path(__file__).resolve().parents[2] / "deploy" / "android" / "main.py"
BUILT_IN = Monitor("0", 0, 0, 0, 1920, 1080, 345, 194, primary=True)
CUSTOMER = Monitor("2", 1, 0, 0, 1280, 800, 218, 136)


@pytest.fixture(scope="module")
def entry() -> ModuleType:
    spec = importlib.util.spec_from_file_location("selfreg_apk_main", MAIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def platform(*monitors: Monitor, granted: bool = False) -> Platform:
    return Platform("android", FakeDisplays(monitors), FakeScreenKeeper(),
                    FakeCameraPermission(granted=granted, answer=None), "android")


class Kiosk:
    def __init__(self, keeper: FakeScreenKeeper) -> None:
        self.keeper = keeper
        self.runs: list[list[str]] = []
        self.screen_on_while_running: list[bool] = []

    def __call__(self, argv: list[str]) -> int:
        self.runs.append(argv)
        self.screen_on_while_running.append(self.keeper.kept_on)
        return 0


def test_the_kiosk_moves_itself_to_the_customer_display_first(entry: ModuleType) -> None:
    parts = platform(BUILT_IN, CUSTOMER)
    moved: list[int] = []
    kiosk = Kiosk(parts.screen_keeper)  # type: ignore[arg-type]
    status = entry.start([], platform=parts, launch_on_display=lambda d: moved.append(d) or True,
                         run_kiosk=kiosk)
    assert (status, moved, kiosk.runs) == (0, [2], [])  # the new activity runs it there
    assert parts.screen_keeper.history == []  # type: ignore[attr-defined]


def test_on_the_customer_display_it_runs_full_screen_lit_and_asks_for_the_camera(
        entry: ModuleType) -> None:
    parts = platform(BUILT_IN, CUSTOMER)
    kiosk = Kiosk(parts.screen_keeper)  # type: ignore[arg-type]
    status = entry.start(["--lane", "kassa-1"], platform=parts,
                         launch_on_display=lambda d: False, run_kiosk=kiosk)
    assert status == 0
    assert kiosk.runs == [["--fullscreen", "--lane", "kassa-1"]]
    assert kiosk.screen_on_while_running == [True]
    assert parts.screen_keeper.history == ["keep_on", "release"]  # type: ignore[attr-defined]
    assert parts.camera_permission.requests == 1  # type: ignore[attr-defined]


def test_a_till_that_cannot_move_it_keeps_it_on_the_built_in_display(
        entry: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    parts = platform(BUILT_IN, CUSTOMER, granted=True)
    kiosk = Kiosk(parts.screen_keeper)  # type: ignore[arg-type]

    def refuse(display: int) -> bool:
        raise DisplayUnavailable("Android API 24 cannot start an app on another display")

    assert entry.start([], platform=parts, launch_on_display=refuse, run_kiosk=kiosk) == 0
    assert kiosk.runs == [["--fullscreen"]]
    assert "stays on the built-in display: Android API 24" in caplog.text
    assert parts.camera_permission.requests == 0  # type: ignore[attr-defined]  # granted


def test_a_till_with_one_screen_runs_the_kiosk_there(entry: ModuleType) -> None:
    parts = platform(BUILT_IN)
    kiosk = Kiosk(parts.screen_keeper)  # type: ignore[arg-type]

    def never(display: int) -> bool:
        raise AssertionError("there is no other display to move to")

    assert entry.start([], platform=parts, launch_on_display=never, run_kiosk=kiosk) == 0
    assert kiosk.runs == [["--fullscreen"]]


def test_on_a_till_android_s_presentation_display_is_the_one_chosen(
        entry: ModuleType, android: object) -> None:
    from fake_android import Display, FakeAndroid

    from kiosk.platform.android import AndroidDisplays

    assert isinstance(android, FakeAndroid)
    # A virtual display (screen recording, casting) is not the customer's.
    android.displays.insert(1, Display(5, 1920, 1080, 0.0, 0.0))
    parts = Platform("android", AndroidDisplays(), FakeScreenKeeper(), FakeCameraPermission(),
                     "android")
    moved: list[int] = []
    entry.start([], platform=parts, launch_on_display=lambda d: moved.append(d) or True,
                run_kiosk=Kiosk(parts.screen_keeper))  # type: ignore[arg-type]
    assert moved == [2]
