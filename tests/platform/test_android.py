"""The kiosk's Android code, run against a fake Android: what it asks Android to do (which
display, which window flag, which permission, which camera and picture format) and what it makes
of the answers (monitors in millimetres, frames as BGR a code can be read from)."""

from __future__ import annotations

import pytest
from fake_android import (
    CAMERA_PERMISSION,
    FLAG_ACTIVITY_MULTIPLE_TASK,
    FLAG_ACTIVITY_NEW_TASK,
    FLAG_KEEP_SCREEN_ON,
    SECONDARY,
    YUV_420_888,
    Camera,
    FakeAndroid,
    planar_image,
    semi_planar_image,
)

from kiosk.camera import CameraUnavailable
from kiosk.camera.android import AndroidCamera, choose_size
from kiosk.platform import CameraPermission, Displays, Monitor, ScreenKeeper
from kiosk.platform.android import (
    AndroidCameraPermission,
    AndroidDisplays,
    AndroidScreenKeeper,
    DisplayUnavailable,
    launch_on_display,
)
from kiosk.platform.choose import current_platform
from kiosk.scanner import decode
from simulator.virtual_camera import Scene, parse_item


def card_frame(code: str = "1001", seed: int = 4) -> object:
    return Scene(seed=seed).render(parse_item(f"card-qr:{code}"), 10)


# --- displays ---------------------------------------------------------------------------------


def test_displays_are_android_s_with_their_real_size_in_millimetres(android: FakeAndroid) -> None:
    displays = AndroidDisplays()
    assert isinstance(displays, Displays)
    assert displays.monitors() == [
        Monitor("0", 0, 0, 0, 1920, 1080, 345, 194, primary=True),
        Monitor("2", 1, 0, 0, 1280, 800, 218, 136, primary=False),
    ]
    assert displays.customer_display() == displays.monitors()[1]  # the presentation display


def test_a_till_with_one_screen_has_no_customer_display(android: FakeAndroid) -> None:
    android.displays = android.displays[:1]
    assert AndroidDisplays().customer_display() is None


def test_the_kiosk_is_moved_to_the_customer_display(android: FakeAndroid) -> None:
    assert launch_on_display(2) is True
    assert android.asked("setLaunchDisplayId") == [("setLaunchDisplayId", 2)]
    assert android.asked("addIntentFlags") == [
        ("addIntentFlags", FLAG_ACTIVITY_NEW_TASK | FLAG_ACTIVITY_MULTIPLE_TASK)]
    (start,) = android.asked("startActivity")
    assert start[2] == ("bundle", 2)  # the options go with the intent
    assert android.asked("finish") == [("finish",)]  # this one leaves the main display


def test_a_kiosk_already_on_the_customer_display_stays(android: FakeAndroid) -> None:
    android.current_display = 2
    assert launch_on_display(2) is False
    assert android.asked("startActivity") == [] and android.asked("finish") == []


@pytest.mark.parametrize(("sdk", "features", "says"), [
    (25, {SECONDARY}, "needs Android 8"),
    (28, set(), "activities_on_secondary_displays is missing"),
])
def test_a_till_that_cannot_host_the_kiosk_on_its_second_display_says_why(
        android: FakeAndroid, sdk: int, features: set[str], says: str) -> None:
    android.sdk, android.features = sdk, features
    with pytest.raises(DisplayUnavailable, match=says):
        launch_on_display(2)
    assert android.asked("startActivity") == [] and android.asked("finish") == []


# --- screen and permission ----------------------------------------------------------------------


def test_the_screen_is_kept_on_by_the_window_flag_set_on_the_ui_thread(
        android: FakeAndroid) -> None:
    keeper = AndroidScreenKeeper()
    assert isinstance(keeper, ScreenKeeper)
    keeper.release()  # nothing to restore yet
    keeper.keep_on()
    keeper.release()
    keeper.release()  # twice: harmless
    assert [c for c in android.calls if c[0] in ("addFlags", "clearFlags")] == [
        ("addFlags", FLAG_KEEP_SCREEN_ON, True), ("clearFlags", FLAG_KEEP_SCREEN_ON, True)]


@pytest.mark.parametrize("allow", [True, False])
def test_the_camera_permission_is_asked_for_and_the_answer_passed_on(
        android: FakeAndroid, allow: bool) -> None:
    android.camera_granted = False
    permission = AndroidCameraPermission()
    assert isinstance(permission, CameraPermission)
    assert permission.granted() is False
    answers: list[bool] = []
    permission.request(answers.append)
    assert android.asked("request_permissions") == [("request_permissions", [CAMERA_PERMISSION])]
    assert answers == []  # the dialog waits for the user
    android.user_answers(allow)
    assert answers == [allow]
    assert permission.granted() is allow


def test_a_granted_permission_is_not_asked_for_again(android: FakeAndroid) -> None:
    answers: list[bool] = []
    AndroidCameraPermission().request(answers.append)
    assert answers == [True]
    assert android.asked("request_permissions") == []


def test_the_android_platform_is_chosen_inside_an_apk(android: FakeAndroid,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANDROID_ARGUMENT", "/data/data/se.selfreg.kiosk/files/app")
    parts = current_platform()
    assert parts.name == "android" and parts.frame_source == "android"
    assert isinstance(parts.displays, AndroidDisplays)
    assert isinstance(parts.screen_keeper, AndroidScreenKeeper)
    assert isinstance(parts.camera_permission, AndroidCameraPermission)
    with pytest.raises(RuntimeError, match="no platform implementations for 'win32'"):
        current_platform("win32")


# --- the camera ---------------------------------------------------------------------------------


def test_frames_from_each_device_layout_convert_to_the_same_bgr_picture(
        android: FakeAndroid) -> None:
    import cv2
    import numpy as np

    bgr = card_frame()
    h, w = bgr.shape[:2]
    reference = cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), cv2.COLOR_YUV2BGR_I420)
    from kiosk.camera.android import yuv420_to_bgr

    for image in (planar_image(bgr), semi_planar_image(bgr), semi_planar_image(bgr, False)):
        planes = [(p.data, p.row_stride, p.pixel_stride) for p in image.planes]
        out = yuv420_to_bgr(w, h, planes)
        assert out.shape == (h, w, 3) and out.dtype == np.uint8
        assert np.array_equal(out, reference)
    assert np.abs(reference.astype(int) - bgr).mean() < 3  # and that is the picture


def test_the_camera_opens_at_the_requested_size_and_its_frames_read(android: FakeAndroid) -> None:
    camera = AndroidCamera("", size=(1280, 720))
    camera.open()
    try:
        assert camera.size == (1280, 720)
        assert android.asked("getOutputSizes") == [("getOutputSizes", YUV_420_888)]
        assert ("cast", "android.hardware.camera2.params.StreamConfigurationMap") in android.calls
        assert android.asked("ImageReader.newInstance") == [
            ("ImageReader.newInstance", 1280, 720, YUV_420_888, 2)]
        assert android.asked("CameraBridge.open") == [
            ("CameraBridge.open", "0", ("surface", 1280, 720))]
        android.deliver(semi_planar_image(card_frame("1001")))
        frame = camera.wait_frame(10)
        assert frame is not None and frame.shape == (720, 1280, 3)
        assert [(c.format, c.text) for c in decode(frame)] == [("QRCode", "1001")]
    finally:
        camera.close()
    assert android.bridges[-1].closed and android.readers[-1].closed
    assert android.loopers[-1].quit


def test_only_the_newest_frame_is_handed_on(android: FakeAndroid) -> None:
    camera = AndroidCamera()
    camera.open()
    try:
        older = [semi_planar_image(card_frame(code)) for code in ("1001", "1002")]
        newest = semi_planar_image(card_frame("1003"))
        android.deliver(*older, newest)
        frame = camera.wait_frame(10)
        assert frame is not None
        assert [c.text for c in decode(frame)] == ["1003"]
        assert all(image.closed for image in (*older, newest))  # none left holding the reader
        assert camera.read() is None  # nothing newer arrived
    finally:
        camera.close()


def test_a_sensor_mounted_sideways_gives_upright_frames(android: FakeAndroid) -> None:
    import numpy as np

    camera = AndroidCamera("front", size=(1280, 720))
    camera.open()
    try:
        assert (camera.camera_id, camera.rotation, camera.size) == ("1", 270, (720, 1280))
        bgr = np.zeros((720, 1280, 3), np.uint8)
        bgr[:, :640] = 255  # the sensor sees white on its left
        android.deliver(planar_image(bgr))
        frame = camera.wait_frame(10)
        assert frame is not None and frame.shape == (1280, 720, 3)
        # Turned 270° clockwise: the sensor's left is now the bottom.
        assert frame[-100:].mean() > 240 and frame[:100].mean() < 15
    finally:
        camera.close()


def test_sizes_are_chosen_by_shape_then_pixel_count() -> None:
    offered = [(4000, 3000), (1920, 1080), (1280, 720), (640, 480), (1440, 1080)]
    assert choose_size(offered, (1280, 720)) == (1280, 720)
    assert choose_size([(4000, 3000), (1920, 1080), (640, 480)], (1280, 720)) == (1920, 1080)
    assert choose_size(offered, (800, 600)) == (640, 480)


@pytest.mark.parametrize(("setup", "spec", "says"), [
    (lambda a: setattr(a, "camera_granted", False), "", "allow Camera for selfreg"),
    (lambda a: setattr(a, "cameras", []), "", "reports no camera"),
    (lambda a: None, "7", "no camera '7' on this device: choose one of 0, 1"),
    (lambda a: None, "external", "no external camera"),
    (lambda a: setattr(a.cameras[0], "on_open", 1), "", "in use by another app"),
    (lambda a: setattr(a.cameras[0], "on_open", 3), "", "disabled by a device policy"),
])
def test_a_camera_that_cannot_be_used_says_what_to_do(
        android: FakeAndroid, setup: object, spec: str, says: str) -> None:
    setup(android)  # type: ignore[operator]
    camera = AndroidCamera(spec)
    with pytest.raises(CameraUnavailable, match=says):
        camera.open()
    camera.close()
    assert all(b.closed for b in android.bridges) and all(r.closed for r in android.readers)


def test_a_camera_lost_while_running_says_so_on_read(android: FakeAndroid) -> None:
    android.cameras.append(Camera("2", 2, [(1280, 720)]))
    camera = AndroidCamera("external")
    camera.open()
    try:
        android.fail(-1)
        with pytest.raises(CameraUnavailable, match="disconnected"):
            for _ in range(1000):
                camera.wait_frame(0.01)
    finally:
        camera.close()


def test_the_java_helper_declares_what_the_python_side_calls(android: FakeAndroid) -> None:
    import re
    from pathlib import Path

    from kiosk.camera import android as source

    java = (Path(__file__).resolve().parents[2] / "deploy" / "android" / "src" / "org" /
            "selfreg" / "kiosk" / "CameraBridge.java").read_text()
    assert "package org.selfreg.kiosk;" in java and "public class CameraBridge" in java
    assert source.BRIDGE == "org.selfreg.kiosk.CameraBridge"
    listener = re.search(r"interface Listener \{(.*?)\}", java, re.S)
    assert listener is not None
    declared = set(re.findall(r"void (\w+)\(", listener.group(1)))
    state_class, _ = source._Listeners.classes()
    implemented = {name for name, f in vars(state_class).items()
                   if hasattr(f, "java_signature")}
    assert declared == implemented == {"onStarted", "onFailed"}
    assert state_class.onFailed.java_signature == "(ILjava/lang/String;)V"  # int, String
    assert "void onFailed(int error, String message)" in java
    for static in ("public static CameraBridge open(CameraManager manager, String cameraId, "
                   "Surface surface,", "public static byte[] bytesOf(ByteBuffer buffer)"):
        assert static in java
    # Every error code the Java side reports has words in Python.
    for code in re.findall(r"static final int \w+ = (-?\d+);", java):
        assert int(code) in source.REASONS
