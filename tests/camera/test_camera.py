"""Frame sources: the real OpenCV path (fed a video file, since CI has no camera), the clear
reasons a camera is unavailable, and OpenCV staying out of the kiosk's cold start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.camera import CameraUnavailable, FrameSource, make_camera
from kiosk.camera.opencv import OpenCVCamera


def write_video(path: Path, frames: list[np.ndarray], fps: int = 30) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def left_half_white(width: int = 320, height: int = 240) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:, : width // 2] = 255
    return frame


def test_a_video_file_plays_through_the_real_opencv_path(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", [left_half_white()] * 5)
    camera = make_camera(str(video), fps=60)
    assert isinstance(camera, OpenCVCamera)
    assert isinstance(camera, FrameSource)
    camera.open()
    try:
        assert camera.size == (320, 240)
        frames = [camera.wait_frame(5) for _ in range(8)]  # more than the file has: it loops
    finally:
        camera.close()
    assert all(f is not None and f.shape == (240, 320, 3) for f in frames)
    first = frames[0]
    assert first is not None
    assert first[:, :150].mean() > 200 and first[:, 170:].mean() < 50


def test_mirror_flips_the_frames_back(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", [left_half_white()] * 3)
    with OpenCVCamera(str(video), mirror=True) as camera:
        frame = camera.wait_frame(5)
    assert frame is not None
    assert frame[:, :150].mean() < 50 and frame[:, 170:].mean() > 200


def test_a_frame_is_handed_out_once(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", [left_half_white()] * 3)
    with OpenCVCamera(str(video), fps=1) as camera:  # one new frame a second
        assert camera.wait_frame(5) is not None
        assert camera.read() is None  # nothing new yet: no copy of the old frame


def test_no_camera_configured() -> None:
    with pytest.raises(CameraUnavailable, match='no camera is configured'):
        make_camera("none")


def test_no_camera_attached_names_the_device() -> None:
    camera = make_camera("57")
    with pytest.raises(CameraUnavailable) as info:
        camera.open()
    assert "/dev/video57 does not exist" in info.value.reason
    camera.close()  # closing a camera that never opened is harmless


def test_a_missing_file_and_a_file_that_is_no_video(tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailable, match="no such camera device or video file"):
        make_camera(str(tmp_path / "nothing.avi")).open()
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(CameraUnavailable, match=r"could not be opened|delivers no pictures"):
        make_camera(str(junk)).open()


class Unplugged:
    """What a VideoCapture answers once its USB camera is pulled out."""

    def read(self) -> tuple[bool, None]:
        return False, None

    def set(self, *_args: object) -> bool:
        return False

    def release(self) -> None:
        pass


def test_a_camera_that_fails_while_running_says_so_on_read(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", [left_half_white()] * 3)
    camera = OpenCVCamera(str(video))
    camera.open()
    try:
        assert camera.wait_frame(5) is not None
        real, camera._cap = camera._cap, Unplugged()  # the device goes away while running
        real.release()
        with pytest.raises(CameraUnavailable, match="stopped"):
            for _ in range(500):
                camera.wait_frame(0.01)
    finally:
        camera.close()


def test_the_kiosk_starts_without_importing_opencv_or_the_decoders() -> None:
    code = ("import sys, kiosk.app, kiosk.cli; "
            "print(sorted(m for m in ('cv2', 'zxingcpp', 'pyzbar', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"KIVY_NO_ARGS": "1", "KIVY_LOG_MODE": "PYTHON",
                              "KIVY_HOME": "/tmp/selfreg-kivy-import-test", "PATH": "/usr/bin"})
    assert out.stdout.strip().splitlines()[-1] == "[]"
