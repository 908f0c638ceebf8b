"""A sign-in flood against ``selfreg-bridge serve`` in its own process (issue 16, finding 6):
twenty clients, each from addresses of its own on loopback, post wrong passwords to
``/admin/login`` as fast as they are answered while a register starts and ends sales.  The
register is answered; the flood gets bounded answers (401, then 503 when the passwords' thread
is full, 429 once an address has failed ten times or asked too often) and the bridge logs no
crash.  How fast the
register is answered meanwhile is bench/back_office_load.py's figure, not this test's."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry import Registry
from simulator.processes import BridgeProcess

PW = "correct horse battery"
CLIENTS = 20
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Flood:
    """CLIENTS threads posting wrong passwords; each moves to a fresh loopback address when
    its current one is stopped (429), so the passwords' thread stays busy all along."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.pool_full = threading.Event()  # the bridge refused one at once: its pool is full
        self.hashing = threading.Event()  # a wrong password was checked: argon2 is at work
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, args=(i,), daemon=True)
                        for i in range(CLIENTS)]

    def __enter__(self) -> Flood:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def _client(self, i: int) -> None:
        tries = 0
        for host in range(1, 255):
            transport = httpx.HTTPTransport(local_address=f"127.0.{i + 1}.{host}")
            with httpx.Client(base_url=self.url, transport=transport, timeout=120) as client:
                while not self.stop.is_set():
                    try:
                        form = client.get("/admin/login")
                        found = CSRF.search(form.text)
                        # No form: the address asked too often and was turned away at the door.
                        assert found or form.status_code == 429, form.text
                        answer = form if found is None else client.post("/admin/login", data={
                            "csrf": found.group(1), "username": f"guess-{i}-{tries}",
                            "password": "wrong guess!", "next": ""})
                    except (httpx.HTTPError, AssertionError) as exc:
                        with self._lock:
                            self.errors.append(repr(exc))
                        return
                    tries += 1
                    with self._lock:
                        self.statuses[answer.status_code] += 1
                    if answer.status_code == 503:
                        self.pool_full.set()
                    if answer.status_code == 401:
                        self.hashing.set()
                    if answer.status_code == 429:
                        break  # this address is stopped: on to the next
            if self.stop.is_set():
                return


def test_a_register_is_answered_while_the_sign_in_page_is_flooded(tmp_path: Path) -> None:
    bridge = BridgeProcess(tmp_path)
    registry = Registry.open(bridge.db_url)
    try:
        registry.staff.add("root", PW, StaffRole.admin)  # argon2 as installed: no cheap hasher
        token = registry.devices.pair("till-1", "register").token
    finally:
        registry.close()
    bridge.start(timeout=120, auth="required")  # a loaded CI machine starts slowly
    try:
        with Flood(bridge.http_url) as flood:
            assert flood.pool_full.wait(120), (flood.statuses, flood.errors)
            assert flood.hashing.wait(120), (flood.statuses, flood.errors)
            with connect(f"{bridge.url}/ws/register") as register:
                def send(**message: object) -> None:
                    register.send(json.dumps({"v": 1, **message}))

                def state(phase: str) -> dict[str, Any]:
                    while True:  # a generous guard against a hang, not a latency check
                        message = json.loads(register.recv(timeout=60))
                        if message["type"] == "state" and message["phase"] == phase:
                            return message  # type: ignore[no-any-return]

                send(type="hello", role="register", lane="till-1", token=token)
                for sale in range(5):
                    send(type="start_sale", sale_id=f"s{sale}")
                    assert state("choosing")["view"]["sale_id"] == f"s{sale}"
                    send(type="end_sale", sale_id=f"s{sale}")
                    state("idle")
        assert not flood.errors, flood.errors
        # Bounded answers only: wrong, busy (the pool is full), or throttled (an address that
        # failed ten times; whether one got that far depends on the machine's speed).
        assert set(flood.statuses) <= {401, 429, 503}, flood.statuses
        # The flood did not lock the real admin out.
        with httpx.Client(base_url=bridge.http_url, timeout=60) as office:
            form = office.get("/admin/login")
            found = CSRF.search(form.text)
            assert found
            signed_in = office.post("/admin/login", data={
                "csrf": found.group(1), "username": "root", "password": PW, "next": ""})
            assert signed_in.status_code == 303, signed_in.text
    finally:
        bridge.stop()
    log = bridge.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "wrong guess!" not in log
