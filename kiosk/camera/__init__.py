"""Skanna ID's cameras: one frame-source interface, a real camera through OpenCV and the
simulator's virtual camera, chosen by the ``camera`` setting.

``camera`` is a device index ("0"), a device path or video file, ``virtual`` or
``virtual:<options>`` (see :mod:`simulator.virtual_camera`), or ``none``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import CameraUnavailable, FrameSource, ThreadedSource, parse_size

if TYPE_CHECKING:
    from cashier_bridge.config import Settings

__all__ = ["CameraUnavailable", "FrameSource", "ThreadedSource", "camera_from_settings",
           "make_camera", "parse_size"]


def make_camera(spec: str, *, size: tuple[int, int] = (1280, 720), fps: int = 30,
                mirror: bool = False) -> FrameSource:
    """The frame source ``spec`` names, not yet open.  Raises CameraUnavailable for "none" and
    for a spec that names nothing we know."""
    spec = spec.strip()
    if spec.lower() in ("", "none", "off"):
        raise CameraUnavailable("no camera is configured (camera = \"none\")", source="camera")
    if spec == "virtual" or spec.startswith("virtual:"):
        from simulator.virtual_camera import VirtualCamera

        try:
            return VirtualCamera.from_spec(spec.partition(":")[2], size=size, fps=fps)
        except ValueError as exc:
            raise CameraUnavailable(str(exc), source="virtual camera") from None
    from .opencv import OpenCVCamera

    device: int | str = int(spec) if spec.isdigit() else spec
    return OpenCVCamera(device, size=size, fps=fps, mirror=mirror)


def camera_from_settings(settings: Settings) -> FrameSource:
    return make_camera(settings.camera, size=parse_size(settings.camera_size),
                       fps=settings.camera_fps, mirror=settings.camera_mirror)
