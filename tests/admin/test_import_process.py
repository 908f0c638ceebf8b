"""CSV uploads against a real ``selfreg-bridge serve`` process: while a large file is being
checked a register's step still gets its answer and ``/ready`` answers, SIGTERM stops the
bridge (and the worker reading the file) at once, and a checked file survives a restart and
imports after it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry import Registry
from simulator.processes import BridgeProcess

PASSWORD = "tulips in the rain"
LIGHTSPEED = Path(__file__).resolve().parents[1] / "fixtures" / "lightspeed" / \
    "customers_x_series.csv"
BIG_ROWS = 240_000  # just under the row limit: tens of seconds of reading on this machine


def started_bridge(workdir: Path) -> BridgeProcess:
    bridge = BridgeProcess(workdir)
    registry = Registry.open(bridge.db_url)
    registry.staff.add("maja", PASSWORD, StaffRole.manager, display_name="Maja Lind")
    registry.close()
    bridge.start()
    return bridge


class BackOffice:
    """A manager's browser, over plain HTTP."""

    def __init__(self, bridge: BridgeProcess) -> None:
        self.http = httpx.Client(base_url=bridge.http_url, follow_redirects=False, timeout=60)
        form = self.http.get("/admin/login")
        signed = self.http.post("/admin/login", data={
            "csrf": csrf_in(form), "username": "maja", "password": PASSWORD})
        assert signed.status_code == 303, signed.text

    def csrf(self) -> str:
        return csrf_in(self.http.get("/admin/import-export"))

    def upload(self, name: str, data: bytes) -> str:
        """The address of the upload's check (it runs in the background)."""
        posted = self.http.post("/admin/import-export/preview", data={"csrf": self.csrf()},
                                files={"file": (name, data, "text/csv")})
        assert posted.status_code == 303, posted.text
        return posted.headers["location"]

    def progress(self, url: str) -> dict[str, Any]:
        return self.http.get(url + "/progress").json()  # type: ignore[no-any-return]

    def wait(self, url: str, until: Any, what: str, timeout: float = 180) -> dict[str, Any]:
        """The check's progress once ``until`` holds for it."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.progress(url)
            if until(state):
                return state
            assert time.monotonic() < deadline, f"waited for {what}; last {state}"
            time.sleep(0.1)


def csrf_in(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def big_file() -> bytes:
    rows = "".join(f"LS{n:06d},Testa,Person{n},070{n:07d},testa{n}@example.com,"
                   f"Storgatan {n % 90 + 1},Stockholm,114 55,SE\n" for n in range(BIG_ROWS))
    return ("customer_code,first_name,last_name,mobile,email,postal_address1,postal_city,"
            "postal_postcode,postal_country_id\n" + rows).encode()


async def register_step(bridge: BridgeProcess, token: str) -> dict[str, Any]:
    """A paired register starts a sale: the lane's state as the bridge answers it."""
    async with connect(f"{bridge.url}/ws/register") as ws:
        async def next_(kind: str) -> dict[str, Any]:
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if message["type"] == kind:
                    return message  # type: ignore[no-any-return]

        await ws.send(json.dumps({"v": 1, "type": "hello", "role": "register",
                                  "lane": "kassa-1", "token": token}))
        await next_("welcome")
        await next_("state")
        await ws.send(json.dumps({"v": 1, "type": "start_sale", "sale_id": "s1"}))
        return await next_("state")


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found |= {int(child)} | descendants(int(child))
    return found


def test_a_lane_answers_while_a_big_file_is_read_and_sigterm_stops_everything(
        tmp_path: Path) -> None:
    bridge = started_bridge(tmp_path / "bridge")
    token = bridge.pair("kassa-1", "register")
    try:
        office = BackOffice(bridge)
        check = office.upload("stor.csv", big_file())
        office.wait(check, lambda s: s["state"] == "checking" and s["done"] > 0,
                    "the worker to be reading the file")

        state = asyncio.run(register_step(bridge, token))
        assert state["phase"] == "choosing" and state["view"]["sale_id"] == "s1"
        assert bridge.get("/ready") is not None
        assert office.progress(check)["state"] == "checking"  # both answered meanwhile

        assert bridge.proc is not None
        workers = descendants(bridge.proc.pid)
        assert workers, "the file is read in a worker process"
        bridge.proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down cleanly, then raises the signal again (the exit status says so).
        assert bridge.proc.wait(30) in (0, -signal.SIGTERM)
        assert "bridge_stopped" in bridge.log_path.read_text(errors="replace")
        for pid in workers:  # the forkserver and the worker went with it
            deadline = time.monotonic() + 10
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not Path(f"/proc/{pid}").exists() or \
                "zombie" in Path(f"/proc/{pid}/status").read_text(), pid

        bridge.start()
        office = BackOffice(bridge)
        page = office.http.get(check)
        assert page.status_code == 410
        assert "The bridge stopped while checking the file; upload it again." in page.text
    finally:
        bridge.stop()
    log = bridge.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "Person1" not in log and "testa1@" not in log  # no personal data in the log


def test_a_checked_file_survives_a_restart_and_imports_after_it(tmp_path: Path) -> None:
    bridge = started_bridge(tmp_path / "bridge")
    try:
        office = BackOffice(bridge)
        check = office.upload("customers.csv", LIGHTSPEED.read_bytes())
        office.wait(check, lambda s: s["finished"], "the check")
        bridge.stop()
        bridge.start()

        page = office.http.get(check)  # the same browser: its session is in the database
        assert page.status_code == 200, page.text
        assert re.search(r'id="creates">5<', page.text) and re.search(r'id="failed">3<',
                                                                      page.text)
        upload = re.search(r'name="upload" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        started = office.http.post("/admin/import-export/import",
                                   data={"csrf": csrf_in(page), "upload": upload})
        assert started.status_code == 303
        job = started.headers["location"]
        office.wait(job, lambda s: s["finished"], "the import")
        done = office.http.get(job)
        assert done.status_code == 303 and "/batches/1" in done.headers["location"]
        batch = office.http.get(done.headers["location"])
        assert re.search(r'id="created">5<', batch.text), batch.text
        # Imported once: the same check cannot be imported again.
        again = office.http.post("/admin/import-export/import",
                                 data={"csrf": csrf_in(page), "upload": upload})
        assert again.status_code == 410 and "was imported already (batch 1)" in again.text
    finally:
        bridge.stop()
