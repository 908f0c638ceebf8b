"""What the shopper sees, as JSON, for the simulator and end-to-end tests.

With ``SELFREG_KIOSK_PROBE=/path.json`` set, the kiosk rewrites that file after every render:
screen name, lane phase and seq, language, whether the bridge is reachable, the scan screen's
camera (starting/live/failed, picture live, code outlined), window size, every
visible text in reading order, and the centre of every button in window pixels with the origin
at the top left (what ``xdotool mousemove`` expects for a borderless window at 0,0).

Every snapshot is also appended, numbered, to ``/path.jsonl``: a test waits for *a screen shown
after its action* by reading that history from a mark, never for whatever the screen shows now
(which may still be the screen from before the action).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kivy.uix.label import Label
from kivy.uix.widget import Widget

PROBE_ENV = "SELFREG_KIOSK_PROBE"


def _in_reading_order(widget: Widget) -> Iterator[Widget]:
    # Kivy keeps children last-added-first; layouts were filled top-to-bottom, left-to-right.
    yield widget
    for child in reversed(widget.children):
        if child.opacity > 0:
            yield from _in_reading_order(child)


def visible_texts(root: Widget) -> list[str]:
    return [w.text for w in _in_reading_order(root)
            if isinstance(w, Label) and w.text.strip() and w.opacity > 0 and w.width > 0]


def button_centres(root: Widget, window_height: int) -> dict[str, list[int]]:
    buttons: dict[str, list[int]] = {}
    for w in _in_reading_order(root):
        probe_id = getattr(w, "probe_id", "")
        if probe_id and not w.disabled:
            x, y = w.to_window(*w.center)
            buttons[probe_id] = [round(x), round(window_height - y)]
    return buttons


def snapshot(root: Widget, *, window_size: tuple[int, int], screen: str, phase: str | None,
             seq: int | None, language: str, online: bool,
             camera: dict[str, Any] | None = None) -> dict[str, Any]:
    width, height = window_size
    return {
        # Skanna ID's camera while the scan screen shows: status (starting, live, failed),
        # whether the picture is live, whether a code is outlined, frames shown so far.
        "camera": camera,
        "screen": screen,
        "phase": phase,
        "seq": seq,
        "language": language,
        "online": online,
        "window": [width, height],
        "texts": visible_texts(root),
        "buttons": button_centres(root, height),
    }


def history_path(path: Path) -> Path:
    return path.with_suffix(".jsonl")


def record(path: Path, data: dict[str, Any], number: int) -> None:
    """The latest snapshot to ``path`` (atomically) and snapshot ``number`` to the history."""
    data = {**data, "n": number}
    line = json.dumps(data, ensure_ascii=False)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(line, encoding="utf-8")
    os.replace(tmp, path)
    # One write of one whole line: a reader sees complete lines, or a last line still missing
    # its newline, which it leaves for the next read.
    with history_path(path).open("a", encoding="utf-8") as history:
        history.write(line + "\n")


def probe_path() -> Path | None:
    value = os.environ.get(PROBE_ENV)
    return Path(value) if value else None
