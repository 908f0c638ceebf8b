"""Large, realistic, deterministic customer sets for the registry (chain-scale benchmarks).

    python bench/generate.py --rows 1000000 --db sqlite:///bench/out/c1m.db [--seed 1]
    python bench/generate.py --rows 10000000 --db postgresql+psycopg://…/db

Every generated customer is a function of ``(seed, row index)`` alone, so a 1M set is the first
million rows of the 10M set with the same seed, and :func:`person` re-creates any row without
generating the others (bench/match.py uses that to know what to look up).

What a row looks like:

- first name (by sex) and surname drawn with the frequencies in ``bench/data/swedish_names.tsv``
  (SCB name statistics, approximate; see that file);
- a valid personnummer (92 % of rows): a real birth date between 1930 and 2008 weighted by an
  approximate Swedish age pyramid, a birth number never ``000``, the ninth digit even for women
  and odd for men (and the first name of that sex), Luhn check digit;
- a Swedish mobile number in E.164 (88 %), 070/072/073/076/079;
- an e-mail made from the name (70 %) on the reserved example.com/.net/.org domains;
- a customer code, 8 digits from 10000000.

Uniqueness without bookkeeping: the personnummer and phone of row i come from a keyed
permutation (a Feistel network with cycle-walking) of i over the space of possible values, so two
rows never share one; e-mails carry the row number.  Generation is vectorised with numpy per
block of 65,536 rows.

Loading goes through ``registry.imports.bulk_load`` (cashier_bridge/registry/bulk.py: COPY on
PostgreSQL, large executemany transactions on SQLite with the plain indexes built after the
load).  Progress goes to stderr; the last line on stdout is one JSON object:
``{"rows": …, "seconds": …, "rows_per_s": …, "backend": …, …}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cashier_bridge.registry import NewCustomer, Registry, bulk  # noqa: E402

NAMES_TSV = Path(__file__).resolve().parent / "data" / "swedish_names.tsv"
BLOCK = 65_536  # rows generated together; fixed, so that row i never depends on the caller
CODE_BASE = 10_000_000
SHARE_PERSONNUMMER = 0.92
SHARE_PHONE = 0.88
SHARE_EMAIL = 0.70
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
MOBILE_PREFIXES = ("70", "72", "73", "76", "79")  # after +46; every 07X number in them is valid
PHONE_SPACE = len(MOBILE_PREFIXES) * 10_000_000
SQLITE_CACHE_MIB = 4096
FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR = 1930, 2008
# Approximate people alive in Sweden per birth year (thousands), read off SCB's population
# pyramid by eye and interpolated linearly: fewer of the oldest, the 1940s and 1960s booms, the
# large early-1990s cohorts.  Serial numbers per date are handed out in proportion.
_AGE_PYRAMID = ((1930, 25), (1935, 45), (1940, 75), (1945, 105), (1950, 98), (1955, 100),
                (1960, 112), (1965, 125), (1970, 118), (1975, 108), (1980, 110), (1985, 115),
                (1990, 135), (1995, 112), (2000, 105), (2005, 118), (2008, 125))
_ASCII = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "ü": "u", "-": ""})
_U64 = np.uint64


# --- tables ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """One kind of name with cumulative weights for inverse-CDF sampling."""

    names: tuple[str, ...]
    counts: tuple[int, ...]
    cumulative: np.ndarray  # float64, last element 1.0

    def draw(self, uniform: np.ndarray) -> np.ndarray:
        """Indices into ``names`` for uniforms in [0, 1)."""
        return np.searchsorted(self.cumulative, uniform, side="right")


@cache
def name_tables(path: Path = NAMES_TSV) -> dict[str, Names]:
    """``{"female": Names, "male": Names, "surname": Names}`` from the TSV."""
    rows: dict[str, list[tuple[str, int]]] = {"female": [], "male": [], "surname": []}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#") or line.startswith("kind\t"):
            continue
        kind, name, count = line.split("\t")
        rows[kind].append((name, int(count)))
    tables = {}
    for kind, entries in rows.items():
        counts = np.array([count for _, count in entries], dtype=np.float64)
        cumulative = np.cumsum(counts) / counts.sum()
        cumulative[-1] = 1.0
        tables[kind] = Names(tuple(name for name, _ in entries),
                             tuple(int(c) for c in counts), cumulative)
    return tables


@dataclass(frozen=True)
class _Dates:
    """Every possible birth date with how many serial numbers it may hand out."""

    days: tuple[dt.date, ...]
    yyyymmdd: tuple[str, ...]
    capacity: np.ndarray  # int64 per date, 1..999
    ends: np.ndarray  # cumulative capacity: date d owns slots [ends[d] - capacity[d], ends[d])
    date_luhn: np.ndarray  # Luhn sum of the date's six YYMMDD digits

    @property
    def slots(self) -> int:
        return int(self.ends[-1])


def _luhn_double(digit: int) -> int:
    return digit * 2 - 9 if digit >= 5 else digit * 2


@cache
def _dates() -> _Dates:
    years = [y for y, _ in _AGE_PYRAMID]
    weights = [w for _, w in _AGE_PYRAMID]
    peak = max(weights)
    days, strings, capacity, luhn = [], [], [], []
    day = dt.date(FIRST_BIRTH_YEAR, 1, 1)
    while day.year <= LAST_BIRTH_YEAR:
        weight = float(np.interp(day.year, years, weights))
        days.append(day)
        strings.append(f"{day:%Y%m%d}")
        capacity.append(max(1, round(999 * weight / peak)))
        digits = [int(c) for c in f"{day:%y%m%d}"]
        # Luhn over YYMMDDNNN: positions 1, 3, 5, 7, 9 are doubled.
        luhn.append(sum(_luhn_double(d) if k % 2 == 0 else d for k, d in enumerate(digits)))
        day += dt.timedelta(days=1)
    cap = np.array(capacity, dtype=np.int64)
    return _Dates(tuple(days), tuple(strings), cap, np.cumsum(cap), np.array(luhn, np.int64))


# Luhn contribution of the serial's three digits (positions 7, 8, 9 of YYMMDDNNN).
_SERIAL_LUHN = np.array([_luhn_double(s // 100) + (s // 10) % 10 + _luhn_double(s % 10)
                         for s in range(1000)], dtype=np.int64)
_SERIAL_TEXT = tuple(f"{s:03d}" for s in range(1000))


def capacity() -> int:
    """How many distinct personnummer the generator can hand out (about 22 million)."""
    return _dates().slots


# --- a keyed permutation ---------------------------------------------------------------------


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a cheap, well-spread 64-bit hash (wrapping arithmetic)."""
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def _feistel(x: np.ndarray, half: int, keys: tuple[int, ...]) -> np.ndarray:
    mask = _U64((1 << half) - 1)
    left, right = x >> _U64(half), x & mask
    for key in keys:
        left, right = right, left ^ (_mix(right ^ _U64(key)) & mask)
    return (left << _U64(half)) | right


def permute(index: np.ndarray, domain: int, key: int) -> np.ndarray:
    """A bijection of [0, domain) applied to ``index`` (each < domain), keyed by ``key``.

    A balanced Feistel network is a permutation of [0, 4**half); values that land outside the
    domain are sent through again (cycle-walking) until they fall inside, which keeps it a
    permutation of the domain.  The domain fills at least a quarter of the network's range, so
    on average a value needs under four passes.
    """
    half = max(1, ((domain - 1).bit_length() + 1) // 2)
    seeds = np.random.SeedSequence([key, domain]).generate_state(6, dtype=np.uint64)
    keys = tuple(int(k) for k in seeds)
    y = _feistel(index.astype(np.uint64), half, keys)
    outside = y >= _U64(domain)
    while outside.any():
        y[outside] = _feistel(y[outside], half, keys)
        outside = y >= _U64(domain)
    return y.astype(np.int64)


# --- people ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    index: int
    customer_code: str
    first_name: str
    last_name: str
    female: bool
    personnummer: str | None  # 12 digits
    birth_date: dt.date | None
    phone: str | None  # E.164
    email: str | None


@dataclass(frozen=True)
class Block:
    """Rows ``start`` .. ``start + len(codes) - 1`` as columns."""

    start: int
    codes: list[str]
    first_names: list[str]
    last_names: list[str]
    female: list[bool]
    personnummer: list[str | None]
    birth_dates: list[dt.date | None]
    phones: list[str | None]
    emails: list[str | None]

    def __len__(self) -> int:
        return len(self.codes)

    def person(self, k: int) -> Person:
        return Person(self.start + k, self.codes[k], self.first_names[k], self.last_names[k],
                      self.female[k], self.personnummer[k], self.birth_dates[k], self.phones[k],
                      self.emails[k])


def _block(seed: int, number: int, start: int, stop: int) -> Block:
    """Rows [start, stop) of block ``number`` (which covers [number*BLOCK, (number+1)*BLOCK))."""
    dates = _dates()
    names = name_tables()
    first = number * BLOCK
    # Draw for the whole block even when only part is wanted: row i's values must not depend
    # on which rows the caller asked for.
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, number])))
    uniforms = rng.random((7, BLOCK))
    lo, hi = start - first, stop - first
    index = np.arange(start, stop, dtype=np.int64)

    # Personnummer slot -> (date, serial); the serial's parity is the sex.
    slot = permute(index, dates.slots, seed * 7 + 1)
    day = np.searchsorted(dates.ends, slot, side="right")
    offset = slot - (dates.ends[day] - dates.capacity[day])
    # offset -> serial 1..999: an affine bijection of [0, 999) (gcd(337, 999) = 1), shifted
    # per date so that sexes and serials are mixed rather than handed out in order.
    serial = 1 + (offset * 337 + day * 101) % 999
    check = (10 - (dates.date_luhn[day] + _SERIAL_LUHN[serial]) % 10) % 10
    female = (serial % 2) == 0

    fem_names = names["female"].draw(uniforms[0, lo:hi])
    male_names = names["male"].draw(uniforms[1, lo:hi])
    surnames = names["surname"].draw(uniforms[2, lo:hi])
    has_pnr = uniforms[3, lo:hi] < SHARE_PERSONNUMMER
    has_phone = uniforms[4, lo:hi] < SHARE_PHONE
    has_email = uniforms[5, lo:hi] < SHARE_EMAIL
    style = (uniforms[6, lo:hi] * 12).astype(np.int64)  # e-mail style and domain
    phone = permute(index, PHONE_SPACE, seed * 7 + 2)

    female_l = female.tolist()
    given = _given_names()
    first = np.where(female, fem_names, len(names["female"].names) + male_names).tolist()
    last = surnames.tolist()
    firsts = [given.names[k] for k in first]
    lasts = [names["surname"].names[k] for k in last]
    pnrs: list[str | None] = []
    births: list[dt.date | None] = []
    for has, d, s, c in zip(has_pnr.tolist(), day.tolist(), serial.tolist(), check.tolist(),
                            strict=True):
        if has:
            pnrs.append(f"{dates.yyyymmdd[d]}{_SERIAL_TEXT[s]}{c}")
            births.append(dates.days[d])
        else:
            pnrs.append(None)
            births.append(None)
    phones = [f"+46{MOBILE_PREFIXES[p // 10_000_000]}{p % 10_000_000:07d}" if has else None
              for has, p in zip(has_phone.tolist(), phone.tolist(), strict=True)]
    # The row number makes an e-mail unique; names carry no digits, so "anna.ek" + "12" can
    # never equal "anna.ek1" + "2".
    styles = _email_styles()
    surname_ascii = _surnames_ascii()
    emails = [f"{styles[s % 4][f]}{surname_ascii[n]}{i}@{EMAIL_DOMAINS[s // 4]}" if has
              else None
              for has, f, n, i, s in zip(has_email.tolist(), first, last, index.tolist(),
                                         style.tolist(), strict=True)]
    codes = [str(CODE_BASE + i) for i in range(start, stop)]
    return Block(start, codes, firsts, lasts, female_l, pnrs, births, phones, emails)


@cache
def _given_names() -> Names:
    """Women's then men's first names in one table (indices: women's first)."""
    names = name_tables()
    both = names["female"].names + names["male"].names
    return Names(both, names["female"].counts + names["male"].counts, np.ones(1))


def _ascii(name: str) -> str:
    return name.lower().translate(_ASCII)


@cache
def _email_styles() -> tuple[tuple[str, ...], ...]:
    """Per style, the part of the local part before the surname, per first name."""
    given = [_ascii(name) for name in _given_names().names]
    return (tuple(f"{g}." for g in given), tuple(given), tuple(f"{g[0]}." for g in given),
            tuple(f"{g}_" for g in given))


@cache
def _surnames_ascii() -> tuple[str, ...]:
    return tuple(_ascii(name) for name in name_tables()["surname"].names)


def blocks(rows: int, seed: int = 1, start: int = 0) -> Iterator[Block]:
    """Rows [start, start + rows) in blocks (the first and last may be partial)."""
    stop = start + rows
    if stop > capacity() or stop > PHONE_SPACE:
        raise ValueError(f"at most {min(capacity(), PHONE_SPACE):,} rows per seed")
    number = start // BLOCK
    while start < stop:
        end = min(stop, (number + 1) * BLOCK)
        yield _block(seed, number, start, end)
        start, number = end, number + 1


def person(index: int, seed: int = 1) -> Person:
    """Row ``index`` of the set made with ``seed`` (generates its block: about 0.1 s)."""
    return next(blocks(1, seed, index)).person(0)


def sample(rows: int, count: int, seed: int = 1, *, sample_seed: int = 7,
           blocks_to_read: int = 8) -> list[Person]:
    """``count`` different rows of a ``rows``-row set, spread over a few random blocks (reading
    only those blocks: cheap even for 10M rows)."""
    rng = np.random.default_rng(sample_seed)
    available = (rows + BLOCK - 1) // BLOCK
    chosen = sorted(rng.choice(available, size=min(blocks_to_read, available), replace=False))
    people: list[Person] = []
    for number in chosen:
        start = int(number) * BLOCK
        block = next(blocks(min(BLOCK, rows - start), seed, start))
        picks = rng.choice(len(block), size=min(len(block), -(-count // len(chosen))),
                           replace=False)
        people.extend(block.person(int(k)) for k in picks)
    rng.shuffle(people)  # type: ignore[arg-type]
    return people[:count]


def new_customers(rows: int, seed: int, fingerprint: Callable[[str], str],
                  *, progress: Callable[[int], None] | None = None) -> Iterator[NewCustomer]:
    """The rows as registry input; ``fingerprint`` is the target registry's (its secret)."""
    done = 0
    for block in blocks(rows, seed):
        masked = [f"{p[:8]}-****" if p else None for p in block.personnummer]
        fps = [fingerprint(p) if p else None for p in block.personnummer]
        for k in range(len(block)):
            yield NewCustomer(
                first_name=block.first_names[k], last_name=block.last_names[k],
                phone=block.phones[k], email=block.emails[k],
                personal_id_fingerprint=fps[k], personal_id_masked=masked[k],
                birth_date=block.birth_dates[k], created_via="import",
                customer_code=block.codes[k])
        done += len(block)
        if progress is not None:
            progress(done)


# --- loading ---------------------------------------------------------------------------------


def backend_of(db_url: str) -> str:
    return db_url.split(":", 1)[0].split("+", 1)[0]


def cached_sqlite(path: Path, rows: int, seed: int = 1) -> str:
    """The URL of a SQLite registry at ``path`` holding ``rows`` generated customers, loaded the
    first time and reused after (benchmarks share big registries between runs)."""
    url = f"sqlite:///{path}"
    registry = Registry.open(url)
    try:
        have = registry.customers.count()
    finally:
        registry.close()
    if have == rows:
        print(f"{path.name} holds {rows:,} customers (cached)", file=sys.stderr)
        return url
    if have:
        raise SystemExit(f"{path} holds {have:,} customers, not {rows:,}; delete it and run "
                         "again")
    print(f"loading {rows:,} customers into {path} (once; cached)", file=sys.stderr)
    figures = load(url, rows, seed)
    print(f"loaded in {figures['seconds']}s", file=sys.stderr)
    return url


def load(db_url: str, rows: int, seed: int = 1, *, quiet: bool = False,
         sqlite_cache_mib: int = SQLITE_CACHE_MIB) -> dict[str, object]:
    """Open (creating/migrating) the registry at ``db_url`` and bulk-load ``rows`` customers
    into it; it must hold no customers yet.  Returns the figures printed as JSON."""
    # Random inserts into the unique indexes (fingerprint, phone, e-mail) touch pages all over
    # them; at ten million rows they are ~2 GB, and every page that is not in SQLite's cache
    # costs a read and a write.  A benchmark machine can spare the memory.
    default_cache, bulk.SQLITE_LOAD_CACHE_KIB = bulk.SQLITE_LOAD_CACHE_KIB, sqlite_cache_mib * 1024
    registry = Registry.open(db_url)
    try:
        have = registry.customers.count()
        if have:
            raise SystemExit(f"{db_url} already holds {have} customers; use an empty registry")
        started = time.perf_counter()
        cpu_started = time.process_time()
        last = [started]

        def report(done: int) -> None:
            now = time.perf_counter()
            if not quiet and (now - last[0] >= 10 or done == rows):
                last[0] = now
                print(f"  {done:,}/{rows:,} rows in, {now - started:.0f}s", file=sys.stderr,
                      flush=True)
            if not quiet and done == rows:
                print("  all rows in; building indexes and committing", file=sys.stderr,
                      flush=True)

        loaded = registry.imports.bulk_load(new_customers(rows, seed, registry.fingerprint,
                                                          progress=report))
        seconds = time.perf_counter() - started
        # On a shared machine the wall time says as much about the neighbours as about the
        # load; this process's own CPU time does not (PostgreSQL's server work is not in it).
        cpu = time.process_time() - cpu_started
    finally:
        registry.close()
        bulk.SQLITE_LOAD_CACHE_KIB = default_cache
    return {"rows": loaded, "seconds": round(seconds, 1),
            "rows_per_s": round(loaded / seconds) if seconds else None,
            "backend": backend_of(db_url), "seed": seed, "client_cpu_s": round(cpu, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--db", required=True, help="sqlite:///PATH or postgresql+psycopg://…")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sqlite-cache-mib", type=int, default=SQLITE_CACHE_MIB,
                        help="SQLite page cache while loading (default %(default)s)")
    parser.add_argument("--generate-only", action="store_true",
                        help="only generate the rows (and their fingerprints), to time that")
    args = parser.parse_args(argv)
    if args.generate_only:
        started = time.perf_counter()
        count = sum(1 for _ in new_customers(args.rows, args.seed, _throwaway_fingerprint()))
        seconds = time.perf_counter() - started
        result: dict[str, object] = {"rows": count, "seconds": round(seconds, 1),
                                     "rows_per_s": round(count / seconds), "backend": "none"}
    else:
        print(f"loading {args.rows:,} customers into {args.db}", file=sys.stderr)
        result = load(args.db, args.rows, args.seed, sqlite_cache_mib=args.sqlite_cache_mib)
    print(json.dumps(result))


def _throwaway_fingerprint() -> Callable[[str], str]:
    import hashlib
    import hmac

    key = b"\x00" * 32
    return lambda number: hmac.new(key, number.encode("ascii"), hashlib.sha256).hexdigest()


if __name__ == "__main__":
    main()
