"""``/admin/import-export``: customers in and out as CSV (Lightspeed X-Series columns).

Upload (multipart, its own body limit of :data:`MAX_UPLOAD_BYTES`, well above the bridge's
1 MiB for everything else) → preview (counts, the first rows as they will be stored, every row
that cannot be imported with line, column and reason) → "Import", which runs in a background
thread while the page shows progress (a small script polls a JSON endpoint; without scripts the
page reloads itself through a ``Refresh`` header) → the row-by-row report.  Batches are listed
with Undo (a POST with the CSRF token and a confirmation box).  "Export CSV" streams the file.

Managers and admins only (``Action.import_customers`` / ``Action.export_customers``).  The
uploaded file's rows, as the preview read them, live in memory until they are imported or
replaced; nothing of them is logged.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.responses import StreamingResponse

from ..config import Settings
from ..ids import Id
from ..permissions import Action
from ..registry import Registry
from ..registry.csv_io import FIELDS
from ..registry.imports import AlreadyUndone, BatchReport, Preview
from ..registry.staff import StaffSession
from .auth import CSRF_REFUSED, Form, Needs, Refused, registry_of

log = structlog.get_logger("selfreg.admin.imports")

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# The request may be a little larger than the file (multipart headers, the CSRF field): the
# route's limit leaves room for that, so a file just over the limit gets our own clear page.
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
KEEP_UPLOADS = 8  # previews waiting for "Import", per bridge process
BASE = "/admin/import-export"

Importer = Annotated[StaffSession, Depends(Needs(Action.import_customers))]
Exporter = Annotated[StaffSession, Depends(Needs(Action.export_customers))]

_SCRIPT_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
               "connect-src 'self'; base-uri 'none'; form-action 'self'; "
               "frame-ancestors 'none'")


@dataclass
class Upload:
    token: str
    staff_id: int
    filename: str
    preview: Preview  # with the file's rows as read: the import does not read it again


@dataclass
class Job:
    id: str
    staff_id: int
    filename: str
    phase: str = "checking"
    done: int = 0
    total: int = 0
    finished: bool = False
    report: BatchReport | None = None
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def progress(self, phase: str, done: int, total: int) -> None:
        with self.lock:
            self.phase, self.done, self.total = phase, done, total

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {"phase": self.phase, "done": self.done, "total": self.total,
                    "finished": self.finished, "error": self.error,
                    "batch": self.report.batch_id if self.report else None}


@dataclass
class _Work:
    uploads: dict[str, Upload] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _work(request: Request) -> _Work:
    state = request.app.state
    if not hasattr(state, "import_work"):
        state.import_work = _Work()
    return state.import_work  # type: ignore[no-any-return]


def imports_router(settings: Settings, page: Callable[..., HTMLResponse]) -> APIRouter:
    router = APIRouter(prefix=BASE)

    async def main_page(request: Request, status: int = 200, *, error: str | None = None
                        ) -> HTMLResponse:
        batches = await asyncio.to_thread(registry_of(request).imports.list)
        running = [j for j in _work(request).jobs.values() if not j.finished]
        return page(request, "import_export.html", status, title="Import/Export",
                    error=error, batches=batches, running=running,
                    max_mb=MAX_UPLOAD_BYTES // (1024 * 1024), fields=FIELDS,
                    done=request.query_params.get("done"))

    @router.get("", response_class=HTMLResponse)
    async def overview(request: Request, session: Exporter) -> HTMLResponse:
        # Both actions are the managers'; the page itself is the export's (the navigation's).
        return await main_page(request)

    @router.post("/preview", response_class=HTMLResponse, max_body_size=MAX_BODY_BYTES)
    async def preview(request: Request, session: Importer) -> HTMLResponse:
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
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:255]
        await upload.close()
        problem = _file_problem(name, data)
        if problem:
            status = 413 if len(data) > MAX_UPLOAD_BYTES else 422
            return await main_page(request, status, error=problem)
        registry = registry_of(request)
        checked = await asyncio.to_thread(registry.imports.preview, data, filename=name,
                                          region=settings.phone_region)
        if checked.header_error:
            reason = _sentence(checked.header_error)
            return await main_page(request, 422,
                                   error=f"{name}: {reason} Nothing was imported.")
        work = _work(request)
        token = secrets.token_urlsafe(18)
        with work.lock:
            work.uploads[token] = Upload(token, session.staff.id, name, checked)
            while len(work.uploads) > KEEP_UPLOADS:
                work.uploads.pop(next(iter(work.uploads)))
        log.info("import_previewed", staff=session.staff.id, rows=checked.rows_total,
                 failed=checked.failed)
        return page(request, "import_preview.html", title="Check the import", p=checked,
                    token=token, sample=checked.sample())

    @router.post("/import", response_class=HTMLResponse)
    async def start(request: Request, session: Importer, form: Form) -> Response:
        work = _work(request)
        with work.lock:
            upload = work.uploads.get(form.get("upload", ""))
            if upload is None or upload.staff_id != session.staff.id:
                upload = None
            running = any(not j.finished for j in work.jobs.values())
            if upload is not None and not running:
                del work.uploads[upload.token]
                job = Job(secrets.token_urlsafe(12), session.staff.id, upload.filename)
                work.jobs[job.id] = job
        if upload is not None and upload.preview.earlier and form.get("again") != "yes":
            with work.lock:
                del work.jobs[job.id]
                work.uploads[upload.token] = upload
            return page(request, "import_preview.html", 409, title="Check the import",
                        p=upload.preview, token=upload.token, sample=upload.preview.sample(),
                        error="This file was imported before. Tick the box to import it "
                              "again, or leave it.")
        if upload is None:
            return await main_page(request, 410, error=(
                "That preview is no longer here (the bridge restarted, or it was imported "
                "already). Upload the file again."))
        if running:
            return await main_page(request, 409, error=(
                "Another import is running; wait until it has finished, then import again."))
        registry = registry_of(request)
        thread = threading.Thread(target=_run, name=f"import-{job.id}", daemon=True, args=(
            registry, job, upload, session.staff.actor))
        thread.start()
        log.info("import_started", staff=session.staff.id, job=job.id)
        return RedirectResponse(f"{BASE}/jobs/{job.id}", status_code=303)

    def job_of(request: Request, job_id: str, session: StaffSession) -> Job:
        job = _work(request).jobs.get(job_id)
        if job is None or job.staff_id != session.staff.id:
            raise Refused("There is no such import (the bridge may have restarted; the batch "
                          "list shows every import).", status=404, title="No such import")
        return job

    @router.get("/jobs/{job_id}", response_class=HTMLResponse)
    async def job_page(request: Request, job_id: str, session: Importer) -> Response:
        job = job_of(request, job_id, session)
        state = job.state()
        if state["finished"] and state["batch"] is not None:
            return RedirectResponse(f"{BASE}/batches/{state['batch']}", status_code=303)
        response = page(request, "import_job.html", title="Importing", job=job, state=state)
        if not state["finished"]:
            response.headers["Refresh"] = "2"  # no script: the page reloads itself
            response.headers["Content-Security-Policy"] = _SCRIPT_CSP
        return response

    @router.get("/jobs/{job_id}/progress")
    async def job_progress(request: Request, job_id: str, session: Importer) -> JSONResponse:
        return JSONResponse(job_of(request, job_id, session).state(),
                            headers={"Cache-Control": "no-store"})

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
            count = registry.export_csv(text)
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


def _run(registry: Registry, job: Job, upload: Upload, actor: str) -> None:
    try:
        # apply() matches the preview's rows against the registry again (it may have changed
        # since the preview was made) without reading the file again.
        report = registry.imports.apply(upload.preview, actor=actor, progress=job.progress)
        with job.lock:
            job.report = report
    except Exception as exc:  # shown on the page; the batch keeps what was applied
        log.exception("import_failed", job=job.id)
        with job.lock:
            job.error = f"The import stopped: {type(exc).__name__}. What was imported so far " \
                        "is in the batch list and can be undone."
    finally:
        with job.lock:
            job.finished = True


_XLSX_MAGIC = b"PK\x03\x04"
_ACCEPTED = (".csv", ".txt")


def _file_problem(name: str, data: bytes) -> str | None:
    """Why the upload is not a CSV file we can read, in words for the person who chose it."""
    lower = name.lower()
    if len(data) > MAX_UPLOAD_BYTES:
        return (f"{name} is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; split it into "
                "smaller files and import them one after the other. Nothing was imported.")
    if data.startswith(_XLSX_MAGIC) or lower.endswith((".xlsx", ".xls", ".ods", ".numbers")):
        return (f"{name} is a spreadsheet workbook, not a CSV file. In Excel choose File → "
                "Save As → \"CSV UTF-8 (comma delimited)\", then upload that file. Nothing was "
                "imported.")
    if not lower.endswith(_ACCEPTED):
        return (f"{name} is not a CSV file (expected a name ending in .csv). Nothing was "
                "imported.")
    if not data.strip():
        return f"{name} is empty. Nothing was imported."
    return None


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


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
