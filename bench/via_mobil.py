"""Via mobil: the phone's submit → ``customer connected`` at the register, 1,000,000 customers.

Reuses bench/identify.py's SQLite registry of a million customers (cached under bench/out/),
starts the real bridge as its own process, and plays kiosk and register over websockets and the
phone over HTTP (httpx, as a browser would post the form).  Measured: from sending the form to
the register receiving ``customer_connected`` for a known customer; and the phone page's size
with everything it loads (it loads nothing else: styles and script are inline, no fonts).

Last line: {"customers": N, "ms_p50": …, "ms_p99": …, "page_bytes": …, …}
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from identify import CUSTOMERS, FIRST, LAST, build_db, personnummer  # noqa: E402

from cashier_bridge.protocol import Choose, Hello, Method, Role, StartSale, dump  # noqa: E402
from simulator.processes import BridgeProcess  # noqa: E402

SAMPLES = 1000
WARMUP = 50
VERSION = re.compile(r'<input type="hidden" name="(version_[a-z_]+)" value="([^"]*)">')
RECEIPT = re.compile(r'name="receipt" value="([^"]+)"')


async def measure(bridge: BridgeProcess) -> tuple[list[float], int, int]:
    rng = random.Random(9)
    latencies: list[float] = []
    page_bytes = card_bytes = 0
    async with connect(bridge.url + "/ws/kiosk") as kiosk, \
            connect(bridge.url + "/ws/register") as register, \
            httpx.AsyncClient(headers={"Accept-Language": "sv"}) as phone:
        await kiosk.send(dump(Hello(role=Role.kiosk, lane="bench-mobil",
                                    token=bridge.token("bench-mobil", "kiosk"))))
        await register.send(dump(Hello(role=Role.register, lane="bench-mobil",
                                       token=bridge.token("bench-mobil", "register"))))

        async def register_until(kind: str) -> dict:
            while True:
                message = json.loads(await register.recv())
                if message["type"] == kind:
                    return message

        async def kiosk_until(phase: str) -> dict:
            while True:
                message = json.loads(await kiosk.recv())
                if message["type"] == "state" and message["phase"] == phase:
                    return message

        for n in range(WARMUP + SAMPLES):
            await register.send(dump(StartSale(sale_id=f"m{n}")))
            await kiosk_until("choosing")
            await kiosk.send(dump(Choose(method=Method.mobile)))
            url = (await kiosk_until("identifying"))["view"]["mobile_url"]
            page = await phone.get(url)
            page_bytes = max(page_bytes, len(page.content))
            receipt = RECEIPT.search(page.text)
            if page.status_code != 200 or receipt is None:
                raise SystemExit(f"the phone page did not open: {page.status_code}")
            i = rng.randrange(CUSTOMERS)
            # Her own names and phone: a personnummer alone connects nobody.
            form = {"first_name": FIRST[i % len(FIRST)], "last_name": LAST[i % len(LAST)],
                    "phone": f"+4670{i:07d}",
                    "personal_id": personnummer(i), "receipt": receipt.group(1),
                    "consent_marketing": "on",
                    # The version of the text shown, sent back as the page's form does.
                    **dict(VERSION.findall(page.text))}
            started = time.perf_counter()
            sent = await phone.post(url, data=form)
            event = await register_until("customer_connected")
            elapsed = time.perf_counter() - started
            if sent.status_code != 303 or event["customer"]["customer_code"] != str(2_000_000 + i):
                raise SystemExit(f"wrong outcome: {sent.status_code} {event['customer']}")
            if n >= WARMUP:
                latencies.append(elapsed * 1000)
            if n == 0:
                card_bytes = len((await phone.get(url)).content)  # the card, after joining
            await register.send(json.dumps({"v": 1, "type": "end_sale"}))
            await kiosk_until("idle")
    return latencies, page_bytes, card_bytes


def main() -> None:
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    url, load_s = build_db(out / f"identify-{CUSTOMERS}.db")
    if load_s:
        print(f"loaded {CUSTOMERS} customers in {load_s:.1f}s ({CUSTOMERS / load_s:,.0f}/s)")
    bridge = BridgeProcess(out, url)
    # One phone address sends every form here: the phone page's per-address limit is for
    # shoppers, not for a benchmark.
    bridge.start(timeout=60, env={"SELFREG_MOBILE_REQUESTS_PER_MINUTE": "1000000"})
    try:
        latencies, page_bytes, card_bytes = asyncio.run(measure(bridge))
    finally:
        bridge.stop()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    print(json.dumps({"customers": CUSTOMERS, "ms_p50": round(statistics.median(latencies), 2),
                      "ms_p99": round(q[98], 2), "page_bytes": page_bytes,
                      "card_page_bytes": card_bytes, "samples": len(latencies)}))


if __name__ == "__main__":
    main()
