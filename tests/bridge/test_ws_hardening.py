"""What a device integrator and an operator see when devices misbehave or simply leave.

The bridge runs as `selfreg-bridge serve` in its own process (the uvicorn settings of the real
command), raw websocket clients poke it, and the tests read its log as an operator would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import Request
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from cashier_bridge.config import Settings
from cashier_bridge.protocol import (
    MAX_FRAME_BYTES,
    ErrorCode,
    ProtocolError,
    Scan,
    parse_intent,
)
from cashier_bridge.web.app import MAX_HTTP_BODY_BYTES, create_app
from simulator.processes import Pairings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BridgeProcess:
    """`selfreg-bridge serve` as an operator runs it, its log collected line by line."""

    def __init__(self, tmp_path: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.http = f"http://127.0.0.1:{self.port}"
        # Only what the test says: no operator's config file or SELFREG_* variables.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SELFREG_")}
        self.db_url = f"sqlite:///{tmp_path / 'bridge.db'}"
        self.env.update({"SELFREG_CONFIG": str(tmp_path / "absent.toml"),
                         "SELFREG_DATA_DIR": str(tmp_path / "data"),
                         "SELFREG_DB_URL": self.db_url,
                         "PYTHONPATH": str(ROOT)})
        self.env.update({f"SELFREG_{k.upper()}": v for k, v in settings.items()})
        self.pairings = Pairings(self.db_url)
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def token(self, lane: str, role: str = "kiosk") -> str:
        """The token of this test's device of ``lane`` and ``role``, paired once as an
        installer pairs it (through the registry, not a process per device)."""
        return self.pairings.token(lane, role)

    def start(self, *args: str) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "cashier_bridge.cli", "serve", "--port", str(self.port),
             *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env, cwd=ROOT)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for("Uvicorn running on")

    def _read(self) -> None:
        assert self._proc and self._proc.stdout
        for line in self._proc.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def log(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def lines(self, text: str) -> list[str]:
        with self._changed:
            return [line for line in self._lines if text in line]

    def wait_for(self, text: str, count: int = 1, timeout: float = 20.0) -> list[str]:
        """The log lines holding ``text``, once there are ``count`` of them."""
        assert self._proc
        with self._changed:
            found = self._changed.wait_for(
                lambda: len(self.lines(text)) >= count or self._proc.poll() is not None, timeout)
            if not found or len(self.lines(text)) < count:
                raise AssertionError(f"the bridge did not log {count} x {text!r}:\n{self.log}")
            return self.lines(text)

    async def until(self, text: str, count: int = 1) -> list[str]:
        import asyncio

        return await asyncio.to_thread(self.wait_for, text, count)

    def stop(self) -> str:
        """Stop the bridge as an operator would (Ctrl-C) and return everything it logged."""
        if self._proc and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            self._proc.wait(timeout=30)
        if self._reader:
            self._reader.join(timeout=10)
        return self.log


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[BridgeProcess]:
    b = BridgeProcess(tmp_path)
    b.start()
    yield b
    b.stop()


def assert_no_traceback(log: str) -> None:
    assert "Traceback" not in log, log
    assert "[error" not in log, log


async def send(ws: ClientConnection, **message: Any) -> None:
    await ws.send(json.dumps({"v": 1, **message}))


async def receive(ws: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(await ws.recv()))


async def hello(bridge: BridgeProcess, ws: ClientConnection, lane: str, role: str = "kiosk"
                ) -> None:
    """Say hello as the lane's paired device and take the welcome and the lane's state."""
    await send(ws, type="hello", role=role, lane=lane, token=bridge.token(lane, role))
    assert (await receive(ws))["type"] == "welcome"
    assert (await receive(ws))["type"] == "state"


async def still_connected(ws: ClientConnection) -> None:
    await send(ws, type="ping")
    assert (await receive(ws))["type"] == "pong"


async def test_devices_that_leave_are_one_info_line_each_and_never_a_traceback(
        bridge: BridgeProcess) -> None:
    # The way kiosks come and go: hello and gone before the welcome arrives (the bridge then
    # writes to a closed socket), a cable pulled after the first screen, a probe that never
    # says hello.
    for i in range(10):
        ws = await connect(f"{bridge.url}/ws/kiosk")
        await send(ws, type="hello", role="kiosk", lane=f"hasty-{i}",
                   token=bridge.token(f"hasty-{i}"))
        await ws.close()
    for i in range(5):
        ws = await connect(f"{bridge.url}/ws/kiosk")
        await hello(bridge, ws, f"pulled-{i}")
        ws.transport.abort()
    for _ in range(5):
        ws = await connect(f"{bridge.url}/ws/register")
        await ws.close()
    await bridge.until("device_disconnected", count=20)
    log = bridge.stop()

    assert_no_traceback(log)
    left = [line for line in log.splitlines() if "device_disconnected" in line]
    assert len(left) == 20 and all("[info" in line for line in left)
    for i in range(10):
        assert len([line for line in left if f"lane=hasty-{i} " in line]) == 1
        assert "close=normal_closure" in next(ln for ln in left if f"lane=hasty-{i} " in ln)
    assert len([line for line in left if "lane=None" in line and "role=register" in line]) == 5


async def test_a_binary_frame_is_answered_and_the_device_stays_connected(
        bridge: BridgeProcess) -> None:
    async with connect(f"{bridge.url}/ws/kiosk") as ws:
        await hello(bridge, ws, "lane-1")
        await ws.send(b"\x00\x01binary")
        error = await receive(ws)
        assert (error["type"], error["code"]) == ("error", ErrorCode.binary_frame)
        await still_connected(ws)
    await bridge.until("device_disconnected")
    assert_no_traceback(bridge.stop())
    assert bridge.lines("code=binary_frame")


async def test_a_frame_beyond_the_cap_closes_with_1009_and_the_largest_message_fits(
        bridge: BridgeProcess) -> None:
    async with connect(f"{bridge.url}/ws/kiosk") as ws:
        await hello(bridge, ws, "lane-1")
        # The largest valid message: a scan at its maximum length, every character escaped.
        largest = Scan(text="\x01" * 8192).model_dump_json()
        assert len(largest.encode()) <= MAX_FRAME_BYTES
        await ws.send(largest)
        reply = await receive(ws)
        assert (reply["type"], reply["code"]) == ("error", ErrorCode.not_allowed)  # read, valid
        await ws.send("x" * (MAX_FRAME_BYTES + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    [line] = await bridge.until("device_disconnected")
    assert "close=message_too_big" in line
    assert_no_traceback(bridge.stop())


async def test_deeply_nested_json_is_invalid_json_and_the_device_stays(
        bridge: BridgeProcess) -> None:
    depth = MAX_FRAME_BYTES // 2 - 100
    async with connect(f"{bridge.url}/ws/kiosk") as ws:
        await hello(bridge, ws, "lane-1")
        await ws.send("[" * depth + "]" * depth)
        error = await receive(ws)
        assert (error["type"], error["code"]) == ("error", ErrorCode.invalid_json)
        await send(ws, type="scan", text=[[[[]]]])
        assert (await receive(ws))["code"] == ErrorCode.invalid_message
        await still_connected(ws)
    await bridge.until("device_disconnected")
    assert_no_traceback(bridge.stop())


async def test_an_escaped_lone_surrogate_is_invalid_json_and_the_device_stays(
        bridge: BridgeProcess) -> None:
    async with connect(f"{bridge.url}/ws/register") as ws:
        await hello(bridge, ws, "lane-1", role="register")
        # Valid JSON escapes, but half a surrogate pair is no text: nothing could echo or save it.
        await ws.send('{"v": 1, "type": "start_sale", "sale_id": "\\ud800"}')
        error = await receive(ws)
        assert (error["type"], error["code"]) == ("error", ErrorCode.invalid_json)
        await still_connected(ws)
    await bridge.until("device_disconnected")
    assert_no_traceback(bridge.stop())


def test_an_over_long_frame_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_intent(" " * MAX_FRAME_BYTES + "{}")
    assert refused.value.code is ErrorCode.message_too_large


async def test_invalid_utf8_in_a_text_frame_closes_with_1007_without_a_traceback(
        bridge: BridgeProcess) -> None:
    async with connect(f"{bridge.url}/ws/kiosk") as ws:
        await hello(bridge, ws, "lane-1")
        await ws.send(b'{"type": "ping", "x": "\xff\xfe"}', text=True)
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    [line] = await bridge.until("device_disconnected")
    assert "close=invalid_data" in line
    assert_no_traceback(bridge.stop())


@pytest.fixture
def small_bridge(tmp_path: Path) -> Iterator[BridgeProcess]:
    b = BridgeProcess(tmp_path, max_lanes="2")
    b.start()
    yield b
    b.stop()


async def lanes_held(bridge: BridgeProcess) -> int:
    async with httpx.AsyncClient() as client:
        return int((await client.get(f"{bridge.http}/health")).json()["lanes"])


async def test_lanes_beyond_max_lanes_are_refused_and_names_that_come_and_go_do_not_pile_up(
        small_bridge: BridgeProcess) -> None:
    bridge = small_bridge
    async with connect(f"{bridge.url}/ws/kiosk") as a, connect(f"{bridge.url}/ws/kiosk") as b:
        await hello(bridge, a, "kassa-a")
        await hello(bridge, b, "kassa-b")
        async with connect(f"{bridge.url}/ws/kiosk") as c:
            await send(c, type="hello", role="kiosk", lane="kassa-c",
                       token=bridge.token("kassa-c"))
            error = await receive(c)
            assert (error["code"], error["ref"]) == (ErrorCode.lane_limit, "hello")
            assert "max_lanes" in error["message"]
            with pytest.raises(ConnectionClosed) as closed:
                await c.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    await bridge.until("device_disconnected", count=3)
    assert await lanes_held(bridge) == 0

    for i in range(6):  # three times the limit, one after another
        async with connect(f"{bridge.url}/ws/kiosk") as ws:
            await hello(bridge, ws, f"passing-{i}")
    await bridge.until("device_disconnected", count=3 + 6)
    assert await lanes_held(bridge) == 0

    # A lane with an open sale is kept while nobody is attached: its register comes back to it.
    async with connect(f"{bridge.url}/ws/register") as register:
        await hello(bridge, register, "kassa-a", role="register")
        await send(register, type="start_sale", sale_id="s1")
        assert (await receive(register))["phase"] == "choosing"
    await bridge.until("device_disconnected", count=3 + 6 + 1)
    assert await lanes_held(bridge) == 1
    async with connect(f"{bridge.url}/ws/kiosk") as kiosk:
        await send(kiosk, type="hello", role="kiosk", lane="kassa-a",
                   token=bridge.token("kassa-a"))
        await receive(kiosk)
        assert (await receive(kiosk))["phase"] == "choosing"
    refused = bridge.lines("device_refused")
    assert len(refused) == 1 and "code=lane_limit" in refused[0] and "[warning" in refused[0]
    assert_no_traceback(bridge.stop())


async def test_an_announced_http_body_beyond_the_cap_gets_413(bridge: BridgeProcess) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{bridge.http}/health",
                                     content=b"x" * (MAX_HTTP_BODY_BYTES + 1))
    assert response.status_code == 413
    assert_no_traceback(bridge.stop())


@pytest.fixture
async def bridge_with_a_form(tmp_path: Path) -> AsyncIterator[str]:
    """The bridge's own app with an endpoint that reads its body, as the REST API will."""
    import asyncio

    port = free_port()
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'bridge.db'}", port=port))

    @app.post("/form")
    async def form(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_a_streamed_http_body_is_counted_and_cut_at_the_cap(
        bridge_with_a_form: str) -> None:
    async def chunks(total: int) -> AsyncIterator[bytes]:
        for _ in range(total // 8192):
            yield b"x" * 8192

    async with httpx.AsyncClient() as client:
        small = await client.post(f"{bridge_with_a_form}/form", content=chunks(64 * 1024))
        large = await client.post(f"{bridge_with_a_form}/form",
                                  content=chunks(MAX_HTTP_BODY_BYTES + 8192))
    assert "content-length" not in small.request.headers  # streamed, size not announced
    assert (small.status_code, small.json()) == (200, {"received": 64 * 1024})
    assert large.status_code == 413


# --- who may connect: paired devices, and browsers only from the bridge's own pages ------------


async def refused_hello(ws: ClientConnection, **hello_fields: Any) -> dict[str, Any]:
    """Say hello; the bridge's refusal, after which it must have closed with 1008."""
    await send(ws, type="hello", **hello_fields)
    error = await receive(ws)
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    return error


async def test_on_loopback_with_the_defaults_a_device_without_its_token_is_told_what_to_run(
        bridge: BridgeProcess) -> None:
    # The default bridge listens on 127.0.0.1 only, and still lets in only paired devices:
    # anything on the till (a browser's page included) can reach loopback.
    for role in ("register", "kiosk"):
        async with connect(f"{bridge.url}/ws/{role}") as ws:
            error = await refused_hello(ws, role=role, lane="lane-1")
        assert (error["type"], error["code"], error["ref"]) == ("error", "unauthorized", "hello")
        assert f"selfreg-bridge pair --lane lane-1 --role {role}" in error["message"]
        assert "no token was sent" in error["message"]
    async with connect(f"{bridge.url}/ws/register") as ws:  # a kiosk's token is no register's
        error = await refused_hello(ws, role="register", lane="lane-1",
                                    token=bridge.token("lane-1", "kiosk"))
        assert error["code"] == "unauthorized"
    async with connect(f"{bridge.url}/ws/register") as ws:
        await hello(bridge, ws, "lane-1", role="register")
        await still_connected(ws)
    assert_no_traceback(bridge.stop())


async def test_hellos_naming_lanes_nobody_paired_leave_the_bridge_holding_nothing(
        bridge: BridgeProcess) -> None:
    """A lane exists only when a device of it is paired: strangers trying lane names, with no
    token or with another lane's, are sent away without a lane being made for them, and their
    flood is a bounded number of log lines."""
    another_lanes = bridge.token("kassa-1", "register")
    tried = 60
    sockets = [await connect(f"{bridge.url}/ws/register") for _ in range(tried)]
    try:
        for i, ws in enumerate(sockets):
            await send(ws, type="hello", role="register", lane=f"guess-{i}",
                       **({"token": another_lanes} if i % 2 else {}))
        replies = [await receive(ws) for ws in sockets]
        # Asked while the strangers' sockets are still open on this side.
        assert await lanes_held(bridge) == 0
    finally:
        for ws in sockets:
            await ws.close()
    assert {(r["type"], r["code"]) for r in replies} == {("error", "unauthorized")}
    await bridge.until("device_disconnected", count=tried)
    assert await lanes_held(bridge) == 0
    log = bridge.stop()
    refused = [line for line in log.splitlines() if "device_refused " in line]
    assert 0 < len(refused) <= 20
    [summary] = [line for line in log.splitlines() if "device_refused_suppressed" in line]
    assert f"count={tried - len(refused)}" in summary
    assert_no_traceback(log)


def test_a_flood_of_refusals_is_a_bounded_number_of_lines_per_window() -> None:
    from cashier_bridge.web.app import RefusalLog

    now = [1000.0]
    lines: list[tuple[str, dict[str, Any]]] = []
    refusals = RefusalLog(burst=3, window_s=60, clock=lambda: now[0],
                          write=lambda event, **about: lines.append((event, about)))
    for i in range(10):
        refusals.refused(lane=f"guess-{i}")
    assert [about["lane"] for _, about in lines] == ["guess-0", "guess-1", "guess-2"]
    now[0] += 60  # the next window: what was left out is summed up, then lines again
    refusals.refused(lane="guess-10")
    assert lines[3:] == [("device_refused_suppressed", {"count": 7, "window_s": 60}),
                         ("device_refused", {"lane": "guess-10"})]
    refusals.flush()  # nothing suppressed since: no line
    assert len(lines) == 5


async def handshake_status(url: str, origin: str) -> int:
    """The HTTP status a browser's handshake from ``origin`` gets (101: let in)."""
    try:
        async with connect(url, origin=origin):  # type: ignore[arg-type]
            return 101
    except InvalidStatus as refused:
        return int(refused.response.status_code)


async def test_pages_of_other_origins_are_refused_before_the_handshake(
        bridge: BridgeProcess) -> None:
    port = bridge.port
    for role in ("register", "kiosk"):
        url = f"{bridge.url}/ws/{role}"
        # Another port of this machine, another scheme, a name resolved to 127.0.0.1 (DNS
        # rebinding: its Origin and Host agree), a sandboxed page, a look-alike.
        for origin in (f"http://127.0.0.1:{port + 1}", f"https://127.0.0.1:{port}",
                       f"http://evil.example:{port}", "null", f"http://127.0.0.1.nip.io:{port}",
                       f"http://localhost.evil.example:{port}", "http://127.0.0.1"):
            assert await handshake_status(url, origin) == 403, origin
    log = bridge.stop()
    assert f"origin=http://evil.example:{port}" in log and "allowed_origins" in log
    assert log.count("code=forbidden_origin") == 14
    assert_no_traceback(log)


async def test_the_bridges_own_pages_get_in_and_then_need_a_token_like_any_device(
        bridge: BridgeProcess) -> None:
    port = bridge.port
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}",
                   f"HTTP://LocalHost:{port}/"):
        assert await handshake_status(f"{bridge.url}/ws/register", origin) == 101, origin
    async with connect(f"{bridge.url}/ws/register",
                       origin=f"http://127.0.0.1:{port}") as ws:  # type: ignore[arg-type]
        error = await refused_hello(ws, role="register", lane="lane-1")
        assert error["code"] == "unauthorized"
    async with connect(f"{bridge.url}/ws/register",
                       origin=f"http://localhost:{port}") as ws:  # type: ignore[arg-type]
        await hello(bridge, ws, "lane-1", role="register")
    assert_no_traceback(bridge.stop())


async def test_a_configured_origin_gets_in(tmp_path: Path) -> None:
    # The console behind a name the bridge cannot know by itself, and a proxy's public_url.
    bridge = BridgeProcess(tmp_path, allowed_origins="http://kassa-3.local:8765, https://kassa",
                           public_url="https://kund.butiken.se")
    bridge.start()
    try:
        url = f"{bridge.url}/ws/register"
        for origin in ("http://kassa-3.local:8765", "https://kassa", "https://kassa:443",
                       "https://kund.butiken.se", "HTTPS://KUND.butiken.se:443"):
            assert await handshake_status(url, origin) == 101, origin
        for origin in ("http://kassa-3.local", "http://kassa", "http://kund.butiken.se",
                       "https://kund.butiken.se:8443"):
            assert await handshake_status(url, origin) == 403, origin
        async with connect(url, origin="https://kund.butiken.se") as ws:  # type: ignore[arg-type]
            await hello(bridge, ws, "lane-1", role="register")
    finally:
        log = bridge.stop()
    assert_no_traceback(log)


def test_pairing_cannot_be_switched_off_beyond_loopback(tmp_path: Path) -> None:
    bridge = BridgeProcess(tmp_path, auth="off")
    done = subprocess.run(
        [sys.executable, "-m", "cashier_bridge.cli", "serve", "--host", "0.0.0.0", "--port",
         str(bridge.port)], capture_output=True, text=True, env=bridge.env, cwd=ROOT,
        timeout=60, check=False)
    assert done.returncode == 2
    assert 'auth = "off"' in done.stderr and "selfreg-bridge pair" in done.stderr
    assert "Uvicorn running" not in done.stdout + done.stderr


async def test_pairing_off_on_loopback_is_for_development_and_said_at_every_start(
        tmp_path: Path) -> None:
    bridge = BridgeProcess(tmp_path, auth="off")
    bridge.start()
    try:
        [warning] = bridge.lines("] pairing_off ")
        assert "[warning" in warning and "development only" in warning
        async with connect(f"{bridge.url}/ws/kiosk") as ws:
            await send(ws, type="hello", role="kiosk", lane="dev-1")
            assert (await receive(ws))["type"] == "welcome"
        # Browsers are still held to the bridge's own pages.
        assert await handshake_status(f"{bridge.url}/ws/kiosk",
                                      f"http://127.0.0.1:{bridge.port + 1}") == 403
    finally:
        log = bridge.stop()
    assert_no_traceback(log)


async def test_auto_from_an_older_configuration_file_means_pairing_required(
        tmp_path: Path) -> None:
    bridge = BridgeProcess(tmp_path, auth="auto")
    bridge.start()
    try:
        async with connect(f"{bridge.url}/ws/kiosk") as ws:
            assert (await refused_hello(ws, role="kiosk", lane="lane-1"))["code"] == \
                "unauthorized"
    finally:
        assert_no_traceback(bridge.stop())
