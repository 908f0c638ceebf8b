"""deploy/map-touch.sh passes shellcheck: it runs in the kiosk's session at every boot, where a
quoting slip would leave the touch screen on the wrong monitor without anyone seeing why."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "map-touch.sh"


def test_map_touch_passes_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing (Debian package shellcheck)")
    done = subprocess.run(["shellcheck", "--severity=info", str(SCRIPT)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
