"""Customer CSV imports as batches: check the whole file first (the preview), then apply it in
chunks with progress, remember what each row did, and undo a batch as a whole.

- **Preview** (:meth:`ImportStore.preview`) reads and checks every row and matches it against
  the registry without writing anything: how many customers the file would create, update,
  leave unchanged, and every row it cannot take, by line, column and reason.  A phone, e-mail
  or personal ID that another row of the file or another stored customer already has is a row
  error, never a crash.
- **Import** (:meth:`ImportStore.apply` of a preview, or :meth:`ImportStore.run` of a file)
  matches the rows against the registry again (it may have changed since the preview; the file
  is not read again, the preview keeps its rows as read) and applies the plan in transactions
  of :data:`TRANSACTION_ROWS`, recording in ``import_changes`` what it did to each customer with
  the values before.  New customers go in with one executemany per chunk, so 100,000 rows take
  seconds.  Rows identical to what is stored are skipped, so running a file again changes
  nothing; a file whose SHA-256 was already imported (and not undone) is reported with that
  batch (:meth:`ImportStore.earlier`), and callers ask before importing it again.
- **Undo** (:meth:`ImportStore.undo`) removes the customers a batch created, unless something
  happened to them since (a sale, a consent given at the till, an edit): those stay and are
  reported with the reason.  Customers it updated get their values from before the import back,
  unless they were changed again since.  Nothing of a sale or a consent is ever lost.

Every step is audited with the actor.  Nothing personal is logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dc_fields
from typing import Any, TextIO

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from . import csv_io
from .duplicates import email_key
from .fields import search_key
from .records import ImportReport
from .schema import audit_log, consents, customer_groups, customers, import_batches, import_changes
from .schema import sales as sales_table
from .timestamps import utcnow
from .writes import DEFAULT_GROUP, MARKETING, assign_codes, audit, group_id, insert_many

Progress = Callable[[str, int, int], None]  # (phase, rows done, rows in all)

CHUNK = 5_000  # rows per executemany and per progress report
# Rows per transaction when applying or undoing.  Each commit of a WAL database may checkpoint,
# rewriting most pages of the customers table's dozen indexes: with 5,000-row transactions a
# 100,000-row import took 1.7 times as long.  Other writers wait for one transaction (~1 s).
TRANSACTION_ROWS = 25_000
MATCH_CHUNK = 900  # values per IN (...) when matching the file against the registry
SAMPLE_ROWS = 20
_IDENTIFIERS = ("personal_id_fingerprint", "phone", "email")
_LABEL = {"personal_id_fingerprint": "personal_id"}

_STORED: Select[Any] = select(
    *customers.c, func.coalesce(customer_groups.c.name, DEFAULT_GROUP).label("customer_group")
).select_from(customers.outerjoin(customer_groups, customers.c.group_id == customer_groups.c.id))


# Its IN list expanded when it runs: SQLAlchemy compiles it once instead of coercing and naming
# each id anew for every chunk of the file.
_STORED_BY_ID: Select[Any] = _STORED.where(customers.c.id.in_(bindparam("ids", expanding=True)))


class AlreadyUndone(ValueError):
    """The batch was undone before (or does not exist); the message says which."""


@dataclass(frozen=True)
class RowIssue:
    """A row the import cannot take: where and why (the reason starts with the column)."""

    line: int
    reason: str
    column: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class Batch:
    id: int
    actor: str
    filename: str | None
    file_sha256: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    rows_total: int
    created: int
    updated: int
    skipped: int
    failed: int
    undone_at: dt.datetime | None
    undone_by: str | None
    report: dict[str, Any]

    @property
    def errors(self) -> list[RowIssue]:
        return [RowIssue(e["line"], e["reason"], e.get("column"))
                for e in self.report.get("errors", [])]


@dataclass
class Planned:
    line: int
    row: csv_io.ParsedRow
    action: str  # "create", "update" or "unchanged"
    target: Any = None  # the stored row (update, unchanged)
    changes: dict[str, Any] = field(default_factory=dict)  # column → new value (update)
    consent: bool | None = None  # to append to the consent log


@dataclass
class Preview:
    """What importing the file would do, computed without writing anything."""

    filename: str | None
    sha256: str
    header_error: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    not_kept_columns: list[str] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)
    blank: int = 0
    rows_total: int = 0  # data lines, blank ones included
    planned: list[Planned] = field(default_factory=list, repr=False)
    earlier: Batch | None = None  # the same file, imported before and not undone
    # The rows as read, and the rows that could not be read: the import matches these against
    # the registry again without reading the file again.
    parsed: list[tuple[int, csv_io.ParsedRow]] = field(default_factory=list, repr=False)
    unreadable: list[RowIssue] = field(default_factory=list, repr=False)
    names: dict[str, str] = field(default_factory=dict, repr=False)

    def count(self, action: str) -> int:
        return sum(1 for p in self.planned if p.action == action)

    @property
    def creates(self) -> int:
        return self.count("create")

    @property
    def updates(self) -> int:
        return self.count("update")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged") + self.blank

    @property
    def failed(self) -> int:
        return len(self.errors)

    def sample(self, limit: int = SAMPLE_ROWS) -> list[dict[str, Any]]:
        """The first rows that change something, as they will be stored."""
        shown = []
        for p in self.planned:
            if p.action == "unchanged":
                continue
            values = {f.name: getattr(p.row, f.name) for f in dc_fields(p.row)
                      if getattr(p.row, f.name) is not None}
            values.pop("personal_id_fingerprint", None)  # a hash, of no use to a person
            values.pop("phone_column", None)
            if p.action == "update":
                values["customer_code"] = p.target.customer_code
            shown.append({"line": p.line, "action": p.action, "values": values,
                          "changed": sorted(c for c in p.changes if not c.endswith("_id"))
                          + (["customer_group"] if "group_id" in p.changes else [])
                          + (["marketing_consent"] if p.consent is not None else [])})
            if len(shown) >= limit:
                break
        return shown


@dataclass
class BatchReport(ImportReport):
    """:class:`ImportReport` of an applied import, with its batch."""

    batch_id: int | None = None
    issues: list[RowIssue] = field(default_factory=list)
    not_kept_columns: list[str] = field(default_factory=list)


@dataclass
class UndoReport:
    batch_id: int
    removed: int = 0
    restored: int = 0
    not_undone: list[tuple[str, str]] = field(default_factory=list)  # (customer_code, why)


class ImportStore:
    """``registry.imports``: previews, imports and their undo."""

    def __init__(self, engine: Engine, writer: Engine,
                 fingerprint: Callable[[str], str]) -> None:
        self._engine = engine
        self._writer = writer
        self._fingerprint = fingerprint

    # --- reading ---------------------------------------------------------------------------

    def preview(self, data: bytes, *, filename: str | None = None, region: str = "SE",
                progress: Progress | None = None) -> Preview:
        result = self._read(data, filename=filename, region=region)
        if result.header_error:
            return result
        with self._engine.connect() as conn:
            _check(conn, result, progress)
            result.earlier = _earlier(conn, result.sha256)
        return result

    def _read(self, data: bytes, *, filename: str | None, region: str) -> Preview:
        """The file's rows read and checked on their own, not yet against the registry."""
        sha = hashlib.sha256(data).hexdigest()
        result = Preview(filename=filename, sha256=sha)
        try:
            text = csv_io.decode(data)
        except csv_io.RowError as err:
            result.header_error = str(err)
            return result
        table = csv_io.read_table(text)
        result.ignored_columns = table.ignored_columns
        result.not_kept_columns = table.not_kept
        if table.header_error:
            result.header_error = table.header_error
            return result
        result.names = table.names
        parsed = result.parsed
        for line, cells in table.rows:
            result.rows_total += 1
            if csv_io.is_blank(cells):
                result.blank += 1
                continue
            try:
                parsed.append((line, csv_io.parse_row(cells, region=region,
                                                      fingerprint=self._fingerprint,
                                                      names=table.names)))
            except csv_io.RowError as err:
                result.unreadable.append(RowIssue(line, str(err), err.column))
        result.errors = list(result.unreadable)
        return result

    def earlier(self, sha256: str) -> Batch | None:
        with self._engine.connect() as conn:
            return _earlier(conn, sha256)

    def export(self, out: TextIO) -> int:
        """Write every customer anyone may see as :data:`csv_io.HEADER` columns; returns how
        many.  The personal_id column stays empty: only a fingerprint is stored."""
        latest = (select(consents.c.customer_id, func.max(consents.c.id).label("id"))
                  .where(consents.c.purpose == MARKETING).group_by(consents.c.customer_id)
                  .subquery())
        query = (_STORED.add_columns(consents.c.granted.label("marketing_consent"))
                 .outerjoin(latest, latest.c.customer_id == customers.c.id)
                 .outerjoin(consents, consents.c.id == latest.c.id)
                 .where(customers.c.erased_at.is_(None), customers.c.merged_into_id.is_(None))
                 .order_by(customers.c.id))
        writer = csv_io.CsvWriter(out)
        count = 0
        with self._engine.connect() as conn:
            for row in conn.execution_options(yield_per=2000).execute(query):
                writer.write(row._asdict())
                count += 1
        return count

    def list(self, limit: int = 50) -> list[Batch]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(import_batches).order_by(import_batches.c.id.desc())
                                .limit(limit))
            return [_batch(row) for row in rows]

    def get(self, batch_id: int) -> Batch | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(import_batches)
                               .where(import_batches.c.id == batch_id)).first()
        return _batch(row) if row is not None else None

    # --- importing --------------------------------------------------------------------------

    def run(self, data: bytes, *, filename: str | None = None, region: str = "SE",
            actor: str = "import", progress: Progress | None = None) -> BatchReport:
        """Check the file and apply what can be applied, as one batch."""
        return self.apply(self._read(data, filename=filename, region=region), actor=actor,
                          progress=progress)

    def apply(self, preview: Preview, *, actor: str, progress: Progress | None = None
              ) -> BatchReport:
        """Import the rows of ``preview`` as one batch.  They are matched against the registry
        again first (phase "checking"): a customer stored or changed since the preview is
        updated, or makes the row an error, as if the file had been checked just now.
        ``preview`` itself is left as it was."""
        report = BatchReport(ignored_columns=preview.ignored_columns,
                             not_kept_columns=preview.not_kept_columns)
        if preview.header_error:
            report.errors.append((1, preview.header_error))
            report.issues.append(RowIssue(1, preview.header_error))
            return report
        plan = Preview(filename=preview.filename, sha256=preview.sha256,
                       ignored_columns=preview.ignored_columns,
                       not_kept_columns=preview.not_kept_columns, blank=preview.blank,
                       rows_total=preview.rows_total, parsed=preview.parsed,
                       unreadable=preview.unreadable, names=preview.names)
        with self._engine.connect() as conn:
            _check(conn, plan, progress)
        work = [p for p in plan.planned if p.action != "unchanged"]
        now = utcnow()
        with self._writer.begin() as conn:
            batch_id = conn.execute(insert(import_batches).values(
                actor=actor, filename=(plan.filename or "")[:255] or None,
                file_sha256=plan.sha256, started_at=now, rows_total=plan.rows_total)
                .returning(import_batches.c.id)).scalar_one()
            audit(conn, actor, "import_start", None,
                  {"import_batch": batch_id, "rows": plan.rows_total})
        report.batch_id = batch_id
        late: list[RowIssue] = []
        groups: dict[str, int | None] = {}
        done = 0
        if progress:
            progress("importing", 0, len(work))
        keys: dict[str, str] = {}
        for part in _chunks(work, TRANSACTION_ROWS):
            with self._writer.begin() as conn:
                for chunk in _chunks(part, CHUNK):
                    creates = [p for p in chunk if p.action == "create"]
                    updates = [p for p in chunk if p.action == "update"]
                    if creates:
                        report.created += _create(conn, creates, batch_id, actor, groups, late,
                                                  keys)
                    if updates:
                        report.updated += _update(conn, updates, batch_id, actor, groups)
                    done += len(chunk)
                    # Reported before the commit, which follows within a second: the bar moves
                    # every CHUNK rows, not every transaction.
                    if progress:
                        progress("importing", done, len(work))
        issues = sorted([*plan.errors, *late], key=lambda issue: issue.line)
        report.issues = issues
        report.errors = [(i.line, i.reason) for i in issues]
        report.skipped = plan.unchanged
        with self._writer.begin() as conn:
            conn.execute(update(import_batches).where(import_batches.c.id == batch_id).values(
                finished_at=utcnow(), created=report.created, updated=report.updated,
                skipped=report.skipped, failed=len(issues), report_json=json.dumps({
                    "errors": [{"line": i.line, "column": i.column, "reason": i.reason}
                               for i in issues],
                    "ignored_columns": plan.ignored_columns,
                    "not_kept_columns": plan.not_kept_columns,
                }, ensure_ascii=False)))
            audit(conn, actor, "import", None, {
                "import_batch": batch_id, "created": report.created,
                "updated": report.updated, "skipped": report.skipped, "failed": len(issues)})
        return report

    # --- undoing ----------------------------------------------------------------------------

    def undo(self, batch_id: int, *, actor: str, progress: Progress | None = None
             ) -> UndoReport:
        batch = self.get(batch_id)
        if batch is None:
            raise AlreadyUndone(f"there is no import batch {batch_id}")
        if batch.undone_at is not None:
            raise AlreadyUndone(f"import batch {batch_id} was undone on "
                                f"{batch.undone_at:%Y-%m-%d %H:%M} UTC by {batch.undone_by}")
        result = UndoReport(batch_id)
        with self._engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(import_changes)
                                 .where(import_changes.c.batch_id == batch_id)).scalar_one()
        done, after = 0, 0
        if progress:
            progress("undoing", 0, total)
        while True:
            with self._writer.begin() as conn:
                changes = conn.execute(
                    select(import_changes.c.id, import_changes.c.action)
                    .where(import_changes.c.batch_id == batch_id, import_changes.c.id > after)
                    .order_by(import_changes.c.id).limit(TRANSACTION_ROWS)).all()
                if not changes:
                    break
                first, last = after, changes[-1].id
                after = last
                in_chunk = (import_changes.c.batch_id == batch_id, import_changes.c.id > first,
                            import_changes.c.id <= last)
                if any(c.action == "created" for c in changes):
                    _remove_created(conn, select(import_changes.c.customer_id).where(
                        *in_chunk, import_changes.c.action == "created"), result)
                if any(c.action == "updated" for c in changes):
                    _restore_updated(conn, conn.execute(
                        select(import_changes).where(*in_chunk,
                                                     import_changes.c.action == "updated")
                        .order_by(import_changes.c.id)).all(), result, actor)
            done += len(changes)
            if progress:
                progress("undoing", done, total)
        with self._writer.begin() as conn:
            report = dict(batch.report)
            report["undo"] = {"removed": result.removed, "restored": result.restored,
                              "not_undone": [{"customer_code": code, "reason": why}
                                             for code, why in result.not_undone]}
            conn.execute(update(import_batches).where(import_batches.c.id == batch_id)
                         .values(undone_at=utcnow(), undone_by=actor,
                                 report_json=json.dumps(report, ensure_ascii=False)))
            audit(conn, actor, "import_undo", None, {
                "import_batch": batch_id, "removed": result.removed,
                "restored": result.restored, "not_undone": len(result.not_undone)})
        return result


# --- planning ---------------------------------------------------------------------------------


@dataclass
class _Claim:
    line: int
    target: Any  # the stored customer's id, or ("new", line)
    code: str | None
    name: str


def _check(conn: Connection, preview: Preview, progress: Progress | None) -> None:
    """Plan ``preview``'s rows against the registry as it is now: its planned rows and its
    errors (those of reading, which do not change, and those of matching)."""
    errors = list(preview.unreadable)
    preview.planned = _plan(conn, preview.parsed, errors, preview.names, progress,
                            preview.rows_total)
    errors.sort(key=lambda issue: issue.line)
    preview.errors = errors


def _plan(conn: Connection, parsed: Sequence[tuple[int, csv_io.ParsedRow]],
          errors: list[RowIssue], names: dict[str, str],
          progress: Progress | None, rows_total: int) -> list[Planned]:
    """Match every row against the registry and the file's other rows."""
    planned: list[Planned] = []
    claims: dict[tuple[str, Any], _Claim] = {}
    targets: dict[Any, int] = {}
    done = rows_total - len(parsed)  # blank and unreadable rows are already done with
    for chunk in _chunks(parsed, MATCH_CHUNK):
        stored = _stored_for(conn, [row for _, row in chunk])
        consent_of = _latest_consents(conn, {
            found.id for _, row in chunk if row.marketing_consent is not None
            for found in [_target(stored, row)] if found is not None and found is not False})
        for line, row in chunk:
            try:
                planned.append(_plan_row(line, row, stored, consent_of, claims, targets, names))
            except csv_io.RowError as err:
                errors.append(RowIssue(line, str(err), err.column))
        done += len(chunk)
        if progress:
            progress("checking", done, rows_total)
    return planned


def _stored_for(conn: Connection, rows: list[csv_io.ParsedRow]) -> dict[str, dict[Any, Any]]:
    """The stored customers holding any code or identifier of ``rows``, by column and value.

    Which customers is asked in plain SQL (the values are text, nothing to convert): through
    SQLAlchemy, binding ~900 values per column and chunk cost more than the look-ups.  Only the
    customers found (none, for a new shop's file) are then read as rows.
    """
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    ids: dict[str, dict[Any, int]] = {}
    for name in ("customer_code", *_IDENTIFIERS):  # our column names; the values are bound
        values = tuple({getattr(row, name) for row in rows} - {None})
        ids[name] = dict(conn.exec_driver_sql(
            f"SELECT {name}, id FROM customers WHERE {name} IN "
            f"({', '.join([mark] * len(values))})", values).all()) if values else {}
    wanted = {i for found in ids.values() for i in found.values()}
    stored = {row.id: row for row in conn.execute(_STORED_BY_ID, {"ids": list(wanted)})
              } if wanted else {}
    return {name: {value: stored[i] for value, i in found.items() if i in stored}
            for name, found in ids.items()}


def _target(stored: dict[str, dict[Any, Any]], row: csv_io.ParsedRow) -> Any:
    """The stored customer the row is about (None: a new one; False: an erased code)."""
    if row.customer_code is not None:
        found = stored["customer_code"].get(row.customer_code)
        if found is not None and (found.erased_at is not None
                                  or found.merged_into_id is not None):
            return False
        return found
    for name in _IDENTIFIERS:
        value = getattr(row, name)
        found = stored[name].get(value) if value is not None else None
        if found is not None and found.erased_at is None and found.merged_into_id is None:
            return found
    return None


def _plan_row(line: int, row: csv_io.ParsedRow, stored: dict[str, dict[Any, Any]],
              consent_of: dict[int, bool], claims: dict[tuple[str, Any], _Claim],
              targets: dict[Any, int], names: dict[str, str]) -> Planned:
    target = _target(stored, row)
    code_column = names.get("customer_code", "customer_code")
    if target is False:
        found = stored["customer_code"][row.customer_code]
        why = (f"belongs to a customer erased on {found.erased_at.date().isoformat()}"
               if found.erased_at is not None else "belongs to a customer merged into another")
        raise csv_io.RowError(f"{code_column} {row.customer_code} {why}; give the row a new "
                              "code", code_column)
    if target is None:
        if not row.first_name or not row.last_name:
            missing = "first_name" if not row.first_name else "last_name"
            raise csv_io.RowError(f"{names.get(missing, missing)} is empty; a new customer "
                                  "needs both names", names.get(missing, missing))
        key: Any = ("code", row.customer_code) if row.customer_code else ("new", line)
        plan = Planned(line, row, "create", consent=row.marketing_consent)
        checked = [n for n in _IDENTIFIERS if getattr(row, n) is not None]
        name = f"{row.first_name} {row.last_name}"
    else:
        key = target.id
        changes = {n: getattr(row, n) for n in csv_io.UPDATABLE
                   if getattr(row, n) is not None and getattr(row, n) != getattr(target, n)}
        if row.customer_group is not None and row.customer_group != target.customer_group:
            changes["customer_group"] = row.customer_group
        consent = (row.marketing_consent if row.marketing_consent is not None
                   and row.marketing_consent != consent_of.get(target.id) else None)
        plan = Planned(line, row, "update" if changes or consent is not None else "unchanged",
                       target, changes, consent)
        checked = [n for n in _IDENTIFIERS if n in changes]
        name = f"{target.first_name} {target.last_name}"
    if key in targets:
        shown = row.customer_code or (target.customer_code if target is not None else "")
        raise csv_io.RowError(f"{code_column} {shown} is also on line {targets[key]}; a file "
                              "has each customer once", code_column)
    for ident in checked:
        value = getattr(row, ident)
        owner = stored[ident].get(value)
        if owner is not None and (target is None or owner.id != target.id):
            label, shown = _as_written(row, ident, names)
            raise csv_io.RowError(f"{label} {shown} already belongs to customer "
                                  f"{owner.customer_code} ({owner.first_name} "
                                  f"{owner.last_name})", label)
        claim = claims.get((ident, value))
        if claim is not None and claim.target != key:
            label, shown = _as_written(row, ident, names)
            where = (f"already belongs to customer {claim.code} ({claim.name})" if claim.code
                     else f"is also on line {claim.line} ({claim.name})")
            raise csv_io.RowError(f"{label} {shown} {where}", label)
    targets[key] = line
    code = row.customer_code or (target.customer_code if target is not None else None)
    mine = _Claim(line, key, code, name)  # one for all of the row's identifiers
    for ident in _IDENTIFIERS:
        value = getattr(row, ident)
        if value is not None:
            claims.setdefault((ident, value), mine)
    return plan


def _as_written(row: csv_io.ParsedRow, ident: str, names: dict[str, str]) -> tuple[str, Any]:
    """The column of an identifier as the file names it, and its value as a person may see
    it (a personal ID masked)."""
    label = names.get(_LABEL.get(ident, ident), _LABEL.get(ident, ident))
    if ident == "phone":
        label = row.phone_column or "phone"
    shown = row.personal_id_masked if ident == "personal_id_fingerprint" else getattr(row, ident)
    return label, shown


def _latest_consents(conn: Connection, ids: set[int]) -> dict[int, bool]:
    if not ids:
        return {}
    latest = (select(func.max(consents.c.id)).where(consents.c.customer_id.in_(ids),
                                                     consents.c.purpose == MARKETING)
              .group_by(consents.c.customer_id))
    return dict(conn.execute(select(consents.c.customer_id, consents.c.granted)
                             .where(consents.c.id.in_(latest))).all())


def _earlier(conn: Connection, sha: str) -> Batch | None:
    row = conn.execute(select(import_batches).where(
        import_batches.c.file_sha256 == sha, import_batches.c.undone_at.is_(None),
        import_batches.c.finished_at.is_not(None))
        .order_by(import_batches.c.id.desc()).limit(1)).first()
    return _batch(row) if row is not None else None


def _batch(row: Any) -> Batch:
    return Batch(id=row.id, actor=row.actor, filename=row.filename,
                 file_sha256=row.file_sha256, started_at=row.started_at,
                 finished_at=row.finished_at, rows_total=row.rows_total, created=row.created,
                 updated=row.updated, skipped=row.skipped, failed=row.failed,
                 undone_at=row.undone_at, undone_by=row.undone_by,
                 report=json.loads(row.report_json) if row.report_json else {})


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- applying ---------------------------------------------------------------------------------

def _group(conn: Connection, name: str, groups: dict[str, int | None]) -> int | None:
    if name not in groups:
        groups[name] = group_id(conn, name)
    return groups[name]


def _create(conn: Connection, creates: Sequence[Planned], batch_id: int, actor: str,
            groups: dict[str, int | None], late: list[RowIssue], keys: dict[str, str]) -> int:
    """Insert ``creates``; ``keys`` caches search keys (a file has few distinct names)."""
    now = utcnow()
    codes = _codes_for(conn, creates)
    # Every id this chunk gets is above the largest id stored now (SQLite's rowid, PostgreSQL's
    # sequence), so the new rows are read back with one range, not an IN list of their codes.
    floor = conn.execute(select(func.max(customers.c.id))).scalar_one() or 0
    rows = []
    for p, code in zip(creates, codes, strict=True):
        r = p.row
        assert r.first_name is not None and r.last_name is not None
        first_key = keys.get(r.first_name)
        if first_key is None:
            first_key = keys[r.first_name] = search_key(r.first_name)
        last_key = keys.get(r.last_name)
        if last_key is None:
            last_key = keys[r.last_name] = search_key(r.last_name)
        rows.append({
            "customer_code": code, "first_name": r.first_name, "last_name": r.last_name,
            "first_name_key": first_key, "last_name_key": last_key,
            "company_name": r.company_name, "email": r.email,
            "email_key": email_key(r.email) if r.email else None, "phone": r.phone,
            "personal_id_fingerprint": r.personal_id_fingerprint,
            "personal_id_masked": r.personal_id_masked, "birth_date": r.birth_date,
            "street": r.street, "postal_code": r.postal_code, "city": r.city,
            "country": r.country, "delivery_street": r.delivery_street,
            "delivery_postal_code": r.delivery_postal_code, "delivery_city": r.delivery_city,
            "delivery_country": r.delivery_country, "note": r.note,
            "group_id": _group(conn, r.customer_group, groups) if r.customer_group else None,
            "created_via": "import", "created_at": now, "updated_at": now,
            "import_batch_id": batch_id,
            "loyalty_balance_minor": r.loyalty_balance_minor or 0,
            "account_balance_minor": r.account_balance_minor or 0,
            "store_credit_minor": r.store_credit_minor or 0,
        })
    from sqlalchemy.exc import IntegrityError

    try:
        with conn.begin_nested():
            _insert_new(conn, rows)
    except IntegrityError:
        # Someone stored one of these identifiers since the file was checked: one by one, so
        # only the rows that clash fail.
        kept = []
        for p, values in zip(creates, rows, strict=True):
            try:
                with conn.begin_nested():
                    _insert_new(conn, [values])
                kept.append((p, values))
            except IntegrityError:
                late.append(RowIssue(p.line, "conflicts with a customer stored while the file "
                                             "was being imported (same code, phone, e-mail or "
                                             "personal ID)"))
        creates = [p for p, _ in kept]
        rows = [v for _, v in kept]
        if not rows:
            return 0
    ids = dict(conn.execute(select(customers.c.customer_code, customers.c.id).where(
        customers.c.import_batch_id == batch_id, customers.c.id > floor)).all())
    consent_rows = [{"customer_id": ids[v["customer_code"]], "purpose": MARKETING,
                     "granted": p.consent, "source": "import", "text_version": None,
                     "recorded_at": now}
                    for p, v in zip(creates, rows, strict=True) if p.consent is not None]
    if consent_rows:
        insert_many(conn, consents, consent_rows)
    insert_many(conn, import_changes, [
        {"batch_id": batch_id, "customer_id": ids[v["customer_code"]], "action": "created",
         "before_json": None} for v in rows])
    # What json.dumps({"created_via": …, "customer_code": …, "import_batch": …}) writes, with
    # only the code encoded per row (a dumps of the whole dict cost ~0.3 s per 100,000 rows).
    head = '{"created_via": "import", "customer_code": '
    tail = f', "import_batch": {batch_id}}}'
    insert_many(conn, audit_log, [
        {"at": now, "actor": actor, "action": "create", "customer_id": ids[v["customer_code"]],
         "detail": head + json.dumps(v["customer_code"], ensure_ascii=False) + tail}
        for v in rows])
    return len(rows)


def _insert_new(conn: Connection, rows: list[dict[str, Any]]) -> None:
    insert_many(conn, customers, rows)


def _codes_for(conn: Connection, creates: Sequence[Planned]) -> list[str]:
    """The file's codes, and new members' codes for rows without one (none that a customer or
    this file already has)."""
    missing = sum(1 for p in creates if p.row.customer_code is None)
    given = {p.row.customer_code for p in creates} - {None}
    fresh = iter(assign_codes(conn, missing, avoid=given))  # type: ignore[arg-type]
    return [p.row.customer_code or next(fresh) for p in creates]


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _update(conn: Connection, updates: Sequence[Planned], batch_id: int, actor: str,
            groups: dict[str, int | None]) -> int:
    now = utcnow()
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    changes_rows, audit_rows = [], []
    for p in updates:
        values = {k: v for k, v in p.changes.items() if k != "customer_group"}
        if "customer_group" in p.changes:
            values["group_id"] = _group(conn, p.changes["customer_group"], groups)
        before = {k: _jsonable(getattr(p.target, k)) for k in values}
        after = {k: _jsonable(v) for k, v in values.items()}
        if "first_name" in values:
            values["first_name_key"] = search_key(values["first_name"])
        if "last_name" in values:
            values["last_name_key"] = search_key(values["last_name"])
        if "email" in values:
            values["email_key"] = email_key(values["email"])
        record: dict[str, Any] = {"before": before, "after": after}
        if p.consent is not None:
            consent_id = conn.execute(insert(consents).values(
                customer_id=p.target.id, purpose=MARKETING, granted=p.consent, source="import",
                text_version=None, recorded_at=now).returning(consents.c.id)).scalar_one()
            record["consent"] = {"id": consent_id, "before": _consent_before(conn, p.target.id,
                                                                             consent_id)}
        if values:
            names = tuple(sorted(values))
            by_columns.setdefault(names, []).append(
                {**{f"v_{k}": values[k] for k in names}, "v_id": p.target.id})
        changes_rows.append({"batch_id": batch_id, "customer_id": p.target.id,
                             "action": "updated",
                             "before_json": json.dumps(record, ensure_ascii=False)})
        fields_ = sorted(after) + (["marketing_consent"] if p.consent is not None else [])
        audit_rows.append({"at": now, "actor": actor, "action": "import_update",
                           "customer_id": p.target.id,
                           "detail": json.dumps({"fields": fields_, "import_batch": batch_id})})
    for names, params in by_columns.items():
        conn.execute(update(customers).where(customers.c.id == bindparam("v_id"))
                     .values({**{k: bindparam(f"v_{k}") for k in names}, "updated_at": now}),
                     params)
    insert_many(conn, import_changes, changes_rows)
    insert_many(conn, audit_log, audit_rows)
    return len(updates)


def _consent_before(conn: Connection, customer_id: int, consent_id: int) -> bool | None:
    return conn.execute(select(consents.c.granted).where(
        consents.c.customer_id == customer_id, consents.c.purpose == MARKETING,
        consents.c.id < consent_id).order_by(consents.c.id.desc()).limit(1)).scalar_one_or_none()


# --- undoing ----------------------------------------------------------------------------------


def _remove_created(conn: Connection, created: Select[Any], result: UndoReport) -> None:
    """Remove the customers whose ids ``created`` selects, except those something happened to
    since the import.  Set-based: the few customers to keep are read with their reason, the
    rest go with three statements (a delete per customer costs ~15 index look-ups each)."""
    merged = customers.alias("merged")
    sold = exists().where(sales_table.c.customer_id == customers.c.id)
    consented = exists().where(consents.c.customer_id == customers.c.id,
                               consents.c.source != "import")
    merged_in = exists().where(merged.c.merged_into_id == customers.c.id)
    kept_rows = conn.execute(
        select(customers.c.id, customers.c.customer_code, customers.c.updated_at,
               customers.c.erased_at, customers.c.merged_into_id, sold.label("sold"),
               consented.label("consented"), merged_in.label("merged_in"))
        .where(customers.c.id.in_(created),
               or_(sold, customers.c.erased_at.is_not(None),
                   customers.c.merged_into_id.is_not(None), merged_in, consented,
                   customers.c.updated_at != customers.c.created_at))
        .order_by(customers.c.id)).all()
    for row in kept_rows:
        if row.sold:
            why = "has sales since the import; kept"
        elif row.erased_at is not None:
            why = "was erased since the import; kept (anonymised)"
        elif row.merged_into_id is not None or row.merged_in:
            why = "was merged with another customer since the import; kept"
        elif row.consented:
            why = "gave a consent since the import; kept"
        else:
            why = f"was changed on {row.updated_at:%Y-%m-%d %H:%M} UTC, after the import; kept"
        result.not_undone.append((row.customer_code, why))
    removable = created.where(import_changes.c.customer_id.not_in([r.id for r in kept_rows])
                              ) if kept_rows else created
    conn.execute(delete(consents).where(consents.c.customer_id.in_(removable)))
    # The history stays (it names the code); it just no longer points at a customer.
    conn.execute(update(audit_log).where(audit_log.c.customer_id.in_(removable))
                 .values(customer_id=None))
    result.removed += conn.execute(
        delete(customers).where(customers.c.id.in_(removable))).rowcount


def _restore_updated(conn: Connection, changes: Sequence[Any], result: UndoReport,
                     actor: str) -> None:
    ids = [c.customer_id for c in changes]
    current = {row.id: row for row in conn.execute(
        select(customers).where(customers.c.id.in_(ids)))}
    now = utcnow()
    for change in changes:
        record = json.loads(change.before_json)
        row = current.get(change.customer_id)
        if row is None or row.erased_at is not None or row.merged_into_id is not None:
            code = row.customer_code if row is not None else f"id {change.customer_id}"
            result.not_undone.append((code, "was erased or merged since the import; kept"))
            continue
        moved = [k for k, v in record["after"].items() if _jsonable(getattr(row, k)) != v]
        if moved:
            result.not_undone.append((row.customer_code, "was changed again since the import "
                                      f"({', '.join(sorted(moved))}); kept as it is now"))
            continue
        before = dict(record["before"])
        if before.get("birth_date"):
            before["birth_date"] = dt.date.fromisoformat(before["birth_date"])
        if "first_name" in before:
            before["first_name_key"] = search_key(before["first_name"])
        if "last_name" in before:
            before["last_name_key"] = search_key(before["last_name"])
        if "email" in before:
            before["email_key"] = email_key(before["email"]) if before["email"] else None
        if before:
            conn.execute(update(customers).where(customers.c.id == row.id)
                         .values(**before, updated_at=now))
        consent = record.get("consent")
        if consent is not None:
            # The consent log is appended to, never rewritten: an earlier answer is recorded
            # again; an import that was the first answer has its entry taken back (nobody was
            # asked), if it is still the latest.
            if consent["before"] is not None:
                conn.execute(insert(consents).values(
                    customer_id=row.id, purpose=MARKETING, granted=consent["before"],
                    source="import_undo", text_version=None, recorded_at=now))
            else:
                newer = conn.execute(select(consents.c.id).where(
                    consents.c.customer_id == row.id, consents.c.purpose == MARKETING,
                    consents.c.id > consent["id"]).limit(1)).first()
                if newer is None:
                    conn.execute(delete(consents).where(consents.c.id == consent["id"]))
        audit(conn, actor, "import_undo", row.id,
              {"fields": sorted(record["before"]), "import_batch": change.batch_id})
        result.restored += 1


