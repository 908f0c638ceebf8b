"""What the kiosk needs from the machine it runs on, as small interfaces.

The kiosk runs on a Linux till with a second, customer-facing screen and on Android all-in-ones
(PAX E800 class).  Everything that differs between them sits behind one of these interfaces, with
a Linux implementation, an Android one and a fake for tests; the rest of the kiosk sees only the
interfaces.  (Frame sources, the fourth, live in :mod:`kiosk.camera`.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Monitor:
    """One monitor as the display server reports it, in screen pixels and millimetres."""

    name: str  # e.g. "HDMI-2" (X), or "1" (Android display id)
    index: int  # position in the display server's list, 0-based
    x: int
    y: int
    width: int
    height: int
    width_mm: int = 0  # 0: the display server does not know
    height_mm: int = 0
    primary: bool = False

    @property
    def dpi(self) -> float | None:
        """Dots per inch across, or None when the physical size is unknown."""
        if self.width_mm <= 0:
            return None
        return self.width / (self.width_mm / 25.4)


@runtime_checkable
class Displays(Protocol):
    """The monitors the kiosk's window can be put on."""

    def monitors(self) -> list[Monitor]: ...


@runtime_checkable
class ScreenKeeper(Protocol):
    """Keeps the customer screen lit while the kiosk runs (no blanking, no power saving)."""

    def keep_on(self) -> None: ...

    def release(self) -> None: ...  # restores what keep_on changed; safe to call twice


@runtime_checkable
class CameraPermission(Protocol):
    """Whether the kiosk may use the camera; Android asks the user at run time, Linux never."""

    def granted(self) -> bool: ...

    def request(self, done: Callable[[bool], None]) -> None: ...
