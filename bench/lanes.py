"""Many register lanes at once: whole numpad identifications against one bridge process and
against several bridge processes of a chain on PostgreSQL, with 1,000,000 customers.

    python bench/lanes.py                       # 1,000 lanes, 1M customers, SQLite and PostgreSQL
    python bench/lanes.py --lanes 20 --customers 10000 --seconds 5 --backends sqlite

Each lane is a kiosk client and a register client on real websockets over loopback.  One
identification is what a shopper and a cashier do: the register sends ``start_sale``, the kiosk
``choose`` numpad and then ``submit_id`` with the personnummer of a customer who exists; the
register receives ``customer_connected`` (checked: the right customer code, for this sale) and
sends ``end_sale``; the kiosk sees its idle screen again.  The latency is from ``submit_id`` sent
to ``customer_connected`` received, as in bench/identify.py.

Two load modes per configuration, on the same connected lanes:

- **paced** (open loop): identifications arrive as a Poisson process at ``--rate`` per second
  (default 100) spread over the lanes, whether or not earlier ones have finished; an arrival
  takes a random idle lane.  This is the shop-floor figure: latency at a given load with every
  lane connected.  ``paced_lag_ms_p99`` says how late the client started arrivals (a client that
  cannot keep its schedule would hide latency).
- **closed** (closed loop): every lane identifies back-to-back for the whole run, so the bridge
  is always saturated; this gives the most identifications per second a configuration manages
  (its latencies are mostly queueing: with N lanes in flight, about N / throughput).  The lanes
  start together; after its first identification each pauses once for a random part of the
  time it took, so that they leave the lockstep in which they would otherwise complete in
  waves, and the window opens when all are past that.  ``rounds`` says how many
  identifications each lane finished inside the window.

Configurations: SQLite with one bridge process (SQLite serves one process), and PostgreSQL with
1, 2 and 4 bridge processes (``--processes``).  Several processes are separate ``selfreg-bridge
serve`` processes on their own ports, and the client spreads the lanes over them as a
round-robin proxy in front of them would — with each lane's kiosk and register on *different*
processes, so every step of every identification crosses processes (LISTEN/NOTIFY): the chain
case.  (``serve --workers N`` shares one port and the kernel picks the process per connection,
so a benchmark could not put a lane's two devices on different processes on purpose.)

The devices behave like the real ones: the kiosk keeps its connection alive with a ping every
5 s (kiosk/link.py), the register with the websockets default (20 s); both negotiate
permessage-deflate.  The bridges log at INFO (one line per lane transition), as installed.

Customers come from bench/generate.py (its ``load`` and ``sample``: realistic Swedish rows,
deterministic by seed and row index, so the personnummer looked up are known to exist).  The
SQLite registry is cached under bench/out/ between runs; PostgreSQL is a throwaway cluster
(tests/pg_server.py: fsync and synchronous_commit off) loaded with COPY on every run, unless
``--pg-url`` names a server on which the loaded database is kept for the next run.

Output: progress on stderr; the last stdout line is one flat JSON object.  Headline keys
(``lanes``, ``processes``, ``ids_per_s``, ``ms_p50``, ``ms_p99``, ``bridge_rss_mb``) are the
paced run of the first backend with one process; ``ids`` and ``errors`` (a wrong customer, an
error reply, a timeout, a lost connection) count every run, ``bridge_log_errors`` and
``bridge_log_warnings`` the lines of those levels (and tracebacks) in the bridges' logs, kept
under bench/out/lanes-logs/, and ``lanes_resumed`` the lanes a bridge took over as orphaned
(none should be: no bridge dies here).  Per configuration, prefixed ``<backend>_<processes>_`` (e.g.
``postgresql_2_ids_per_s``): ``ids_per_s``, ``ms_p50``, ``ms_p99`` of the closed-loop run;
the same with ``paced_`` (``postgresql_2_paced_ms_p99``) plus ``paced_lag_ms_p99``; CPU used
over each measured window in percent of one core, ``bridge_cpu_pct``, ``client_cpu_pct``,
``db_cpu_pct`` (the PostgreSQL server's processes) and ``other_cpu_pct`` (everything else on
the machine: on a shared machine, figures taken while it is high are low), and the same CPU
per identification, ``bridge_cpu_ms_per_id`` etc. (what a core buys, whatever the load);
``bridge_rss_mb`` (sum of the bridge processes' VmRSS from /proc at the end, every lane still
connected), ``lanes_connected``, ``ids``, ``errors``.

What limits the figures on a 2-core machine: the bridges, the PostgreSQL server and the client
share the two cores (and, on a shared development machine, whatever else runs: see
``other_cpu_pct``; with it near 100 every figure here is roughly halved, and the paced runs'
tails grow by far more than that).  The bridge is CPU-bound in its own Python, and one
process gets at most about one core of it, because its event loop and its database threads
share the GIL: an identification is five lane transitions, each a database transaction in a
worker thread (plain SQL on the driver since issue 19: registry/driver.py) plus rendering,
framing and a log line.  Since issue 19 (py-spy --gil, SQLite, 50 lanes closed): a quarter of the
bridge's GIL time is the eleven websocket frames sent per identification (uvicorn's
transport.write: on loopback the kernel does the receiver's TCP work in the sender's call, and
sys time is a quarter of the bridge's CPU), about a sixth the five transactions and the steps
they run (pydantic states, the lane's JSON), a tenth the five log lines, a tenth the trips to
worker threads.  That is 4.5-5.5 ms of bridge CPU per identification on SQLite on a shared
machine (it was 6-7), so one process saturates at roughly 150-190 identifications per second.
In the closed loop each lane also carries every Ange ID try of the last minute in its state
(FLAT_OUT lifts the limit, not the record): 2 kB of JSON per step where a shop's lane has
0.3 kB.  On PostgreSQL each transition also writes an outbox row and a NOTIFY (one pipelined round
trip with the state), and every process with a device on the lane reads the NOTIFY: 5.8 ms per
identification in one process (it was 18-20), 8-12 ms summed over the processes of the
chain case.  The client runs in its own
processes (``--clients``, default 2), so it is never held to one core's worth of Python; it
spends about a fifth of the bridge's CPU per identification (``client_cpu_ms_per_id``) and never
fills a core, but that CPU is taken from the bridges.  In the closed-loop runs the machine is
saturated, so more bridge processes than cores cannot add throughput here: on 2 cores the
processes comparison shows what the chain costs per identification (``bridge_cpu_ms_per_id``)
rather than how it scales.  Whether throughput grows with processes needs a machine with a core
per bridge process and the database on its own cores; this one cannot show it.  The throwaway
cluster runs without fsync, so commits cost less than on a production server; SQLite commits in
WAL mode with synchronous=NORMAL (no fsync per commit either).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import random
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cashier_bridge.protocol import (  # noqa: E402
    Choose,
    EndSale,
    Hello,
    Method,
    Role,
    StartSale,
    SubmitId,
    dump,
)

OUT = ROOT / "bench" / "out"
SEED = 1
PEOPLE = 4096  # distinct customers the lanes look up, sampled from the generated set
CONNECT_CONCURRENCY = 32  # per client process: a burst of 2,000 handshakes would only queue
# One identification.  In the closed loop every lane waits behind all the others: with 1,000
# lanes at 50 identifications per second a lane's turn comes every 20 s.
STEP_TIMEOUT_S = 120.0
KIOSK_PING_S = 5.0  # kiosk/link.py
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

Person = tuple[str, str]  # (personnummer, customer_code)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- the client (runs in its own processes) ---------------------------------------------------


class LaneFailed(Exception):
    """What went wrong in one identification; ``kind`` is what errors are counted by."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True)
class LaneSpec:
    name: str
    kiosk_url: str
    register_url: str
    kiosk_token: str = ""  # the lane's devices are paired, as a shop's are
    register_token: str = ""


@dataclass(frozen=True)
class ClientSpec:
    number: int
    lanes: list[LaneSpec]
    people: list[Person]
    tag: str  # makes sale ids unique per run
    kiosk_ping: float | None = KIOSK_PING_S


class SimLane:
    """One register lane: a kiosk and a register connection, one identification at a time."""

    def __init__(self, spec: LaneSpec, tag: str, kiosk_ping: float | None = KIOSK_PING_S) -> None:
        self.spec = spec
        self.tag = tag
        self.kiosk_ping = kiosk_ping
        self.kiosk: ClientConnection | None = None
        self.register: ClientConnection | None = None
        self.sales = 0

    async def open(self) -> None:
        self.kiosk = await connect(self.spec.kiosk_url, open_timeout=60,
                                   ping_interval=self.kiosk_ping,
                                   # kiosk/link.py gives up after 5 s; an overloaded bridge
                                   # answers later, and a lost lane would end its figures.
                                   ping_timeout=60)
        self.register = await connect(self.spec.register_url, open_timeout=60)
        await self.kiosk.send(dump(Hello(role=Role.kiosk, lane=self.spec.name,
                                         token=self.spec.kiosk_token)))
        await self.register.send(dump(Hello(role=Role.register, lane=self.spec.name,
                                            token=self.spec.register_token)))
        await self._next(self.kiosk, "welcome")
        state = await self._next(self.kiosk, "state")
        await self._next(self.register, "welcome")
        if state["phase"] != "idle":  # left open by an earlier, interrupted run
            await self.reset()

    async def close(self) -> None:
        for ws in (self.kiosk, self.register):
            if ws is not None:
                with contextlib.suppress(Exception):
                    await ws.close()

    @property
    def alive(self) -> bool:
        return all(ws is not None and ws.close_code is None for ws in (self.kiosk, self.register))

    async def identify(self, person: Person) -> tuple[float, float]:
        """One whole identification; (latency in ms, when customer_connected arrived)."""
        kiosk, register = self.kiosk, self.register
        assert kiosk is not None and register is not None
        self.sales += 1
        sale = f"{self.tag}-{self.sales}"
        await register.send(dump(StartSale(sale_id=sale)))
        await self._next(kiosk, "state", phase="choosing")
        await kiosk.send(dump(Choose(method=Method.numpad)))
        await self._next(kiosk, "state", phase="identifying")
        pnr, code = person
        started = time.perf_counter()
        await kiosk.send(dump(SubmitId(digits=pnr)))
        # sale_id: a late event of an earlier, timed-out identification is not this one's.
        event = await self._next(register, "customer_connected", sale_id=sale)
        arrived = time.perf_counter()
        arrived_at = time.monotonic()
        if event["customer"]["customer_code"] != code:
            raise LaneFailed("wrong_customer", f"{event['customer']['customer_code']} != {code}")
        await register.send(dump(EndSale(sale_id=sale)))
        await self._next(kiosk, "state", phase="idle")
        return (arrived - started) * 1000, arrived_at

    async def reset(self) -> None:
        """Back to idle after a failure (the register ends whatever sale is open)."""
        assert self.kiosk is not None and self.register is not None
        await self.register.send(dump(EndSale()))
        await self._next(self.kiosk, "state", phase="idle")

    @staticmethod
    async def _next(ws: ClientConnection, kind: str, **match: Any) -> dict[str, Any]:
        """The next message of ``kind`` (with the given fields); an error reply fails."""
        while True:
            try:
                message = json.loads(await ws.recv())
            except ConnectionClosed as exc:
                raise LaneFailed("disconnected", str(exc)) from None
            if message["type"] == "error":
                raise LaneFailed(f"error_{message.get('code')}", message.get("message", ""))
            if message["type"] == kind and all(message.get(k) == v for k, v in match.items()):
                return message


@dataclass
class Tally:
    """One client process's account of one run."""

    latencies: list[float] = field(default_factory=list)  # ms, completed inside the window
    in_window: int = 0
    completed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # the first few errors, in words
    lag_ms: list[float] = field(default_factory=list)
    no_idle_lane: int = 0
    lost_lanes: int = 0


class Client:
    def __init__(self, spec: ClientSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.number * 7919 + 17)
        self.lanes = [SimLane(lane, f"{spec.tag}-{spec.number}", spec.kiosk_ping)
                      for lane in spec.lanes]
        self.usable: list[SimLane] = []
        self.window_from = self.end = math.inf
        self._unfinished = 0
        self._steady = asyncio.Event()

    async def connect_all(self) -> dict[str, Any]:
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
        failures: Counter[str] = Counter()
        samples: list[str] = []

        async def one(lane: SimLane) -> None:
            async with limit:
                try:
                    await asyncio.wait_for(lane.open(), STEP_TIMEOUT_S)
                    self.usable.append(lane)
                except (LaneFailed, OSError, InvalidHandshake, TimeoutError) as exc:
                    failures[getattr(exc, "kind", type(exc).__name__)] += 1
                    if len(samples) < 5:
                        samples.append(f"{lane.spec.name}: {exc!r}")

        started = time.monotonic()
        await asyncio.gather(*(one(lane) for lane in self.lanes))
        return {"connected": len(self.usable), "errors": dict(failures), "samples": samples,
                "seconds": time.monotonic() - started}

    async def run(self, pipe: Connection, mode: str, rate: float, start: float) -> Tally:
        """Load from ``start`` until the parent's window ends.  The parent is told "steady"
        once the load is in its steady state (closed loop: every lane has finished one
        identification, so the bridge's queues are full) and answers with the measured window;
        until then nothing counts, and no new identification starts after it."""
        tally = Tally()
        self.window_from = self.end = math.inf
        self._unfinished = len(self.usable)
        self._steady = asyncio.Event()
        window = asyncio.create_task(asyncio.to_thread(pipe.recv))
        await _sleep_until(start)
        if mode == "closed":
            load = asyncio.gather(*(self._closed(lane, tally) for lane in list(self.usable)))
        else:
            self._steady.set()  # arrivals do not pile up before the warm-up is over
            load = asyncio.ensure_future(self._paced(rate, start, tally))
        if self._unfinished == 0:
            self._steady.set()
        await self._steady.wait()
        pipe.send(("steady", {}))
        command, bounds = await window
        assert command == "window", command
        self.window_from, self.end = bounds["window_from"], bounds["end"]
        await load
        return tally

    def _finished_one(self) -> None:
        self._unfinished -= 1
        if self._unfinished <= 0:
            self._steady.set()

    async def _closed(self, lane: SimLane, tally: Tally) -> None:
        # Every lane starts at once, and a closed loop served first-come first-served keeps
        # them in that lockstep: completions then come in one wave per cycle (at 1,000 lanes
        # a cycle can be half a minute), and a window of a similar length catches one wave or
        # none.  So after its first identification each lane pauses for a random part of the
        # time that one took, which spreads the lanes over a whole cycle; the window opens
        # once every lane is past its pause.
        began = time.monotonic()
        await self._one(lane, tally)
        if lane in self.usable:
            await asyncio.sleep(self.rng.uniform(0, time.monotonic() - began))
        self._finished_one()
        while time.monotonic() < self.end and lane in self.usable:
            await self._one(lane, tally)

    async def _paced(self, rate: float, start: float, tally: Tally) -> None:
        idle = list(self.usable)
        running: set[asyncio.Task[None]] = set()

        async def go(lane: SimLane) -> None:
            try:
                await self._one(lane, tally)
            finally:
                if lane in self.usable:
                    idle.append(lane)

        due = start
        while rate > 0:
            due += self.rng.expovariate(rate)
            await _sleep_until(min(due, self.end))
            if due >= self.end:  # the window is known only later: check after the wait
                break
            now = time.monotonic()
            if now >= self.window_from:
                tally.lag_ms.append((now - due) * 1000)
            if not idle:
                tally.no_idle_lane += 1  # every lane busy: the bridge has fallen far behind
                continue
            lane = idle.pop(self.rng.randrange(len(idle)))
            task = asyncio.create_task(go(lane))
            running.add(task)
            task.add_done_callback(running.discard)
        # Each is bounded (an identification, then a reset, each under STEP_TIMEOUT_S); a lane
        # still busy would collide with the next run's use of it.
        await asyncio.gather(*running)

    async def _one(self, lane: SimLane, tally: Tally) -> None:
        person = self.spec.people[self.rng.randrange(len(self.spec.people))]
        try:
            latency, arrived = await asyncio.wait_for(lane.identify(person), STEP_TIMEOUT_S)
        except (LaneFailed, TimeoutError, OSError) as exc:
            kind = getattr(exc, "kind", "timeout" if isinstance(exc, TimeoutError)
                           else type(exc).__name__)
            tally.errors[kind] += 1
            if len(tally.samples) < 5:
                tally.samples.append(f"{lane.spec.name}: {exc!r}")
            await self._recover(lane, tally)
            return
        tally.completed += 1
        if self.window_from <= arrived <= self.end:
            tally.in_window += 1
            tally.latencies.append(latency)

    async def _recover(self, lane: SimLane, tally: Tally) -> None:
        try:
            if not lane.alive:
                raise LaneFailed("disconnected")
            await asyncio.wait_for(lane.reset(), STEP_TIMEOUT_S)
        except (LaneFailed, TimeoutError, OSError, ConnectionClosed):
            # A lane that cannot even be reset is out of this benchmark (and counted).
            if lane in self.usable:
                self.usable.remove(lane)
                tally.lost_lanes += 1


async def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def client_main(spec: ClientSpec, pipe: Connection) -> None:
    """A client process: connect its lanes, then run what the parent asks, until "close"."""
    asyncio.run(_client_loop(spec, pipe))


async def _client_loop(spec: ClientSpec, pipe: Connection) -> None:
    client = Client(spec)
    pipe.send(("ready", await client.connect_all()))
    while True:
        command, arguments = await asyncio.to_thread(pipe.recv)
        if command == "close":
            await asyncio.gather(*(lane.close() for lane in client.lanes))
            pipe.send(("closed", {}))
            return
        tally = await client.run(pipe, **arguments)
        pipe.send(("result", {**tally.__dict__, "errors": dict(tally.errors),
                              "alive": sum(lane.alive for lane in client.usable)}))


# --- measuring the processes ------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()  # the name may hold spaces; skip past it
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children_of(parent: int) -> list[int]:
    """The parent and its direct children (PostgreSQL's backends are the postmaster's)."""
    found = [parent]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy so far (every core, every process)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / CLOCK_TICKS  # guest time is already counted in user


class CpuMeter:
    """CPU used by groups of processes between :meth:`start` and :meth:`stop`, and by
    everything else on the machine (``other``: a shared machine's other work)."""

    def __init__(self, groups: dict[str, Any]) -> None:
        self.groups = groups  # name -> callable returning the pids to count (read each time)
        self._before: dict[str, float] = {}
        self.percent: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self._t0 = 0.0

    def _read(self) -> dict[str, float]:
        used = {name: sum(cpu_seconds(pid) for pid in pids()) for name, pids in
                self.groups.items()}
        used["other"] = machine_busy_seconds() - sum(used.values())
        return used

    def start(self) -> None:
        self._t0, self._before = time.monotonic(), self._read()

    def stop(self) -> None:
        elapsed = time.monotonic() - self._t0
        after = self._read()
        self.seconds = {name: max(0.0, after[name] - self._before[name]) for name in after}
        # Percent of one core; a process that ended meanwhile would make a group go down.
        self.percent = {name: round(max(0.0, after[name] - self._before[name]) / elapsed * 100)
                        for name in after}


# --- databases --------------------------------------------------------------------------------


def people_to_look_up(customers: int, seed: int) -> list[Person]:
    """Customers who have a personnummer, from the generator alone (no database read)."""
    from bench import generate

    wanted = min(PEOPLE, customers)
    picked = generate.sample(customers, wanted * 2, seed)  # about 8 % have no personnummer
    people = [(p.personnummer, p.customer_code) for p in picked if p.personnummer]
    if not people:
        raise SystemExit("the sampled customers have no personnummer; use more --customers")
    return people[:wanted]


def sqlite_registry(customers: int, seed: int, out: Path) -> str:
    """A SQLite registry with ``customers`` generated rows, built once and cached."""
    from bench import generate

    return generate.cached_sqlite(out / f"lanes-{customers}-seed{seed}.db", customers, seed)


@contextlib.contextmanager
def postgres_registry(customers: int, seed: int, server_url: str | None) -> Iterator[
        tuple[str, list[int]]]:
    """A PostgreSQL registry with the customers, and the postmaster's pid (for its CPU use)
    when it is a cluster of our own."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from bench import generate
    from cashier_bridge.registry import Registry
    from tests.pg_server import PostgresServer, start_cluster

    if server_url:
        admin = make_url(server_url)
        name = f"selfreg_lanes_{customers}_seed{seed}"
        engine = create_engine(admin.set(drivername="postgresql+psycopg"),
                               isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with engine.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                {"n": name}).scalar():
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        engine.dispose()
        url = PostgresServer(admin).url(name)
        registry = Registry.open(url)
        have = registry.customers.count()
        registry.close()
        if have not in (0, customers):
            raise SystemExit(f"database {name} holds {have} customers; drop it")
        if have == 0:
            say(f"postgresql: loading {customers:,} customers into {name}")
            generate.load(url, customers, seed)
        else:
            say(f"postgresql: {name} holds {customers:,} customers (kept)")
        yield url, []
        return

    cluster = start_cluster()
    if cluster is None or cluster.admin_url is None:
        raise SystemExit("no PostgreSQL binaries (/usr/lib/postgresql/*/bin); give --pg-url or "
                         "leave postgresql out of --backends")
    server = PostgresServer(cluster.admin_url, cluster)
    try:
        url = server.create_database("lanes")
        say(f"postgresql: throwaway cluster on port {cluster.port}; loading {customers:,} "
            "customers (COPY)")
        figures = generate.load(url, customers, seed)
        say(f"postgresql: loaded in {figures['seconds']}s")
        postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
        yield url, [postmaster]
    finally:
        server.close()


# --- one configuration ------------------------------------------------------------------------


@dataclass
class Config:
    backend: str
    processes: int
    db_url: str
    postmaster: list[int]


def spread(lanes: int, urls: list[str], tokens: dict[tuple[str, str], str] | None = None
           ) -> list[LaneSpec]:
    """Lane i's kiosk on process i mod P and its register on the next one, as a round-robin
    proxy would place two devices that connect one after the other."""
    count = len(urls)
    tokens = tokens or {}
    names = lane_names(lanes)
    return [LaneSpec(name, f"{urls[i % count]}/ws/kiosk", f"{urls[(i + 1) % count]}/ws/register",
                     tokens.get((name, "kiosk"), ""), tokens.get((name, "register"), ""))
            for i, name in enumerate(names)]


def lane_names(lanes: int) -> list[str]:
    return [f"bench-{i:04d}" for i in range(lanes)]


def pair_lanes(db_url: str, names: list[str]) -> dict[tuple[str, str], str]:
    """Tokens for every lane's kiosk and register, paired in one transaction."""
    from cashier_bridge.registry import Registry

    registry = Registry.open(db_url)
    try:
        paired = registry.devices.pair_many(
            [(name, role) for name in names for role in ("kiosk", "register")], label="bench")
    finally:
        registry.close()
    return {(d.lane, d.role): d.token for d in paired}


def percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)


def run_config(config: Config, args: argparse.Namespace, people: list[Person],
               logs: Path) -> dict[str, Any]:
    from simulator.processes import FLAT_OUT, BridgeProcess

    label = f"{config.backend}_{config.processes}"
    bridges = []
    for k in range(config.processes):
        workdir = logs / f"{label}-{k}"
        workdir.mkdir(parents=True, exist_ok=True)
        bridges.append(BridgeProcess(workdir, config.db_url))
    figures: dict[str, Any] = {}
    workers: list[tuple[Any, Connection]] = []
    try:
        # Each bridge has a data directory of its own: like a chain's bridges, they are all
        # given the registry's personnummer key.
        from cashier_bridge.registry.personal_id_key import default_place

        place = default_place(config.db_url)
        key = place.configured or place.file.read_text().strip()
        for bridge in bridges:
            bridge.start(timeout=120, args=("--log-json",),
                         env={"SELFREG_PERSONAL_ID_KEY": key, **FLAT_OUT})
        assert all(b.proc is not None for b in bridges)
        bridge_pids = [b.proc.pid for b in bridges if b.proc is not None]
        say(f"{label}: {config.processes} bridge process(es) on ports "
            f"{', '.join(str(b.port) for b in bridges)}; logs in {logs}")
        tokens = pair_lanes(config.db_url, lane_names(args.lanes))
        specs = spread(args.lanes, [b.url for b in bridges], tokens)
        clients = max(1, min(args.clients, args.lanes))
        tag = secrets.token_hex(3)
        context = mp.get_context("spawn")  # a clean interpreter: no inherited threads or sockets
        shares = [specs[n::clients] for n in range(clients)]
        for n in range(clients):
            ours, theirs = context.Pipe()
            spec = ClientSpec(n, shares[n], people, tag, args.kiosk_ping or None)
            process = context.Process(target=client_main, args=(spec, theirs), daemon=True)
            process.start()
            theirs.close()
            workers.append((process, ours))
        ready = [_answer(pipe, "ready", 600) for _, pipe in workers]
        connected = sum(r["connected"] for r in ready)
        connect_errors: Counter[str] = Counter()
        for r in ready:
            connect_errors.update(r["errors"])
            for sample in r["samples"]:
                say(f"{label}: could not connect {sample}")
        say(f"{label}: {connected}/{args.lanes} lanes connected in "
            f"{max(r['seconds'] for r in ready):.1f}s")
        errors = sum(connect_errors.values())
        ids, alive = 0, connected
        client_pids = [p.pid for p, _ in workers if p.pid is not None]
        meter = CpuMeter({"bridge": lambda: bridge_pids, "client": lambda: client_pids,
                          "db": lambda: [p for pm in config.postmaster
                                         for p in children_of(pm)]})
        for mode in args.modes:
            start = time.monotonic() + 0.5
            for (_, pipe), share in zip(workers, shares, strict=True):
                pipe.send(("run", {"mode": mode, "start": start,
                                   "rate": args.rate * len(share) / args.lanes}))
            say(f"{label}: {mode} run"
                + (f" at {args.rate:g} ids/s" if mode == "paced" else ", every lane at once")
                + f"; measuring {args.seconds:g}s after a warm-up of at least {args.warmup:g}s"
                + (" and one identification (then a random pause) per lane" if mode == "closed"
                   else ""))
            for _, pipe in workers:
                _answer(pipe, "steady", STEP_TIMEOUT_S + 60)
            window_from = max(time.monotonic(), start + args.warmup)
            end = window_from + args.seconds
            for _, pipe in workers:
                pipe.send(("window", {"window_from": window_from, "end": end}))
            say(f"{label}: {mode}: steady after {window_from - start:.1f}s")
            time.sleep(max(0.0, window_from - time.monotonic()))
            meter.start()
            time.sleep(max(0.0, end - time.monotonic()))
            meter.stop()
            results = [_answer(pipe, "result", 2 * STEP_TIMEOUT_S + 60) for _, pipe in workers]
            latencies = [x for r in results for x in r["latencies"]]
            lag = [x for r in results for x in r["lag_ms"]]
            in_window = sum(r["in_window"] for r in results)
            failed: Counter[str] = Counter()
            for r in results:
                failed.update(r["errors"])
                for sample in r["samples"]:
                    say(f"{label}: {mode}: {sample}")
            run_errors = sum(failed.values())
            errors += run_errors
            completed = sum(r["completed"] for r in results)
            ids += completed
            prefix = f"{label}_paced_" if mode == "paced" else f"{label}_"
            figures.update({
                f"{prefix}ids_per_s": round(in_window / args.seconds, 1),
                f"{prefix}ms_p50": percentile(latencies, 50),
                f"{prefix}ms_p99": percentile(latencies, 99),
                f"{prefix}bridge_cpu_pct": meter.percent["bridge"],
                f"{prefix}client_cpu_pct": meter.percent["client"],
            })
            if config.postmaster:
                figures[f"{prefix}db_cpu_pct"] = meter.percent["db"]
            figures[f"{prefix}other_cpu_pct"] = meter.percent["other"]
            # Identifications per lane inside the window: under 2, a closed-loop rate is rough.
            alive = sum(r["alive"] for r in results)
            figures[f"{prefix}rounds"] = round(in_window / max(1, alive), 1)
            if in_window:  # CPU per identification: comparable across machines and loads
                for group in ("bridge", "client", "db") if config.postmaster else (
                        "bridge", "client"):
                    figures[f"{prefix}{group}_cpu_ms_per_id"] = round(
                        meter.seconds[group] * 1000 / in_window, 2)
            if mode == "paced":
                figures[f"{prefix}ids"] = completed
                figures[f"{prefix}errors"] = run_errors
                figures[f"{prefix}lag_ms_p99"] = percentile(lag, 99)
                skipped = sum(r["no_idle_lane"] for r in results)
                if skipped:
                    figures[f"{prefix}no_idle_lane"] = skipped
            lost = sum(r["lost_lanes"] for r in results)
            if mode == "closed" and figures[f"{prefix}rounds"] < 2:
                say(f"{label}: closed: only {figures[f'{prefix}rounds']} identifications per "
                    "lane in the window; give more --seconds for a steadier rate")
            say(f"{label}: {mode}: {in_window / args.seconds:.1f} ids/s, p50 "
                f"{figures[f'{prefix}ms_p50']} ms, p99 {figures[f'{prefix}ms_p99']} ms, "
                f"cpu % bridge {meter.percent['bridge']} client {meter.percent['client']}"
                + (f" db {meter.percent['db']}" if config.postmaster else "")
                + f" other {meter.percent['other']} (load {os.getloadavg()[0]:.1f})"
                + (f"; errors {dict(failed)}" if failed else "")
                + (f"; lanes lost {lost}" if lost else ""))
        # Every lane is still connected here: the memory a bridge needs to hold them.
        figures[f"{label}_bridge_rss_mb"] = round(sum(rss_mb(pid) for pid in bridge_pids), 1)
        figures[f"{label}_lanes_connected"] = alive
        figures[f"{label}_ids"] = ids
        figures[f"{label}_errors"] = errors
        for _, pipe in workers:
            pipe.send(("close", {}))
        for _, pipe in workers:
            with contextlib.suppress(Exception):
                _answer(pipe, "closed", 60)
    finally:
        for process, _ in workers:
            process.join(10)
            if process.is_alive():
                process.kill()
        for bridge in bridges:
            bridge.stop()
    problems = [log_problems(b.log_path, label) for b in bridges]
    figures[f"{label}_bridge_log_errors"] = sum(r.errors for r in problems)
    figures[f"{label}_bridge_log_warnings"] = sum(r.warnings for r in problems)
    figures[f"{label}_lanes_resumed"] = sum(r.resumed for r in problems)
    return figures


def _answer(pipe: Connection, expected: str, timeout: float) -> dict[str, Any]:
    if not pipe.poll(timeout):
        raise SystemExit(f"a client process did not answer {expected!r} in {timeout:.0f}s")
    kind, body = pipe.recv()
    if kind != expected:
        raise SystemExit(f"a client process answered {kind!r}, expected {expected!r}")
    return body


@dataclass
class LogReport:
    errors: int = 0  # error and critical lines, tracebacks
    warnings: int = 0
    # lane_resumed lines: no bridge dies here, so a resumed lane is one the sweep took for
    # orphaned while it was not (the resuming process names itself as the previous driver).
    resumed: int = 0


def log_problems(path: Path, label: str) -> LogReport:
    """What went wrong, by the bridge's own account (its log is JSON lines, so anything else
    is suspect only if it says Traceback).  The first few lines are shown."""
    report = LogReport()
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return report
    for line in lines:
        try:
            entry = json.loads(line)
            level = entry.get("level")
            bad = level in ("error", "critical") or "exception" in entry
        except ValueError:
            entry, level, bad = {}, None, "Traceback" in line
        if bad:
            report.errors += 1
        elif level == "warning":
            report.warnings += 1
        if entry.get("event") == "lane_resumed":
            report.resumed += 1
        if (bad or level == "warning") and report.errors + report.warnings <= 5:
            say(f"{label}: bridge log {path}: {line[:300]}")
    return report


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lanes", type=int, default=1000)
    parser.add_argument("--processes", default="1,2,4",
                        help="bridge process counts to run on PostgreSQL (SQLite runs 1)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured, per run")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds before measuring (default: a fifth of --seconds, 1 to 5)")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="identifications per second in the paced run, over all lanes")
    parser.add_argument("--modes", default="paced,closed")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--kiosk-ping", type=float, default=KIOSK_PING_S,
                        help="seconds between a kiosk's keep-alive pings, as kiosk/link.py "
                        "(0: none)")
    parser.add_argument("--seed", type=int, default=SEED, help="bench/generate.py's seed")
    parser.add_argument("--out", type=Path, default=OUT,
                        help="where the SQLite registry is cached and the bridge logs go")
    parser.add_argument("--pg-url", help="a PostgreSQL server (role may CREATE DATABASE) to keep "
                        "the loaded database on, instead of a throwaway cluster")
    args = parser.parse_args(argv)
    args.processes = sorted({int(p) for p in args.processes.split(",") if p})
    args.backends = [b for b in args.backends.split(",") if b]
    args.modes = [m for m in args.modes.split(",") if m]
    if unknown := set(args.backends) - {"sqlite", "postgresql"}:
        parser.error(f"unknown backend(s) {', '.join(sorted(unknown))}")
    if unknown := set(args.modes) - {"paced", "closed"}:
        parser.error(f"unknown mode(s) {', '.join(sorted(unknown))}")
    if args.lanes < 1 or not args.processes or min(args.processes) < 1:
        parser.error("--lanes and --processes must be positive")
    if args.warmup is None:
        args.warmup = min(5.0, max(1.0, args.seconds / 5))
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    logs = args.out / "lanes-logs" / time.strftime("%Y%m%d-%H%M%S")
    # A bridge holds at most max_lanes lanes (default 2000); the bridges read it from here.
    os.environ["SELFREG_MAX_LANES"] = str(max(2000, args.lanes))
    people = people_to_look_up(args.customers, args.seed)
    say(f"{args.lanes} lanes, {args.customers:,} customers, {len(people)} of them looked up")
    figures: dict[str, Any] = {}
    labels: list[str] = []
    for backend in args.backends:
        if backend == "sqlite":
            url = sqlite_registry(args.customers, args.seed, args.out)
            if args.processes != [1]:
                say("sqlite: one bridge process only (SQLite serves one process)")
            figures.update(run_config(Config("sqlite", 1, url, []), args, people, logs))
            labels.append("sqlite_1")
            continue
        with postgres_registry(args.customers, args.seed, args.pg_url) as (url, postmaster):
            for processes in args.processes:
                figures.update(run_config(Config("postgresql", processes, url, postmaster),
                                          args, people, logs))
                labels.append(f"postgresql_{processes}")
    print(json.dumps(summary(args, labels, figures)))


def source_version() -> dict[str, Any]:
    """The commit measured, and whether the working tree differed from it (other people's
    edits in progress change what the bridge does)."""
    import subprocess

    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True,
                              check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--untracked-files=no", "--", "cashier_bridge")
    return {"commit": git("rev-parse", "--short", "HEAD") or None,
            "bridge_modified": bool(changed)}


def summary(args: argparse.Namespace, labels: list[str], figures: dict[str, Any]
            ) -> dict[str, Any]:
    head = f"{args.backends[0]}_1"
    mode = "paced_" if "paced" in args.modes else ""
    return {
        "backend": args.backends[0], "customers": args.customers, "lanes": args.lanes,
        "processes": 1, "rate": args.rate if mode else None,
        "ids_per_s": figures.get(f"{head}_{mode}ids_per_s"),
        "ms_p50": figures.get(f"{head}_{mode}ms_p50"),
        "ms_p99": figures.get(f"{head}_{mode}ms_p99"),
        "bridge_rss_mb": figures.get(f"{head}_bridge_rss_mb"),
        # Over every run of every configuration (each label's figures count all its runs).
        **{key: sum(figures[f"{label}_{key}"] for label in labels)
           for key in ("ids", "errors", "bridge_log_errors", "bridge_log_warnings",
                       "lanes_resumed")},
        "seconds": args.seconds, "clients": args.clients, "cores": os.cpu_count(),
        **source_version(),
        **figures,
    }


if __name__ == "__main__":
    main()
