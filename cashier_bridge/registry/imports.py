"""Customer CSV imports as batches: check the whole file first (the preview), then apply it in
chunks with progress, remember what each row did, and undo a batch as a whole.

- **Preview** (:meth:`ImportStore.preview`, or :meth:`ImportStore.begin` and
  :meth:`ImportStore.check` when another process reads the file) reads and checks every row and
  matches it against the registry without changing any customer: how many customers the file
  would create, update, leave unchanged, and every row it cannot take, by line, column and
  reason.  A phone, e-mail or personal ID that another row of the file or another stored
  customer already has is a row error, never a crash.  The file is read a row at a time within
  the limits of :mod:`.csv_io`, and its rows, as read, are stored in the database in
  compressed chunks of :data:`CHUNK` (``import_preview_chunks``) with what the preview found
  (``import_previews``): memory stays bounded whatever the file, and the preview survives a
  restart and can be imported from any process of a chain.  A staff member keeps their
  :data:`KEEP_PREVIEWS` newest previews; previews expire after :data:`PREVIEW_TTL`, and all
  of them together keep at most about :data:`MAX_STORED_BYTES` (the oldest make room).
- **Import** (:meth:`ImportStore.apply` of a preview, or :meth:`ImportStore.run` of a file)
  reads the stored rows twice, a chunk at a time: first it matches them against the registry
  again (it may have changed since the preview), then it applies what it decided in
  transactions of :data:`TRANSACTION_ROWS`, each update against the customer as stored at that
  moment, recording in ``import_changes`` what it did to each customer with the values before.
  New customers go in with one executemany per chunk, so 100,000 rows take seconds.  Rows
  identical to what is stored are skipped, so running a file again changes nothing; a file
  whose SHA-256 was already imported (and not undone) is reported with that batch
  (:meth:`ImportStore.earlier`), and callers ask before importing it again.
- **Undo** (:meth:`ImportStore.undo`) removes the customers a batch created, unless something
  happened to them since (a sale, a consent given at the till, an edit): those stay and are
  reported with the reason.  Customers it updated get their values from before the import back,
  unless they were changed again since.  Nothing of a sale or a consent is ever lost.

A preview's ``state`` (:class:`PreviewState`) and progress are in its row, so a page on any
process says where it is.  Every step is audited with the actor.  Nothing personal is logged.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import io
import json
import secrets
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TextIO, cast

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
from sqlalchemy.exc import IntegrityError

from cashier_bridge.audit import AuditAction
from cashier_bridge.registry import bulk, csv_io
from cashier_bridge.registry.duplicates import email_key
from cashier_bridge.registry.fields import search_key
from cashier_bridge.registry.records import ImportReport, NewCustomer
from cashier_bridge.registry.schema import (
    audit_log,
    consents,
    customer_groups,
    customers,
    import_batches,
    import_changes,
    import_preview_chunks,
    import_previews,
)
from cashier_bridge.registry.schema import sales as sales_table
from cashier_bridge.registry.timestamps import utcnow
from cashier_bridge.registry.writes import (
    DEFAULT_GROUP,
    MARKETING,
    assign_codes,
    audit,
    group_id,
    insert_many,
)

Progress = Callable[[str, int, int], None]  # (phase, rows done, rows in all)

CHUNK = 5_000  # rows per stored chunk, per executemany and per progress report
# Rows per transaction when applying or undoing.  Each commit of a WAL database may checkpoint,
# rewriting most pages of the customers table's dozen indexes: with 5,000-row transactions a
# 100,000-row import took 1.7 times as long.  Other writers wait for one transaction (~1 s).
TRANSACTION_ROWS = 25_000
MATCH_CHUNK = 900  # values per IN (...) when matching the file against the registry
SAMPLE_ROWS = 20
SHOWN_ERRORS = 1_000  # row errors a preview lists and a batch's report keeps (all are counted)
PREVIEW_TTL = dt.timedelta(hours=24)
KEEP_PREVIEWS = 2  # per staff member: a third upload replaces their oldest
MAX_STORED_BYTES = 256 * 1024 * 1024  # every stored preview's rows together (compressed)
KEEP_TOMBSTONES = dt.timedelta(days=7)  # what became of a preview, for its page
# A reading or import not heard from for this long has stopped (its process is gone); each
# moves at least every CHUNK rows, a second or two.
STALE_AFTER = dt.timedelta(minutes=2)
_IDENTIFIERS = ("personal_id_fingerprint", "phone", "email")
_LABEL = {"personal_id_fingerprint": "personal_id"}

_STORED: Select[Any] = select(
    *customers.c, func.coalesce(customer_groups.c.name, DEFAULT_GROUP).label("customer_group")
).select_from(customers.outerjoin(customer_groups, customers.c.group_id == customer_groups.c.id))


# Its IN list expanded when it runs: SQLAlchemy compiles it once instead of coercing and naming
# each id anew for every chunk of the file.
_STORED_BY_ID: Select[Any] = _STORED.where(customers.c.id.in_(bindparam("ids", expanding=True)))


class PreviewState(enum.StrEnum):
    CHECKING = "checking"  # the file is being read and checked
    READY = "ready"  # checked; waits for "Import"
    FAILED = "failed"  # the file cannot be imported (``error`` says why)
    IMPORTING = "importing"
    IMPORTED = "imported"  # ``batch_id`` is the batch
    STOPPED = "stopped"  # its process stopped while reading or importing
    REPLACED = "replaced"  # by a newer upload of the same staff member
    EXPIRED = "expired"
    DROPPED = "dropped"  # to keep the stored previews under MAX_STORED_BYTES


# A worker process is reading or importing it (or was, if it has not moved for STALE_AFTER).
_RUNNING = (PreviewState.CHECKING, PreviewState.IMPORTING)


class AlreadyUndone(ValueError):
    """The batch was undone before (or does not exist); the message says which."""


class PreviewGone(ValueError):
    """The preview cannot be imported (any more); ``state`` says what became of it."""

    def __init__(self, state: PreviewState) -> None:
        super().__init__(f"the preview is {state.value}")
        self.state = state


class _Stop(Exception):
    """The preview being read was replaced, dropped or expired meanwhile: stop reading."""


@dataclass(frozen=True)
class RowIssue:
    """A row the import cannot take: where and why (the reason starts with the column)."""

    line: int
    reason: str
    column: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


OnIssue = Callable[[RowIssue], None]


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
        """The first :data:`SHOWN_ERRORS` rows not imported (``failed`` counts them all)."""
        return [RowIssue(e["line"], e["reason"], e.get("column"))
                for e in self.report.get("errors", [])]


@dataclass(slots=True)
class Planned:
    line: int
    row: csv_io.ParsedRow
    action: str  # "create", "update" or "unchanged"
    target: Any = None  # the stored row (update, unchanged)
    changes: dict[str, Any] = field(default_factory=dict)  # column → new value (update)
    consent: bool | None = None  # to append to the consent log


@dataclass
class Preview:
    """What importing the file would do, found without changing any customer, as stored."""

    filename: str | None
    sha256: str
    id: int | None = None
    token: str = ""  # names it in the back office's pages (with the staff member)
    staff_id: int | None = None
    actor: str = ""
    state: PreviewState = PreviewState.CHECKING
    error: str | None = None  # why it failed or stopped
    error_line: int = 1
    ignored_columns: list[str] = field(default_factory=list)
    not_kept_columns: list[str] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)  # the first SHOWN_ERRORS
    failed: int = 0  # rows that cannot be imported, all of them
    blank: int = 0
    rows_total: int = 0  # data lines, blank ones included
    creates: int = 0
    updates: int = 0
    unchanged: int = 0  # blank lines included
    names: dict[str, str] = field(default_factory=dict, repr=False)
    sample_rows: list[dict[str, Any]] = field(default_factory=list, repr=False)
    earlier: Batch | None = None  # the same file, imported before and not undone
    phase: str | None = None
    done: int = 0
    total: int = 0
    batch_id: int | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None

    @property
    def header_error(self) -> str | None:
        """Why the whole file cannot be imported (it failed), with where."""
        return self.error if self.state == PreviewState.FAILED else None

    def sample(self, limit: int = SAMPLE_ROWS) -> list[dict[str, Any]]:
        """The first rows that change something, as they will be stored."""
        return self.sample_rows[:limit]


@dataclass
class BatchReport(ImportReport):
    """:class:`ImportReport` of an applied import, with its batch.  ``errors`` and ``issues``
    hold the first :data:`SHOWN_ERRORS` rows not imported; ``failed`` counts them all."""

    batch_id: int | None = None
    issues: list[RowIssue] = field(default_factory=list)
    not_kept_columns: list[str] = field(default_factory=list)
    failed: int = 0


@dataclass
class UndoReport:
    batch_id: int
    removed: int = 0
    restored: int = 0
    not_undone: list[tuple[str, str]] = field(default_factory=list)  # (customer_code, why)


class _Issues:
    """The rows that cannot be imported, in line order: counted, the first SHOWN_ERRORS kept,
    each handed to ``on_issue`` (the command line prints them all)."""

    def __init__(self, on_issue: OnIssue | None) -> None:
        self.count = 0
        self.shown: list[RowIssue] = []
        self._on_issue = on_issue

    def add(self, issues: list[RowIssue]) -> None:
        issues.sort(key=lambda issue: issue.line)
        self.count += len(issues)
        room = SHOWN_ERRORS - len(self.shown)
        if room > 0:
            self.shown += issues[:room]
        if self._on_issue:
            for issue in issues:
                self._on_issue(issue)


class ImportStore:
    """``registry.imports``: previews, imports and their undo."""

    def __init__(self, engine: Engine, writer: Engine,
                 fingerprint: Callable[[str], str]) -> None:
        self._engine = engine
        self._writer = writer
        # Picklable (functools.partial of a module function): a worker process reading an
        # upload gets it with the job.
        self.fingerprint = fingerprint
        self.clock: Callable[[], dt.datetime] = utcnow  # tests move it (expiry, staleness)

    # --- previews ---------------------------------------------------------------------------

    def preview(self, source: BinaryIO | bytes, *, filename: str | None = None,
                region: str = "SE", staff_id: int | None = None, actor: str = "import",
                progress: Progress | None = None, on_issue: OnIssue | None = None) -> Preview:
        """Read and check the file (its bytes, or a binary file at its start) and store the
        preview: :meth:`begin` and :meth:`check` in one."""
        started = self.begin(filename=filename, sha256=_digest(source), staff_id=staff_id,
                             actor=actor)
        return self.check(started, source, region=region, progress=progress,
                          on_issue=on_issue)

    def begin(self, *, filename: str | None, sha256: str, staff_id: int | None = None,
              actor: str = "import") -> Preview:
        """A new preview in state CHECKING, for :meth:`check` to fill.  A staff member's
        older previews beyond their newest :data:`KEEP_PREVIEWS` are replaced by it; expired
        previews are swept."""
        now = self.clock()
        values = {"token": secrets.token_urlsafe(18), "staff_id": staff_id,
                  "actor": actor[:64], "filename": (filename or "")[:255] or None,
                  "file_sha256": sha256, "state": PreviewState.CHECKING.value,
                  "phase": "checking", "created_at": now, "updated_at": now,
                  "expires_at": now + PREVIEW_TTL}
        with self._writer.begin() as conn:
            _sweep(conn, now)
            if staff_id is not None:
                older = conn.execute(
                    select(import_previews.c.id)
                    .where(import_previews.c.staff_id == staff_id,
                           import_previews.c.state.in_([PreviewState.CHECKING.value,
                                                        PreviewState.READY.value]))
                    .order_by(import_previews.c.id.desc())
                    .offset(KEEP_PREVIEWS - 1)).scalars().all()
                _retire(conn, older, PreviewState.REPLACED, now)
            preview_id = conn.execute(insert(import_previews).values(values)
                                      .returning(import_previews.c.id)).scalar_one()
        return _preview_of({**values, "id": preview_id, "done": 0, "total": 0,
                            "summary_json": None, "error": None, "error_line": None,
                            "batch_id": None})

    def check(self, preview: Preview, source: BinaryIO | bytes, *, region: str = "SE",
              progress: Progress | None = None, on_issue: OnIssue | None = None,
              match: bool = True) -> Preview:
        """Read ``preview``'s file, check every row on its own and (unless not ``match``)
        against the registry and the file's other rows, and store the rows as read with what
        was found: the preview becomes READY, or FAILED with the reason (a file that cannot be
        read on).  Progress is also stored with the preview, for pages on other processes."""
        assert preview.id is not None
        binary = io.BytesIO(source) if isinstance(source, bytes) else source
        size = _size(binary)
        table = csv_io.read_table(binary)
        result = Preview(filename=preview.filename, sha256=preview.sha256, id=preview.id,
                         token=preview.token, staff_id=preview.staff_id, actor=preview.actor,
                         ignored_columns=table.ignored_columns,
                         not_kept_columns=table.not_kept, names=table.names)
        if table.problem:
            return self._fail(result, table.problem)
        planner = _Planner(table.names) if match else None
        issues = _Issues(on_issue)
        parsed: list[tuple[int, csv_io.ParsedRow]] = []
        unreadable: list[RowIssue] = []
        seq = 0

        def store() -> None:
            nonlocal seq
            estimate = max(result.rows_total, result.rows_total * size // max(binary.tell(), 1))
            self._store_chunk(result, seq, parsed, unreadable, planner, issues, estimate)
            seq += 1
            parsed.clear()
            unreadable.clear()
            if progress:
                progress("checking", result.rows_total, estimate)

        try:
            for line, cells in table.rows:
                result.rows_total += 1
                if csv_io.is_blank(cells):
                    result.blank += 1
                    continue
                try:
                    parsed.append((line, csv_io.parse_row(cells, region=region,
                                                          fingerprint=self.fingerprint,
                                                          names=table.names)))
                except csv_io.RowError as err:
                    unreadable.append(RowIssue(line, str(err), err.column))
                if len(parsed) + len(unreadable) >= CHUNK:
                    store()
            if parsed or unreadable or seq == 0:
                store()
        except csv_io.FileProblem as problem:
            return self._fail(result, problem)
        except _Stop:
            return self.stored_preview(preview.id) or result
        result.errors, result.failed = issues.shown, issues.count
        result.unchanged += result.blank
        result.state = PreviewState.READY
        now = self.clock()
        with self._writer.begin() as conn:
            ready = conn.execute(update(import_previews).where(
                import_previews.c.id == result.id,
                import_previews.c.state == PreviewState.CHECKING.value).values(
                state=PreviewState.READY.value, done=result.rows_total,
                total=result.rows_total, updated_at=now, summary_json=_summary_json(result)
                )).rowcount
            result.earlier = _earlier(conn, result.sha256)
        if not ready:  # replaced or stopped at the last moment: that has the last word
            return self.stored_preview(preview.id) or result
        if progress:
            progress("checking", result.rows_total, result.rows_total)
        return result

    def _store_chunk(self, result: Preview, seq: int, parsed: list[tuple[int, csv_io.ParsedRow]],
                     unreadable: list[RowIssue], planner: _Planner | None, issues: _Issues,
                     estimate: int) -> None:
        planned: list[Planned | RowIssue] = []
        if planner is not None:
            with self._engine.connect() as conn:
                planned = planner.plan(conn, parsed)
        found = list(unreadable)
        for item in planned:
            if isinstance(item, RowIssue):
                found.append(item)
                continue
            if item.action == "create":
                result.creates += 1
            elif item.action == "update":
                result.updates += 1
            else:
                result.unchanged += 1
                continue
            if len(result.sample_rows) < SAMPLE_ROWS:
                result.sample_rows.append(_sample_of(item))
        issues.add(found)
        body = _encode_chunk(parsed, unreadable)
        with self._writer.begin() as conn:
            # Only while it is still being checked: an upload that replaced it meanwhile, or
            # the sweep, has the last word.
            moved = conn.execute(update(import_previews).where(
                import_previews.c.id == result.id,
                import_previews.c.state == PreviewState.CHECKING.value).values(
                done=result.rows_total, total=estimate, updated_at=self.clock(),
                stored_bytes=import_previews.c.stored_bytes + len(body))).rowcount
            if not moved:
                conn.execute(delete(import_preview_chunks)
                             .where(import_preview_chunks.c.preview_id == result.id))
                raise _Stop
            conn.execute(insert(import_preview_chunks).values(preview_id=result.id, seq=seq,
                                                              body=body))

    def _fail(self, result: Preview, problem: csv_io.FileProblem) -> Preview:
        result.state, result.error, result.error_line = (PreviewState.FAILED, str(problem),
                                                         problem.line)
        with self._writer.begin() as conn:
            conn.execute(delete(import_preview_chunks)
                         .where(import_preview_chunks.c.preview_id == result.id))
            conn.execute(update(import_previews).where(
                import_previews.c.id == result.id,
                import_previews.c.state == PreviewState.CHECKING.value).values(
                state=PreviewState.FAILED.value, phase=None, error=result.error,
                error_line=problem.line, stored_bytes=0, updated_at=self.clock(),
                summary_json=_summary_json(result)))
        return result

    def stored_preview(self, preview_id: int) -> Preview | None:
        return self._read_preview(import_previews.c.id == preview_id)

    def find(self, token: str, staff_id: int) -> Preview | None:
        """The staff member's preview named ``token`` (anyone else's is None)."""
        return self._read_preview(import_previews.c.token == token,
                                  import_previews.c.staff_id == staff_id)

    def _read_preview(self, *where: Any) -> Preview | None:
        now = self.clock()
        with self._engine.connect() as conn:
            row = conn.execute(select(import_previews).where(*where)).first()
            if row is None:
                return None
            preview = _preview_of(row._asdict())
            # What the next sweep will make of it, said already.
            if preview.state in _RUNNING and row.updated_at < now - STALE_AFTER:
                preview.state = PreviewState.STOPPED
            elif preview.state == PreviewState.READY and row.expires_at < now:
                preview.state = PreviewState.EXPIRED
            if preview.state == PreviewState.READY:
                preview.earlier = _earlier(conn, preview.sha256)
        return preview

    def running(self, *, importing: bool = False) -> list[Preview]:
        """Previews being read or (only, with ``importing``) imported now, by any process,
        newest first."""
        now = self.clock()
        states = [PreviewState.IMPORTING.value] + (
            [] if importing else [PreviewState.CHECKING.value])
        with self._engine.connect() as conn:
            rows = conn.execute(select(import_previews).where(
                import_previews.c.state.in_(states),
                import_previews.c.updated_at >= now - STALE_AFTER)
                .order_by(import_previews.c.id.desc()).limit(20)).all()
        return [_preview_of(row._asdict()) for row in rows]

    def stopped(self, preview_id: int, why: str) -> None:
        """Its reading or import stopped (the process doing it ended): say so.  Its rows go:
        a stopped check is incomplete, and a stopped import is not resumed (what it applied is
        in its batch)."""
        with self._writer.begin() as conn:
            state = conn.execute(select(import_previews.c.state)
                                 .where(import_previews.c.id == preview_id)).scalar()
            if state in (PreviewState.CHECKING.value, PreviewState.IMPORTING.value):
                _retire(conn, [preview_id], PreviewState.STOPPED, self.clock())
                conn.execute(update(import_previews).where(import_previews.c.id == preview_id)
                             .values(error=why[:2000]))

    def release(self, preview_id: int) -> None:
        """Undo :meth:`claim` when the import could not be started: it is READY again."""
        with self._writer.begin() as conn:
            conn.execute(update(import_previews).where(
                import_previews.c.id == preview_id,
                import_previews.c.state == PreviewState.IMPORTING.value,
                import_previews.c.batch_id.is_(None)).values(
                state=PreviewState.READY.value, updated_at=self.clock()))

    def discard(self, preview_id: int) -> None:
        """Forget the preview and its rows (the command line's, when it is done)."""
        with self._writer.begin() as conn:
            conn.execute(delete(import_preview_chunks)
                         .where(import_preview_chunks.c.preview_id == preview_id))
            conn.execute(delete(import_previews).where(import_previews.c.id == preview_id))

    def sweep(self) -> None:
        """Forget expired previews' rows (pages opened often call it; so does each upload)."""
        with self._writer.begin() as conn:
            _sweep(conn, self.clock())

    def claim(self, preview: Preview) -> Preview:
        """Mark a READY preview as being imported (once, whichever process asks first);
        raises :class:`PreviewGone` with its state when it is not READY."""
        assert preview.id is not None
        now = self.clock()
        with self._writer.begin() as conn:
            claimed = conn.execute(update(import_previews).where(
                import_previews.c.id == preview.id,
                import_previews.c.state == PreviewState.READY.value,
                import_previews.c.expires_at >= now).values(
                state=PreviewState.IMPORTING.value, phase="checking", done=0,
                total=preview.rows_total, updated_at=now)).rowcount
        if not claimed:
            current = self.stored_preview(preview.id)
            raise PreviewGone(current.state if current else PreviewState.EXPIRED)
        return self.stored_preview(preview.id) or preview

    # --- importing --------------------------------------------------------------------------

    def run(self, source: Path | BinaryIO | TextIO | bytes, *, filename: str | None = None,
            region: str = "SE", actor: str = "import", progress: Progress | None = None,
            on_issue: OnIssue | None = None) -> BatchReport:
        """Upsert customers from a Lightspeed (X-Series) customer CSV as one batch, matched by
        customer_code (or, for rows without one, by personal ID, phone or email).  A blank
        cell never erases stored data; rows identical to what is stored are skipped.  Each
        row succeeds or fails alone; failures are reported with line and reason.  ``source``:
        the file's bytes, a binary file at its start, a text stream, or a path (its name is
        the batch's ``filename`` unless one is given).  The file is checked and what can be
        applied is applied; nothing of the preview is kept."""
        data: BinaryIO | bytes
        if isinstance(source, Path):
            data, filename = source.read_bytes(), filename or source.name
        elif isinstance(source, io.TextIOBase):
            data = source.read().encode("utf-8")
        else:
            data = cast(BinaryIO | bytes, source)
        # Not matched against the registry here: apply() does that once, just before it writes.
        started = self.begin(filename=filename, sha256=_digest(data), actor=actor)
        preview = self.check(started, data, region=region, progress=progress, match=False)
        try:
            return self.apply(preview, actor=actor, progress=progress, on_issue=on_issue)
        finally:
            assert preview.id is not None
            self.discard(preview.id)

    def apply(self, preview: Preview, *, actor: str, progress: Progress | None = None,
              on_issue: OnIssue | None = None) -> BatchReport:
        """Import the stored rows of ``preview`` as one batch.  They are matched against the
        registry again first (phase "checking"): a customer stored or changed since the
        preview is updated, or makes the row an error, as if the file had been checked just
        now.  ``preview`` (READY, or IMPORTING when :meth:`claim` was called) is IMPORTED
        afterwards and its rows are gone; raises :class:`PreviewGone` when it cannot be
        imported (any more)."""
        report = BatchReport(ignored_columns=preview.ignored_columns,
                             not_kept_columns=preview.not_kept_columns)
        if preview.header_error:
            report.errors.append((preview.error_line, preview.header_error))
            report.issues.append(RowIssue(preview.error_line, preview.header_error))
            report.failed = 1
            return report
        assert preview.id is not None
        current = self.stored_preview(preview.id)
        if current is None or current.state not in (PreviewState.READY,
                                                    PreviewState.IMPORTING):
            raise PreviewGone(current.state if current else PreviewState.EXPIRED)
        if current.state == PreviewState.READY:
            current = self.claim(current)
        chunks = self._chunk_numbers(current.id)

        # Pass 1: what to do with each row, against the registry as it is now.  Kept per row
        # in eight bytes: 0 create, a customer id to update, -1 unchanged, -2 an error.
        planner = _Planner(current.names)
        issues = _Issues(on_issue)
        decisions: dict[int, array[int]] = {}
        done = creates = updates = unchanged = 0
        total = current.rows_total - current.blank
        for seq in chunks:
            with self._engine.connect() as conn:
                parsed, unreadable = _decode_chunk(_chunk_body(conn, current.id, seq))
                planned = planner.plan(conn, parsed)
            found = list(unreadable)
            kept = array("q")
            for item in planned:
                if isinstance(item, RowIssue):
                    found.append(item)
                    kept.append(-2)
                elif item.action == "create":
                    creates += 1
                    kept.append(0)
                elif item.action == "update":
                    updates += 1
                    kept.append(item.target.id)
                else:
                    unchanged += 1
                    kept.append(-1)
            decisions[seq] = kept
            issues.add(found)
            done += len(parsed) + len(unreadable)
            self._moved(current.id, "checking", done, total)
            if progress:
                progress("checking", done, total)

        now = utcnow()
        with self._writer.begin() as conn:
            batch_id = conn.execute(insert(import_batches).values(
                actor=actor, filename=(current.filename or "")[:255] or None,
                file_sha256=current.sha256, started_at=now, rows_total=current.rows_total)
                .returning(import_batches.c.id)).scalar_one()
            audit(conn, actor, AuditAction.import_start, None,
                  {"import_batch": batch_id, "rows": current.rows_total})
            conn.execute(update(import_previews).where(import_previews.c.id == current.id)
                         .values(batch_id=batch_id))
        report.batch_id = batch_id

        # Pass 2: apply it, each update against the customer as stored now.
        late: list[RowIssue] = []
        groups: dict[str, int | None] = {}
        keys: dict[str, str] = {}
        work = creates + updates
        done = 0
        if progress:
            progress("importing", 0, work)
        pending = list(chunks)
        while pending:
            with self._writer.begin() as conn:
                in_transaction = 0
                while pending and in_transaction < TRANSACTION_ROWS:
                    seq = pending.pop(0)
                    parsed, _ = _decode_chunk(_chunk_body(conn, current.id, seq))
                    rows = [(line, row, d) for (line, row), d in zip(
                        parsed, decisions.pop(seq), strict=True) if d >= 0]
                    create = [Planned(line, row, "create", consent=row.marketing_consent)
                              for line, row, d in rows if d == 0]
                    change, same = _updates(conn, [(line, row, d) for line, row, d in rows
                                                   if d > 0], late)
                    unchanged += same
                    if create:
                        report.created += _create(conn, create, batch_id, actor, groups, late,
                                                  keys)
                    if change:
                        report.updated += _update(conn, change, batch_id, actor, groups, late)
                    done += len(rows)
                    in_transaction += len(rows)
                    # Stored before the commit, which follows within a second: the bar moves
                    # every CHUNK rows, not every transaction.
                    _move(conn, current.id, "importing", done, work, self.clock())
                    if progress:
                        progress("importing", done, work)
        issues.add(late)
        report.issues = issues.shown
        report.errors = [(i.line, i.reason) for i in issues.shown]
        report.failed = issues.count
        report.skipped = unchanged + current.blank
        with self._writer.begin() as conn:
            conn.execute(update(import_batches).where(import_batches.c.id == batch_id).values(
                finished_at=utcnow(), created=report.created, updated=report.updated,
                skipped=report.skipped, failed=report.failed, report_json=json.dumps({
                    "errors": [{"line": i.line, "column": i.column, "reason": i.reason}
                               for i in issues.shown],
                    "ignored_columns": current.ignored_columns,
                    "not_kept_columns": current.not_kept_columns,
                }, ensure_ascii=False)))
            audit(conn, actor, AuditAction.import_, None, {
                "import_batch": batch_id, "created": report.created,
                "updated": report.updated, "skipped": report.skipped, "failed": report.failed})
            conn.execute(delete(import_preview_chunks)
                         .where(import_preview_chunks.c.preview_id == current.id))
            conn.execute(update(import_previews).where(import_previews.c.id == current.id)
                         .values(state=PreviewState.IMPORTED.value, done=work,
                                 total=work, stored_bytes=0, updated_at=self.clock()))
        return report

    def _chunk_numbers(self, preview_id: int) -> list[int]:
        with self._engine.connect() as conn:
            return list(conn.execute(select(import_preview_chunks.c.seq).where(
                import_preview_chunks.c.preview_id == preview_id)
                .order_by(import_preview_chunks.c.seq)).scalars())

    def _moved(self, preview_id: int, phase: str, done: int, total: int) -> None:
        with self._writer.begin() as conn:
            _move(conn, preview_id, phase, done, total, self.clock())

    # --- reading -----------------------------------------------------------------------------

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

    def bulk_load(self, rows: Iterable[NewCustomer], *, actor: str = "bulk_load") -> int:
        """Insert many new customers fast (benchmarks, migrations from another system); how
        many.  Not a batch: nothing to undo, no row matched against what is stored.

        Rows are inserted in chunks, each in its own transaction; a row that breaks a unique
        index fails its whole chunk with IntegrityError (earlier chunks stay; into an empty
        registry, the whole load, see :mod:`.bulk`).  Use :meth:`run` for data that may
        overlap what is stored.
        """
        return bulk.load(self._writer, rows, actor=actor)

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
            audit(conn, actor, AuditAction.import_undo, None, {
                "import_batch": batch_id, "removed": result.removed,
                "restored": result.restored, "not_undone": len(result.not_undone)})
        return result



# --- stored previews --------------------------------------------------------------------------

_ROW_FIELDS = csv_io.ParsedRow._fields
_BIRTH = 1 + _ROW_FIELDS.index("birth_date")  # in a stored row, after its line
_MAKE_ROW = csv_io.ParsedRow._make


def _iso(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} in a parsed row")


def _encode_chunk(parsed: Sequence[tuple[int, csv_io.ParsedRow]],
                  unreadable: Sequence[RowIssue]) -> bytes:
    """Rows as read, compactly: a list of values per row (the fields in ParsedRow's order),
    JSON, compressed (level 1: most of the gain at a fraction of the time)."""
    body = json.dumps({"rows": [[line, *row] for line, row in parsed],
                       "issues": [[i.line, i.reason, i.column] for i in unreadable]},
                      ensure_ascii=False, separators=(",", ":"), default=_iso)
    return zlib.compress(body.encode("utf-8"), 1)


def _decode_chunk(body: bytes) -> tuple[list[tuple[int, csv_io.ParsedRow]], list[RowIssue]]:
    data = json.loads(zlib.decompress(body))
    parsed = []
    born = dt.date.fromisoformat
    for values in data["rows"]:
        if values[_BIRTH] is not None:
            values[_BIRTH] = born(values[_BIRTH])
        parsed.append((values[0], _MAKE_ROW(values[1:])))
    return parsed, [RowIssue(*issue) for issue in data["issues"]]


def _chunk_body(conn: Connection, preview_id: int, seq: int) -> bytes:
    body = conn.execute(select(import_preview_chunks.c.body).where(
        import_preview_chunks.c.preview_id == preview_id,
        import_preview_chunks.c.seq == seq)).scalar_one_or_none()
    if body is None:  # dropped or expired while being imported
        raise PreviewGone(PreviewState.DROPPED)
    return bytes(body)


def _move(conn: Connection, preview_id: int, phase: str, done: int, total: int,
          now: dt.datetime) -> None:
    conn.execute(update(import_previews).where(import_previews.c.id == preview_id)
                 .values(phase=phase, done=done, total=total, updated_at=now))


def _retire(conn: Connection, ids: Sequence[int], state: PreviewState,
            now: dt.datetime) -> None:
    """Forget the rows of these previews; their row stays to say what became of them."""
    if not ids:
        return
    conn.execute(delete(import_preview_chunks)
                 .where(import_preview_chunks.c.preview_id.in_(ids)))
    conn.execute(update(import_previews).where(import_previews.c.id.in_(ids))
                 .values(state=state.value, phase=None, stored_bytes=0, updated_at=now))


def _sweep(conn: Connection, now: dt.datetime) -> None:
    """Expired previews lose their rows, and so do checks and imports not heard from (their
    process is gone); old ones go, and the oldest ready ones make room when all of them
    together hold more than MAX_STORED_BYTES."""
    p = import_previews.c
    running = (PreviewState.CHECKING.value, PreviewState.IMPORTING.value)
    _retire(conn, conn.execute(select(p.id).where(
        p.state.in_(running), p.updated_at < now - STALE_AFTER)).scalars().all(),
        PreviewState.STOPPED, now)
    _retire(conn, conn.execute(select(p.id).where(
        p.state == PreviewState.READY.value, p.expires_at < now)).scalars().all(),
        PreviewState.EXPIRED, now)
    gone = conn.execute(select(p.id).where(p.expires_at < now - KEEP_TOMBSTONES,
                                           p.state.not_in(running))).scalars().all()
    if gone:
        conn.execute(delete(import_preview_chunks)
                     .where(import_preview_chunks.c.preview_id.in_(gone)))
        conn.execute(delete(import_previews).where(p.id.in_(gone)))
    held = conn.execute(select(func.coalesce(func.sum(p.stored_bytes), 0))).scalar_one()
    if held > MAX_STORED_BYTES:
        drop = []
        for row in conn.execute(select(p.id, p.stored_bytes).where(
                p.state == PreviewState.READY.value).order_by(p.id)):
            if held <= MAX_STORED_BYTES:
                break
            drop.append(row.id)
            held -= row.stored_bytes
        _retire(conn, drop, PreviewState.DROPPED, now)


def _summary_json(preview: Preview) -> str:
    return json.dumps({
        "rows_total": preview.rows_total, "blank": preview.blank,
        "creates": preview.creates, "updates": preview.updates,
        "unchanged": preview.unchanged, "failed": preview.failed,
        "errors": [[i.line, i.reason, i.column] for i in preview.errors],
        "ignored_columns": preview.ignored_columns,
        "not_kept_columns": preview.not_kept_columns, "names": preview.names,
        "sample": preview.sample_rows,
    }, ensure_ascii=False, default=_iso)


def _preview_of(row: dict[str, Any]) -> Preview:
    summary = json.loads(row["summary_json"]) if row.get("summary_json") else {}
    return Preview(
        filename=row["filename"], sha256=row["file_sha256"], id=row["id"], token=row["token"],
        staff_id=row["staff_id"], actor=row["actor"], state=PreviewState(row["state"]),
        error=row["error"], error_line=row["error_line"] or 1,
        ignored_columns=summary.get("ignored_columns", []),
        not_kept_columns=summary.get("not_kept_columns", []),
        errors=[RowIssue(*e) for e in summary.get("errors", [])],
        failed=summary.get("failed", 0), blank=summary.get("blank", 0),
        rows_total=summary.get("rows_total", 0), creates=summary.get("creates", 0),
        updates=summary.get("updates", 0), unchanged=summary.get("unchanged", 0),
        names=summary.get("names", {}), sample_rows=summary.get("sample", []),
        phase=row["phase"], done=row["done"], total=row["total"], batch_id=row["batch_id"],
        created_at=row.get("created_at"), updated_at=row.get("updated_at"),
        expires_at=row.get("expires_at"))


def _sample_of(p: Planned) -> dict[str, Any]:
    values = {f: v for f, v in p.row._asdict().items() if v is not None}
    values.pop("personal_id_fingerprint", None)  # a hash, of no use to a person
    values.pop("phone_column", None)
    if p.action == "update":
        values["customer_code"] = p.target.customer_code
    return {"line": p.line, "action": p.action, "values": _jsonable_values(values),
            "changed": sorted(c for c in p.changes if not c.endswith("_id"))
            + (["customer_group"] if "group_id" in p.changes else [])
            + (["marketing_consent"] if p.consent is not None else [])}


def _jsonable_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in values.items()}


def _digest(source: BinaryIO | bytes) -> str:
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest()
    start = source.tell()
    digest = hashlib.file_digest(source, "sha256").hexdigest()  # type: ignore[arg-type]
    source.seek(start)
    return digest


def _size(source: BinaryIO) -> int:
    start = source.tell()
    end = source.seek(0, 2)
    source.seek(start)
    return end - start


# --- planning ---------------------------------------------------------------------------------


class _Claim(NamedTuple):
    """The row that first gave an identifier.  A tuple of plain values, like the keys it is
    kept under: the garbage collector stops scanning those, and a file's worth of claims
    otherwise made it rescan them over and over (a third of an import's time)."""

    line: int
    target: Any  # the stored customer's id, or ("new", line)
    code: str | None
    name: str


class _Planner:
    """Matches a file's rows, a chunk at a time and in line order, against the registry and
    against the file's earlier rows (which it remembers: their identifiers and customers)."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.claims: dict[tuple[str, Any], _Claim] = {}
        self.targets: dict[Any, int] = {}

    def plan(self, conn: Connection, parsed: Sequence[tuple[int, csv_io.ParsedRow]]
             ) -> list[Planned | RowIssue]:
        out: list[Planned | RowIssue] = []
        for chunk in _chunks(parsed, MATCH_CHUNK):
            stored = _stored_for(conn, [row for _, row in chunk])
            consent_of = _latest_consents(conn, {
                found.id for _, row in chunk if row.marketing_consent is not None
                for found in [_target(stored, row)] if found is not None and found is not False})
            for line, row in chunk:
                try:
                    out.append(_plan_row(line, row, stored, consent_of, self.claims,
                                         self.targets, self.names))
                except csv_io.RowError as err:
                    out.append(RowIssue(line, str(err), err.column))
        return out


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



def _changes(row: csv_io.ParsedRow, target: Any, consent_of: dict[int, bool]
             ) -> tuple[dict[str, Any], bool | None]:
    """What the row changes on the stored customer, and the consent to record (if any)."""
    changes = {n: getattr(row, n) for n in csv_io.UPDATABLE
               if getattr(row, n) is not None and getattr(row, n) != getattr(target, n)}
    if row.customer_group is not None and row.customer_group != target.customer_group:
        changes["customer_group"] = row.customer_group
    consent = (row.marketing_consent if row.marketing_consent is not None
               and row.marketing_consent != consent_of.get(target.id) else None)
    return changes, consent


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
        changes, consent = _changes(row, target, consent_of)
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
    if not (isinstance(key, tuple) and key[0] == "new"):
        targets[key] = line  # a new row without a code is nobody else's: not remembered
    code = row.customer_code or (target.customer_code if target is not None else None)
    mine = _Claim(line, key, code, name)  # one for all of the row's identifiers
    for ident in _IDENTIFIERS:
        value = getattr(row, ident)
        if value is not None:
            claims.setdefault((ident, value), mine)
    return plan


def _updates(conn: Connection, rows: Sequence[tuple[int, csv_io.ParsedRow, int]],
             late: list[RowIssue]) -> tuple[list[Planned], int]:
    """The updates planned for ``rows`` (line, row, customer id), against the customers as
    stored now; and how many no longer change anything."""
    if not rows:
        return [], 0
    ids = [d for _, _, d in rows]
    stored = {r.id: r for part in _chunks(ids, MATCH_CHUNK)
              for r in conn.execute(_STORED_BY_ID, {"ids": list(part)})}
    consent_of: dict[int, bool] = {}
    for part in _chunks([d for _, row, d in rows if row.marketing_consent is not None],
                        MATCH_CHUNK):
        consent_of.update(_latest_consents(conn, set(part)))
    planned, same = [], 0
    for line, row, customer_id in rows:
        target = stored.get(customer_id)
        if target is None or target.erased_at is not None or target.merged_into_id is not None:
            late.append(RowIssue(line, "its customer was erased or merged while the file was "
                                       "being imported"))
            continue
        changes, consent = _changes(row, target, consent_of)
        if changes or consent is not None:
            planned.append(Planned(line, row, "update", target, changes, consent))
        else:
            same += 1
    return planned, same


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
        {"at": now, "actor": actor, "action": AuditAction.create.value,
         "customer_id": ids[v["customer_code"]],
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
            groups: dict[str, int | None], late: list[RowIssue]) -> int:
    """Apply ``updates``; a row whose new phone, e-mail or personal ID someone stored since it
    was checked fails alone."""
    try:
        with conn.begin_nested():
            return _update_rows(conn, updates, batch_id, actor, groups)
    except IntegrityError:
        groups.clear()  # a group made in the rolled-back savepoint is gone
    done = 0
    for p in updates:
        try:
            with conn.begin_nested():
                done += _update_rows(conn, [p], batch_id, actor, groups)
        except IntegrityError:
            groups.clear()
            late.append(RowIssue(p.line, "conflicts with a customer stored while the file was "
                                         "being imported (same phone, e-mail or personal ID)"))
    return done


def _update_rows(conn: Connection, updates: Sequence[Planned], batch_id: int, actor: str,
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
        audit_rows.append({"at": now, "actor": actor, "action": AuditAction.import_update.value,
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
        audit(conn, actor, AuditAction.import_undo, row.id,
              {"fields": sorted(record["before"]), "import_batch": change.batch_id})
        result.restored += 1


