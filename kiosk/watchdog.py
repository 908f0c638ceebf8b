"""The kiosk under systemd (``Type=notify``, ``WatchdogSec=``): ``READY=1`` once the first
screen is on the display, ``WATCHDOG=1`` from the Kivy clock.  A frozen UI (a stuck camera
call, a hang in drawing) stops the clock, so the pings stop and systemd restarts the kiosk
rather than leave a dead screen in front of a shopper.  Outside systemd it does nothing."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock

from cashier_bridge.systemd import Notifier


def install(window: Any, notifier: Notifier | None = None) -> Notifier:
    notifier = notifier or Notifier.from_environment()
    if not notifier.enabled:
        return notifier

    def first_frame(*_args: object) -> None:
        # on_flip: the frame is on the screen, not only laid out.
        window.unbind(on_flip=first_frame)
        notifier.ready("customer screen shown")

    window.bind(on_flip=first_frame)
    if notifier.watchdog_interval_s is not None:
        Clock.schedule_interval(lambda _dt: notifier.watchdog(), notifier.watchdog_interval_s)
    return notifier
