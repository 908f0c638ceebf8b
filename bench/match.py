"""Exact-match latency at chain scale: customer code, personal ID and phone lookups through the
registry's real ``registry.customers.find`` path, with 1,000,000 and 10,000,000 customers, on
SQLite and PostgreSQL.

    python bench/match.py [--sizes 1000000,10000000] [--backends sqlite,postgresql]

The customer sets come from bench/generate.py (same seed, so the 1M set is the first million of
the 10M set) and are built once, then cached under bench/out/ (SQLite: one file per size;
PostgreSQL: a kept cluster in bench/out/pg, one database per size, started for the run and
stopped after it).  A personal-ID lookup is timed from the 12-digit number, so it includes the
HMAC fingerprint the bridge computes before it looks up; the other two go straight to find().
Lookups are of randomly chosen existing customers, the three kinds interleaved, after a warm-up.
Before measuring, the database's files are read once so that they sit in the OS page cache, as
on a server that has been running for a while (``--cold`` skips that); a 10M database is about
5 GB, which a chain's database server holds in memory.

Last line: one flat JSON object with ``<backend>_<size>_ms_p50`` and ``<backend>_<size>_ms_p99``
over all three kinds, ``<backend>_<size>_<kind>_ms_p50``/``_ms_p99`` per kind, the machine's
1-minute load average when that measurement ended (``<backend>_<size>_loadavg``: on a shared
2-core machine the p99 follows it), and the build figures of the cached databases
(``<backend>_<size>_load_s``, ``<backend>_<size>_mb``).  ``registry.customers.find`` is the
look-up a lane's identification runs (registry/matching.py: compiled once per key kind, on the
driver's own connection).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import generate  # noqa: E402

from cashier_bridge.devtools.pg_cluster import Cluster  # noqa: E402
from cashier_bridge.lanes.lane import MatchKey  # noqa: E402
from cashier_bridge.registry import Registry  # noqa: E402

OUT = ROOT / "bench" / "out"
SIZES = (1_000_000, 10_000_000)
BACKENDS = ("sqlite", "postgresql")
KINDS = ("customer_code", "personal_id", "phone")
SAMPLES = 1000  # per kind
WARMUP = 100  # per kind, not counted
# The benchmark cluster: no durability (as in the tests' cluster), no WAL for the index builds
# of a bulk load (wal_level=minimal), few checkpoints while loading, a modest buffer cache.
PG_SETTINGS = {
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
    "shared_buffers": "512MB",
    "maintenance_work_mem": "1GB",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- building (cached) -------------------------------------------------------------------------


def _count(url: str) -> int:
    registry = Registry.open(url)
    try:
        return registry.customers.count()
    finally:
        registry.close()


def _load(url: str, size: int, seed: int, meta: Path) -> dict[str, object]:
    log(f"building {url} with {size:,} customers (cached for later runs)")
    result = generate.load(url, size, seed)
    log(f"built: {json.dumps(result)}")
    meta.write_text(json.dumps(result))
    return result


def prewarm(files: list[Path]) -> float:
    """Read the files once, to the OS page cache; the seconds it took."""
    started = time.perf_counter()
    for file in files:
        with file.open("rb", buffering=0) as handle:
            while handle.read(8 << 20):
                pass
    return time.perf_counter() - started


def sqlite_files(url: str) -> list[Path]:
    path = Path(url.removeprefix("sqlite:///"))
    return [p for p in (path, Path(f"{path}-wal")) if p.exists()]


def pg_files(cluster: Cluster, name: str) -> list[Path]:
    oid = cluster.execute(f"SELECT oid FROM pg_database WHERE datname = '{name}'")[0][0]
    return sorted(p for p in (cluster.data / "base" / str(oid)).iterdir() if p.is_file())


def sqlite_database(out: Path, size: int, seed: int, rebuild: bool) -> tuple[str, dict]:
    path = out / f"match-{size}-seed{seed}.db"
    meta = path.with_suffix(".json")
    url = f"sqlite:///{path}"
    if path.exists() and not rebuild and meta.exists() and _count(url) == size:
        return url, json.loads(meta.read_text())
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), meta):
        stale.unlink(missing_ok=True)
    result = _load(url, size, seed, meta)
    result["mb"] = round(path.stat().st_size / 2**20)
    meta.write_text(json.dumps(result))
    return url, result


def pg_name(size: int, seed: int) -> str:
    return f"match_{size}_seed{seed}"


def pg_database(cluster: Cluster, out: Path, size: int, seed: int,
                rebuild: bool) -> tuple[str, dict]:
    name = pg_name(size, seed)
    meta = out / f"match-pg-{size}-seed{seed}.json"
    if cluster.database_exists(name) and not rebuild and meta.exists() \
            and _count(cluster.url(name)) == size:
        return cluster.url(name), json.loads(meta.read_text())
    meta.unlink(missing_ok=True)
    cluster.drop_database(name)
    url = cluster.create_database(name)
    result = _load(url, size, seed, meta)
    # What autovacuum would soon do on a live server: statistics, hint bits, visibility map.
    started = time.perf_counter()
    cluster.execute("VACUUM (ANALYZE) customers", database=name)
    result["vacuum_s"] = round(time.perf_counter() - started, 1)
    result["mb"] = round(cluster.database_size(name) / 2**20)
    meta.write_text(json.dumps(result))
    return url, result


# --- measuring ---------------------------------------------------------------------------------


def measure(url: str, size: int, seed: int, samples: int) -> dict[str, list[float]]:
    """Milliseconds per lookup, per kind (warm-up lookups left out)."""
    wanted = samples + WARMUP
    # Not every customer has a personnummer or a phone: draw enough to have ``wanted`` of each.
    people = generate.sample(size, min(size, int(wanted * 1.4) + 20), seed)
    with_pnr = [p for p in people if p.personnummer]
    with_phone = [p for p in people if p.phone]
    if min(len(with_pnr), len(with_phone)) < wanted:
        raise SystemExit(f"{size} customers are too few for {samples} samples per kind")
    registry = Registry.open(url)
    source = registry
    lookups: dict[str, list[tuple[Callable[[], object], str]]] = {kind: [] for kind in KINDS}
    for p in people[:wanted]:
        lookups["customer_code"].append((_by_code(source, p.customer_code), p.customer_code))
    for p in with_pnr[:wanted]:
        lookups["personal_id"].append((_by_pnr(source, p.personnummer or ""),
                                       p.customer_code))
    for p in with_phone[:wanted]:
        lookups["phone"].append((_by_phone(source, p.phone or ""), p.customer_code))
    # Interleave the kinds, so that none of them always runs right after another.
    order = [(kind, n) for n in range(wanted) for kind in KINDS]
    random.Random(seed).shuffle(order)
    order.sort(key=lambda item: item[1] >= WARMUP)  # every warm-up lookup first (stable)
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    gc.collect()
    try:
        for kind, n in order:
            lookup, expected = lookups[kind][n]
            started = time.perf_counter_ns()
            found = lookup()
            elapsed = (time.perf_counter_ns() - started) / 1e6
            if found is None or found[0].customer_code != expected:  # type: ignore[index]
                raise SystemExit(f"{kind} lookup #{n} found {found!r}, expected {expected}")
            if n >= WARMUP:
                times[kind].append(elapsed)
    finally:
        registry.close()
    return times


def _by_code(registry: Registry, code: str) -> Callable[[], object]:
    keys = [MatchKey(kind="customer_code", value=code, reading="customer_code")]
    return lambda: registry.customers.find(keys)


def _by_pnr(registry: Registry, number: str) -> Callable[[], object]:
    def lookup() -> object:
        fingerprint = registry.fingerprint(number)
        return registry.customers.find([MatchKey(kind="personal_id_fingerprint", value=fingerprint,
                                                 reading="personnummer")])
    return lookup


def _by_phone(registry: Registry, e164: str) -> Callable[[], object]:
    keys = [MatchKey(kind="phone", value=e164, reading="phone")]
    return lambda: registry.customers.find(keys)


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def summarise(prefix: str, times: dict[str, list[float]]) -> dict[str, float]:
    every = [t for kind in KINDS for t in times[kind]]
    figures = {f"{prefix}_ms_p50": round(statistics.median(every), 3),
               f"{prefix}_ms_p99": round(percentile(every, 99), 3)}
    for kind in KINDS:
        figures[f"{prefix}_{kind}_ms_p50"] = round(statistics.median(times[kind]), 3)
        figures[f"{prefix}_{kind}_ms_p99"] = round(percentile(times[kind], 99), 3)
    return figures


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="comma-separated customer counts (default %(default)s)")
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="comma-separated: sqlite, postgresql (default %(default)s)")
    parser.add_argument("--samples", type=int, default=SAMPLES, help="lookups per kind")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT, help="cache directory")
    parser.add_argument("--rebuild", action="store_true", help="ignore cached databases")
    parser.add_argument("--cold", action="store_true",
                        help="do not read the database into the page cache first")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for backend in backends:
        if backend not in BACKENDS:
            parser.error(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    args.out.mkdir(parents=True, exist_ok=True)

    result: dict[str, object] = {"samples_per_kind": args.samples, "seed": args.seed}
    for backend in backends:
        cluster = None
        if backend == "postgresql":
            cluster = Cluster(args.out / "pg", keep=True, settings=PG_SETTINGS)
            cluster.start()
        try:
            for size in sizes:
                if cluster is None:
                    url, built = sqlite_database(args.out, size, args.seed, args.rebuild)
                    files = sqlite_files(url)
                else:
                    url, built = pg_database(cluster, args.out, size, args.seed, args.rebuild)
                    files = pg_files(cluster, pg_name(size, args.seed))
                prefix = f"{backend}_{size}"
                if not args.cold:
                    log(f"reading {sum(f.stat().st_size for f in files) >> 20} MB of {prefix} "
                        f"into the page cache: {prewarm(files):.1f}s")
                log(f"measuring {prefix}: {args.samples} lookups per kind")
                figures = summarise(prefix, measure(url, size, args.seed, args.samples))
                # Tail latency on a shared machine follows its load: say what it was.
                figures[f"{prefix}_loadavg"] = round(os.getloadavg()[0], 1)
                log(json.dumps(figures))
                result.update(figures)
                result[f"{prefix}_load_s"] = built.get("seconds")
                result[f"{prefix}_mb"] = built.get("mb")
        finally:
            if cluster is not None:
                cluster.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
