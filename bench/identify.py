"""Numpad identification → ``customer connected`` at the register, with 1,000,000 customers.

Builds a SQLite registry of a million customers (cached between runs under bench/out/), starts
the real bridge as its own process, and measures over real websockets on loopback the time from
the kiosk sending the typed personnummer to the register receiving ``customer_connected``.

Last line: {"customers": N, "ms_p50": …, "ms_p99": …}
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from stdnum import luhn
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cashier_bridge.protocol import (  # noqa: E402
    Choose,
    Hello,
    Method,
    Role,
    StartSale,
    SubmitId,
    dump,
)
from cashier_bridge.registry import NewCustomer, Registry  # noqa: E402
from simulator.processes import FLAT_OUT, BridgeProcess  # noqa: E402

CUSTOMERS = 1_000_000
SAMPLES = 1000
WARMUP = 50
DAYS = 25_000  # distinct birth dates; serials 0..39 per date give a million unique numbers
FIRST = ["Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Elin", "Nils", "Sara", "Åsa"]
LAST = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Öberg", "Ek"]


def personnummer(i: int) -> str:
    born = dt.date(1940, 1, 1) + dt.timedelta(days=i % DAYS)
    serial = f"{(i // DAYS) * 20 + 10:03d}"
    body = f"{born:%y%m%d}{serial}"
    return f"{born:%Y%m%d}{serial}{luhn.calc_check_digit(body)}"


def customers(registry: Registry) -> Iterator[NewCustomer]:
    for i in range(CUSTOMERS):
        pnr = personnummer(i)
        yield NewCustomer(
            first_name=FIRST[i % len(FIRST)], last_name=LAST[i % len(LAST)],
            phone=f"+4670{i:07d}", email=f"kund{i}@example.se",
            personal_id_fingerprint=registry.fingerprint(pnr),
            personal_id_masked=f"{pnr[:8]}-****",
            birth_date=dt.date(int(pnr[:4]), int(pnr[4:6]), int(pnr[6:8])),
            created_via="import", customer_code=str(2_000_000 + i))


def build_db(path: Path) -> tuple[str, float]:
    url = f"sqlite:///{path}"
    registry = Registry.open(url)
    try:
        have = registry.customers.count()
        if have == CUSTOMERS:
            return url, 0.0
        if have:
            raise SystemExit(f"{path} holds {have} customers; delete it and run again")
        started = time.perf_counter()
        registry.imports.bulk_load(customers(registry))
        return url, time.perf_counter() - started
    finally:
        registry.close()


async def measure(bridge: BridgeProcess) -> list[float]:
    rng = random.Random(7)
    latencies: list[float] = []
    async with connect(bridge.url + "/ws/kiosk") as kiosk, \
            connect(bridge.url + "/ws/register") as register:
        await kiosk.send(dump(Hello(role=Role.kiosk, lane="bench",
                                    token=bridge.token("bench", "kiosk"))))
        await register.send(dump(Hello(role=Role.register, lane="bench",
                                       token=bridge.token("bench", "register"))))

        async def register_until(kind: str) -> dict:
            while True:
                message = json.loads(await register.recv())
                if message["type"] == kind:
                    return message

        async def kiosk_until(phase: str) -> None:
            while True:
                message = json.loads(await kiosk.recv())
                if message["type"] == "state" and message["phase"] == phase:
                    return

        for n in range(WARMUP + SAMPLES):
            await register.send(dump(StartSale(sale_id=f"s{n}")))
            await kiosk_until("choosing")
            await kiosk.send(dump(Choose(method=Method.numpad)))
            await kiosk_until("identifying")
            i = rng.randrange(CUSTOMERS)
            started = time.perf_counter()
            await kiosk.send(dump(SubmitId(digits=personnummer(i))))
            event = await register_until("customer_connected")
            elapsed = time.perf_counter() - started
            if event["customer"]["customer_code"] != str(2_000_000 + i):
                raise SystemExit(f"wrong customer connected: {event['customer']}")
            if n >= WARMUP:
                latencies.append(elapsed * 1000)
            await register.send(json.dumps({"v": 1, "type": "end_sale"}))
            await kiosk_until("idle")
    return latencies


def main() -> None:
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    db_path = out / f"identify-{CUSTOMERS}.db"
    url, load_s = build_db(db_path)
    if load_s:
        print(f"loaded {CUSTOMERS} customers in {load_s:.1f}s ({CUSTOMERS / load_s:,.0f}/s)")
    bridge = BridgeProcess(out, url)
    bridge.start(timeout=60, env=FLAT_OUT)  # one lane identifies flat out
    try:
        latencies = asyncio.run(measure(bridge))
    finally:
        bridge.stop()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    print(json.dumps({"customers": CUSTOMERS, "ms_p50": round(statistics.median(latencies), 2),
                      "ms_p99": round(q[98], 2)}))


if __name__ == "__main__":
    main()
