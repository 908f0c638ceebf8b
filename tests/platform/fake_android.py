"""A fake Android for the kiosk's Android code: ``jnius`` (autoclass, cast, PythonJavaClass,
java_method) and python-for-android's ``android`` package, over a small model of a till.

Only the Java classes and members the kiosk is meant to use exist: asking for anything else
fails, as a typo would on a device.  Everything asked of Android is recorded in ``calls`` so a
test asserts what the kiosk asked Android to do.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DISPLAY_SERVICE, CAMERA_SERVICE = "display", "camera"
PRESENTATION = "android.hardware.display.category.PRESENTATION"
SECONDARY = "android.software.activities_on_secondary_displays"
FLAG_KEEP_SCREEN_ON = 0x80
FLAG_ACTIVITY_NEW_TASK, FLAG_ACTIVITY_MULTIPLE_TASK = 0x10000000, 0x08000000
YUV_420_888 = 35
CAMERA_PERMISSION = "android.permission.CAMERA"


@dataclass
class Display:
    ident: int
    width: int
    height: int
    xdpi: float
    ydpi: float
    presentation: bool = False


@dataclass
class Camera:
    ident: str
    facing: int  # 0 front, 1 back, 2 external
    sizes: list[tuple[int, int]]
    orientation: int = 0
    # What opening it does: "start", an error code (int) reported to the listener, or "silent"
    on_open: str | int = "start"


@dataclass
class Plane:
    data: bytes
    row_stride: int
    pixel_stride: int

    def getBuffer(self) -> bytes:
        return self.data

    def getRowStride(self) -> int:
        return self.row_stride

    def getPixelStride(self) -> int:
        return self.pixel_stride


@dataclass
class Image:
    width: int
    height: int
    planes: list[Plane]
    closed: bool = False

    def getWidth(self) -> int:
        return self.width

    def getHeight(self) -> int:
        return self.height

    def getPlanes(self) -> list[Plane]:
        return self.planes

    def close(self) -> None:
        self.closed = True


class ByteArray:
    """What pyjnius returns for a Java ``byte[]``: ``tostring()`` gives the bytes in one copy;
    it has no buffer interface, so ``bytes(array)`` would walk it element by element (refused
    here, so the fast path is the one taken)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __len__(self) -> int:
        return len(self._data)

    def tostring(self) -> bytes:
        return self._data

    def __iter__(self) -> None:
        raise AssertionError("a ByteArray copied element by element")


class Obj:
    """A Java object: the given attributes and methods, nothing else."""

    def __init__(self, **members: Any) -> None:
        self.__dict__.update(members)


@dataclass
class FakeAndroid:
    displays: list[Display] = field(default_factory=lambda: [
        Display(0, 1920, 1080, 141.2, 141.2),  # the E800's 15.6" FHD panel
        Display(2, 1280, 800, 149.0, 149.0, presentation=True)])
    cameras: list[Camera] = field(default_factory=lambda: [
        Camera("0", 1, [(4000, 3000), (1920, 1080), (1280, 720), (640, 480)]),
        Camera("1", 0, [(1280, 720), (640, 480)], orientation=270)])
    sdk: int = 28
    features: set[str] = field(default_factory=lambda: {SECONDARY})
    camera_granted: bool = True
    current_display: int = 0
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    on_ui_thread: bool = False
    permission_callback: Callable[[list[str], list[bool]], None] | None = None
    readers: list[Any] = field(default_factory=list)
    bridges: list[Any] = field(default_factory=list)
    loopers: list[Any] = field(default_factory=list)

    def record(self, *call: Any) -> None:
        self.calls.append(call)

    def asked(self, name: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == name]

    # --- the modules ------------------------------------------------------------------------

    def modules(self) -> dict[str, types.ModuleType]:
        jnius = types.ModuleType("jnius")
        jnius.autoclass = self.autoclass  # type: ignore[attr-defined]
        jnius.cast = self.cast  # type: ignore[attr-defined]

        class PythonJavaClass:
            def __init__(self, *args: Any) -> None:
                pass

        def java_method(signature: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
            def mark(function: Callable[..., Any]) -> Callable[..., Any]:
                function.java_signature = signature  # type: ignore[attr-defined]
                return function
            return mark

        jnius.PythonJavaClass = PythonJavaClass  # type: ignore[attr-defined]
        jnius.java_method = java_method  # type: ignore[attr-defined]

        android = types.ModuleType("android")
        runnable = types.ModuleType("android.runnable")

        def run_on_ui_thread(function: Callable[..., Any]) -> Callable[..., Any]:
            def on_ui(*args: Any) -> Any:
                self.on_ui_thread = True
                try:
                    return function(*args)
                finally:
                    self.on_ui_thread = False
            return on_ui

        runnable.run_on_ui_thread = run_on_ui_thread  # type: ignore[attr-defined]
        permissions = types.ModuleType("android.permissions")
        permissions.Permission = Obj(CAMERA=CAMERA_PERMISSION)  # type: ignore[attr-defined]

        def check_permission(permission: str) -> bool:
            self.record("check_permission", permission)
            return permission == CAMERA_PERMISSION and self.camera_granted

        def request_permissions(wanted: list[str], callback: Callable[..., None]) -> None:
            self.record("request_permissions", list(wanted))
            self.permission_callback = callback

        permissions.check_permission = check_permission  # type: ignore[attr-defined]
        permissions.request_permissions = request_permissions  # type: ignore[attr-defined]
        android.runnable = runnable  # type: ignore[attr-defined]
        android.permissions = permissions  # type: ignore[attr-defined]
        return {"jnius": jnius, "android": android, "android.runnable": runnable,
                "android.permissions": permissions}

    def user_answers(self, allow: bool) -> None:
        """The user taps Allow or Deny in the permission dialog."""
        assert self.permission_callback is not None, "no permission was requested"
        self.camera_granted = allow
        self.permission_callback([CAMERA_PERMISSION], [allow])

    def cast(self, name: str, obj: Any) -> Any:
        self.record("cast", name)
        return obj

    def autoclass(self, name: str) -> Any:
        classes: dict[str, Callable[[], Any]] = {
            "org.kivy.android.PythonActivity": lambda: Obj(mActivity=self.activity()),
            "android.content.Context": lambda: Obj(DISPLAY_SERVICE=DISPLAY_SERVICE,
                                                   CAMERA_SERVICE=CAMERA_SERVICE),
            "android.util.DisplayMetrics": lambda: lambda: Obj(widthPixels=0, heightPixels=0,
                                                               xdpi=0.0, ydpi=0.0),
            "android.view.WindowManager$LayoutParams": lambda: Obj(
                FLAG_KEEP_SCREEN_ON=FLAG_KEEP_SCREEN_ON),
            "android.os.Build$VERSION": lambda: Obj(SDK_INT=self.sdk),
            "android.app.ActivityOptions": lambda: Obj(makeBasic=self.activity_options),
            "android.content.Intent": lambda: self.intent_class(),
            "android.hardware.camera2.CameraCharacteristics": lambda: Obj(
                LENS_FACING="LENS_FACING", SENSOR_ORIENTATION="SENSOR_ORIENTATION",
                SCALER_STREAM_CONFIGURATION_MAP="SCALER_STREAM_CONFIGURATION_MAP"),
            "android.graphics.ImageFormat": lambda: Obj(YUV_420_888=YUV_420_888),
            "android.os.HandlerThread": lambda: self.handler_thread,
            "android.os.Handler": lambda: lambda looper: Obj(looper=looper),
            "android.media.ImageReader": lambda: Obj(newInstance=self.image_reader),
            "org.selfreg.kiosk.CameraBridge": lambda: Obj(open=self.open_camera,
                                                          bytesOf=ByteArray),
        }
        if name not in classes:
            raise LookupError(f"the fake Android has no class {name} (a typo, or an API the "
                              "kiosk is not meant to use)")
        self.record("autoclass", name)
        return classes[name]()

    # --- the activity and its window ---------------------------------------------------------

    def activity(self) -> Obj:
        window = Obj(addFlags=lambda flags: self.record("addFlags", flags, self.on_ui_thread),
                     clearFlags=lambda flags: self.record("clearFlags", flags, self.on_ui_thread))
        display = Obj(getDisplayId=lambda: self.current_display)
        return Obj(
            getSystemService=lambda name: {DISPLAY_SERVICE: self.display_manager(),
                                           CAMERA_SERVICE: self.camera_manager()}[name],
            getWindow=lambda: window,
            getWindowManager=lambda: Obj(getDefaultDisplay=lambda: display),
            getPackageManager=lambda: Obj(hasSystemFeature=lambda f: f in self.features),
            getClass=lambda: "PythonActivity.class",
            startActivity=lambda intent, bundle: self.record("startActivity", intent, bundle),
            finish=lambda: self.record("finish"))

    def display_manager(self) -> Obj:
        def display(d: Display) -> Obj:
            def metrics(m: Obj) -> None:
                m.widthPixels, m.heightPixels, m.xdpi, m.ydpi = d.width, d.height, d.xdpi, d.ydpi
            return Obj(getDisplayId=lambda: d.ident, getRealMetrics=metrics)

        def get_displays(category: str | None = None) -> list[Obj]:
            return [display(d) for d in self.displays
                    if category is None or (category == PRESENTATION and d.presentation)]
        return Obj(getDisplays=get_displays)

    def activity_options(self) -> Obj:
        options = Obj(display=None)

        def set_display(ident: int) -> None:
            self.record("setLaunchDisplayId", ident)
            options.display = ident
        options.setLaunchDisplayId = set_display
        options.toBundle = lambda: ("bundle", options.display)
        return options

    def intent_class(self) -> Any:
        fake = self

        class Intent:
            FLAG_ACTIVITY_NEW_TASK = globals()["FLAG_ACTIVITY_NEW_TASK"]
            FLAG_ACTIVITY_MULTIPLE_TASK = globals()["FLAG_ACTIVITY_MULTIPLE_TASK"]

            def __init__(self, context: Any, cls: Any) -> None:
                self.target, self.flags = cls, 0

            def addFlags(self, flags: int) -> None:
                fake.record("addIntentFlags", flags)
                self.flags |= flags
        return Intent

    # --- the camera --------------------------------------------------------------------------

    def camera_manager(self) -> Obj:
        def characteristics(ident: str) -> Obj:
            cam = next(c for c in self.cameras if c.ident == ident)

            def output_sizes(fmt: int) -> list[Obj]:
                self.record("getOutputSizes", fmt)
                return [Obj(getWidth=lambda w=w: w, getHeight=lambda h=h: h) for w, h in cam.sizes]
            # A generic getter: pyjnius returns java.lang.Integer objects, not Python ints.
            values = {"LENS_FACING": Obj(intValue=lambda: cam.facing),
                      "SENSOR_ORIENTATION": Obj(intValue=lambda: cam.orientation),
                      "SCALER_STREAM_CONFIGURATION_MAP": Obj(getOutputSizes=output_sizes)}
            return Obj(get=values.__getitem__)
        return Obj(getCameraIdList=lambda: [c.ident for c in self.cameras],
                   getCameraCharacteristics=characteristics)

    def handler_thread(self, name: str) -> Obj:
        looper = Obj(name=name, started=False, quit=False)
        looper.start = lambda: setattr(looper, "started", True)
        looper.getLooper = lambda: ("looper", name)
        looper.quitSafely = lambda: setattr(looper, "quit", True)
        self.loopers.append(looper)
        return looper

    def image_reader(self, width: int, height: int, fmt: int, max_images: int) -> Obj:
        self.record("ImageReader.newInstance", width, height, fmt, max_images)
        reader = Obj(queue=[], listener=None, closed=False, size=(width, height))

        def latest() -> Image | None:
            # Android's acquireLatestImage: the newest image; older ones are closed and dropped.
            if not reader.queue:
                return None
            *older, newest = reader.queue
            for image in older:
                image.close()
            reader.queue.clear()
            return newest

        reader.setOnImageAvailableListener = lambda listener, handler: setattr(
            reader, "listener", listener)
        reader.getSurface = lambda: ("surface", width, height)
        reader.acquireLatestImage = latest
        reader.close = lambda: setattr(reader, "closed", True)
        self.readers.append(reader)
        return reader

    def open_camera(self, manager: Any, ident: str, surface: Any, listener: Any,
                    handler: Any) -> Obj:
        self.record("CameraBridge.open", ident, surface)
        cam = next(c for c in self.cameras if c.ident == ident)
        bridge = Obj(listener=listener, closed=False)
        bridge.close = lambda: setattr(bridge, "closed", True)
        self.bridges.append(bridge)
        # camera2 answers on its handler thread, after openCamera has returned.
        if cam.on_open == "start":
            threading.Thread(target=listener.onStarted).start()
        elif isinstance(cam.on_open, int):
            threading.Thread(target=listener.onFailed, args=(cam.on_open, "error")).start()
        return bridge

    def deliver(self, *images: Image) -> None:
        """The camera fills the reader with ``images``, then signals that one is available."""
        reader = self.readers[-1]
        reader.queue.extend(images)
        reader.listener.onImageAvailable(reader)

    def fail(self, error: int) -> None:
        """The camera reports an error after it started (e.g. -1: disconnected)."""
        bridge, reader = self.bridges[-1], self.readers[-1]
        bridge.listener.onFailed(error, "error")
        reader.listener.onImageAvailable(reader)


# --- YUV_420_888 images as devices lay them out ----------------------------------------------


def i420_of(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import cv2

    h, w = bgr.shape[:2]
    flat = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).reshape(-1)
    y = flat[:h * w].reshape(h, w)
    u = flat[h * w:h * w * 5 // 4].reshape(h // 2, w // 2)
    v = flat[h * w * 5 // 4:].reshape(h // 2, w // 2)
    return y, u, v


def _padded(rows: np.ndarray, stride: int) -> bytes:
    """Rows ``stride`` bytes apart; the last row stops at its last pixel (as on devices)."""
    h, w = rows.shape
    out = np.full((h, stride), 77, np.uint8)  # padding holds junk, never read
    out[:, :w] = rows
    return out.reshape(-1)[:stride * (h - 1) + w].tobytes()


def planar_image(bgr: np.ndarray, pad: int = 64) -> Image:
    """Fully planar (I420) with padded rows: pixel stride 1 everywhere."""
    y, u, v = i420_of(bgr)
    h, w = y.shape
    return Image(w, h, [Plane(_padded(y, w + pad), w + pad, 1),
                        Plane(_padded(u, w // 2 + pad // 2), w // 2 + pad // 2, 1),
                        Plane(_padded(v, w // 2 + pad // 2), w // 2 + pad // 2, 1)])


def semi_planar_image(bgr: np.ndarray, v_first: bool = True, pad: int = 32) -> Image:
    """Semi-planar: one interleaved chroma buffer (NV21: V first; NV12: U first); the U and V
    planes are views of it one byte apart, pixel stride 2, as most camera HALs deliver."""
    y, u, v = i420_of(bgr)
    h, w = y.shape
    stride = w + pad
    chroma = np.empty((h // 2, w), np.uint8)
    first, second = (v, u) if v_first else (u, v)
    chroma[:, 0::2], chroma[:, 1::2] = first, second
    buffer = _padded(chroma, stride) + b"\x00"  # the second view's last byte
    size = stride * (h // 2 - 1) + w - 1
    a, b = buffer[:size], buffer[1:1 + size]
    u_plane, v_plane = (b, a) if v_first else (a, b)
    return Image(w, h, [Plane(_padded(y, stride), stride, 1), Plane(u_plane, stride, 2),
                        Plane(v_plane, stride, 2)])
