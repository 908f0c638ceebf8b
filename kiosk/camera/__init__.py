"""Skanna ID's cameras: one frame-source interface and pluggable sources, chosen by the ``camera``
setting.

``camera`` is ``SCHEME:OPTIONS`` or ``SCHEME`` where SCHEME names a frame source registered in the
``selfreg.frame_sources`` entry-point group: the kiosk's own ``opencv`` (a USB camera or a video
file through OpenCV) and ``android`` (camera2 on an Android till), and whatever else is
installed: the simulator registers its virtual camera as ``virtual`` (``virtual:<options>``, see
the simulator's documentation).  A bare device index ("0"), device path or video file goes to the
platform's own source (``android`` on Android, ``opencv`` elsewhere); ``none`` means no camera.

The kiosk names no source it does not own: the simulator plugs its test rig in through package
metadata, so the product never imports it.  python-for-android packs the source tree rather than
an installed distribution (no entry points there), so the kiosk's own two sources are also known
by name without metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.camera.base import CameraUnavailable, FrameSource, ThreadedSource, parse_size

if TYPE_CHECKING:
    from cashier_bridge.config import Settings

__all__ = ["GROUP", "CameraUnavailable", "FrameSource", "FrameSourceFactory", "ThreadedSource",
           "camera_from_settings", "frame_sources", "make_camera", "parse_size"]

log = logging.getLogger("selfreg.kiosk.camera")

GROUP = "selfreg.frame_sources"
# name -> "module:function"; the same lines as pyproject.toml's entry points (a test checks).
BUILTIN = {"opencv": "kiosk.camera.opencv:frame_source",
           "android": "kiosk.camera.android:frame_source"}

# A registered source: (OPTIONS after "scheme:", size, fps, mirror) -> a FrameSource, not yet
# open.  It raises CameraUnavailable for options it cannot use.
FrameSourceFactory = Callable[..., FrameSource]


def frame_sources() -> dict[str, str]:
    """Every frame source this installation knows, name -> "module:function"."""
    sources = dict(BUILTIN)
    sources.update({ep.name: ep.value for ep in metadata.entry_points(group=GROUP)})
    return sources


def _load(name: str, target: str) -> FrameSourceFactory:
    try:
        factory = metadata.EntryPoint(name, target, GROUP).load()
    except (ImportError, AttributeError) as exc:
        # e.g. the simulator registered but its own requirements missing on this machine
        raise CameraUnavailable(f"the {name!r} frame source is registered as {target} but cannot "
                                f"be loaded: {exc}", source="camera") from exc
    return factory  # type: ignore[no-any-return]


def default_source() -> str:
    """The platform's own camera source, for a bare index or path."""
    from kiosk.platform.choose import on_android

    return "android" if on_android() else "opencv"


def make_camera(spec: str, *, size: tuple[int, int] = (1280, 720), fps: int = 30,
                mirror: bool = False) -> FrameSource:
    """The frame source ``spec`` names, not yet open.  Raises CameraUnavailable for "none" and
    for a spec that names nothing installed."""
    spec = spec.strip()
    if spec.lower() in ("", "none", "off"):
        raise CameraUnavailable("no camera is configured (camera = \"none\")", source="camera")
    sources = frame_sources()
    scheme, sep, options = spec.partition(":")
    if scheme.lower() in sources:
        name = scheme.lower()
    elif sep and scheme.isidentifier() and not Path(spec).exists():
        known = ", ".join(sorted(sources))
        hint = (" (the virtual camera comes with the simulator: install selfreg from its source "
                "tree)" if scheme.lower() == "virtual" else "")
        raise CameraUnavailable(f"no frame source named {scheme!r} is installed{hint}; "
                                f"installed: {known}", source="camera")
    else:
        name, options = default_source(), spec  # a device index, device path or video file
    log.debug("camera %r from frame source %s", spec, name)
    return _load(name, sources[name])(options, size=size, fps=fps, mirror=mirror)


def camera_from_settings(settings: Settings) -> FrameSource:
    return make_camera(settings.camera, size=parse_size(settings.camera_size),
                       fps=settings.camera_fps, mirror=settings.camera_mirror)
