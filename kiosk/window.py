"""Window set-up; must run before anything imports ``kivy.core.window``."""

from __future__ import annotations

import os


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    size = (int(width), int(height))
    if min(size) < 100:
        raise ValueError(f"window size {text!r} is too small")
    return size


def configure_window(size: tuple[int, int], *, fullscreen: bool = False) -> None:
    """Borderless at 0,0, so window pixels are screen pixels (touch injection relies on it)."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    Config.set("graphics", "borderless", "1")
    Config.set("graphics", "position", "custom")
    Config.set("graphics", "left", "0")
    Config.set("graphics", "top", "0")
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "exit_on_escape", "0")
