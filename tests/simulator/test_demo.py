"""`selfreg-sim demo` as a newcomer runs it: on the default settings (a loopback bridge that lets
in only paired devices) its kiosk and its terminal register get in by themselves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


class Terminal:
    """The demo's terminal: what it printed so far, and a keyboard."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self._text = ""
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read(1):
            with self._changed:
                self._text += chunk
                self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return self._text

    def wait_for(self, wanted: str, timeout: float = 90.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: wanted in self._text
                                          or self.proc.poll() is not None, timeout) \
                    or wanted not in self._text:
                raise AssertionError(f"the demo never printed {wanted!r}:\n{self._text}")

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_the_demo_pairs_its_own_kiosk_and_register(tmp_path: Path) -> None:
    probe = tmp_path / "kiosk-probe.json"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SELFREG_") and k not in ("DISPLAY", "BROWSER")}
    env.update(SELFREG_CONFIG=str(tmp_path / "absent.toml"),
               SELFREG_DATA_DIR=str(tmp_path / "data"), SELFREG_PORT=str(free_port()),
               SELFREG_CAMERA="none", SELFREG_KIOSK_PROBE=str(probe),
               KIVY_HOME=str(tmp_path / "kivy"), KIVY_NO_ARGS="1", KIVY_LOG_MODE="PYTHON",
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "demo"], cwd=tmp_path,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    terminal = Terminal(proc)
    try:
        terminal.wait_for("paired with lane lane-1")
        terminal.wait_for("lane is idle")  # the register got in and was sent the lane

        def kiosk_shows(screen: str) -> bool:
            try:
                return json.loads(probe.read_text(encoding="utf-8"))["screen"] == screen
            except (OSError, ValueError, KeyError):
                return False

        wait_until(lambda: kiosk_shows("idle"), "the kiosk's idle screen")
        terminal.type("s")
        terminal.wait_for("lane is choosing")
        wait_until(lambda: kiosk_shows("choose"), "the kiosk offering the choices")
        terminal.type("q")
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
    assert "!! unauthorized" not in terminal.text
    kiosk_log = (tmp_path / "data" / "kiosk.log").read_text(errors="replace")
    assert "not paired" not in kiosk_log
