"""Skanna ID: from the first camera frame that shows a known card to ``customer connected`` at
the register, with 1,000,000 customers in SQLite.

The frames come from the simulator's virtual camera (a card held up: drift, tilt, blur, noise,
JPEG — seeded), handed to the kiosk's own scanner (``kiosk.scanner.Scanner``: the live decode
plan, the debounce, the two-frame confirmation of 1D codes) at their 30 fps timestamps; the first
identification goes to the real bridge as the kiosk's ``scan`` intent over websockets on
loopback, and the clock stops when the register hears ``customer_connected``.  The cards take
turns: QR, Code 128 and an in-store EAN-13.  The database is bench/identify.py's (cached under
bench/out/; customer codes 2000000…2999999).

Last line: {"customers": N, "presentations": N, "ms_p50": …, "ms_p99": …, "frames_p50": …,
"misreads": …, "run_s": …} (a misread — a code read as another number, whether somebody has it
or not — is counted, not timed).  ``--presentations 10000`` is the issue's safety run: the first
PRERENDER frames of each card are rendered before the clock starts, later ones (rarely needed)
inside the frame's 33 ms wait, so a long run does not render 60 frames per card.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import itertools
import json
import random
import statistics
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.scanner import Scanner  # noqa: E402
from simulator.processes import BridgeProcess  # noqa: E402
from simulator.virtual_camera import frames  # noqa: E402

SAMPLES = 300
WARMUP = 15
FPS = 30.0
MAX_FRAMES = 60  # two seconds of a card held up
PRERENDER = 12  # nearly every card is read within 4 frames (99 % of 1D cards)
KINDS = ("card-qr", "card-code128", "card-ean13")


def _identify_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_identify", ROOT / "bench" / "identify.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def measure(bridge: BridgeProcess, customers: int, samples: int = SAMPLES
                  ) -> tuple[list[float], list[int]]:
    rng = random.Random(11)
    latencies: list[float] = []
    frames_used: list[int] = []
    misreads: list[str] = []
    async with connect(bridge.url + "/ws/kiosk") as kiosk, \
            connect(bridge.url + "/ws/register") as register:
        for ws, role in ((kiosk, "kiosk"), (register, "register")):
            await ws.send(json.dumps({"v": 1, "type": "hello", "role": role, "lane": "scan",
                                      "token": bridge.token("scan", role)}))

        async def until(ws, kind: str, **match: object) -> dict:  # type: ignore[no-untyped-def]
            async def scan() -> dict:
                while True:
                    message = json.loads(await ws.recv())
                    if message["type"] == kind and all(message.get(k) == v
                                                       for k, v in match.items()):
                        return message
            return await asyncio.wait_for(scan(), 10)

        for n in range(WARMUP + samples):
            await register.send(json.dumps({"v": 1, "type": "start_sale", "sale_id": f"s{n}"}))
            await until(kiosk, "state", phase="choosing")
            code = str(2_000_000 + rng.randrange(customers))
            item = f"{KINDS[n % len(KINDS)]}:{code}"
            held = frames(item, MAX_FRAMES, seed=n, fps=FPS)
            ready = [next(held) for _ in range(PRERENDER)]  # rendered before the clock
            scanner = Scanner()
            started = time.perf_counter()
            sent = None
            for k, frame in enumerate(itertools.chain(ready, held)):
                # Frame k exists only k/30 s after the first one.
                delay = started + k / FPS - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                read = scanner.process(frame)
                if read:
                    sent = read[0]
                    await kiosk.send(json.dumps({"v": 1, "type": "scan", "text": sent.text,
                                                 "symbology": sent.format}))
                    frames_used.append(k + 1)
                    break
            if sent is None:
                raise SystemExit(f"{item}: not read in {MAX_FRAMES} frames")
            try:
                event = await until(register, "customer_connected")
            except TimeoutError:
                # Read as some other code (nobody has it): a misread, counted, not timed.
                print(f"{item}: read as {sent.text!r}, nobody connected", file=sys.stderr)
                misreads.append(item)
                event = None
            elapsed = (time.perf_counter() - started) * 1000
            if event is not None and event["customer"]["customer_code"] != code:
                print(f"{item}: connected {event['customer']['customer_code']}",
                      file=sys.stderr)
                misreads.append(item)
            elif event is not None and n >= WARMUP:
                latencies.append(elapsed)
            await register.send(json.dumps({"v": 1, "type": "end_sale"}))
            await until(kiosk, "state", phase="idle")
            if n % 50 == 0:
                print(f"{n}/{WARMUP + samples} cards", file=sys.stderr, flush=True)
    MISREADS.extend(misreads)
    return latencies, frames_used


MISREADS: list[str] = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--presentations", "--samples", dest="samples", type=int,
                        default=SAMPLES, help=f"cards presented (timed, after {WARMUP} warm-up)")
    args = parser.parse_args()
    started = time.perf_counter()
    identify = _identify_module()
    identify.CUSTOMERS = args.customers  # its builder and numbering read this
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    url, load_s = identify.build_db(out / f"identify-{identify.CUSTOMERS}.db")
    if load_s:
        print(f"loaded {identify.CUSTOMERS} customers in {load_s:.1f}s", file=sys.stderr)
    bridge = BridgeProcess(out, url)
    bridge.start(timeout=60)
    try:
        latencies, frames_used = asyncio.run(measure(bridge, identify.CUSTOMERS,
                                                     args.samples))
    finally:
        bridge.stop()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    print(json.dumps({"customers": identify.CUSTOMERS, "presentations": args.samples,
                      "ms_p50": round(statistics.median(latencies), 1),
                      "ms_p99": round(q[98], 1),
                      "frames_p50": statistics.median(frames_used),
                      "misreads": len(MISREADS),
                      "run_s": round(time.perf_counter() - started)}))


if __name__ == "__main__":
    main()
