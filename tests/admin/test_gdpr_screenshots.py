"""``selfreg-sim screenshots`` pictures the back office: the run against a real bridge and
chromium writes a 1280x800 PNG of every back-office page this part of it owns."""

from __future__ import annotations

import struct
from pathlib import Path

from simulator import admin_screenshots


def test_the_back_office_screenshots_are_written(tmp_path: Path) -> None:
    # Without chromium, run() raises NoChromium naming what to install: the test fails.
    written = admin_screenshots.run(tmp_path)
    names = {p.name for p in written}
    for page in admin_screenshots.ALWAYS:
        assert f"admin-{page}_en_1280x800.png" in names, sorted(names)
    for path in written:
        head = path.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n", path
        assert struct.unpack(">II", head[16:24]) == (1280, 800), path
