"""Previews stored in the database (SQLite and PostgreSQL): imported from another Registry on
the same database (another process of a chain, or the bridge after a restart), a staff
member's newest two kept, expiry, the total-size cap, no personnummer in what is stored, and a
preview imported once."""

from __future__ import annotations

import datetime as dt
import json
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry import Registry, imports
from cashier_bridge.registry.imports import PreviewGone, PreviewState
from cashier_bridge.registry.schema import import_preview_chunks, import_previews

ROOT = Path(__file__).resolve().parents[2]
LIGHTSPEED = ROOT / "tests" / "fixtures" / "lightspeed" / "customers_x_series.csv"
ANNA_PNR = "19850312-1249"


def staff(registry: Registry, name: str) -> int:
    return registry.staff.add(name, "a long enough password", StaffRole.manager).id


def stored_chunks(registry: Registry, preview_id: int | None = None) -> int:
    query = select(func.count()).select_from(import_preview_chunks)
    if preview_id is not None:
        query = query.where(import_preview_chunks.c.preview_id == preview_id)
    with registry.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def small_file(n: int) -> bytes:
    return f"customer_code,first_name,last_name\nC{n},Anna,Berg{n}\n".encode()


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_a_preview_made_on_one_registry_is_imported_on_another(
        registry: Registry, db_url: str) -> None:
    maja = staff(registry, "maja")
    made = registry.imports.preview(LIGHTSPEED.read_bytes(), filename="customers.csv",
                                    staff_id=maja, actor="staff:maja")
    assert made.state == PreviewState.READY
    other = Registry.open(db_url)  # another bridge process, or this one after a restart
    try:
        found = other.imports.find(made.token, maja)
        assert found is not None and found.state == PreviewState.READY
        assert (found.creates, found.failed, found.rows_total) == (5, 3, 8)
        assert found.sample()[0]["values"]["phone"] == "+46701234567"
        assert str(found.errors[0]) == (
            "line 6: email: 'lars.nilsson@' is not an email address")
        assert other.imports.find(made.token, staff(other, "kim")) is None  # not hers
        report = other.imports.apply(found, actor="staff:maja")
        assert (report.created, report.failed) == (5, 3)
        assert other.customers.count() == 5
        done = registry.imports.find(made.token, maja)
        assert done is not None and (done.state, done.batch_id) == (PreviewState.IMPORTED,
                                                                    report.batch_id)
        assert stored_chunks(registry, made.id) == 0  # its rows are gone once imported
        with pytest.raises(PreviewGone) as gone:
            registry.imports.apply(done, actor="staff:maja")
        assert gone.value.state == PreviewState.IMPORTED
        assert registry.customers.count() == 5  # nothing twice
    finally:
        other.close()


def test_a_preview_is_claimed_for_import_once(registry: Registry) -> None:
    made = registry.imports.preview(small_file(1), staff_id=staff(registry, "maja"))
    claimed = registry.imports.claim(made)
    assert claimed.state == PreviewState.IMPORTING
    with pytest.raises(PreviewGone) as second:
        registry.imports.claim(made)
    assert second.value.state == PreviewState.IMPORTING
    report = registry.imports.apply(claimed, actor="x")  # the claimant imports it
    assert report.created == 1


def test_each_person_keeps_their_two_newest_previews(registry: Registry) -> None:
    maja, kim = staff(registry, "maja"), staff(registry, "kim")
    first = registry.imports.preview(small_file(1), staff_id=maja)
    kims = registry.imports.preview(small_file(2), staff_id=kim)
    second = registry.imports.preview(small_file(3), staff_id=maja)
    assert stored_chunks(registry, first.id) == 1
    third = registry.imports.preview(small_file(4), staff_id=maja)
    replaced = registry.imports.find(first.token, maja)
    assert replaced is not None and replaced.state == PreviewState.REPLACED
    assert stored_chunks(registry, first.id) == 0
    with pytest.raises(PreviewGone) as gone:
        registry.imports.apply(replaced, actor="x")
    assert gone.value.state == PreviewState.REPLACED
    for kept, who in ((second, maja), (third, maja), (kims, kim)):
        found = registry.imports.find(kept.token, who)
        assert found is not None and found.state == PreviewState.READY
    assert registry.customers.count() == 0


def test_previews_expire_and_the_sweep_forgets_their_rows(registry: Registry) -> None:
    clock = Clock()
    registry.imports.clock = clock
    maja = staff(registry, "maja")
    made = registry.imports.preview(small_file(1), staff_id=maja)
    clock.now += imports.PREVIEW_TTL + dt.timedelta(minutes=1)
    expired = registry.imports.find(made.token, maja)
    assert expired is not None and expired.state == PreviewState.EXPIRED
    with pytest.raises(PreviewGone):
        registry.imports.apply(expired, actor="x")
    registry.imports.sweep()
    assert stored_chunks(registry) == 0
    clock.now += imports.KEEP_TOMBSTONES
    registry.imports.sweep()
    assert registry.imports.find(made.token, maja) is None  # a week later, gone altogether


def test_a_check_nobody_hears_from_reads_as_stopped(registry: Registry) -> None:
    clock = Clock()
    registry.imports.clock = clock
    maja = staff(registry, "maja")
    begun = registry.imports.begin(filename="x.csv", sha256="0" * 64, staff_id=maja)
    assert [p.id for p in registry.imports.running()] == [begun.id]
    clock.now += imports.STALE_AFTER + dt.timedelta(seconds=1)  # its process is gone
    found = registry.imports.find(begun.token, maja)
    assert found is not None and found.state == PreviewState.STOPPED
    assert registry.imports.running() == []


def test_the_oldest_previews_make_room_past_the_total_size(
        registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    people = [staff(registry, name) for name in ("a1", "b2", "c3")]
    made = [registry.imports.preview(LIGHTSPEED.read_bytes(), staff_id=who) for who in people]
    with registry.engine.connect() as conn:
        sizes = dict(conn.execute(select(import_previews.c.id,
                                         import_previews.c.stored_bytes)).all())
    assert all(size > 0 for size in sizes.values())
    # Room for two of them: the next upload drops the oldest.
    monkeypatch.setattr(imports, "MAX_STORED_BYTES", sum(sizes.values()) - 1)
    registry.imports.preview(small_file(9), staff_id=people[2])
    oldest = registry.imports.find(made[0].token, people[0])
    assert oldest is not None and oldest.state == PreviewState.DROPPED
    assert [registry.imports.find(p.token, who).state  # type: ignore[union-attr]
            for p, who in zip(made[1:], people[1:], strict=True)] == [PreviewState.READY] * 2


def test_what_is_stored_holds_no_personal_id_number(registry: Registry) -> None:
    data = ("first_name,last_name,personal_id\nAnna,Andersson," + ANNA_PNR + "\n").encode()
    made = registry.imports.preview(data, staff_id=staff(registry, "maja"))
    assert made.creates == 1
    with registry.engine.connect() as conn:
        bodies = [zlib.decompress(b).decode() for b in conn.execute(
            select(import_preview_chunks.c.body)).scalars()]
        summary = conn.execute(select(import_previews.c.summary_json)).scalar_one()
    digits = ANNA_PNR.replace("-", "")
    for text in (*bodies, summary):
        assert digits not in text and digits[2:] not in text
    row = json.loads(bodies[0])["rows"][0]
    assert registry.fingerprint(ANNA_PNR) in row and "19850312-****" in row
    assert made.sample()[0]["values"]["personal_id_masked"] == "19850312-****"
