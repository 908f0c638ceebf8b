"""The APK's entry point (python-for-android runs ``main.py``): the kiosk, full screen, on the
till's customer display, with the screen kept on and the camera permission asked for.

deploy/android/prepare.sh copies this file beside the ``kiosk`` and ``cashier_bridge`` packages
into the folder buildozer packs (``source.dir``).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence

from kiosk.platform.choose import Platform

log = logging.getLogger("selfreg.kiosk.android")


def start(argv: Sequence[str], *, platform: Platform, launch_on_display: Callable[[int], bool],
          run_kiosk: Callable[[list[str]], int]) -> int:
    """Put the kiosk where the shopper sees it, then run it.  Returns the kiosk's exit status
    (0 when this activity hands over to one on the customer display)."""
    from kiosk.platform.android import DisplayUnavailable

    # Android's own choice (the presentation display) where the adapter has one.
    chooser = getattr(platform.displays, "customer_display", None)
    customer = chooser() if chooser is not None else \
        next((m for m in platform.displays.monitors() if not m.primary), None)
    if customer is not None:
        try:
            if launch_on_display(int(customer.name)):
                return 0  # this activity finishes; the kiosk starts again on that display
        except DisplayUnavailable as exc:
            log.warning("the kiosk stays on the built-in display: %s", exc)
    platform.screen_keeper.keep_on()
    if not platform.camera_permission.granted():
        # Asked now, answered while the shopper is still on the first screen; Skanna ID says
        # how to allow it if the answer was no.
        platform.camera_permission.request(
            lambda granted: log.info("camera permission %s", "granted" if granted else "refused"))
    try:
        return run_kiosk(["--fullscreen", *argv])
    finally:
        platform.screen_keeper.release()


def main() -> int:
    # The app's private files directory (python-for-android sets ANDROID_PRIVATE) holds the
    # configuration: selfreg.toml with bridge_url, lane and device_token.
    private = os.environ.get("ANDROID_PRIVATE", ".")
    os.environ.setdefault("SELFREG_CONFIG", os.path.join(private, "selfreg.toml"))
    os.environ.setdefault("SELFREG_DATA_DIR", private)
    from kiosk.cli import main as kiosk_main
    from kiosk.platform.android import launch_on_display
    from kiosk.platform.choose import current_platform

    return start(sys.argv[1:], platform=current_platform(), launch_on_display=launch_on_display,
                 run_kiosk=kiosk_main)


if __name__ == "__main__":
    raise SystemExit(main())
