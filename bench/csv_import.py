"""A 100,000-row Lightspeed customer CSV through the import: preview, import, import again,
undo — each timed, into a fresh SQLite registry.

The import is timed as the command line and the back office run it: ``apply`` of the preview
(the rows are matched against the registry again, not read again).  ``run_s`` is a second,
identical file through ``run`` (read, check, apply in one call) into a second fresh registry.

    python bench/csv_import.py [--rows 100000] [--out bench/out/csv_import]

The people are bench/generate.py's (realistic Swedish names, personnummer, mobiles, e-mails),
written in the columns of a Lightspeed X-Series customer export with the mobile in national
form ("070-123 45 67"), so that every row goes through the same checks a shop's file does.
The file is handed over open, as the command line does: it is read a row at a time and its
rows, as read, are stored with the preview in the database.  Progress goes to stderr; the LAST
line on stdout is one flat JSON object:
``{"rows": …, "preview_s": …, "import_s": …, "reimport_skipped": …, "undo_s": …, "run_s": …}``,
the CPU time of this process in each (``…_cpu_s``: the machine may be shared, and CPU time
moves less with other people's work than the clock does), ``file_mb``, and how much the
process's peak resident memory grew during the preview and during the import
(``preview_rss_mb``, ``import_rss_mb``).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import generate  # noqa: E402
from cashier_bridge.registry import Registry  # noqa: E402
from cashier_bridge.registry.csv_io import HEADER  # noqa: E402
from cashier_bridge.registry.import_worker import batch_gc  # noqa: E402

T = TypeVar("T")
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


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


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
    timings: dict[str, float] = {}

    def timed(name: str, work: Callable[[], T]) -> T:
        started, cpu = time.perf_counter(), time.process_time()
        peak = peak_rss_mb()
        with batch_gc():  # as the command line and the back office's worker run it
            result = work()
        timings[f"{name}_s"] = round(time.perf_counter() - started, 2)
        timings[f"{name}_cpu_s"] = round(time.process_time() - cpu, 2)
        timings[f"{name}_rss_mb"] = round(peak_rss_mb() - peak, 1)
        return result

    registry = Registry.open(f"sqlite:///{args.out / 'registry.db'}")
    try:
        with source.open("rb") as data:
            preview = timed("preview", lambda: registry.imports.preview(
                data, filename=source.name, progress=progress))
        assert preview.creates == args.rows and not preview.errors, preview.errors[:5]

        report = timed("import", lambda: registry.imports.apply(
            preview, actor="bench", progress=progress))
        assert report.created == args.rows and not report.errors, report.errors[:5]

        with source.open("rb") as data:
            again = registry.imports.run(data, filename=source.name, actor="bench")
        assert again.created == again.updated == 0

        undone = timed("undo", lambda: registry.imports.undo(
            report.batch_id or 0, actor="bench", progress=progress))
        assert undone.removed == args.rows and registry.customers.count() == 0
    finally:
        registry.close()
    other = Registry.open(f"sqlite:///{args.out / 'registry-run.db'}")
    try:
        with source.open("rb") as data:
            ran = timed("run", lambda: other.imports.run(data, filename=source.name,
                                                         actor="bench", progress=progress))
        assert ran.created == args.rows and not ran.errors, ran.errors[:5]
    finally:
        other.close()
    print(json.dumps({"rows": args.rows, "preview_s": timings["preview_s"],
                      "import_s": timings["import_s"], "reimport_skipped": again.skipped,
                      "undo_s": timings["undo_s"], "run_s": timings["run_s"],
                      **{k: v for k, v in timings.items() if k.endswith("_cpu_s")},
                      "file_mb": round(source.stat().st_size / 2**20, 1),
                      "preview_rss_mb": timings["preview_rss_mb"],
                      "import_rss_mb": timings["import_rss_mb"]}))

if __name__ == "__main__":
    main()
