"""The real programs a scenario runs: the bridge, a virtual screen (Xvfb) and the kiosk.

Each is a separate OS process, started the way an installer would start it, so that a scenario
proves the product and not a test double.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class ProcessFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# Benchmarks and fault tests drive one lane faster than any shopper could, number after number:
# the bridge's Ange ID pause (a stranger trying numbers) would stop them, so they lift it.
FLAT_OUT = {"SELFREG_ANGE_ID_LOOKUPS_PER_MINUTE": "1000000"}


class Pairings:
    """Device tokens for one registry, as `selfreg-bridge pair` issues them but through the
    registry itself (no process per device); :meth:`token` pairs each lane's role once."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self._tokens: dict[tuple[str, str], str] = {}

    def pair(self, lane: str, role: str) -> str:
        """A new token for a device of ``lane`` and ``role``."""
        from cashier_bridge.registry import Registry

        registry = Registry.open(self.db_url)
        try:
            return registry.devices.pair(lane, role, label="simulator").token
        finally:
            registry.close()

    def token(self, lane: str, role: str) -> str:
        """The token of this simulator's (or test's) own device of ``lane`` and ``role``."""
        if (lane, role) not in self._tokens:
            self._tokens[lane, role] = self.pair(lane, role)
        return self._tokens[lane, role]


class BridgeProcess:
    """``selfreg-bridge serve`` on a free loopback port with its own database."""

    def __init__(self, workdir: Path, db_url: str | None = None,
                 host: str = "127.0.0.1", program: tuple[str, ...] | None = None) -> None:
        self.workdir = workdir
        # The command that is ``selfreg-bridge``: this checkout's by default, or another
        # install's entry point (tests/install runs a plain install's).
        self.program = program or (sys.executable, "-m", "cashier_bridge.cli")
        self.host = host  # devices here connect through loopback whatever it listens on
        self.db_url = db_url or f"sqlite:///{workdir / 'bridge.db'}"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "bridge.log"
        self.starts = 0
        self.env: dict[str, str] = {}
        self.pairings = Pairings(self.db_url)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.program, *args, "--db", self.db_url],
            capture_output=True, text=True, env=_env(self.workdir), timeout=120, check=False)

    def pair(self, lane: str, role: str) -> str:
        """A new pairing token for a device of ``lane``, as an installer gets it."""
        return self.pairings.pair(lane, role)

    def token(self, lane: str, role: str) -> str:
        """The token of the simulator's own device of ``lane`` and ``role`` (paired once)."""
        return self.pairings.token(lane, role)

    def start(self, timeout: float = 60.0, *, auth: str = "required",
              args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        if env is not None:
            self.env = env  # kept for restarts
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*self.program, "serve", "--host", self.host,
             "--port", str(self.port), "--db", self.db_url, *args],
            stdout=log, stderr=subprocess.STDOUT,
            env={**_env(self.workdir), "SELFREG_AUTH": auth, **self._public_url(),
                 **self.env})
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ProcessFailed(f"bridge exited with {self.proc.returncode}:\n"
                                    f"{_tail(self.log_path)}")
            if self.get("/ready") is not None:
                return
            time.sleep(0.05)
        _stop(self.proc)  # a bridge that never became ready must not linger
        raise ProcessFailed(f"bridge not ready after {timeout}s:\n{_tail(self.log_path)}")

    def _public_url(self) -> dict[str, str]:
        # On loopback (tests, scenarios) phones are simulated here and reach it there; a
        # bridge listening on the network works out its LAN address itself.
        return {"SELFREG_PUBLIC_URL": self.http_url} if self.host.startswith("127.") else {}

    def health(self) -> dict[str, Any] | None:
        return self.get("/health")

    def get(self, path: str) -> dict[str, Any] | None:
        """The endpoint's JSON when it answers 200, else None."""
        try:
            with urllib.request.urlopen(self.http_url + path, timeout=1) as r:
                return json.loads(r.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def kill(self) -> None:
        """Pull the plug: SIGKILL, no clean shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        _stop(self.proc)


class VirtualScreen:
    """An Xvfb server on a free display number (the PAX customer screen stand-in)."""

    def __init__(self, width: int, height: int) -> None:
        self.size = (width, height)
        self.proc: subprocess.Popen[bytes] | None = None
        self.display = ""

    def start(self) -> str:
        if not shutil.which("Xvfb"):
            raise ProcessFailed("Xvfb is not installed (Debian package xvfb)")
        read_fd, write_fd = os.pipe()
        w, h = self.size
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{w}x{h}x24", "-nolisten",
             "tcp", "-noreset"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise ProcessFailed("Xvfb did not start")
        self.display = f":{number}"
        return self.display

    def stop(self) -> None:
        _stop(self.proc)


class KioskProcess:
    """The real Kivy kiosk on a virtual screen, driven by real pointer input (xdotool)."""

    def __init__(self, workdir: Path, bridge_url: str, lane: str, display: str,
                 size: tuple[int, int] = (1280, 800), token: str | None = None,
                 camera: str = "none", env: dict[str, str] | None = None) -> None:
        self.token = token
        self.env = env or {}  # kiosk settings as SELFREG_<KEY>
        # What the kiosk's camera is: "none", or the simulator's "virtual:..." camera.
        self.camera = camera
        self.workdir = workdir
        self.bridge_url = bridge_url
        self.lane = lane
        self.display = display
        self.size = size
        self.probe_path = workdir / "kiosk-probe.json"
        self.history_path = self.probe_path.with_suffix(".jsonl")
        self.log_path = workdir / "kiosk.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        env = {**_env(self.workdir), **self.env}
        env.update(DISPLAY=self.display, SELFREG_KIOSK_PROBE=str(self.probe_path),
                   SELFREG_CAMERA=self.camera)
        if self.token:  # not on the command line, where `ps` shows it to anyone
            env["SELFREG_DEVICE_TOKEN"] = self.token
        w, h = self.size
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "--bridge", self.bridge_url, "--lane", self.lane,
             "--size", f"{w}x{h}"], stdout=log, stderr=subprocess.STDOUT, env=env)
        self.wait_for(lambda p: True, timeout, what="the kiosk's first screen", since=0)

    def probe(self) -> dict[str, Any] | None:
        """What the screen shows now."""
        try:
            return json.loads(self.probe_path.read_text())
        except (OSError, ValueError):
            return None

    def history(self, since: int = 0) -> list[dict[str, Any]]:
        """Every settled screen the kiosk showed after snapshot number ``since``, in order."""
        try:
            text = self.history_path.read_text(encoding="utf-8")
        except OSError:
            return []
        shown = []
        for line in text.split("\n")[:-1]:  # the last piece is unfinished or empty
            with contextlib.suppress(ValueError):
                snapshot = json.loads(line)
                if snapshot.get("n", 0) > since:
                    shown.append(snapshot)
        return shown

    def mark(self) -> int:
        """The number of the latest snapshot: wait ``since`` it for what an action causes."""
        shown = self.history()
        return int(shown[-1]["n"]) if shown else 0

    def wait_for(self, predicate: Any, timeout: float = 10.0, what: str = "",
                 since: int | None = None) -> dict[str, Any]:
        """The first screen after snapshot ``since`` that satisfies ``predicate``; with no
        ``since``, the screen showing now (for finding what to tap, not for results)."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise ProcessFailed(f"kiosk exited with {self.proc.returncode}:\n"
                                    f"{_tail(self.log_path)}")
            if since is None:
                candidates = [p for p in [self.probe()] if p is not None]
            else:
                candidates = self.history(since)
            for snapshot in candidates:
                last = snapshot
                if predicate(snapshot):
                    return snapshot
            time.sleep(0.03)
        shown = {k: last.get(k) for k in ("screen", "phase", "texts")} if last else None
        raise ProcessFailed(f"timed out waiting for {what}; kiosk shows {shown}")

    def wait_screen(self, screen: str, timeout: float = 10.0, *, since: int) -> dict[str, Any]:
        """The first time ``screen`` was shown after snapshot ``since``."""
        return self.wait_for(lambda p: p.get("screen") == screen, timeout,
                             what=f"screen {screen!r} after snapshot {since}", since=since)

    def tap(self, button: str, timeout: float = 10.0) -> None:
        """Touch a button by its id, as a shopper's finger would (X pointer events)."""
        shown = self.wait_for(lambda p: button in p.get("buttons", {}), timeout,
                              what=f"button {button!r}")
        x, y = shown["buttons"][button]
        subprocess.run(["xdotool", "mousemove", str(int(x)), str(int(y)), "click", "1"],
                       env={**os.environ, "DISPLAY": self.display}, check=True, timeout=10)

    def type_digits(self, digits: str) -> None:
        for d in digits:
            if d.isdigit():
                mark = self.mark()
                before = self.probe() or {}
                self.tap(f"key_{d}")
                # the display must take the digit before the next tap
                self.wait_for(lambda p, b=before: p.get("texts") != b.get("texts"), 5,
                              what=f"digit {d} to appear", since=mark)

    def stop(self) -> None:
        _stop(self.proc)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    """Ask politely, then insist."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    kivy_home = workdir / "kivy"
    kivy_home.mkdir(parents=True, exist_ok=True)
    env.update(KIVY_HOME=str(kivy_home), KIVY_NO_ARGS="1", KIVY_LOG_MODE="PYTHON",
               SELFREG_DATA_DIR=str(workdir / "data"), SELFREG_CONFIG=str(workdir / "none.toml"))
    return env


@contextlib.contextmanager
def workdir(keep: bool = False):  # type: ignore[no-untyped-def]
    path = Path(tempfile.mkdtemp(prefix="selfreg-sim-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)
