"""The back office's CSV reading and importing, each in a worker process of its own.

Parsing a file is pure Python and holds the interpreter lock: in a thread of the bridge it
still delayed every register's step (docs/decisions.md, "CSV uploads are read in a worker
process").  A worker (:func:`cashier_bridge.registry.import_worker.work`) is forked from a
small server process that has the registry's modules loaded already ("forkserver", started
at the first upload), so it starts in milliseconds, and its memory is the system's again when
it exits.

Each job is waited for by one thread of ``app.state.pools.uploads`` (bounded: past its limit
an upload is refused at once with :class:`Busy`), never by the event loop, and never by the
lanes' threads.  The job's state and progress are in its preview's row, for every process's
pages.  When the bridge stops, asyncio cancels the waiting task; the thread then ends the
worker within :data:`POLL_S` and records the preview as stopped, so SIGTERM stops the bridge
promptly even while a 50 MB file is being read.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait as wait_for_any
from multiprocessing.context import BaseContext
from pathlib import Path

import structlog

from cashier_bridge.config import data_dir
from cashier_bridge.pools import Busy, Pool
from cashier_bridge.registry import Registry
from cashier_bridge.registry.import_worker import Job, work
from cashier_bridge.registry.imports import Preview

log = structlog.get_logger("selfreg.admin.import_jobs")

POLL_S = 0.25  # how soon a waiting thread notices that the bridge is stopping
STALE_UPLOAD_S = 3600  # an uploaded file left behind (the bridge was killed) goes after this
_WORKER_MODULES = ["cashier_bridge.registry.import_worker"]


@functools.cache
def _context() -> BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_WORKER_MODULES)
    return context


def upload_dir() -> Path:
    """Where uploaded files wait for their worker: the data directory, the owner's only."""
    path = data_dir() / "uploads"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def new_upload_file() -> tuple[int, str]:
    """An open file (0600) for an upload, and its path; files left behind by a bridge that
    was killed are removed."""
    folder = upload_dir()
    cutoff = time.time() - STALE_UPLOAD_S
    for old in folder.glob("upload-*.csv"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()
    return tempfile.mkstemp(prefix="upload-", suffix=".csv", dir=folder)


class ImportJobs:
    """The worker jobs of one bridge process (``app.state.import_jobs``)."""

    def __init__(self, registry: Registry, pool: Pool, region: str) -> None:
        self._registry = registry
        self._pool = pool
        self._region = region
        self._db_url = registry.engine.url.render_as_string(hide_password=False)
        self._tasks: dict[asyncio.Task[None], threading.Event] = {}  # running → its stop

    def full(self) -> bool:
        return self._pool.limit is not None and self._pool.in_use >= self._pool.limit

    def check(self, preview: Preview, path: str) -> None:
        """Read and check the uploaded file at ``path`` (removed afterwards) into ``preview``,
        in the background; raises :class:`Busy` when the uploads' pool is full."""
        assert preview.id is not None
        self._start(Job(self._db_url, self._registry.imports.fingerprint, preview.id, "check",
                        path=path, region=self._region), path)

    def apply(self, preview: Preview, actor: str) -> None:
        """Import ``preview`` (claimed already) in the background; raises :class:`Busy`."""
        assert preview.id is not None
        self._start(Job(self._db_url, self._registry.imports.fingerprint, preview.id, "import",
                        actor=actor), None)

    def _start(self, job: Job, path: str | None) -> None:
        if self.full():
            raise Busy(self._pool.name)
        stop = threading.Event()
        task = asyncio.get_running_loop().create_task(self._run(job, path, stop))
        self._tasks[task] = stop
        task.add_done_callback(self._tasks.pop)

    async def close(self, timeout_s: float = 10.0) -> None:
        """End every worker (the bridge is stopping) and wait until each is recorded as
        stopped.  Before the lifespan's end: uvicorn kills its own process with the signal it
        caught once the app has shut down, so nothing may be left to asyncio or atexit."""
        for stop in self._tasks.values():
            stop.set()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)

    async def _run(self, job: Job, path: str | None, stop: threading.Event) -> None:
        started = threading.Event()
        stopped = self._registry.imports.stopped
        try:
            await self._pool.run(_in_worker, job, stop, started, stopped)
        except Busy:  # two jobs passed full() in one turn of the loop
            if job.kind == "import":  # claimed: it waits for "Import" again
                await asyncio.to_thread(self._registry.imports.release, job.preview_id)
            else:
                await asyncio.to_thread(stopped, job.preview_id, _BUSY)
        except asyncio.CancelledError:
            # The bridge is stopping: the waiting thread ends the worker and says so.
            stop.set()
            if not started.is_set():
                with contextlib.suppress(Exception):
                    stopped(job.preview_id, _why("stopped", job.kind))
            raise
        finally:
            if path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(path)


_BUSY = ("The bridge was busy with other files and did not check this one; upload it again in "
         "a minute.")


def _why(outcome: str, kind: str) -> str:
    if kind == "check":
        if outcome == "stopped":
            return "The bridge stopped while checking the file; upload it again."
        return (f"Checking the file stopped on an unexpected error ({outcome}); upload it "
                "again, and tell support if it happens again.")
    if outcome == "stopped":
        return ("The bridge stopped during the import. What was imported so far is in the "
                "batch list.")
    return (f"The import stopped on an unexpected error ({outcome}). What was imported so far "
            "is in the batch list.")


def _in_worker(job: Job, stop: threading.Event, started: threading.Event,
               stopped: Callable[[int, str], None]) -> str | None:
    """Run ``job`` in a worker process and wait for it (in an uploads thread); ``stop`` ends
    it early.  Returns None when it finished, else what ended it."""
    if stop.is_set():
        stopped(job.preview_id, _why("stopped", job.kind))
        return "stopped"
    context = _context()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=work, args=(job, send), daemon=True,  # type: ignore[attr-defined]
                              name=f"selfreg-import-{job.preview_id}")
    process.start()
    started.set()
    send.close()
    outcome: str | None = "stopped"
    answered = False
    try:
        while not stop.is_set():
            ready = wait_for_any([receive, process.sentinel], timeout=POLL_S)
            if receive in ready:
                try:
                    outcome = receive.recv()
                except EOFError:  # it ended without a word (killed, or crashed)
                    process.join(POLL_S)
                    outcome = f"exit code {process.exitcode}"
                answered = True
                break
    finally:
        if answered:
            process.join(5)  # it is exiting
        if process.is_alive():
            process.terminate()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)
        receive.close()
    if outcome is not None:
        log.warning("import_worker_stopped", preview=job.preview_id, kind=job.kind,
                    outcome=outcome)
        stopped(job.preview_id, _why(outcome, job.kind))
    return outcome
