"""The camera of an Android till (PAX E800 class) through camera2 and pyjnius.

Kivy's own Android camera uses the deprecated ``android.hardware.Camera`` API, and the CameraX
provider (camera4kivy) is archived, so this source drives camera2 itself: ``CameraManager`` opens
the camera, a repeating preview request fills an ``ImageReader`` (YUV_420_888, two images), and
the producer thread takes only the newest image (``acquireLatestImage``: Android drops the older
ones) and converts it to BGR.  camera2's state callbacks are abstract classes that pyjnius cannot
subclass, so a small Java class compiled into the APK (deploy/android/src/.../CameraBridge.java)
opens the camera and reports to an interface implemented here.

``camera = "android"`` (the first camera Android lists), ``android:ID`` (a camera id such as
``1``) or ``android:front`` / ``android:back`` / ``android:external`` (by where it faces); on
Android a bare ``0`` or ``1`` is the same as ``android:0``.

Tested on Linux with a fake ``jnius`` (tests/platform); the README lists what only a device shows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kiosk.camera.base import CameraUnavailable, ThreadedSource

if TYPE_CHECKING:
    from kiosk.camera.base import Image

log = logging.getLogger("selfreg.kiosk.camera")

BRIDGE = "org.selfreg.kiosk.CameraBridge"
LISTENER = "org/selfreg/kiosk/CameraBridge$Listener"
IMAGE_LISTENER = "android/media/ImageReader$OnImageAvailableListener"
FACING = {"front": 0, "back": 1, "external": 2}  # CameraCharacteristics.LENS_FACING_*
OPEN_TIMEOUT_S = 5.0
FRAME_TIMEOUT_S = 3.0  # no picture for this long: the camera has stopped

# Why a camera failed, in words an installer can act on: CameraDevice.StateCallback's ERROR_*
# codes (1-5) and CameraBridge's own (negative).
REASONS = {
    1: "the camera is in use by another app: close that app (or restart the till)",
    2: "too many cameras are open on this device: close other apps that use a camera",
    3: "the camera is disabled by a device policy (an administrator or PAXSTORE): allow the "
       "camera for this device",
    4: "the camera reported a hardware error: restart the till, and have the camera serviced "
       "if it happens again",
    5: "Android's camera service failed: restart the till",
    -1: "the camera was disconnected (another app took it, or it was unplugged)",
    -2: "the camera refused the picture format (YUV 1280×720): choose another camera_size",
    -3: "Android refused to open the camera",
}


def _jnius() -> Any:
    import jnius  # only inside the APK (and the tests' fake)

    return jnius


def _int(value: Any) -> int:
    """A java.lang.Integer as pyjnius returns it from a generic method (or None: 0)."""
    if value is None:
        return 0
    return value if isinstance(value, int) else int(value.intValue())


def choose_size(sizes: Sequence[tuple[int, int]], want: tuple[int, int]) -> tuple[int, int]:
    """The output size nearest ``want``: the same shape first (a 4:3 picture shown in a 16:9
    preview is cut), then the nearest pixel count."""
    if not sizes:
        raise CameraUnavailable("the camera offers no YUV picture size", source="android camera")
    aspect = want[0] / want[1]
    return min(sizes, key=lambda s: (round(abs(s[0] / s[1] - aspect), 2),
                                     abs(s[0] * s[1] - want[0] * want[1])))


Plane = tuple[bytes, int, int]  # the plane's bytes, row stride, pixel stride


def yuv420_to_bgr(width: int, height: int, planes: Sequence[Plane]) -> Image:
    """A YUV_420_888 image (three planes with the strides Android reports) as BGR.

    Devices hand over the same layout in different strides: fully planar (I420: pixel stride 1,
    rows padded to a row stride) or semi-planar (NV21/NV12: U and V interleaved, pixel stride 2,
    the two planes overlapping views of one buffer).  Each plane's last row may stop short of
    the row stride, so planes are padded before being cut into rows."""
    import cv2
    import numpy as np

    def plane(index: int, rows: int, cols: int) -> np.ndarray:
        data, row_stride, pixel_stride = planes[index]
        raw = np.frombuffer(data, np.uint8)
        if raw.size < row_stride * rows:
            raw = np.concatenate([raw, np.zeros(row_stride * rows - raw.size, np.uint8)])
        grid = raw[:row_stride * rows].reshape(rows, row_stride)
        return grid[:, 0:cols * pixel_stride:pixel_stride]

    y = plane(0, height, width)
    u = plane(1, height // 2, width // 2)
    v = plane(2, height // 2, width // 2)
    i420 = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)])
    return cv2.cvtColor(i420.reshape(height * 3 // 2, width), cv2.COLOR_YUV2BGR_I420)


class _Listeners:
    """The Java interfaces pyjnius implements, made once (jnius is imported inside the APK)."""

    _made: tuple[type, type] | None = None

    @classmethod
    def classes(cls) -> tuple[type, type]:
        if cls._made is None:
            jnius = _jnius()

            class StateListener(jnius.PythonJavaClass):  # type: ignore[misc, name-defined]
                __javainterfaces__ = (LISTENER,)
                __javacontext__ = "app"

                def __init__(self) -> None:
                    super().__init__()
                    self.started = threading.Event()
                    self.failed = threading.Event()
                    self.error = 0

                @jnius.java_method("()V")
                def onStarted(self) -> None:
                    self.started.set()

                @jnius.java_method("(ILjava/lang/String;)V")
                def onFailed(self, error: int, message: str) -> None:
                    log.warning("android camera: error %d (%s)", error, message)
                    self.error = error
                    self.failed.set()
                    self.started.set()  # wakes a waiting open

            class ImageListener(jnius.PythonJavaClass):  # type: ignore[misc, name-defined]
                __javainterfaces__ = (IMAGE_LISTENER,)
                __javacontext__ = "app"

                def __init__(self) -> None:
                    super().__init__()
                    self.arrived = threading.Event()

                @jnius.java_method("(Landroid/media/ImageReader;)V")
                def onImageAvailable(self, _reader: Any) -> None:
                    self.arrived.set()

            cls._made = (StateListener, ImageListener)
        return cls._made


class AndroidCamera(ThreadedSource):
    """A camera2 camera.  ``camera``: "" (the first), an id, or front/back/external."""

    def __init__(self, camera: str = "", *, size: tuple[int, int] = (1280, 720), fps: int = 30,
                 mirror: bool = False) -> None:
        super().__init__(f"android camera {camera}".strip())
        self.camera = camera.strip().lower()
        self.requested_size = size
        self.fps = fps  # the camera's own rate: camera2 paces the repeating request itself
        self.mirror = mirror
        self.camera_id = ""
        self.rotation = 0  # degrees clockwise that turn the sensor's picture upright
        self._reader: Any = None
        self._bridge: Any = None
        self._looper: Any = None  # the HandlerThread camera2's callbacks run on
        self._state: Any = None
        self._images: Any = None

    # --- opening ----------------------------------------------------------------------------

    def _start(self) -> tuple[int, int]:
        from kiosk.platform.android import AndroidCameraPermission, activity

        if not AndroidCameraPermission().granted():
            raise CameraUnavailable("the kiosk may not use the camera: answer Allow when it "
                                    "asks, or allow Camera for selfreg in Android's settings "
                                    "(Apps → selfreg → Permissions)", source=self.description)
        jnius = _jnius()
        context = jnius.autoclass("android.content.Context")
        manager = jnius.cast("android.hardware.camera2.CameraManager",
                             activity().getSystemService(context.CAMERA_SERVICE))
        chars_class = jnius.autoclass("android.hardware.camera2.CameraCharacteristics")
        self.camera_id = self._pick(manager, chars_class)
        chars = manager.getCameraCharacteristics(self.camera_id)
        yuv = jnius.autoclass("android.graphics.ImageFormat").YUV_420_888
        # CameraCharacteristics.get is generic: pyjnius hands back a plain Object to cast.
        config = jnius.cast("android.hardware.camera2.params.StreamConfigurationMap",
                            chars.get(chars_class.SCALER_STREAM_CONFIGURATION_MAP))
        width, height = choose_size([(s.getWidth(), s.getHeight())
                                     for s in config.getOutputSizes(yuv)], self.requested_size)
        self.rotation = _int(chars.get(chars_class.SENSOR_ORIENTATION)) % 360

        state_class, image_class = _Listeners.classes()
        # Kept on self: pyjnius listeners must outlive the Java objects that call them.
        self._state, self._images = state_class(), image_class()
        self._looper = jnius.autoclass("android.os.HandlerThread")("selfreg-camera")
        self._looper.start()
        handler = jnius.autoclass("android.os.Handler")(self._looper.getLooper())
        self._reader = jnius.autoclass("android.media.ImageReader").newInstance(
            width, height, yuv, 2)  # two: one being converted, one arriving
        self._reader.setOnImageAvailableListener(self._images, handler)
        self._bridge = jnius.autoclass(BRIDGE).open(manager, self.camera_id,
                                                    self._reader.getSurface(), self._state,
                                                    handler)
        if not self._state.started.wait(OPEN_TIMEOUT_S) or self._state.failed.is_set():
            reason = REASONS.get(self._state.error, f"camera error {self._state.error}") \
                if self._state.failed.is_set() else \
                f"the camera did not start within {OPEN_TIMEOUT_S:.0f} s: restart the till"
            self._stop()
            raise CameraUnavailable(reason, source=self.description)
        log.info("android camera %s: %dx%d YUV, sensor turned %d°", self.camera_id, width,
                 height, self.rotation)
        return (height, width) if self.rotation in (90, 270) else (width, height)

    def _pick(self, manager: Any, chars_class: Any) -> str:
        ids = [str(i) for i in manager.getCameraIdList()]
        if not ids:
            raise CameraUnavailable("Android reports no camera on this device",
                                    source=self.description)
        if not self.camera:
            return ids[0]
        if self.camera in ids:
            return self.camera
        if self.camera in FACING:
            for ident in ids:
                facing = manager.getCameraCharacteristics(ident).get(chars_class.LENS_FACING)
                if facing is not None and _int(facing) == FACING[self.camera]:
                    return ident
            raise CameraUnavailable(f"this device has no {self.camera} camera (its cameras: "
                                    f"{', '.join(ids)})", source=self.description)
        raise CameraUnavailable(f"no camera {self.camera!r} on this device: choose one of "
                                f"{', '.join(ids)}, front, back or external",
                                source=self.description)

    # --- frames -----------------------------------------------------------------------------

    def _grab(self) -> Image | None:
        waited = 0.0
        while not self._images.arrived.wait(0.1):
            if not self._running.is_set():
                return None  # closing
            waited += 0.1
            if waited >= FRAME_TIMEOUT_S:
                raise CameraUnavailable("the camera stopped delivering pictures",
                                        source=self.description)
        self._images.arrived.clear()
        if self._state.failed.is_set():
            raise CameraUnavailable(REASONS.get(self._state.error, "the camera failed"),
                                    source=self.description)
        image = self._reader.acquireLatestImage()  # the newest: Android drops older ones
        if image is None:
            return None
        try:
            copy = _jnius().autoclass(BRIDGE).bytesOf
            # pyjnius returns a Java byte[] as a ByteArray: tostring() is one memcpy (bytes()
            # would copy a 1280×720 plane element by element).
            planes = [(copy(p.getBuffer()).tostring(), int(p.getRowStride()),
                       int(p.getPixelStride())) for p in image.getPlanes()]
            width, height = int(image.getWidth()), int(image.getHeight())
        finally:
            image.close()  # the reader holds two: a frame not closed stops the camera
        return self._upright(yuv420_to_bgr(width, height, planes))

    def _upright(self, frame: Image) -> Image:
        import numpy as np

        if self.rotation:
            frame = np.ascontiguousarray(np.rot90(frame, k=-(self.rotation // 90)))
        if self.mirror:
            frame = np.ascontiguousarray(frame[:, ::-1])
        return frame

    def _stop(self) -> None:
        bridge, self._bridge = self._bridge, None
        if bridge is not None:
            bridge.close()
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
        looper, self._looper = self._looper, None
        if looper is not None:
            looper.quitSafely()


def frame_source(options: str, *, size: tuple[int, int] = (1280, 720), fps: int = 30,
                 mirror: bool = False) -> AndroidCamera:
    """The ``android`` frame source (see the module doc)."""
    return AndroidCamera(options, size=size, fps=fps, mirror=mirror)
