"""The platform interfaces on an Android till (PAX E800 class), through pyjnius.

Written against Android's own APIs; pyjnius exists only inside the APK that python-for-android
builds, so on Linux these classes are tested with a fake ``jnius`` (tests/platform) that records
what they ask Android to do.  What only a device can show is listed in the README ("On
Android").

* :class:`AndroidDisplays`: ``DisplayManager.getDisplays()`` with each display's real metrics.
* :class:`AndroidScreenKeeper`: ``FLAG_KEEP_SCREEN_ON`` on the activity's window (no wake lock
  to leak: the flag holds only while the kiosk's window is shown).
* :class:`AndroidCameraPermission`: the run-time CAMERA permission (Android 6+ asks the user).
* :func:`launch_on_display`: moves the kiosk's activity to the customer display.  Kivy draws into
  one window, the activity's (kivy#4701), so the whole activity goes to the customer display
  (``ActivityOptions.setLaunchDisplayId``, Android 8+); an ``android.app.Presentation`` would
  show a second window Kivy cannot draw into.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kiosk.platform import Monitor

log = logging.getLogger("selfreg.kiosk.platform")

ACTIVITY = "org.kivy.android.PythonActivity"  # python-for-android's activity (SDL2 bootstrap)
PRESENTATION = "android.hardware.display.category.PRESENTATION"
SECONDARY_DISPLAYS = "android.software.activities_on_secondary_displays"
LAUNCH_DISPLAY_API = 26  # ActivityOptions.setLaunchDisplayId: Android 8.0


class DisplayUnavailable(RuntimeError):
    """The kiosk cannot be put on the display asked for; the message says why and what to do."""


def _jnius() -> Any:
    import jnius  # only inside the APK (and the tests' fake)

    return jnius


def activity() -> Any:
    """The running activity (python-for-android's PythonActivity)."""
    return _jnius().autoclass(ACTIVITY).mActivity


def _service(name: str, java_class: str) -> Any:
    jnius = _jnius()
    context = jnius.autoclass("android.content.Context")
    return jnius.cast(java_class, activity().getSystemService(getattr(context, name)))


class AndroidDisplays:
    """Every display Android reports, the built-in one first (index 0, primary)."""

    def monitors(self) -> list[Monitor]:
        jnius = _jnius()
        manager = _service("DISPLAY_SERVICE", "android.hardware.display.DisplayManager")
        metrics_class = jnius.autoclass("android.util.DisplayMetrics")
        monitors = []
        for index, display in enumerate(manager.getDisplays()):
            metrics = metrics_class()
            display.getRealMetrics(metrics)  # the whole panel, not what the system bars leave
            width, height = metrics.widthPixels, metrics.heightPixels
            ident = display.getDisplayId()
            monitors.append(Monitor(
                name=str(ident), index=index, x=0, y=0, width=width, height=height,
                width_mm=_mm(width, metrics.xdpi), height_mm=_mm(height, metrics.ydpi),
                primary=ident == 0))  # Display.DEFAULT_DISPLAY: the built-in panel
        return monitors

    def customer_display(self) -> Monitor | None:
        """The display meant for a presentation to the customer (the E800's customer screen),
        or None when Android reports only the built-in one."""
        manager = _service("DISPLAY_SERVICE", "android.hardware.display.DisplayManager")
        ids = [d.getDisplayId() for d in manager.getDisplays(PRESENTATION)]
        return next((m for m in self.monitors() if ids and m.name == str(ids[0])), None)


def _mm(pixels: int, dpi: float) -> int:
    # A display that does not know its density reports 0 (or nonsense): say "unknown".
    return round(pixels / dpi * 25.4) if dpi and dpi > 10 else 0


def _on_ui_thread(function: Callable[[int], None], flag: int) -> None:
    """Run ``function(flag)`` on Android's UI thread (window flags may be changed only there).
    python-for-android keeps one Runnable per function it is given, so ``function`` is a
    module-level function, not a fresh lambda each time."""
    from android.runnable import run_on_ui_thread  # python-for-android's own module

    run_on_ui_thread(function)(flag)


def _add_window_flag(flag: int) -> None:
    activity().getWindow().addFlags(flag)


def _clear_window_flag(flag: int) -> None:
    activity().getWindow().clearFlags(flag)


class AndroidScreenKeeper:
    """``FLAG_KEEP_SCREEN_ON`` on the kiosk's window: the customer screen never dims while the
    kiosk shows, and Android manages the wake lock itself (it holds only while the window is
    visible, so a crashed kiosk leaves no screen lit forever)."""

    def __init__(self) -> None:
        self._kept = False

    def _flag(self) -> int:
        params = _jnius().autoclass("android.view.WindowManager$LayoutParams")
        return int(params.FLAG_KEEP_SCREEN_ON)

    def keep_on(self) -> None:
        _on_ui_thread(_add_window_flag, self._flag())
        self._kept = True

    def release(self) -> None:
        if not self._kept:
            return
        _on_ui_thread(_clear_window_flag, self._flag())
        self._kept = False


class AndroidCameraPermission:
    """The CAMERA run-time permission through python-for-android's ``android.permissions``
    (which wraps ``ActivityCompat.requestPermissions`` and its result callback).

    ``done`` is called from Android's thread when the user answers; the kiosk hands it over to
    its own clock before touching the UI."""

    def granted(self) -> bool:
        from android.permissions import Permission, check_permission

        return bool(check_permission(Permission.CAMERA))

    def request(self, done: Callable[[bool], None]) -> None:
        from android.permissions import Permission, request_permissions

        if self.granted():
            done(True)
            return

        def answered(permissions: list[str], grants: list[bool]) -> None:
            allowed = dict(zip(permissions, grants, strict=False)).get(Permission.CAMERA, False)
            log.info("camera permission %s", "granted" if allowed else "refused")
            done(bool(allowed))

        request_permissions([Permission.CAMERA], answered)


def current_display_id() -> int:
    """The display the kiosk's activity is on now."""
    return int(activity().getWindowManager().getDefaultDisplay().getDisplayId())


def launch_on_display(display_id: int) -> bool:
    """Start the kiosk's activity again on ``display_id`` and finish this one.  False (nothing
    done) when it is already there.  Raises DisplayUnavailable when Android cannot do it.

    The manifest's launch mode must be ``standard`` (deploy/android/buildozer.spec): a
    ``singleTask`` activity is brought forward where it is instead of started on the display.
    """
    here = current_display_id()
    if here == display_id:
        return False
    jnius = _jnius()
    sdk = int(jnius.autoclass("android.os.Build$VERSION").SDK_INT)
    if sdk < LAUNCH_DISPLAY_API:
        raise DisplayUnavailable(
            f"Android API {sdk} cannot start an app on another display (needs Android 8, API "
            f"{LAUNCH_DISPLAY_API}): set the till's customer display to mirror or to show this "
            "app in its vendor settings")
    current = activity()
    if not current.getPackageManager().hasSystemFeature(SECONDARY_DISPLAYS):
        raise DisplayUnavailable("this device does not let apps run on its second display "
                                 f"({SECONDARY_DISPLAYS} is missing): ask the vendor for "
                                 "firmware that allows it, or use its customer-display setting")
    options = jnius.autoclass("android.app.ActivityOptions").makeBasic()
    options.setLaunchDisplayId(display_id)
    intent_class = jnius.autoclass("android.content.Intent")
    intent = intent_class(current, current.getClass())
    intent.addFlags(intent_class.FLAG_ACTIVITY_NEW_TASK | intent_class.FLAG_ACTIVITY_MULTIPLE_TASK)
    current.startActivity(intent, options.toBundle())
    current.finish()
    log.info("kiosk moved from display %d to display %d", here, display_id)
    return True
