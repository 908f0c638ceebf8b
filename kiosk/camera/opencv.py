"""A real camera (or a video file) through OpenCV's ``VideoCapture``.

OpenCV is imported when the first camera opens: it costs about a tenth of a second and tens of
megabytes, which the kiosk's cold start must not pay.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.camera.base import CameraUnavailable, Pacer, ThreadedSource

if TYPE_CHECKING:
    from kiosk.camera.base import Image


class OpenCVCamera(ThreadedSource):
    """``device`` is a camera index (0 = /dev/video0 on Linux), a device path or a video file.

    ``mirror`` is for cameras that hand over mirror images (some USB webcams do): frames are
    flipped back so that codes read.  A video file is played at ``fps`` and loops, which lets the
    real OpenCV path be exercised with no camera attached.
    """

    def __init__(self, device: int | str, *, size: tuple[int, int] = (1280, 720), fps: int = 30,
                 mirror: bool = False) -> None:
        super().__init__(f"camera {device}" if isinstance(device, int) else str(device))
        self.device = device
        self.requested_size = size
        self.fps = fps
        self.mirror = mirror
        self._cap: Any = None
        self._cv2: Any = None
        self._file = isinstance(device, str) and Path(device).is_file()
        self._pacer: Pacer | None = None

    def _start(self) -> tuple[int, int]:
        self._check_exists()
        try:
            import cv2
        except ImportError as exc:
            raise CameraUnavailable(
                "OpenCV is not installed (pip install 'selfreg[camera]')",
                source=self.description) from exc
        self._cv2 = cv2
        backend = cv2.CAP_V4L2 if isinstance(self.device, int) and sys.platform == "linux" \
            else cv2.CAP_ANY
        cap = cv2.VideoCapture(self.device, backend)
        if not cap.isOpened():
            cap.release()
            raise CameraUnavailable("the camera could not be opened (in use by another program, "
                                    "or no permission to use it)", source=self.description)
        if not self._file:
            width, height = self.requested_size
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            cap.set(cv2.CAP_PROP_FPS, self.fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one from a queue
        else:
            self._pacer = Pacer(self.fps)
        ok, frame = cap.read()
        if not ok or frame is None:
            cap.release()
            raise CameraUnavailable("the camera opened but delivers no pictures",
                                    source=self.description)
        self._cap = cap
        height, width = frame.shape[:2]
        return width, height

    def _check_exists(self) -> None:
        # A clear reason beats OpenCV's warnings on stderr and a bare "could not open".
        if isinstance(self.device, int):
            if sys.platform == "linux" and not os.path.exists(f"/dev/video{self.device}"):
                raise CameraUnavailable(f"no camera is attached (/dev/video{self.device} does not "
                                        "exist)", source=self.description)
        elif not os.path.exists(self.device):
            raise CameraUnavailable("no such camera device or video file",
                                    source=self.description)

    def _grab(self) -> Image | None:
        cap, cv2 = self._cap, self._cv2
        if self._pacer is not None:
            self._pacer.wait()
        ok, frame = cap.read()
        if not ok and self._file:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)  # a video file loops
            ok, frame = cap.read()
        if not ok or frame is None:
            raise CameraUnavailable("the camera stopped delivering pictures (unplugged?)",
                                    source=self.description)
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        if self.mirror:
            frame = cv2.flip(frame, 1)
        return frame

    def _stop(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def frame_source(options: str, *, size: tuple[int, int] = (1280, 720), fps: int = 30,
                 mirror: bool = False) -> OpenCVCamera:
    """The ``opencv`` frame source: ``opencv:0``, ``opencv:/dev/video2``, ``opencv:clip.avi``
    (or the same without ``opencv:`` where OpenCV is the platform's source)."""
    options = options.strip() or "0"
    device: int | str = int(options) if options.isdigit() else options
    return OpenCVCamera(device, size=size, fps=fps, mirror=mirror)
