"""A register's ``start_sale`` while the back office is flooded: does anything a stranger or a
manager does over HTTP hold up the lanes? (Issue 16: a sign-in flood once took ``start_sale``
from 1-3 ms to a second; a 40,000-column CSV took 22 s of the bridge; a big upload's rows lived
in its memory.)

    python bench/back_office_load.py                      # 20 flooding clients, 100,000 rows
    python bench/back_office_load.py --clients 40 --rows 20000 --steps 200

One real ``selfreg-bridge serve`` process (SQLite, devices paired, argon2 as installed), a
manager and a paired register on a real websocket.  The register does ``start_sale`` → ``state``
(choosing) → ``end_sale`` → ``state`` (idle) ``--pace`` times a second (a busy shop's lanes
together), and each ``start_sale`` round trip is timed, in five phases of ``--steps`` each:

- ``quiet``: nothing else going on;
- ``flood``: ``--clients`` clients ask for the sign-in page and post a wrong password, as fast
  as they are answered, each from a loopback address of its own (the issue's flood).  The flood
  runs in a process of its own so that it does not slow the measuring client;
- ``rotating``: the same, but each client moves to a fresh address whenever its own is stopped
  (429): an attacker with as many addresses as they like, which only a firewall or the proxy in
  front can stop — reported, not a target;
- ``wide``: the manager uploads the issue's 40,000-column file over and over (each is refused);
- ``flood_wide``: the flood and the wide file over and over at once (the issue's figure);
- ``upload``: the manager's ``--rows``-row Lightspeed export is being checked (the phase lasts
  as long as the check, at least ``--steps`` round trips are not promised);
- ``all``: the flood (fixed addresses), the wide file over and over and the big upload at once.

Progress on stderr; the last stdout line is one flat JSON object: per phase ``<phase>_ms_p50``,
``<phase>_ms_p99`` and (but quiet) ``<phase>_p99_ratio`` (over quiet; the target is at most 2)
and ``<phase>_bridge_cpu_pct`` (the bridge and its workers, percent of one core); for ``flood``
and ``rotating``, ``<phase>_per_s`` answers a second and the answers by status (``_401`` a
wrong password, one argon2 verify; ``_429`` an address stopped; ``_503`` the passwords' thread
full);
``wide_refusals`` and ``wide_s`` (one 40,000-column upload to its refusal); ``check_s`` (the big
upload to its preview); ``ready_ms_max`` (``/ready`` asked twice a second meanwhile);
``loadavg_start`` (what else the machine was doing: on a shared two-core machine every figure
is worse when it is high); ``bridge_log_tracebacks``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
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

LANE = "bench"
MANAGER, PASSWORD = "maja", "a long enough password"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WIDE = b"first_name,last_name," + ",".join(f"c{n}" for n in range(39_998)).encode() + b"\n"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def percentile(values: list[float], q: int) -> float | None:
    if len(values) < 2:
        return round(values[0], 2) if values else None
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)


# --- CPU of the bridge and the worker processes it starts ------------------------------------


def _cpu_s(pid: int) -> float:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return 0.0


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and its living descendants (the upload's worker processes)."""
    total = _cpu_s(pid)
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                total += tree_cpu_s(int(child))
    return total


# --- the flood (its own process) -------------------------------------------------------------


async def _flooder(url: str, i: int, stop: Any, statuses: Counter[int], rotate: bool) -> None:
    tries = 0
    for host in range(1, 255 if rotate else 2):
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
                if answer.status_code == 429 and rotate:
                    break  # this address is stopped: on to the next one
        if stop.is_set():
            return


def flood(url: str, clients: int, rotate: bool, started: Any, stop: Any, results: Any) -> None:
    async def run() -> Counter[int]:
        statuses: Counter[int] = Counter()
        tasks = [asyncio.create_task(_flooder(url, i, stop, statuses, rotate))
                 for i in range(clients)]
        while sum(statuses.values()) < 10 * clients and not stop.is_set():  # under way
            await asyncio.sleep(0.05)
        started.set()
        await asyncio.gather(*tasks)
        return statuses

    t0 = time.monotonic()
    statuses = asyncio.run(run())
    results.put((dict(statuses), time.monotonic() - t0))


class Flood:
    """The flood in a process of its own, from start() until stop()."""

    def __init__(self, url: str, clients: int, *, rotate: bool = False) -> None:
        context = multiprocessing.get_context("spawn")
        self._started, self._stop, self._results = (context.Event(), context.Event(),
                                                    context.Queue())
        self._process = context.Process(target=flood, args=(
            url, clients, rotate, self._started, self._stop, self._results))

    def start(self) -> None:
        self._process.start()
        if not self._started.wait(300):
            raise SystemExit("the flood never got under way")

    def stop(self) -> tuple[dict[int, int], float]:
        self._stop.set()
        statuses, seconds = self._results.get(timeout=300)
        self._process.join(60)
        return {int(k): v for k, v in statuses.items()}, seconds


# --- the manager -----------------------------------------------------------------------------


class BackOffice:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=120)
        form = self.http.get("/admin/login")
        signed = self.http.post("/admin/login", data={
            "csrf": CSRF.search(form.text).group(1),  # type: ignore[union-attr]
            "username": MANAGER, "password": PASSWORD})
        assert signed.status_code == 303, signed.text
        page = self.http.get("/admin/import-export")
        self.csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]

    def upload(self, name: str, data: bytes) -> str | None:
        """The upload's page, or None when the bridge was too busy to take it (503)."""
        posted = self.http.post("/admin/import-export/preview", data={"csrf": self.csrf},
                                files={"file": (name, data, "text/csv")})
        if posted.status_code == 503:
            return None
        assert posted.status_code == 303, posted.text[-2000:]
        return posted.headers["location"]

    def state(self, url: str) -> str:
        return str(self.http.get(url + "/progress").json()["state"])

    def checked(self, url: str) -> str:
        while (state := self.state(url)) == "checking":
            time.sleep(0.05)
        return state


def wide_uploads(office: BackOffice, stop: threading.Event, times: list[float]) -> None:
    """The 40,000-column file, over and over, each to its refusal."""
    while not stop.is_set():
        started = time.perf_counter()
        url = office.upload("wide.csv", WIDE)
        if url is None:
            time.sleep(0.2)
            continue
        assert office.checked(url) == "failed"
        times.append(time.perf_counter() - started)


# --- the register ----------------------------------------------------------------------------


async def round_trips(url: str, token: str, done: Callable[[int], bool], pace: float
                      ) -> list[float]:
    times: list[float] = []
    async with connect(f"{url}/ws/register") as ws:
        await ws.send(json.dumps({"v": 1, "type": "hello", "role": "register", "lane": LANE,
                                  "token": token}))
        await expect(ws, "welcome")
        await expect(ws, "state")
        n = 0
        next_at = time.perf_counter()
        while not done(n):
            n += 1
            next_at += 1 / pace
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            started = time.perf_counter()
            await ws.send(json.dumps({"v": 1, "type": "start_sale", "sale_id": f"s{n}"}))
            await expect(ws, "state", phase="choosing")
            times.append((time.perf_counter() - started) * 1000)
            await ws.send(json.dumps({"v": 1, "type": "end_sale", "sale_id": f"s{n}"}))
            await expect(ws, "state", phase="idle")
    return times


async def expect(ws: Any, type_: str, **match: Any) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if message["type"] == "error":
            raise SystemExit(f"the bridge refused the register: {message}")
        if message["type"] == type_ and all(message.get(k) == v for k, v in match.items()):
            return message  # type: ignore[no-any-return]


# --- the run ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="clients flooding sign-in")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the big upload")
    parser.add_argument("--steps", type=int, default=300, help="round trips per phase")
    parser.add_argument("--pace", type=float, default=20.0, help="sales started per second")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "back_office_load")
    args = parser.parse_args(argv)
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    source = args.out / "customers.csv"
    say(f"writing {args.rows} rows")
    write_file(source, args.rows)
    data = source.read_bytes()
    result: dict[str, Any] = {"clients": args.clients, "rows": args.rows,
                              "loadavg_start": round(os.getloadavg()[0], 2)}

    bridge = BridgeProcess(args.out / "bridge")
    registry = Registry.open(bridge.db_url)
    try:
        registry.staff.add(MANAGER, PASSWORD, StaffRole.manager)
        token = registry.devices.pair(LANE, "register").token
    finally:
        registry.close()
    bridge.start(timeout=120)
    assert bridge.proc is not None
    pid = bridge.proc.pid
    office = BackOffice(bridge.http_url)
    wide_times: list[float] = []
    ready_ms: list[float] = []

    def phase(name: str, done: Callable[[int], bool]) -> list[float]:
        say(f"{name}: round trips")
        cpu0, t0 = tree_cpu_s(pid), time.monotonic()
        times = asyncio.run(round_trips(bridge.url, token, done, args.pace))
        result[f"{name}_ms_p50"] = percentile(times, 50)
        result[f"{name}_ms_p99"] = percentile(times, 99)
        result[f"{name}_bridge_cpu_pct"] = round(
            (tree_cpu_s(pid) - cpu0) / (time.monotonic() - t0) * 100, 1)
        p99, quiet = result[f"{name}_ms_p99"], result.get("quiet_ms_p99")
        if name != "quiet" and p99 is not None and quiet:
            result[f"{name}_p99_ratio"] = round(p99 / quiet, 2)
        return times

    def steps(n: int) -> bool:
        return n >= args.steps

    def big_upload() -> tuple[str, threading.Event, threading.Thread]:
        url = office.upload(source.name, data)
        assert url is not None, "the bridge refused the big upload as busy"
        checked = threading.Event()

        def watch() -> None:
            while office.state(url) == "checking":
                asked = time.perf_counter()
                assert bridge.get("/ready") is not None
                ready_ms.append((time.perf_counter() - asked) * 1000)
                time.sleep(0.5)
            checked.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        return url, checked, watcher

    try:
        phase("quiet", steps)

        load = Flood(bridge.http_url, args.clients)
        load.start()
        phase("flood", steps)
        statuses, flood_s = load.stop()

        rotating = Flood(bridge.http_url, args.clients, rotate=True)
        rotating.start()
        phase("rotating", steps)
        rotated, rotating_s = rotating.stop()

        stop_wide = threading.Event()
        wide = threading.Thread(target=wide_uploads, args=(office, stop_wide, wide_times))
        wide.start()
        phase("wide", steps)
        stop_wide.set()
        wide.join()

        # The figure: twenty clients flood sign-in while the wide file is previewed.
        both = Flood(bridge.http_url, args.clients)
        both.start()
        stop_wide.clear()
        wide = threading.Thread(target=wide_uploads, args=(office, stop_wide, wide_times))
        wide.start()
        phase("flood_wide", steps)
        stop_wide.set()
        wide.join()
        both.stop()

        started = time.perf_counter()
        url, checked, watcher = big_upload()
        phase("upload", lambda n: checked.is_set())
        watcher.join()
        result["check_s"] = round(time.perf_counter() - started, 2)
        assert office.state(url) == "ready"

        everything = Flood(bridge.http_url, args.clients)
        everything.start()
        stop_wide.clear()
        wide = threading.Thread(target=wide_uploads, args=(office, stop_wide, wide_times))
        wide.start()
        _url, checked, watcher = big_upload()
        phase("all", lambda n: checked.is_set() and n >= args.steps)
        watcher.join()
        stop_wide.set()
        wide.join()
        everything.stop()
    finally:
        bridge.stop()
    for name, counts, seconds in (("flood", statuses, flood_s),
                                  ("rotating", rotated, rotating_s)):
        answers = sum(counts.values())
        result.update({
            f"{name}_per_s": round(answers / seconds, 1),
            f"{name}_401": counts.get(401, 0), f"{name}_429": counts.get(429, 0),
            f"{name}_503": counts.get(503, 0),
            f"{name}_other": answers - sum(counts.get(s, 0) for s in (401, 429, 503))})
    result.update({
        "wide_refusals": len(wide_times),
        "wide_s": round(statistics.median(wide_times), 2) if wide_times else None,
        "ready_ms_max": round(max(ready_ms), 1) if ready_ms else None,
        "bridge_log_tracebacks": bridge.log_path.read_text(errors="replace").count("Traceback"),
    })
    print(json.dumps(result))


if __name__ == "__main__":
    main()
