"""deploy/Caddyfile as a chain runs it: two bridge processes on one PostgreSQL behind Caddy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.processes import BridgeProcess, free_port
from tests.chain.test_chain import ANNA_PNR, chain_db, device, to_numpad

pytestmark = pytest.mark.postgres
__all__ = ["chain_db"]
CADDYFILE = Path(__file__).resolve().parents[2] / "deploy" / "Caddyfile"


def _ready(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url + "/ready", timeout=2) as r:
            return json.loads(r.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


@pytest.fixture
def chain(chain_db: str, tmp_path: Path) -> Iterator[tuple[str, BridgeProcess, BridgeProcess]]:
    """Caddy on a free port in front of bridges A and B; its http URL."""
    caddy = shutil.which("caddy")
    assert caddy, "caddy is not installed: scripts/install.sh --test installs it"
    bridges = [BridgeProcess(tmp_path / name, db_url=chain_db) for name in ("a", "b")]
    proxy: subprocess.Popen[bytes] | None = None
    try:
        for bridge in bridges:
            bridge.workdir.mkdir()
            bridge.start()
        url, proxy = _start_caddy(caddy, bridges, tmp_path)
        yield url, bridges[0], bridges[1]
    finally:  # also when starting failed: nothing may outlive the test
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        for bridge in bridges:
            bridge.stop()


def _start_caddy(caddy: str, bridges: list[BridgeProcess], tmp_path: Path
                 ) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "SELFREG_LISTEN": f"http://127.0.0.1:{port}",
           "SELFREG_BRIDGES": " ".join(f"127.0.0.1:{b.port}" for b in bridges)}
    log = (tmp_path / "caddy.log").open("wb")
    proxy = subprocess.Popen([caddy, "run", "--config", str(CADDYFILE), "--adapter",
                              "caddyfile"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while _ready(url) is None:
        if proxy.poll() is not None or time.monotonic() > deadline:
            proxy.terminate()
            raise AssertionError("caddy did not put any bridge through: "
                                 + (tmp_path / "caddy.log").read_text()[-2000:])
        time.sleep(0.1)
    return url, proxy


async def _identify_anna(chain: BridgeProcess, ws_url: str, sale: str) -> None:
    async with device(chain, "kiosk", via=ws_url) as kiosk, \
            device(chain, "register", via=ws_url) as register:
        await to_numpad(kiosk, register, sale=sale)
        await kiosk.send(type="submit_id", digits=ANNA_PNR)
        event = await register.next("customer_connected")
        assert event["customer"]["customer_code"] == "1001"
        assert (await kiosk.next("state", phase="connected"))["view"]["first_name"] == "Anna"
        await register.send(type="end_sale", sale_id=sale)
        await kiosk.next("state", phase="idle")


async def test_devices_reach_the_chain_through_caddy_and_survive_a_dead_bridge(
        chain: tuple[str, BridgeProcess, BridgeProcess]) -> None:
    url, a, b = chain
    ws_url = url.replace("http://", "ws://")
    await _identify_anna(b, ws_url, "s1")
    a.kill()
    survivor = _ready(b.http_url)
    assert survivor is not None
    # Caddy's health check on /ready takes A out; from then on only B answers.
    deadline = time.monotonic() + 15
    while [(_ready(url) or {}).get("process") for _ in range(5)] != [survivor["process"]] * 5:
        assert time.monotonic() < deadline, "caddy kept sending requests to the dead bridge"
        time.sleep(0.2)
    await _identify_anna(b, ws_url, "s2")  # devices reconnect through the same address
