"""A register's ``start_sale`` while the back office's sign-in page is flooded (issue 16,
finding 6: argon2 once shared the threads of the lanes, and a flood made ``start_sale`` take a
second).

    python bench/signin_flood.py                      # 20 flooding clients, 300 sales each way
    python bench/signin_flood.py --clients 40 --samples 1000

Starts ``selfreg-bridge serve`` as its own process (SQLite, devices must be paired) with one
admin (argon2 with the parameters as installed) and a paired register.  Measured: from sending
``start_sale`` to the register receiving the lane's ``state`` in phase ``choosing`` (then
``end_sale`` and back to ``idle``, not timed), ``--samples`` times with nothing else going on,
then as many times while ``--clients`` clients post wrong passwords to ``/admin/login`` as fast
as they are answered.  Each flooding client posts from a loopback address of its own and moves
to a fresh one when that address is stopped (429 after ten failures), so argon2 is kept busy for
the whole run — the worst case; a flood from one address is stopped after ten tries.  The flood
runs in a process of its own so that it does not slow the measuring client.

Last line (flat JSON): ``quiet_ms_p50``, ``quiet_ms_p99``, ``flood_ms_p50``, ``flood_ms_p99``,
``p99_ratio`` (flood over quiet; the target is at most 2), the flood's answers by status
(``flood_401`` wrong password, ``flood_503`` the passwords' thread full, ``flood_429`` address
stopped, ``flood_other``), ``flood_per_s`` (answers per second), ``verifies_per_s`` (the 401s
and the sign-in that stopped an address: one argon2 verify each), and the bridge's CPU over the
flood in percent of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cashier_bridge.permissions import StaffRole  # noqa: E402
from cashier_bridge.registry import Registry  # noqa: E402
from simulator.processes import BridgeProcess  # noqa: E402

WARMUP = 20
LANE = "bench-flood"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the flood (its own process) -----------------------------------------------------------------


async def _client(url: str, i: int, stop: Any, statuses: Counter[int]) -> None:
    tries = 0
    for host in range(1, 255):
        transport = httpx.AsyncHTTPTransport(local_address=f"127.0.{i + 1}.{host}")
        async with httpx.AsyncClient(base_url=url, transport=transport, timeout=120) as client:
            while not stop.is_set():
                form = await client.get("/admin/login")
                found = CSRF.search(form.text)
                if found is None:
                    statuses[form.status_code] += 1
                    continue
                answer = await client.post("/admin/login", data={
                    "csrf": found.group(1), "username": f"guess-{i}-{tries}",
                    "password": "wrong guess!", "next": ""})
                tries += 1
                statuses[answer.status_code] += 1
                if answer.status_code == 429:
                    break
        if stop.is_set():
            return


def flood(url: str, clients: int, started: Any, stop: Any, results: Any) -> None:
    async def run() -> Counter[int]:
        statuses: Counter[int] = Counter()
        tasks = [asyncio.create_task(_client(url, i, stop, statuses)) for i in range(clients)]
        while not statuses[503] and not stop.is_set():  # flooding: the passwords' pool is full
            await asyncio.sleep(0.05)
        started.set()
        await asyncio.gather(*tasks)
        return statuses

    t0 = time.monotonic()
    statuses = asyncio.run(run())
    results.put((dict(statuses), time.monotonic() - t0))


# --- the register ---------------------------------------------------------------------------------


class Register:
    def __init__(self, bridge: BridgeProcess, token: str) -> None:
        self._connection = connect(f"{bridge.url}/ws/register")
        self.ws = self._connection.__enter__()
        self.sales = 0
        self.send(type="hello", role="register", lane=LANE, token=token)
        self.state("idle")

    def send(self, **message: object) -> None:
        self.ws.send(json.dumps({"v": 1, **message}))

    def state(self, phase: str) -> None:
        while True:
            message = json.loads(self.ws.recv(timeout=120))
            if message["type"] == "state" and message["phase"] == phase:
                return
            if message["type"] == "error":
                raise SystemExit(f"the bridge refused the register: {message}")

    def sale(self) -> float:
        """Seconds from start_sale to the register's state in phase choosing."""
        self.sales += 1
        sale = f"s{self.sales}"
        started = time.perf_counter()
        self.send(type="start_sale", sale_id=sale)
        self.state("choosing")
        elapsed = time.perf_counter() - started
        self.send(type="end_sale", sale_id=sale)
        self.state("idle")
        return elapsed

    def close(self) -> None:
        self._connection.__exit__(None, None, None)


def measure(register: Register, samples: int) -> list[float]:
    for _ in range(WARMUP):
        register.sale()
    return [register.sale() for _ in range(samples)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="signin-flood-") as tmp:
        bridge = BridgeProcess(Path(tmp))
        registry = Registry.open(bridge.db_url)
        try:
            registry.staff.add("root", "correct horse battery", StaffRole.admin)
            token = registry.devices.pair(LANE, "register").token
        finally:
            registry.close()
        bridge.start(timeout=120, auth="required")
        assert bridge.proc is not None
        try:
            register = Register(bridge, token)
            progress(f"quiet: {args.samples} sales")
            quiet = measure(register, args.samples)

            context = multiprocessing.get_context("spawn")
            started, stop, results = context.Event(), context.Event(), context.Queue()
            flooder = context.Process(target=flood, args=(bridge.http_url, args.clients,
                                                          started, stop, results))
            flooder.start()
            if not started.wait(300):
                raise SystemExit("the flood never filled the passwords' pool")
            progress(f"flood of {args.clients} clients: {args.samples} sales")
            cpu0, t0 = cpu_seconds(bridge.proc.pid), time.monotonic()
            flooded = measure(register, args.samples)
            cpu = (cpu_seconds(bridge.proc.pid) - cpu0) / (time.monotonic() - t0)
            stop.set()
            statuses, flood_s = results.get(timeout=300)
            flooder.join(60)
            register.close()
        finally:
            bridge.stop()
        log = bridge.log_path.read_text(errors="replace")

    statuses = {int(k): v for k, v in statuses.items()}
    answers = sum(statuses.values())
    quiet_p99, flood_p99 = percentile(quiet, 99) * 1000, percentile(flooded, 99) * 1000
    print(json.dumps({
        "clients": args.clients,
        "samples": args.samples,
        "quiet_ms_p50": round(statistics.median(quiet) * 1000, 2),
        "quiet_ms_p99": round(quiet_p99, 2),
        "flood_ms_p50": round(statistics.median(flooded) * 1000, 2),
        "flood_ms_p99": round(flood_p99, 2),
        "p99_ratio": round(flood_p99 / quiet_p99, 2),
        "flood_401": statuses.get(401, 0),
        "flood_429": statuses.get(429, 0),
        "flood_503": statuses.get(503, 0),
        "flood_other": answers - sum(statuses.get(s, 0) for s in (401, 429, 503)),
        "flood_per_s": round(answers / flood_s, 1),
        "verifies_per_s": round((statuses.get(401, 0) + statuses.get(429, 0)) / flood_s, 1),
        "bridge_cpu_pct": round(cpu * 100, 1),
        "bridge_log_tracebacks": log.count("Traceback"),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
