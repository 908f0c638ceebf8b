"""A register's ``start_sale`` while the back office checks a large CSV upload, on one real
``selfreg-bridge serve`` process: does an upload hold up the lanes?

    python bench/upload_lanes.py [--rows 100000] [--steps 300] [--out bench/out/upload_lanes]

A manager signs in over HTTP and uploads a Lightspeed export of ``--rows`` customers (as
bench/csv_import.py writes it); a paired register on a real websocket meanwhile does
``start_sale`` → ``state`` (choosing) → ``end_sale`` → ``state`` (idle), ``--pace`` times a
second, and each round trip of ``start_sale`` is timed.  First ``--steps`` of them with nothing
else going on (quiet), then for as long as the upload is being checked (upload).  ``/ready``
is asked twice a second meanwhile; its slowest answer is reported.  Then a 40,000-column file
(the issue's) is uploaded the same way and timed until its refusal shows.

Progress on stderr; the last stdout line is one flat JSON object: ``quiet_ms_p50/p99``,
``upload_ms_p50/p99/max`` and ``upload_steps`` (round trips while the file was checked),
``ready_ms_max``, ``check_s`` (upload to preview), ``wide_header_s`` (upload to refusal), and
``bridge_cpu_s``/``worker_cpu_s`` (the bridge's own CPU and its children's over the check).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.csv_import import write_file  # noqa: E402
from cashier_bridge.permissions import StaffRole  # noqa: E402
from cashier_bridge.registry import Registry  # noqa: E402
from simulator.processes import BridgeProcess  # noqa: E402

PASSWORD = "a long enough password"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def percentile(values: list[float], q: int) -> float | None:
    if len(values) < 2:
        return round(values[0], 2) if values else None
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)


def cpu_s(pid: int, children: bool = False) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    first = 13 if children else 11  # cutime, cstime; or utime, stime (after the name)
    return (int(fields[first]) + int(fields[first + 1])) / CLOCK_TICKS


def descendants_cpu_s(pid: int) -> float:
    total = 0.0
    for child in _children(pid):
        total += cpu_s(child) + descendants_cpu_s(child)
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


class BackOffice:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=120)
        form = self.http.get("/admin/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        signed = self.http.post("/admin/login", data={"csrf": token, "username": "maja",
                                                      "password": PASSWORD})
        assert signed.status_code == 303, signed.text
        page = self.http.get("/admin/import-export")
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

    def upload(self, name: str, data: bytes) -> str:
        posted = self.http.post("/admin/import-export/preview", data={"csrf": self.csrf},
                                files={"file": (name, data, "text/csv")})
        assert posted.status_code == 303, posted.text[-2000:]
        return posted.headers["location"]

    def state(self, url: str) -> dict[str, Any]:
        return self.http.get(url + "/progress").json()  # type: ignore[no-any-return]


async def round_trips(url: str, token: str, done: threading.Event, into: list[float],
                      limit: int | None, pace: float) -> None:
    async with connect(f"{url}/ws/register") as ws:
        await ws.send(json.dumps({"v": 1, "type": "hello", "role": "register", "lane": "bench",
                                  "token": token}))
        await expect(ws, "welcome")
        await expect(ws, "state")
        n = 0
        next_at = time.perf_counter()
        while not done.is_set() and (limit is None or n < limit):
            n += 1
            next_at += 1 / pace
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            started = time.perf_counter()
            await ws.send(json.dumps({"v": 1, "type": "start_sale", "sale_id": f"s{n}"}))
            await expect(ws, "state", phase="choosing")
            into.append((time.perf_counter() - started) * 1000)
            await ws.send(json.dumps({"v": 1, "type": "end_sale", "sale_id": f"s{n}"}))
            await expect(ws, "state", phase="idle")


async def expect(ws: Any, type_: str, **match: Any) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if message["type"] == type_ and all(message.get(k) == v for k, v in match.items()):
            return message  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--pace", type=float, default=20.0,
                        help="sales started per second (a busy shop's lanes, together)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "upload_lanes")
    args = parser.parse_args(argv)
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    source = args.out / "customers.csv"
    say(f"writing {args.rows} rows")
    write_file(source, args.rows)
    data = source.read_bytes()
    wide = b"first_name,last_name," + ",".join(f"c{n}" for n in range(39_998)).encode() + b"\n"

    bridge = BridgeProcess(args.out / "bridge")
    registry = Registry.open(bridge.db_url)
    registry.staff.add("maja", PASSWORD, StaffRole.manager, display_name="Maja")
    registry.close()
    token = bridge.pair("bench", "register")
    bridge.start()
    assert bridge.proc is not None
    try:
        office = BackOffice(bridge.http_url)
        quiet: list[float] = []
        say("quiet round trips")
        asyncio.run(round_trips(bridge.url, token, threading.Event(), quiet, args.steps,
                                args.pace))

        say("round trips while the upload is checked")
        during: list[float] = []
        ready_ms: list[float] = []
        done = threading.Event()
        cpu_before = cpu_s(bridge.proc.pid)
        started = time.perf_counter()
        url = office.upload(source.name, data)

        def watch() -> None:
            while office.state(url)["state"] == "checking":
                asked = time.perf_counter()
                assert bridge.get("/ready") is not None
                ready_ms.append((time.perf_counter() - asked) * 1000)
                time.sleep(0.5)
            done.set()

        watcher = threading.Thread(target=watch)
        worker_cpu = 0.0

        def sample_workers() -> None:
            nonlocal worker_cpu
            while not done.is_set():
                worker_cpu = max(worker_cpu, descendants_cpu_s(bridge.proc.pid))  # type: ignore[union-attr]
                time.sleep(0.2)

        sampler = threading.Thread(target=sample_workers)
        watcher.start()
        sampler.start()
        asyncio.run(round_trips(bridge.url, token, done, during, None, args.pace))
        watcher.join()
        sampler.join()
        check_s = time.perf_counter() - started
        bridge_cpu = cpu_s(bridge.proc.pid) - cpu_before
        final = office.state(url)
        assert final["state"] == "ready", final

        say("a 40,000-column header")
        started = time.perf_counter()
        refused = office.upload("wide.csv", wide)
        while office.state(refused)["state"] == "checking":
            time.sleep(0.05)
        wide_s = time.perf_counter() - started
        assert office.state(refused)["state"] == "failed"
    finally:
        bridge.stop()
    print(json.dumps({
        "rows": args.rows, "quiet_ms_p50": percentile(quiet, 50),
        "quiet_ms_p99": percentile(quiet, 99), "upload_ms_p50": percentile(during, 50),
        "upload_ms_p99": percentile(during, 99),
        "upload_ms_max": round(max(during), 2) if during else None,
        "upload_steps": len(during), "ready_ms_max": round(max(ready_ms), 1) if ready_ms
        else None, "check_s": round(check_s, 2), "wide_header_s": round(wide_s, 2),
        "bridge_cpu_s": round(bridge_cpu, 2), "worker_cpu_s": round(worker_cpu, 2)}))


if __name__ == "__main__":
    main()
