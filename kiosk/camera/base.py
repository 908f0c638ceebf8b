"""The frame-source interface of Skanna ID and the thread that keeps the newest frame.

A frame source hands out the newest frame only: the preview and the scanner want what the camera
sees now, never a backlog.  Sources run their own producer thread (a camera's ``read`` blocks until
the next frame; the virtual camera renders), so ``read`` costs the UI thread nothing.

numpy is imported only for type checking: this module is imported when Skanna ID first opens and
must not cost the kiosk's cold start anything.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Image = NDArray[np.uint8]

log = logging.getLogger("selfreg.kiosk.camera")


class CameraUnavailable(RuntimeError):
    """The camera cannot be used.  ``reason`` says why in words an installer can act on."""

    def __init__(self, reason: str, *, source: str = "") -> None:
        super().__init__(f"{source}: {reason}" if source else reason)
        self.reason = reason
        self.source = source


@runtime_checkable
class FrameSource(Protocol):
    """What Skanna ID needs from a camera.

    ``open`` raises :class:`CameraUnavailable`; ``read`` returns the newest frame (BGR, H×W×3,
    uint8, as the shopper's code really looks: not mirrored) that was not returned before, or None
    when no new frame has arrived, and raises :class:`CameraUnavailable` once the camera has
    failed; ``close`` releases the device and may be called more than once.
    """

    @property
    def description(self) -> str: ...

    @property
    def size(self) -> tuple[int, int]: ...  # (width, height) of the frames actually delivered

    def open(self) -> None: ...

    def read(self) -> Image | None: ...

    def close(self) -> None: ...


class DescribedSource:
    """What every frame source says of itself (:class:`FrameSource`'s ``description`` and
    ``size``), kept in one place for the real sources and the tests' fakes."""

    def __init__(self, description: str, size: tuple[int, int] = (0, 0)) -> None:
        self._description = description
        self._size = size

    @property
    def description(self) -> str:
        return self._description

    @property
    def size(self) -> tuple[int, int]:
        return self._size


class ThreadedSource(DescribedSource, ABC):
    """A frame source whose frames come from a producer thread into a one-frame slot.

    Subclasses implement ``_start`` (acquire the device, return the frame size; raise
    CameraUnavailable), ``_grab`` (block until the next frame; raise on failure) and ``_stop``.
    """

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self._lock = threading.Lock()
        self._frame: Image | None = None
        self._fresh = False
        self._failure: CameraUnavailable | None = None
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames = 0  # frames produced, for logs and tests

    def open(self) -> None:
        if self._thread is not None:
            return
        self._size = self._start()
        self._running.set()
        self._thread = threading.Thread(target=self._produce, name=f"camera {self.description}",
                                        daemon=True)
        self._thread.start()
        log.info("camera %s open at %dx%d", self.description, *self._size)

    def read(self) -> Image | None:
        with self._lock:
            if self._failure is not None:
                raise self._failure
            if not self._fresh:
                return None
            self._fresh = False
            return self._frame

    def wait_frame(self, timeout: float) -> Image | None:
        """The next new frame, waiting for it (for tools and tests, never the UI thread)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = self.read()
            if frame is not None:
                return frame
            time.sleep(0.002)
        return None

    def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._running.clear()
        thread.join(5)
        self._stop()
        log.info("camera %s closed after %d frames", self.description, self.frames)

    def __enter__(self) -> ThreadedSource:
        self.open()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _produce(self) -> None:
        while self._running.is_set():
            try:
                frame = self._grab()
            except CameraUnavailable as exc:
                self._fail(exc)
                return
            except Exception as exc:  # a driver error must reach the shopper as a message
                log.exception("camera %s failed", self.description)
                self._fail(CameraUnavailable(f"the camera stopped: {exc}", source=self.description))
                return
            if frame is None:
                continue
            with self._lock:
                self._frame = frame
                self._fresh = True
            self.frames += 1

    def _fail(self, exc: CameraUnavailable) -> None:
        log.warning("camera unavailable: %s", exc)
        with self._lock:
            self._failure = exc

    @abstractmethod
    def _start(self) -> tuple[int, int]: ...

    @abstractmethod
    def _grab(self) -> Image | None: ...

    @abstractmethod
    def _stop(self) -> None: ...


def parse_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise ValueError(f"a camera size is WIDTHxHEIGHT, e.g. 1280x720, not {text!r}")
    return int(width), int(height)


class Pacer:
    """Sleeps so that successive ticks come ``1/fps`` apart (for sources with no clock of their
    own: video files and the virtual camera)."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self._next = time.monotonic()

    def wait(self) -> None:
        self._next += self.period
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            self._next = time.monotonic()  # running late: do not try to catch up in a burst
