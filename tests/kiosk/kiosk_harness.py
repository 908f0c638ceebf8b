"""Test helpers: an Xvfb display, a fake bridge in a thread, and a kiosk process to drive."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

from cashier_bridge.lanes.lane import TIMED_PHASES
from cashier_bridge.protocol import (
    Error,
    ErrorCode,
    Hello,
    KioskState,
    KioskView,
    Phase,
    Role,
    Welcome,
    dump,
    parse_intent,
)


@contextlib.contextmanager
def xvfb(width: int = 1920, height: int = 1080) -> Iterator[str]:
    """A private X display (no auth, local socket only) for the kiosk windows."""
    for number in range(90, 190):
        if not Path(f"/tmp/.X{number}-lock").exists() and not Path(
                f"/tmp/.X11-unix/X{number}").exists():
            break
    else:
        raise RuntimeError("no free X display number")
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", f"{width}x{height}x24",
                             "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    socket = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 10
    while not socket.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.05)
    try:
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(5)


class FakeBridge:
    """Answers a kiosk's hello with a welcome and the lane state; records its intents."""

    def __init__(self) -> None:
        self.intents: queue.Queue[Any] = queue.Queue()
        self.hellos: list[Hello] = []
        self.state = KioskState(lane="lane-1", phase=Phase.idle, seq=1, view=KioskView())
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: Server | None = None
        self._clients: set[ServerConnection] = set()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None and ws.request.path == "/ws/kiosk"
        hello = parse_intent(await ws.recv())
        assert isinstance(hello, Hello) and hello.role is Role.kiosk
        self.hellos.append(hello)
        await ws.send(dump(Welcome(role=Role.kiosk, lane=hello.lane, server_version="fake")))
        await ws.send(dump(self.state))
        self._clients.add(ws)
        try:
            async for frame in ws:
                self.intents.put(parse_intent(frame))
        finally:
            self._clients.discard(ws)

    def start(self) -> None:
        async def go() -> None:
            self._server = await serve(self._handler, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]
        self._call(go())

    def stop(self) -> None:
        async def go() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
                self._server = None
        self._call(go())

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def set_state(self, phase: Phase, seq: int | None = None, **view: Any) -> KioskState:
        # As the real bridge says it: the phases the shopper must act on time out.
        view.setdefault("times_out", phase in TIMED_PHASES)
        self.state = KioskState(lane="lane-1", phase=phase,
                                seq=seq if seq is not None else self.state.seq + 1,
                                view=KioskView(**view))
        self._broadcast(dump(self.state))
        return self.state

    def send_error(self, code: ErrorCode = ErrorCode.not_allowed) -> None:
        self._broadcast(dump(Error(code=code, message="nope", ref="cancel")))

    def _broadcast(self, frame: str) -> None:
        async def go() -> None:
            for ws in list(self._clients):
                await ws.send(frame)
        self._call(go())

    def next_intent(self, timeout: float = 5.0, *, skip: tuple[str, ...] = ()) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            intent = self.intents.get(timeout=max(0.01, deadline - time.monotonic()))
            if intent.type not in skip:
                return intent

    def drain(self) -> list[Any]:
        items = []
        while not self.intents.empty():
            items.append(self.intents.get_nowait())
        return items

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class Kiosk:
    """``selfreg-kiosk`` as a real process on the test display, read through its probe."""

    def __init__(self, display: str, bridge_url: str, tmp: Path, *, size: str = "1280x800",
                 screen_timeout_s: float = 60, welcome_s: float = 1.5,
                 camera: str = "none", token: str | None = None) -> None:
        self.display = display
        self.probe = tmp / "probe.json"
        env = dict(os.environ, DISPLAY=display, KIVY_HOME=str(tmp / "kivy"), KIVY_NO_ARGS="1",
                   KIVY_LOG_MODE="PYTHON", SELFREG_KIOSK_PROBE=str(self.probe),
                   SELFREG_CONFIG=str(tmp / "none.toml"),
                   SELFREG_SCREEN_TIMEOUT_S=str(screen_timeout_s),
                   SELFREG_WELCOME_S=str(welcome_s), SELFREG_LANGUAGE="sv",
                   SELFREG_CAMERA=camera)
        env.pop("KIVY_GL_BACKEND", None)
        env.pop("SELFREG_DEVICE_TOKEN", None)
        if token is not None:
            env["SELFREG_DEVICE_TOKEN"] = token
        self.log = (tmp / "kiosk.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "--bridge", bridge_url, "--lane", "lane-1",
             "--size", size], env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def read(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.probe.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def wait(self, check: Callable[[dict[str, Any]], bool], timeout: float = 10.0,
             what: str = "") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"kiosk exited with {self.proc.returncode}")
            last = self.read()
            if last is not None and check(last):
                return last
            time.sleep(0.03)
        raise AssertionError(f"timed out waiting for {what or check}; last probe: {last}")

    def wait_screen(self, screen: str, *, seq: int | None = None, language: str | None = None,
                    timeout: float = 10.0) -> dict[str, Any]:
        return self.wait(lambda p: p["screen"] == screen
                         and (seq is None or p["seq"] == seq)
                         and (language is None or p["language"] == language),
                         timeout, f"screen {screen} seq {seq} language {language}")

    def click(self, button: str) -> None:
        probe = self.read()
        assert probe is not None and button in probe["buttons"], (button, probe)
        x, y = probe["buttons"][button]
        subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], check=True,
                       env=dict(os.environ, DISPLAY=self.display), timeout=10)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
