"""``/admin/import-export``: customers in and out as CSV (Lightspeed X-Series columns).

Upload (multipart, its own body limit of :data:`MAX_UPLOAD_BYTES`, well above the bridge's
1 MiB for everything else; copied to a file of the data directory a block at a time, off the
event loop) → the file is read and checked in a worker process (:mod:`.import_jobs`) while a
page shows progress → the preview (counts, the first rows as they will be stored, the rows
that cannot be imported with line, column and reason) → "Import", which runs in a worker
process too while the page shows progress (a small script polls a JSON endpoint; without
scripts the page reloads itself through a ``Refresh`` header) → the row-by-row report.
Batches are listed with Undo (a POST with the CSRF token and a confirmation box).  "Export
CSV" streams the file.

A preview and its rows live in the database (``registry.imports``), named in URLs by a random
token that only its staff member may use: it survives a restart, any process of a chain shows
it, and its page says when it was replaced by the same person's newer upload, expired or
stopped.  Managers and admins only (``Action.import_customers`` /
``Action.export_customers``).  Nothing of a file's rows is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any, BinaryIO

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.responses import StreamingResponse

from cashier_bridge.config import Settings
from cashier_bridge.ids import Id
from cashier_bridge.permissions import Action
from cashier_bridge.pools import Busy
from cashier_bridge.registry.csv_io import FIELDS, MAX_COLUMNS, MAX_ROWS
from cashier_bridge.registry.imports import (
    KEEP_PREVIEWS,
    PREVIEW_TTL,
    AlreadyUndone,
    Preview,
    PreviewGone,
    PreviewState,
)
from cashier_bridge.registry.staff import StaffSession
from cashier_bridge.web.admin.auth import CSRF_REFUSED, Form, Needs, Refused, registry_of
from cashier_bridge.web.admin.import_jobs import ImportJobs, new_upload_file

log = structlog.get_logger("selfreg.admin.imports")

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# The request may be a little larger than the file (multipart headers, the CSRF field): the
# route's limit leaves room for that, so a file just over the limit gets our own clear page.
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
COPY_BLOCK = 1024 * 1024  # the upload is copied a block at a time
# A preview's page waits this long for a check under way to end (a small file's does) before
# it shows the progress instead; short, so that a stopping bridge is not held up by it.
WAIT_FOR_CHECK_S = 1.5
BASE = "/admin/import-export"

Importer = Annotated[StaffSession, Depends(Needs(Action.import_customers))]
Exporter = Annotated[StaffSession, Depends(Needs(Action.export_customers))]

_SCRIPT_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
               "connect-src 'self'; base-uri 'none'; form-action 'self'; "
               "frame-ancestors 'none'")


def _jobs(request: Request, settings: Settings) -> ImportJobs:
    state = request.app.state
    if not hasattr(state, "import_jobs"):
        state.import_jobs = ImportJobs(state.registry, state.pools.uploads,
                                       settings.phone_region)
    return state.import_jobs  # type: ignore[no-any-return]


def _gone(p: Preview) -> str:
    """What became of a preview that can no longer be imported, in words for its owner."""
    name = p.filename or "the file"
    again = " Upload the file again to import it."
    if p.state == PreviewState.REPLACED:
        return (f"The check of {name} was replaced by a newer upload of yours (each person "
                f"keeps their {KEEP_PREVIEWS} newest).{again}")
    if p.state == PreviewState.EXPIRED:
        hours = int(PREVIEW_TTL.total_seconds() // 3600)
        return f"The check of {name} expired (checked files are kept for {hours} hours).{again}"
    if p.state == PreviewState.DROPPED:
        return (f"The check of {name} was removed to make room for newer ones (the bridge "
                f"keeps a limited amount of checked files).{again}")
    if p.state == PreviewState.STOPPED:
        return f"{name}: {p.error or 'the check stopped before it finished.'}"
    if p.state == PreviewState.IMPORTED:
        return f"{name} was imported already (batch {p.batch_id})."
    if p.state == PreviewState.IMPORTING:
        return f"{name} is being imported."
    return f"{name} cannot be imported."


@contextlib.asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    yield
    jobs: ImportJobs | None = getattr(app.state, "import_jobs", None)
    if jobs is not None:
        await jobs.close()


def imports_router(settings: Settings, page: Callable[..., HTMLResponse]) -> APIRouter:
    # FastAPI runs an included router's lifespan inside the app's: workers end before the
    # pools and the registry close.
    router = APIRouter(prefix=BASE, lifespan=_lifespan)

    async def main_page(request: Request, status: int = 200, *, error: str | None = None,
                        headers: dict[str, str] | None = None) -> HTMLResponse:
        imports = registry_of(request).imports
        batches = await asyncio.to_thread(imports.list)
        running = await asyncio.to_thread(imports.running)
        response = page(request, "import_export.html", status, title="Import/Export",
                        error=error, batches=batches, running=running,
                        max_mb=MAX_UPLOAD_BYTES // (1024 * 1024), max_rows=MAX_ROWS,
                        max_columns=MAX_COLUMNS, fields=FIELDS,
                        done=request.query_params.get("done"))
        response.headers.update(headers or {})
        return response

    async def busy_page(request: Request, exc: Busy) -> HTMLResponse:
        return await main_page(request, 503, error=(
            "The bridge is busy checking or importing other files; nothing was sent on. Try "
            f"again in {exc.retry_after_s} seconds."),
            headers={"Retry-After": str(exc.retry_after_s)})

    def preview_page(request: Request, p: Preview, status: int = 200, *,
                     error: str | None = None) -> HTMLResponse:
        return page(request, "import_preview.html", status, title="Check the import", p=p,
                    token=p.token, sample=p.sample(), error=error)

    def progress_page(request: Request, p: Preview) -> HTMLResponse:
        url = f"{BASE}/{'previews' if p.state == PreviewState.CHECKING else 'jobs'}/{p.token}"
        response = page(request, "import_job.html", title="Checking" if p.state ==
                        PreviewState.CHECKING else "Importing", p=p, state=_state(p),
                        progress_url=url + "/progress")
        response.headers["Refresh"] = "2"  # no script: the page reloads itself
        response.headers["Content-Security-Policy"] = _SCRIPT_CSP
        return response

    async def mine(request: Request, token: str, session: StaffSession) -> Preview:
        found = await asyncio.to_thread(registry_of(request).imports.find, token,
                                        session.staff.id)
        if found is None:
            raise Refused("There is no such file check (it was removed after a week, or it "
                          "is someone else's). Upload the file again.", status=404,
                          title="No such check")
        return found

    @router.get("", response_class=HTMLResponse)
    async def overview(request: Request, session: Exporter) -> HTMLResponse:
        # Both actions are the managers'; the page itself is the export's (the navigation's).
        await asyncio.to_thread(registry_of(request).imports.sweep)
        return await main_page(request)

    @router.post("/preview", response_class=HTMLResponse, max_body_size=MAX_BODY_BYTES)
    async def preview(request: Request, session: Importer) -> Response:
        try:
            form = await request.form(max_files=1, max_fields=4)
        except Exception:  # a body that is not multipart/form-data at all
            return await main_page(request, 400, error=(
                "The upload could not be read; choose a CSV file with the form below."))
        if not hmac.compare_digest(str(form.get("csrf", "")).encode(), session.csrf.encode()):
            raise Refused(CSRF_REFUSED, title="Form refused")
        upload = form.get("file")
        if upload is None or isinstance(upload, str) or not upload.filename:
            return await main_page(request, 422, error="Choose a CSV file to import.")
        jobs = _jobs(request, settings)
        if jobs.full():
            return await busy_page(request, Busy("uploads"))
        name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:255]
        # Starlette has spooled the body to a temporary file; it is copied (a block at a time,
        # in a thread) to one the worker process can open, and its digest taken on the way.
        copied = await asyncio.to_thread(_copy, upload.file)
        await upload.close()
        path, size, sha256, head = copied
        problem = _file_problem(name, size, head)
        if problem:
            _remove(path)
            return await main_page(request, 413 if size > MAX_UPLOAD_BYTES else 422,
                                   error=problem)
        imports = registry_of(request).imports
        started = await asyncio.to_thread(imports.begin, filename=name, sha256=sha256,
                                          staff_id=session.staff.id, actor=session.staff.actor)
        try:
            jobs.check(started, path)
        except Busy as exc:
            _remove(path)
            assert started.id is not None
            await asyncio.to_thread(imports.discard, started.id)
            return await busy_page(request, exc)
        log.info("import_upload_checking", staff=session.staff.id, preview=started.id,
                 bytes=size)
        return RedirectResponse(f"{BASE}/previews/{started.token}", status_code=303)

    @router.get("/previews/{token}", response_class=HTMLResponse)
    async def preview_state(request: Request, token: str, session: Importer) -> Response:
        p = await mine(request, token, session)
        waited = 0.0
        while p.state == PreviewState.CHECKING and waited < WAIT_FOR_CHECK_S:
            await asyncio.sleep(0.1)
            waited += 0.1
            p = await mine(request, token, session)
        if p.state == PreviewState.CHECKING:
            return progress_page(request, p)
        if p.state == PreviewState.READY:
            log.info("import_previewed", staff=session.staff.id, rows=p.rows_total,
                     failed=p.failed)
            return preview_page(request, p)
        if p.state == PreviewState.FAILED:
            reason = _sentence(p.error or "")
            return await main_page(request, 422,
                                   error=f"{p.filename}: {reason} Nothing was imported.")
        if p.state in (PreviewState.IMPORTING, PreviewState.IMPORTED):
            return RedirectResponse(f"{BASE}/jobs/{p.token}", status_code=303)
        return await main_page(request, 410, error=_gone(p))

    @router.get("/previews/{token}/progress")
    async def preview_progress(request: Request, token: str, session: Importer
                               ) -> JSONResponse:
        p = await mine(request, token, session)
        return JSONResponse(_state(p), headers={"Cache-Control": "no-store"})

    @router.post("/import", response_class=HTMLResponse)
    async def start(request: Request, session: Importer, form: Form) -> Response:
        imports = registry_of(request).imports
        found = await asyncio.to_thread(imports.find, form.get("upload", ""),
                                        session.staff.id)
        if found is None:
            return await main_page(request, 410, error=(
                "That check is no longer here (it was removed after a week, or it is someone "
                "else's). Upload the file again."))
        if found.state != PreviewState.READY:
            return await main_page(request, 409 if found.state == PreviewState.IMPORTING
                                   else 410, error=_gone(found))
        if found.earlier and form.get("again") != "yes":
            return preview_page(request, found, 409, error=(
                "This file was imported before. Tick the box to import it again, or leave "
                "it."))
        if await asyncio.to_thread(imports.running, importing=True):
            return await main_page(request, 409, error=(
                "Another import is running; wait until it has finished, then import again."))
        jobs = _jobs(request, settings)
        if jobs.full():
            return await busy_page(request, Busy("uploads"))
        try:
            claimed = await asyncio.to_thread(imports.claim, found)
        except PreviewGone as gone:
            found.state = gone.state
            return await main_page(request, 409, error=_gone(found))
        try:
            jobs.apply(claimed, session.staff.actor)
        except Busy as exc:  # filled since full() above: the preview waits again
            assert claimed.id is not None
            await asyncio.to_thread(imports.release, claimed.id)
            return await busy_page(request, exc)
        log.info("import_started", staff=session.staff.id, preview=claimed.id)
        return RedirectResponse(f"{BASE}/jobs/{claimed.token}", status_code=303)

    @router.get("/jobs/{token}", response_class=HTMLResponse)
    async def job_page(request: Request, token: str, session: Importer) -> Response:
        p = await mine(request, token, session)
        if p.state == PreviewState.IMPORTED and p.batch_id is not None:
            return RedirectResponse(f"{BASE}/batches/{p.batch_id}", status_code=303)
        if p.state == PreviewState.IMPORTING:
            return progress_page(request, p)
        if p.state == PreviewState.STOPPED and p.batch_id is not None:
            return page(request, "import_job.html", title="Import stopped", p=p,
                        state=_state(p), progress_url="")
        return RedirectResponse(f"{BASE}/previews/{p.token}", status_code=303)

    @router.get("/jobs/{token}/progress")
    async def job_progress(request: Request, token: str, session: Importer) -> JSONResponse:
        p = await mine(request, token, session)
        return JSONResponse(_state(p), headers={"Cache-Control": "no-store"})

    @router.get("/progress.js")
    async def script() -> Response:
        return Response(_PROGRESS_JS, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "max-age=3600",
                                 "X-Content-Type-Options": "nosniff"})

    @router.get("/batches/{batch_id}", response_class=HTMLResponse)
    async def batch_page(request: Request, batch_id: Id, session: Importer) -> HTMLResponse:
        return await batch_view(request, batch_id)

    async def batch_view(request: Request, batch_id: int, status: int = 200,
                         error: str | None = None) -> HTMLResponse:
        # Not the route itself: its status and error would be query parameters anyone sets.
        batch = await asyncio.to_thread(registry_of(request).imports.get, batch_id)
        if batch is None:
            raise Refused(f"There is no import batch {batch_id}.", status=404,
                          title="No such batch")
        return page(request, "import_batch.html", status, title=f"Import batch {batch.id}",
                    b=batch, error=error, done=request.query_params.get("done"))

    @router.post("/batches/{batch_id}/undo", response_class=HTMLResponse)
    async def undo(request: Request, batch_id: Id, session: Importer, form: Form) -> Response:
        if form.get("confirm") != "yes":
            return await batch_view(request, batch_id, 422, error=(
                "Tick the box to confirm that this import should be undone; nothing was "
                "changed."))
        try:
            await asyncio.to_thread(registry_of(request).imports.undo, batch_id,
                                    actor=session.staff.actor)
        except AlreadyUndone as exc:
            return await batch_view(request, batch_id, 409, error=_sentence(str(exc)))
        log.info("import_undone", staff=session.staff.id, batch=batch_id)
        return RedirectResponse(f"{BASE}/batches/{batch_id}?done=undone", status_code=303)

    @router.get("/export.csv")
    async def export(request: Request, session: Exporter) -> Response:
        registry = registry_of(request)
        # Closed by chunks() below, once the response has been sent.
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+b")  # noqa: SIM115

        def write() -> int:
            import io

            text = io.TextIOWrapper(spool, encoding="utf-8", newline="", write_through=True)
            count = registry.imports.export(text)
            text.detach()
            spool.seek(0)
            return count

        count = await asyncio.to_thread(write)
        log.info("customers_exported", staff=session.staff.id, rows=count)

        def chunks() -> Iterator[bytes]:
            try:
                while block := spool.read(256 * 1024):
                    yield block
            finally:
                spool.close()

        return StreamingResponse(chunks(), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="customers.csv"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    return router


def _state(p: Preview) -> dict[str, Any]:
    """A check's or import's progress, as the page's script reads it."""
    finished = p.state not in (PreviewState.CHECKING, PreviewState.IMPORTING)
    return {"phase": p.phase or p.state.value, "done": p.done, "total": p.total,
            "state": p.state.value, "finished": finished,
            "error": p.error if p.state == PreviewState.STOPPED else None,
            "batch": p.batch_id}


def _copy(source: BinaryIO) -> tuple[str, int, str, bytes]:
    """Copy the spooled upload to a new file of the upload directory, a block at a time and
    no further than one byte past :data:`MAX_UPLOAD_BYTES`; its path, size, SHA-256 and first
    bytes."""
    handle, path = new_upload_file()
    digest = hashlib.sha256()
    size, head = 0, b""
    try:
        with os.fdopen(handle, "wb") as out:
            while size <= MAX_UPLOAD_BYTES:
                block = source.read(min(COPY_BLOCK, MAX_UPLOAD_BYTES + 1 - size))
                if not block:
                    break
                if not head:
                    head = block[:8]
                digest.update(block)
                out.write(block)
                size += len(block)
    except BaseException:
        _remove(path)
        raise
    return path, size, digest.hexdigest(), head


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


_XLSX_MAGIC = b"PK\x03\x04"
_ACCEPTED = (".csv", ".txt")


def _file_problem(name: str, size: int, head: bytes) -> str | None:
    """Why the upload is not a CSV file we can read, in words for the person who chose it."""
    lower = name.lower()
    if size > MAX_UPLOAD_BYTES:
        return (f"{name} is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; split it into "
                "smaller files and import them one after the other. Nothing was imported.")
    if head.startswith(_XLSX_MAGIC) or lower.endswith((".xlsx", ".xls", ".ods", ".numbers")):
        return (f"{name} is a spreadsheet workbook, not a CSV file. In Excel choose File → "
                "Save As → \"CSV UTF-8 (comma delimited)\", then upload that file. Nothing was "
                "imported.")
    if not lower.endswith(_ACCEPTED):
        return (f"{name} is not a CSV file (expected a name ending in .csv). Nothing was "
                "imported.")
    if size == 0:
        return f"{name} is empty. Nothing was imported."
    return None


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith((".", "?", "!")) else ".")


# Polls the progress endpoint and moves the bar; when the import is done, the page follows to
# the report.  No framework, no inline script (the page's CSP allows only this file).
_PROGRESS_JS = """\
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) { return; }
  var url = box.getAttribute("data-url");
  var bar = document.getElementById("bar");
  var text = document.getElementById("progress-text");
  function show(s) {
    var pct = s.total ? Math.floor(s.done * 100 / s.total) : 0;
    bar.value = pct;
    text.textContent = (s.phase === "checking" ? "Checking" : "Importing") + ": " +
      s.done.toLocaleString("en") + " of " + s.total.toLocaleString("en") + " rows (" + pct +
      " %)";
  }
  function poll() {
    fetch(url, {credentials: "same-origin", cache: "no-store"}).then(function (r) {
      return r.json();
    }).then(function (s) {
      show(s);
      if (s.finished) { window.location.reload(); } else { setTimeout(poll, 250); }
    }).catch(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
"""
