"""/admin/import-export over HTTP through the bridge's real app: upload, preview, import with
progress, the report, undo, export; who may, CSRF, upload limits and files that are no CSV."""

# The back office's client and registry fixtures come from test_admin_http; a test's argument
# of the same name is pytest's injection, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from admin.conftest import make_client
from admin.test_admin_http import csrf_of, login, registry, text_of  # noqa: F401
from cashier_bridge.registry import Registry
from cashier_bridge.registry.imports import PREVIEW_TTL
from cashier_bridge.registry.schema import import_previews
from cashier_bridge.web.admin.imports import MAX_UPLOAD_BYTES

LIGHTSPEED = Path(__file__).resolve().parents[1] / "fixtures" / "lightspeed" / \
    "customers_x_series.csv"


def upload(client: TestClient, csrf: str, name: str, data: bytes,
           content_type: str = "text/csv") -> httpx.Response:
    """Post the file; when it is taken, the page its check ends on (it runs in a worker
    process while the page shows progress)."""
    posted = client.post("/admin/import-export/preview", data={"csrf": csrf},
                         files={"file": (name, data, content_type)})
    if posted.status_code != 303:
        return posted
    return settled(client, posted.headers["location"])


def settled(client: TestClient, url: str) -> httpx.Response:
    """``url`` once it no longer shows a check or import in progress (the worker finished:
    the event the page reports)."""
    deadline = time.monotonic() + 120
    while True:
        page = client.get(url)
        if 'id="progress"' not in page.text or time.monotonic() > deadline:
            return page


def wait_for(job_url: str, client: TestClient) -> None:
    """The import's worker finishing: the event the progress endpoint reports."""
    deadline = time.monotonic() + 120
    while not client.get(job_url + "/progress").json()["finished"]:
        assert time.monotonic() < deadline, "the import did not finish"


def test_a_manager_previews_imports_reads_the_report_and_undoes(
        client: TestClient, registry: Registry) -> None:
    csrf = login(client, "maja")
    page = upload(client, csrf, "customers.csv", LIGHTSPEED.read_bytes())
    assert page.status_code == 200, page.text
    assert [text_of(page, k) for k in ("rows", "creates", "updates", "unchanged", "failed")] \
        == ["8", "4", "0", "0", "4"]
    assert "Columns read but not kept: id, sex, enable_loyalty, created_at, updated_at" in \
        page.text
    errors = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page.text)
    assert [(line, column) for line, column, _ in errors] == [
        ("2", "mobile"), ("6", "email"), ("7", "phone"), ("8", "date_of_birth")]
    # Anna Andersson (1001) is in the registry with the number the file gives Anna Lindqvist.
    assert errors[0][2] == "mobile +46701234567 already belongs to customer 1001 (Anna Andersson)"
    assert errors[1][2].replace("&#39;", "'") == "email: 'lars.nilsson@' is not an email address"
    assert registry.customers.count() == 2  # the preview changed nothing

    token = re.search(r'name="upload" value="([^"]+)"', page.text).group(1)
    started = client.post("/admin/import-export/import", data={"csrf": csrf, "upload": token})
    assert started.status_code == 303
    job_url = started.headers["location"]
    wait_for(job_url, client)
    progress = client.get(job_url + "/progress").json()
    assert progress["finished"] and progress["error"] is None
    assert (progress["phase"], progress["done"], progress["total"]) == ("importing", 4, 4)
    report = client.get(job_url)
    assert report.status_code == 303  # the finished job's page is the batch's report
    batch = client.get(report.headers["location"])
    assert [text_of(batch, k) for k in ("created", "updated", "failed")] == ["4", "0", "4"]
    assert "already belongs to customer 1001 (Anna Andersson)" in batch.text
    assert registry.customers.count() == 6

    undo_url = report.headers["location"] + "/undo"
    unconfirmed = client.post(undo_url, data={"csrf": csrf})
    assert unconfirmed.status_code == 422
    assert "Tick the box" in text_of(unconfirmed, "error")
    assert registry.customers.count() == 6
    done = client.post(undo_url, data={"csrf": csrf, "confirm": "yes"})
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert text_of(after, "done") == "The import was undone."
    assert text_of(after, "undo-result").startswith("Removed 4 new customers")
    assert registry.customers.count() == 2
    again = client.post(undo_url, data={"csrf": csrf, "confirm": "yes"})
    assert again.status_code == 409 and "was undone on" in text_of(again, "error")


def test_a_file_imported_before_is_named_and_needs_the_box(
        client: TestClient, registry: Registry) -> None:
    registry.imports.run(LIGHTSPEED.read_bytes(), actor="cli")
    csrf = login(client, "root")
    page = upload(client, csrf, "customers.csv", LIGHTSPEED.read_bytes())
    assert "already imported as" in text_of(page, "earlier")
    assert "nothing-to-do" in page.text  # every row is already there


@pytest.mark.parametrize(("name", "data", "status", "message"), [
    ("kunder.xlsx", b"PK\x03\x04\x14\x00\x06\x00", 422, "is a spreadsheet workbook, not a CSV "
     "file. In Excel choose File → Save As → \"CSV UTF-8 (comma delimited)\""),
    ("kunder.pdf", b"%PDF-1.7", 422, "kunder.pdf is not a CSV file"),
    ("tom.csv", b"", 422, "tom.csv is empty. Nothing was imported."),
    ("latin1.csv", "first_name;last_name\nÅsa;Öberg\n".encode("cp1252"), 422,
     "latin1.csv: The file is not UTF-8 text (byte 0xC5 on line 2); in Excel choose \"CSV "
     "UTF-8\" when saving. Nothing was imported."),
    ("fel.csv", b"kundnummer,namn\n1,Anna\n", 422, "fel.csv: Header: missing column"),
    ("stor.csv", b"first_name,last_name\n" + b"x" * MAX_UPLOAD_BYTES, 413,
     "stor.csv is larger than 50 MB; split it into smaller files"),
])
def test_files_that_cannot_be_imported_get_a_clear_message(
        client: TestClient, registry: Registry, name: str, data: bytes, status: int,
        message: str) -> None:
    csrf = login(client, "maja")
    page = upload(client, csrf, name, data)
    assert page.status_code == status
    assert message in text_of(page, "error")
    assert registry.imports.list() == [] and registry.customers.count() == 2


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(
        client: TestClient, registry: Registry) -> None:
    csrf = login(client, "maja")
    page = upload(client, csrf, "huge.csv", b"x" * (MAX_UPLOAD_BYTES + 200_000))
    assert page.status_code == 413
    assert registry.imports.list() == []


def test_an_upload_without_the_csrf_token_is_refused(client: TestClient,
                                                     registry: Registry) -> None:
    login(client, "maja")
    page = upload(client, "forged", "customers.csv", LIGHTSPEED.read_bytes())
    assert page.status_code == 403
    assert "did not carry the security code" in text_of(page, "reason")
    no_token = client.post("/admin/import-export/import", data={"upload": "x"})
    assert no_token.status_code == 403


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/admin/import-export"), ("get", "/admin/import-export/export.csv"),
    ("post", "/admin/import-export/preview"), ("post", "/admin/import-export/import"),
    ("post", "/admin/import-export/batches/1/undo"),
])
def test_a_cashier_is_refused_with_the_reason(client: TestClient, registry: Registry,
                                              method: str, path: str) -> None:
    batch = registry.imports.run(LIGHTSPEED.read_bytes(), actor="cli").batch_id
    assert batch == 1
    csrf = login(client, "kim")
    if method == "get":
        response = client.get(path)
    else:
        response = client.post(path, data={"csrf": csrf, "confirm": "yes"})
    assert response.status_code == 403
    assert re.match(r"Only managers and admins may (import|export) customers (from|as) a CSV "
                    r"file; you are signed in as a cashier\.", text_of(response, "reason"))
    assert registry.imports.get(1).undone_at is None


def test_export_streams_every_customer_in_the_lightspeed_columns(
        client: TestClient, registry: Registry) -> None:
    login(client, "maja")
    response = client.get("/admin/import-export/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="customers.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["customer_code"], r["first_name"], r["mobile"]) for r in rows] == [
        ("1001", "Anna", "+46701234567"), ("1002", "Bo", "")]


# --- limits, stored previews, a busy bridge -------------------------------------------------

def test_a_cell_over_the_csv_field_limit_gets_a_422_naming_line_and_column(
        client: TestClient, registry: Registry) -> None:
    csrf = login(client, "maja")
    data = b"first_name,last_name,note\nAnna,Berg,ok\nBo,Ek," + b"x" * 131_073 + b"\n"
    page = upload(client, csrf, "lang.csv", data)
    assert page.status_code == 422
    assert text_of(page, "error") == (
        "lang.csv: Line 3, note: a cell longer than 10,000 characters (at most 10,000 are "
        "read); is a closing quote missing? Nothing was imported.")
    assert 'id="file"' in page.text  # the upload form, to choose the corrected file
    assert registry.imports.list() == [] and registry.customers.count() == 2


def test_a_header_of_40000_columns_gets_a_422(client: TestClient, registry: Registry) -> None:
    csrf = login(client, "maja")
    page = upload(client, csrf, "bred.csv", b"first_name,last_name" + b"," * 39_998 + b"\n")
    assert page.status_code == 422
    assert text_of(page, "error").startswith("bred.csv: Header: 40,000 columns (at most 200 "
                                             "are read;")


def test_a_third_upload_replaces_the_oldest_preview_and_its_page_says_so(
        client: TestClient, registry: Registry) -> None:
    csrf = login(client, "maja")
    pages = [upload(client, csrf, f"fil{n}.csv", LIGHTSPEED.read_bytes() + b"\n" * n)
             for n in range(3)]
    assert [p.status_code for p in pages] == [200, 200, 200]
    first = re.search(r'name="upload" value="([^"]+)"', pages[0].text).group(1)
    gone = client.get(f"/admin/import-export/previews/{first}")
    assert gone.status_code == 410
    assert text_of(gone, "error") == (
        "The check of fil0.csv was replaced by a newer upload of yours (each person keeps "
        "their 2 newest). Upload the file again to import it.")
    refused = client.post("/admin/import-export/import", data={"csrf": csrf, "upload": first})
    assert refused.status_code == 410 and "was replaced by a newer upload" in refused.text
    assert registry.imports.list() == []
    # Another person's preview is not found at all, whoever asks.
    client.cookies.clear()
    root_csrf = login(client, "root")
    second = re.search(r'name="upload" value="([^"]+)"', pages[1].text).group(1)
    assert client.get(f"/admin/import-export/previews/{second}").status_code == 404
    assert client.post("/admin/import-export/import",
                       data={"csrf": root_csrf, "upload": second}).status_code == 410


def test_an_expired_preview_says_so(client: TestClient, registry: Registry) -> None:
    csrf = login(client, "maja")
    page = upload(client, csrf, "customers.csv", LIGHTSPEED.read_bytes())
    token = re.search(r'name="upload" value="([^"]+)"', page.text).group(1)
    later = dt.datetime.now(dt.UTC) + PREVIEW_TTL + dt.timedelta(minutes=1)
    registry.imports.clock = lambda: later
    gone = client.get(f"/admin/import-export/previews/{token}")
    assert gone.status_code == 410
    assert text_of(gone, "error") == (
        "The check of customers.csv expired (checked files are kept for 24 hours). Upload "
        "the file again to import it.")


def test_a_preview_opens_and_imports_on_another_bridge_process(
        client: TestClient, registry: Registry, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    csrf = login(client, "maja")
    page = upload(client, csrf, "customers.csv", LIGHTSPEED.read_bytes())
    token = re.search(r'name="upload" value="([^"]+)"', page.text).group(1)
    other_registry = Registry.open(registry.engine.url.render_as_string(hide_password=False))
    other_registry.staff.clock = registry.staff.clock  # the test's clock, as sessions read it
    try:
        with make_client(other_registry, tmp_path / "other", monkeypatch) as other:
            other.cookies = client.cookies  # the same browser, sent to another process
            shown = other.get(f"/admin/import-export/previews/{token}")
            assert shown.status_code == 200, shown.headers.get("location")
            assert text_of(shown, "creates") == "4" and text_of(shown, "failed") == "4"
            started = other.post("/admin/import-export/import",
                                 data={"csrf": csrf, "upload": token})
            assert started.status_code == 303
            wait_for(started.headers["location"], other)
            # The first process's page follows the import the other one ran.
            done = client.get(started.headers["location"])
            assert done.status_code == 303 and "/batches/1" in done.headers["location"]
    finally:
        other_registry.close()
    assert registry.customers.count() == 6


def test_a_busy_bridge_answers_503_with_retry_after_and_keeps_nothing(
        client: TestClient, registry: Registry) -> None:
    csrf = login(client, "maja")
    pool = client.app.state.pools.uploads  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def pool_full() -> Iterator[None]:  # as many files being read as the pool takes
        release = threading.Event()
        holding = [client.portal.start_task_soon(pool.run, release.wait)  # type: ignore[union-attr]
                   for _ in range(pool.limit)]
        try:
            # Every place taken (running or waiting: what the pool counts) before the upload
            # comes: the tasks above are only scheduled when start_task_soon returns.
            deadline = time.monotonic() + 30
            while client.portal.call(lambda: pool.in_use) < pool.limit:  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the pool never filled"
            yield
        finally:
            release.set()
            for held in holding:
                held.result(30)

    with pool_full():
        page = upload(client, csrf, "customers.csv", LIGHTSPEED.read_bytes())
    assert page.status_code == 503
    assert page.headers["retry-after"] == "5"
    assert text_of(page, "error").startswith("The bridge is busy checking or importing "
                                             "other files; nothing was sent on.")
    with registry.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(import_previews)).scalar_one() == 0

    page = upload(client, csrf, "customers.csv", LIGHTSPEED.read_bytes())
    assert page.status_code == 200
    token = re.search(r'name="upload" value="([^"]+)"', page.text).group(1)
    with pool_full():
        busy = client.post("/admin/import-export/import", data={"csrf": csrf, "upload": token})
    assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
    assert registry.imports.list() == [] and registry.customers.count() == 2
    # The checked file waits for "Import" as before.
    assert client.get(f"/admin/import-export/previews/{token}").status_code == 200
