"""Skanna ID while its screen is showing: the camera, the scanner and the live preview.

A :class:`ScanSession` lives from the moment the scan screen opens until it closes (the camera is
released then).  The camera opens in a helper thread (a USB camera takes up to a second, and
OpenCV's import a tenth) so the screen appears at once with "Starting the camera…".  On the UI
clock, 30 times a second, the newest frame goes to the preview texture and to the scanner's slot;
the scanner decodes in its own thread.  A code read for the first time is handed to ``on_code``
(the app sends the ``scan`` intent) after the feedback hook (a beep or a buzz on hardware that
has one).  The preview widget survives the screen being rebuilt, so a new lane state never
blanks the picture.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kivy.clock import Clock, ClockEvent

from kiosk.widgets import CameraPreview

if TYPE_CHECKING:
    from kiosk.camera import FrameSource
    from kiosk.scanner import Code, Scanner

log = logging.getLogger("selfreg.kiosk.scan")

HIGHLIGHT_S = 0.6  # how long the outline stays on a code after it was last seen
PROBE_EVERY = 15  # frames between probe updates while the picture is live


def no_feedback(code: Code) -> None:
    """The default feedback hook: this kiosk has no beeper or vibration motor configured."""
    log.info("scan feedback for a %s code (no sound or vibration device configured)",
             code.format)


class ScanSession:
    """``status``: "starting", "live" (frames arriving) or "failed" (``reason`` says why)."""

    def __init__(self, open_camera: Callable[[], FrameSource], *,
                 on_code: Callable[[Code], None], on_change: Callable[[], None],
                 feedback: Callable[[Code], None] = no_feedback, fps: float = 30.0,
                 ean13_prefixes: tuple[str, ...] = ("2",)) -> None:
        self._open_camera = open_camera
        self._ean13_prefixes = ean13_prefixes
        self._on_code = on_code
        self._on_change = on_change
        self._feedback = feedback
        self.fps = fps
        self.status = "starting"
        self.reason = ""
        self.highlight = False
        self.frames_shown = 0
        self.preview = CameraPreview()
        self._camera: FrameSource | None = None
        self._scanner: Scanner | None = None
        self._texture: Any = None
        self._tick: ClockEvent | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._opener = threading.Thread(target=self._open, name="camera-open", daemon=True)

    def start(self) -> None:
        self._opener.start()
        self._tick = Clock.schedule_interval(self._update, 1.0 / self.fps)

    def close(self) -> None:
        """Release the camera and stop the scanner (from the UI thread)."""
        with self._lock:
            self._closed = True
            camera, self._camera = self._camera, None
            scanner, self._scanner = self._scanner, None
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        if scanner is not None:
            scanner.stop()
        if camera is not None:
            camera.close()
        log.info("Skanna ID closed; camera released after %d frames shown", self.frames_shown)

    # --- helper thread ----------------------------------------------------------------------

    def _open(self) -> None:
        from kiosk.camera import CameraUnavailable

        try:
            camera = self._open_camera()
            camera.open()
            from kiosk.scanner import Scanner

            scanner = Scanner(ean13_prefixes=self._ean13_prefixes)
        except CameraUnavailable as exc:
            self._fail(exc.reason, exc.source)
            return
        except Exception as exc:  # the shopper gets a message whatever broke
            log.exception("Skanna ID: the camera could not be started")
            self._fail(f"the camera could not be started: {exc}", "camera")
            return
        with self._lock:
            if self._closed:  # the shopper left before the camera was ready
                camera.close()
                return
            self._camera, self._scanner = camera, scanner
        scanner.start()

    def _fail(self, reason: str, source: str) -> None:
        log.warning("Skanna ID: camera unavailable (%s): %s", source or "camera", reason)
        self.reason = reason
        self.status = "failed"  # the UI clock picks it up

    # --- UI clock -----------------------------------------------------------------------------

    def _update(self, _dt: float) -> None:
        if self.status == "failed":
            self._stop_ticking()
            self._on_change()
            return
        camera, scanner = self._camera, self._scanner
        if camera is None or scanner is None:
            return
        from kiosk.camera import CameraUnavailable

        try:
            frame = camera.read()
        except CameraUnavailable as exc:
            self._fail(exc.reason, exc.source)
            return
        changed = False
        if frame is not None:
            self._show(frame)
            scanner.submit(frame)
            if self.status != "live":
                self.status = "live"
                changed = True
            # Twice a second the probe learns how many frames were shown: tests and the
            # simulator wait on that instead of on the clock.
            changed |= self.frames_shown % PROBE_EVERY == 0
        identified, sighting = scanner.poll()
        now = time.monotonic()
        fresh = sighting is not None and sighting.codes and now - sighting.at < HIGHLIGHT_S
        if fresh:
            assert sighting is not None
            self.preview.show_code(sighting.codes[0].corners, sighting.frame_size)
        elif self.highlight:
            self.preview.show_code(None, (0, 0))
        if bool(fresh) != self.highlight:
            self.highlight = bool(fresh)
            changed = True
        if identified:
            code = identified[0]  # one code at a time: the lane looks up one thing at once
            try:
                self._feedback(code)
            except Exception:  # a broken beeper must not stop the identification
                log.exception("scan feedback hook failed")
            self._on_code(code)
        if changed:
            self._on_change()

    def _stop_ticking(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None

    def _show(self, frame: Any) -> None:
        from kivy.graphics.texture import Texture

        height, width = frame.shape[:2]
        if self._texture is None or self._texture.size != (width, height):
            texture = Texture.create(size=(width, height), colorfmt="rgb")
            # numpy's first row is the top, a texture's the bottom; and the shopper sees a
            # mirror image, so that moving the card right moves it right on screen.
            texture.flip_vertical()
            texture.flip_horizontal()
            self._texture = texture
            self.preview.texture = texture
        # The frame's own memory, not a copy of it (reshape is a view of a contiguous frame).
        self._texture.blit_buffer(frame.reshape(-1), colorfmt="bgr", bufferfmt="ubyte")
        self.preview.canvas.ask_update()
        self.frames_shown += 1
