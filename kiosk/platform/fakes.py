"""Fakes of the platform interfaces, for tests of the kiosk's logic on any machine.

Each does what its interface promises with no display server, no Android and no camera, and keeps
a record of what it was asked, so a test can assert what the kiosk asked the platform to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from kiosk.camera.base import DescribedSource
from kiosk.platform import Monitor

if TYPE_CHECKING:
    from kiosk.camera.base import Image


class FakeDisplays:
    """The monitors a test says the machine has (default: one 1920×1080 primary)."""

    def __init__(self, monitors: Iterable[Monitor] | None = None) -> None:
        self._monitors = list(monitors) if monitors is not None else [
            Monitor("FAKE-1", 0, 0, 0, 1920, 1080, 344, 194, primary=True)]
        self.calls = 0

    def monitors(self) -> list[Monitor]:
        self.calls += 1
        return list(self._monitors)


class FakeScreenKeeper:
    """Records whether the screen is being kept on; ``history`` lists "keep_on"/"release"."""

    def __init__(self) -> None:
        self.kept_on = False
        self.history: list[str] = []

    def keep_on(self) -> None:
        self.kept_on = True
        self.history.append("keep_on")

    def release(self) -> None:
        if self.kept_on:  # safe to call twice: the second call changes nothing
            self.history.append("release")
        self.kept_on = False


class FakeCameraPermission:
    """A permission the user grants or refuses (``answer``); with ``answer=None`` the request
    waits until the test calls :meth:`answer_with`, as Android's dialog waits for a tap."""

    def __init__(self, granted: bool = False, answer: bool | None = True) -> None:
        self._granted = granted
        self.answer = answer
        self.requests = 0
        self._waiting: list[Callable[[bool], None]] = []

    def granted(self) -> bool:
        return self._granted

    def request(self, done: Callable[[bool], None]) -> None:
        self.requests += 1
        if self._granted:
            done(True)
        elif self.answer is None:
            self._waiting.append(done)
        else:
            self.answer_with(self.answer, [done])

    def answer_with(self, granted: bool, waiting: list[Callable[[bool], None]] | None = None
                    ) -> None:
        """The user taps Allow (True) or Deny (False) on the pending request(s)."""
        self._granted = granted
        callbacks, self._waiting = (waiting, self._waiting) if waiting is not None \
            else (self._waiting, [])
        for done in callbacks:
            done(granted)


class FakeFrameSource(DescribedSource):
    """A frame source that hands out the given frames once each, newest only, then None."""

    def __init__(self, frames: Iterable[Image], size: tuple[int, int] = (1280, 720),
                 description: str = "fake camera") -> None:
        super().__init__(description, size)
        self._frames = list(frames)
        self.opened = False
        self.closed = 0

    def open(self) -> None:
        self.opened = True

    def read(self) -> Image | None:
        return self._frames.pop(0) if self._frames and self.opened else None

    def close(self) -> None:
        self.closed += 1
        self.opened = False
