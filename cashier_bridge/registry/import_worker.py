"""What a worker process does for the bridge's CSV import: read and check an uploaded file into
a stored preview, or import a stored preview.  Pure-Python parsing holds the interpreter lock
for seconds; in the bridge's own process that delayed every lane's step (see
docs/decisions.md, "CSV uploads are read in a worker process"), so the bridge runs these in a
process of their own (:mod:`cashier_bridge.web.admin.import_jobs`) and learns how they went from the
preview's row, like any other bridge process of a chain would.

A job carries what the worker needs and nothing it could not get itself: the database's URL,
the personal-ID fingerprint (the installation's key, bound into a picklable function), the
preview, and for a check the uploaded file's path.  The worker answers on a pipe with ``None``
when it is done, or the name of the exception that ended it (never its message: it may quote a
row).  Progress and results are in the database.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Literal

from cashier_bridge.registry.engine import make_engine, writer
from cashier_bridge.registry.imports import ImportStore, PreviewGone


@dataclass(frozen=True)
class Job:
    db_url: str
    fingerprint: Callable[[str], str]
    preview_id: int
    kind: Literal["check", "import"]
    path: str | None = None  # the uploaded file (check)
    region: str = "SE"
    actor: str = ""  # who imports (import)


@contextlib.contextmanager
def batch_gc() -> Iterator[None]:
    """Collect garbage a hundred times less often, as a batch job should: reading and
    importing a file allocates a few objects per cell, and at the default threshold (a
    collection every 700) collections took a third of an import's time.  Cycles are still
    collected.  For a process that does only this (the worker, the command line), never
    around a server's other work."""
    before = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def work(job: Job, reply: Connection) -> None:
    """The worker process's main: do ``job``, then say how it went on ``reply``."""
    outcome: str | None = None
    engine = make_engine(job.db_url)
    try:
        store = ImportStore(engine, writer(engine), job.fingerprint)
        preview = store.stored_preview(job.preview_id)
        if preview is None:
            outcome = PreviewGone.__name__
        elif job.kind == "check":
            assert job.path is not None
            with open(job.path, "rb") as source, batch_gc():
                store.check(preview, source, region=job.region)
        else:
            with batch_gc():
                store.apply(preview, actor=job.actor)
    except BaseException as exc:  # said on the pipe; the parent records it
        outcome = type(exc).__name__
    finally:
        engine.dispose()
    reply.send(outcome)
    reply.close()
