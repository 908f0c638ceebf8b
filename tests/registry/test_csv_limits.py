"""Pathological CSV files: each is refused with a message that says where (line, column) and
which limit, in time linear in what is read, and nothing of it is imported.  (How long each
takes is in bench/csv_limits.py; a test asserts what a user sees.)"""

from __future__ import annotations

import io

import pytest

from cashier_bridge.registry import Registry, csv_io
from cashier_bridge.registry.imports import PreviewState

NAMES = b"first_name,last_name,note\n"


def refused(registry: Registry, data: bytes) -> str:
    """The reason the file's preview gives for refusing it whole (and that nothing changed)."""
    preview = registry.imports.preview(data, filename="x.csv")
    assert preview.header_error is not None, preview
    report = registry.imports.run(data, actor="test")
    assert report.created == report.updated == 0 and report.batch_id is None
    assert report.errors == [(preview.error_line, preview.header_error)]
    assert registry.customers.count() == 0
    return preview.header_error


def test_a_header_of_40000_columns_is_refused(registry: Registry) -> None:
    # Names and 39,998 empty columns: 40 kB, within the row limit; the column count refuses.
    data = b"first_name,last_name" + b"," * 39_998 + b"\nAnna,Berg\n"
    assert refused(registry, data) == (
        "header: 40,000 columns (at most 200 are read; a Lightspeed customer export has about "
        "60); is this a customer file?")


@pytest.mark.parametrize("columns", [40_000, 1_000_000])
def test_a_header_of_many_named_columns_is_refused_as_too_long(registry: Registry,
                                                               columns: int) -> None:
    # The issue's files: 0.3 MB (22 s to read before) and 8 MB (minutes, and 1.5 GB).
    data = b"first_name,last_name," + ",".join(
        f"c{n}" for n in range(columns - 2)).encode() + b"\nAnna,Berg\n"
    assert refused(registry, data) == (
        "header: longer than 100,000 characters (at most 200 columns and 100,000 characters "
        "are read); is this a customer file?")


def test_a_cell_over_pythons_field_limit_names_its_line_and_column(registry: Registry) -> None:
    # 131,073 characters: past csv.field_size_limit(), which used to end in a traceback (500).
    data = NAMES + b"Anna,Berg,ok\nBo,Ek," + b"x" * 131_073 + b"\nCai,Lund,\n"
    assert refused(registry, data) == (
        "line 3, note: a cell longer than 10,000 characters (at most 10,000 are read); is a "
        "closing quote missing?")


def test_an_unclosed_quote_stops_at_the_row_limit_naming_the_line(registry: Registry) -> None:
    data = NAMES + b'Anna,Berg,"a note\n' + b"more of it, and more\n" * 20_000
    assert refused(registry, data) == (
        "line 2, note: a cell longer than 10,000 characters (at most 10,000 are read); is a "
        "closing quote missing?")


def test_a_long_row_of_short_cells_names_its_line(registry: Registry) -> None:
    data = NAMES + b"Anna,Berg,ok\n" + b"Bo,Ek," + b"x," * 60_000 + b"\n"
    assert refused(registry, data) == (
        "line 3: a row longer than 100,000 characters (at most 100,000 are read); is a "
        "closing quote missing?")


def test_a_file_without_line_breaks_is_refused_at_the_header(registry: Registry) -> None:
    assert refused(registry, b"first_name,last_name," + b"x" * 5_000_000) == (
        "header: longer than 100,000 characters (at most 200 columns and 100,000 characters "
        "are read); is this a customer file?")


def test_a_long_kept_cell_fails_its_row_and_the_others_import(registry: Registry) -> None:
    data = NAMES + b"Anna,Berg,ok\nBo,Ek," + b"x" * 20_000 + b"\nCai,Lund,\n"
    report = registry.imports.run(data, actor="test")
    assert report.errors == [(3, "note: 20,000 characters (at most 10,000 are read)")]
    assert [i.column for i in report.issues] == ["note"]
    assert report.created == 2


def test_a_long_cell_in_an_ignored_column_is_no_error(registry: Registry) -> None:
    data = b"first_name,last_name,shoe_size\nAnna,Berg," + b"9" * 20_000 + b"\n"
    report = registry.imports.run(data, actor="test")
    assert (report.created, report.errors) == (1, [])


def test_too_many_rows_are_refused_naming_the_first_line_past_the_limit(
        registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_io, "MAX_ROWS", 1_000)
    # Blank lines count: a file of line breaks is no cheaper a way past the limit.
    data = b"first_name,last_name\n" + b"Anna,Berg\n" + b"\n" * 5_000
    assert refused(registry, data) == (
        "line 1002: more than 1,000 rows; split the file into files of at most 1,000 rows "
        "and import them one after the other")


def test_a_bad_byte_far_into_the_file_names_its_line(registry: Registry) -> None:
    rows = b"".join(b"Anna%d,Berg\r\n" % n for n in range(6_000))
    data = b"first_name,last_name\r\n" + rows + "Åsa,Öberg\r\n".encode("cp1252")
    assert refused(registry, data) == (
        'the file is not UTF-8 text (byte 0xC5 on line 6002); in Excel choose "CSV UTF-8" '
        "when saving")


def test_many_ordinary_lines_are_read_in_chunks_and_import() -> None:
    # The reader keeps one row at a time: a quarter of a million short rows read through.
    data = b"first_name,last_name\n" + b"Anna,Berg\n" * csv_io.MAX_ROWS
    table = csv_io.read_table(io.BytesIO(data))
    assert table.problem is None
    last = 0
    for last, cells in table.rows:  # noqa: B007
        assert cells == {"first_name": "Anna", "last_name": "Berg"}
    assert last == csv_io.MAX_ROWS + 1


def test_the_callers_file_stays_open_and_in_place(registry: Registry) -> None:
    source = io.BytesIO(NAMES + b"Anna,Berg,ok\n")
    preview = registry.imports.preview(source, filename="x.csv")
    assert preview.state == PreviewState.READY and preview.creates == 1
    assert not source.closed
