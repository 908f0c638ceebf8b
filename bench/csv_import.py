"""A 100,000-row Lightspeed customer CSV through the import: preview, import, import again,
undo — each timed, into a fresh SQLite registry.

    python bench/csv_import.py [--rows 100000] [--out bench/out/csv_import]

The people are bench/generate.py's (realistic Swedish names, personnummer, mobiles, e-mails),
written in the columns of a Lightspeed X-Series customer export with the mobile in national
form ("070-123 45 67"), so that every row goes through the same checks a shop's file does.
Progress goes to stderr; the LAST line on stdout is one flat JSON object:
``{"rows": …, "preview_s": …, "import_s": …, "reimport_skipped": …, "undo_s": …}``.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import generate  # noqa: E402
from cashier_bridge.registry import Registry  # noqa: E402
from cashier_bridge.registry.csv_io import HEADER  # noqa: E402

CITIES = (("Stockholm", "114 55"), ("Göteborg", "411 19"), ("Malmö", "211 22"),
          ("Uppsala", "753 20"), ("Umeå", "903 26"))


def write_file(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, HEADER, lineterminator="\n")
        writer.writeheader()
        done = 0
        for block in generate.blocks(rows):
            for k in range(len(block)):
                p = block.person(k)
                city, postcode = CITIES[p.index % len(CITIES)]
                mobile = (f"0{p.phone[3:5]}-{p.phone[5:8]} {p.phone[8:10]} {p.phone[10:]}"
                          if p.phone else "")
                writer.writerow({
                    "customer_code": p.customer_code, "first_name": p.first_name,
                    "last_name": p.last_name, "email": p.email or "", "mobile": mobile,
                    "postal_address1": f"Storgatan {p.index % 90 + 1}",
                    "postal_city": city, "postal_postcode": postcode,
                    "postal_country_id": "SE",
                    "customer_group_name": "Stamkund" if p.index % 7 == 0 else "All Customers",
                    "date_of_birth": p.birth_date.isoformat() if p.birth_date else "",
                    "personal_id": f"{p.personnummer[:8]}-{p.personnummer[8:]}"
                    if p.personnummer else "",
                    "marketing_consent": "yes" if p.index % 3 == 0 else "",
                })
            done += len(block)
            print(f"\rwriting the file: {done}/{rows}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def progress(phase: str, done: int, total: int) -> None:
    if done == total or done % 20_000 < 5_000:
        print(f"\r{phase}: {done}/{total}   ", end="", file=sys.stderr, flush=True)
    if done == total:
        print(file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "csv_import")
    args = parser.parse_args(argv)
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    source = args.out / "lightspeed_customers.csv"
    write_file(source, args.rows)
    data = source.read_bytes()
    registry = Registry.open(f"sqlite:///{args.out / 'registry.db'}")
    try:
        started = time.perf_counter()
        preview = registry.imports.preview(data, filename=source.name, progress=progress)
        preview_s = time.perf_counter() - started
        assert preview.creates == args.rows and not preview.errors, preview.errors[:5]

        started = time.perf_counter()
        report = registry.imports.run(data, filename=source.name, actor="bench",
                                      progress=progress)
        import_s = time.perf_counter() - started
        assert report.created == args.rows and not report.errors, report.errors[:5]

        again = registry.imports.run(data, filename=source.name, actor="bench")
        assert again.created == again.updated == 0

        started = time.perf_counter()
        undone = registry.imports.undo(report.batch_id or 0, actor="bench", progress=progress)
        undo_s = time.perf_counter() - started
        assert undone.removed == args.rows and registry.count_customers() == 0
    finally:
        registry.close()
    print(json.dumps({"rows": args.rows, "preview_s": round(preview_s, 2),
                      "import_s": round(import_s, 2), "reimport_skipped": again.skipped,
                      "undo_s": round(undo_s, 2)}))


if __name__ == "__main__":
    main()
