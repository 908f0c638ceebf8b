"""Parse every identity sample in tests/fixtures repeatedly; time per payload for each kind.

Each parser first gets one untimed pass over its samples: its first call loads what it keeps for
the life of the process (phonenumbers reads a region's metadata on first use, about 1.5 ms for
Sweden), which the figures per payload leave out and ``<kind>_first_pass_ms`` reports.

Last line of stdout: ``{"<kind>_us_per_payload": ..., "<kind>_first_pass_ms": ...}``.  Target
(issue 19): under 200 us for every kind.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cashier_bridge.identity import aamva, customer_code, mecard, mrz, personnummer, phone, vcard
from cashier_bridge.identity.errors import IdentityError

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
TODAY = dt.date(2025, 6, 1)
ROUNDS = 5
MIN_S = 0.5


def _csv(path: Path, column: str) -> list[str]:
    with path.open(newline="") as fh:
        return [row[column] for row in csv.DictReader(fh)]


def payloads() -> dict[str, tuple[Callable[[str | bytes], object], list]]:
    pnr = FIXTURES / "personnummer" / "personnummer-meta"
    personal = (_csv(pnr / "allPins.csv", "testpersonnummer")
                + _csv(pnr / "list.csv", "separated_format"))
    coords = _csv(pnr / "allCoords.csv", "testsamordningsnummer")
    mecards = [line for name in ("ParsedReaderResultTestCase_mecard.txt",
                                 "AddressBookParsedResultTestCase_mecard.txt",
                                 "AddressBookParsedResultTestCase_bizcard.txt")
               for line in (FIXTURES / "vcard/zxing-parser-tests" / name).read_text().splitlines()
               if line.strip()]
    phones = ["070-123 45 67", "0701234567", "+46701234567", "0046 70 123 45 67",
              "08-123 456 78", "+1 415 555 2671"]
    codes = [f"{i:012d}" for i in range(1000)]
    return {
        "personnummer": (lambda t: personnummer.parse(t, today=TODAY), personal),
        "samordningsnummer": (lambda t: personnummer.parse(t, today=TODAY), coords),
        "phone": (lambda t: phone.validate(t, "SE"), phones),
        "customer_code": (lambda t: customer_code.validate(t), codes),
        "vcard": (vcard.parse_all,
                  [p.read_bytes() for p in sorted((FIXTURES / "vcard").rglob("*.vcf"))]),
        "mecard": (mecard.parse, mecards),
        "aamva": (lambda t: aamva.parse(t, today=TODAY),
                  [p.read_text(errors="replace")
                   for p in sorted((FIXTURES / "aamva").rglob("*.txt"))]),
        "mrz": (lambda t: mrz.parse(t, today=TODAY),
                _csv(FIXTURES / "mrz/cheminfo-mrz/mrz_samples.csv", "mrz")),
    }


def main() -> None:
    result: dict[str, float] = {}
    for kind, (parse, items) in payloads().items():
        start = time.perf_counter()
        for item in items:
            with contextlib.suppress(IdentityError):
                parse(item)
        first_pass = time.perf_counter() - start
        start = time.perf_counter()
        rounds = 0
        # At least ROUNDS rounds and MIN_S seconds: six phone numbers once are 30 calls.
        while rounds < ROUNDS or time.perf_counter() - start < MIN_S:
            for item in items:
                # The broken samples count too: rejecting them is part of the work.
                with contextlib.suppress(IdentityError):
                    parse(item)
            rounds += 1
        elapsed = time.perf_counter() - start
        result[f"{kind}_us_per_payload"] = round(elapsed / (rounds * len(items)) * 1e6, 1)
        result[f"{kind}_first_pass_ms"] = round(first_pass * 1000, 1)
        print(f"{kind}: {len(items)} payloads x {rounds}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
