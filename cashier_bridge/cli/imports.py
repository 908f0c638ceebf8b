"""``selfreg-bridge import-csv | import-undo | imports``: CSV imports from the command line.

Progress goes to stderr (a line that rewrites itself on a terminal, a line per 10 % when
redirected), row errors too, one a line, as the file is read; the summary goes to stdout.
``import-csv`` exits 1 when any row failed or the file cannot be read (past a limit of
:mod:`.registry.csv_io`: the message says where and which), so a script notices.
"""

from __future__ import annotations

import argparse
import io
import sys
from importlib import resources
from typing import BinaryIO, TextIO

from cashier_bridge.registry import Registry
from cashier_bridge.registry.import_worker import batch_gc
from cashier_bridge.registry.imports import AlreadyUndone, Batch, Preview, RowIssue

DEMO_CSV = "demo_customers.csv"
SHOW_PROGRESS_FROM = 5_000  # rows; small files finish before a bar means anything


class _Bar:
    def __init__(self, out: TextIO = sys.stderr) -> None:
        self.out = out
        self.tty = out.isatty()
        self.last: tuple[str, int] = ("", -1)

    def __call__(self, phase: str, done: int, total: int) -> None:
        if total < SHOW_PROGRESS_FROM:
            return
        tenth = done * 10 // total
        if self.tty:
            print(f"\r{phase}: {done:,}/{total:,} rows ({done * 100 // total} %)", end="",
                  file=self.out, flush=True)
            if done == total:
                print(file=self.out)
        elif (phase, tenth) != self.last:
            self.last = (phase, tenth)
            print(f"{phase}: {done:,}/{total:,} rows ({tenth * 10} %)", file=self.out,
                  flush=True)


def run(db_url: str, args: argparse.Namespace, region: str) -> int:
    registry = Registry.open(db_url)
    try:
        if args.command == "imports":
            return _list(registry)
        if args.command == "import-undo":
            return _undo(registry, args.batch)
        with batch_gc():  # this process does nothing else meanwhile
            return _import(registry, args.file, region, dry_run=args.dry_run, again=args.again)
    finally:
        registry.close()


def _open(file: str) -> tuple[BinaryIO, str]:
    if file == "demo":
        return (io.BytesIO(resources.files("cashier_bridge").joinpath("data", DEMO_CSV)
                           .read_bytes()), DEMO_CSV)
    return open(file, "rb"), file.replace("\\", "/").rsplit("/", 1)[-1]


def _import(registry: Registry, file: str, region: str, *, dry_run: bool, again: bool) -> int:
    try:
        source, name = _open(file)
    except OSError as exc:
        print(f"cannot read {file}: {exc.strerror}", file=sys.stderr)
        return 2
    bar = _Bar()
    seen: set[tuple[int, str]] = set()

    def found(issue: RowIssue) -> None:  # every row error, as the file is read
        seen.add((issue.line, issue.reason))
        print(str(issue), file=sys.stderr)

    with source:
        # The file is read a row at a time; its rows, as read, wait in the database.
        preview = registry.imports.preview(source, filename=name, region=region, actor="cli",
                                           progress=bar, on_issue=found)
    assert preview.id is not None
    try:
        if preview.header_error:
            # The message says where (the header, or the line) and what the limit is.
            print(preview.header_error, file=sys.stderr)
            print("nothing imported")
            return 1
        _columns(preview)
        if dry_run:
            print(f"would create {preview.creates}, update {preview.updates}, leave "
                  f"{preview.unchanged} unchanged; {preview.failed} rows cannot be imported "
                  "(nothing was changed)")
            for row in preview.sample(5):
                values = ", ".join(f"{k}={v}" for k, v in row["values"].items())
                print(f"  line {row['line']}: {row['action']} {values}")
            if preview.earlier:
                print(_earlier(preview.earlier))
            return 1 if preview.failed else 0
        if preview.earlier and not again:
            print(f"{_earlier(preview.earlier)}; nothing imported (--again imports it anyway)")
            print("created 0, updated 0, skipped 0, errors 0")
            return 0

        def late(issue: RowIssue) -> None:  # found by the import, not by the check before
            if (issue.line, issue.reason) not in seen:
                print(str(issue), file=sys.stderr)

        report = registry.imports.apply(preview, actor="cli", progress=bar, on_issue=late)
    finally:
        registry.imports.discard(preview.id)
    print(f"created {report.created}, updated {report.updated}, skipped {report.skipped}, "
          f"errors {report.failed} (batch {report.batch_id}; "
          f"'selfreg-bridge import-undo {report.batch_id}' undoes it)")
    return 1 if report.failed else 0


def _columns(preview: Preview) -> None:
    if preview.ignored_columns:
        print(f"columns ignored (unknown): {', '.join(preview.ignored_columns)}",
              file=sys.stderr)
    if preview.not_kept_columns:
        print(f"columns read but not kept: {', '.join(preview.not_kept_columns)}",
              file=sys.stderr)


def _earlier(batch: Batch) -> str:
    return (f"this file was already imported as batch {batch.id} on "
            f"{batch.started_at:%Y-%m-%d %H:%M} UTC by {batch.actor}")


def _undo(registry: Registry, batch_id: int) -> int:
    try:
        result = registry.imports.undo(batch_id, actor="cli", progress=_Bar())
    except AlreadyUndone as exc:
        print(f"nothing undone: {exc}", file=sys.stderr)
        return 1
    for code, why in result.not_undone:
        print(f"customer {code}: not undone, {why}", file=sys.stderr)
    print(f"batch {batch_id} undone: removed {result.removed}, restored {result.restored}, "
          f"not undone {len(result.not_undone)}")
    return 0


def _list(registry: Registry) -> int:
    print("batch\tstarted\tby\tfile\trows\tcreated\tupdated\tskipped\tfailed\tundone")
    for b in registry.imports.list(limit=1000):
        undone = f"{b.undone_at:%Y-%m-%d %H:%M} by {b.undone_by}" if b.undone_at else "-"
        print("\t".join(str(v) for v in (
            b.id, f"{b.started_at:%Y-%m-%d %H:%M}", b.actor, b.filename or "-", b.rows_total,
            b.created, b.updated, b.skipped, b.failed, undone)))
    return 0
