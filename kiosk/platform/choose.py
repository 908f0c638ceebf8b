"""The platform implementations for the machine the kiosk is running on.

Each platform's module is imported only here, and only when it is the running one: the Android
module needs pyjnius, which exists only inside an APK, and the Linux one runs X tools.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.platform import CameraPermission, Displays, ScreenKeeper


@dataclass(frozen=True)
class Platform:
    """What the kiosk needs from the machine, for one platform."""

    name: str  # "android" or "linux"
    displays: Displays
    screen_keeper: ScreenKeeper
    camera_permission: CameraPermission
    frame_source: str  # the frame source a bare camera index goes to (kiosk.camera)


class NoRuntimePermission:
    """Desktop systems grant the camera by device permissions (the ``video`` group on Linux),
    never by asking the user: granted as far as the kiosk can tell; opening the camera says why
    when it cannot."""

    def granted(self) -> bool:
        return True

    def request(self, done: Callable[[bool], None]) -> None:
        done(True)


def on_android() -> bool:
    """True inside an Android app.  python-for-android sets ANDROID_ARGUMENT (Kivy's own test);
    CPython built for Android (3.13+) has ``sys.getandroidapilevel``."""
    return hasattr(sys, "getandroidapilevel") or "ANDROID_ARGUMENT" in os.environ


def current_platform(name: str | None = None) -> Platform:
    """The implementations for ``name`` ("android", "linux"), by default the running platform.
    Raises RuntimeError for a platform the kiosk has no implementations for."""
    if name is None:
        name = "android" if on_android() else sys.platform
    if name == "android":
        from kiosk.platform import android

        return Platform("android", android.AndroidDisplays(), android.AndroidScreenKeeper(),
                        android.AndroidCameraPermission(), "android")
    if name.startswith("linux"):
        from kiosk.platform import linux

        return Platform("linux", linux.XrandrDisplays(), linux.XsetScreenKeeper(),
                        NoRuntimePermission(), "opencv")
    raise RuntimeError(f"the kiosk has no platform implementations for {name!r} "
                       "(it runs on Linux and Android)")
