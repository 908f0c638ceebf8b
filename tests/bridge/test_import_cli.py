"""``selfreg-bridge import-csv --dry-run | import-csv | imports | import-undo`` as a shop owner
runs them on a Lightspeed export."""

from __future__ import annotations

from pathlib import Path

from cashier_bridge.registry import Registry
from tests.bridge.test_cli import bridge

LIGHTSPEED = Path(__file__).resolve().parents[1] / "fixtures" / "lightspeed" / \
    "customers_x_series.csv"


def test_dry_run_import_list_and_undo(tmp_path: Path) -> None:
    dry = bridge("import-csv", str(LIGHTSPEED), "--dry-run", tmp=tmp_path)
    assert dry.returncode == 1  # rows would fail
    assert ("would create 5, update 0, leave 0 unchanged; 3 rows cannot be imported "
            "(nothing was changed)") in dry.stdout
    assert "line 6: email: 'lars.nilsson@' is not an email address" in dry.stderr
    assert "columns read but not kept: id, sex, enable_loyalty, created_at, updated_at" in \
        dry.stderr
    assert "line 2: create customer_code=ANNA-4F2K" in dry.stdout

    done = bridge("import-csv", str(LIGHTSPEED), tmp=tmp_path)
    assert done.returncode == 1
    assert "created 5, updated 0, skipped 0, errors 3 (batch 1;" in done.stdout
    assert "line 8: date_of_birth 1990-02-30" in done.stderr

    again = bridge("import-csv", str(LIGHTSPEED), tmp=tmp_path)
    assert again.returncode == 0
    assert "this file was already imported as batch 1" in again.stdout
    assert "created 0" in again.stdout

    listed = bridge("imports", tmp=tmp_path)
    assert listed.stdout.splitlines()[1].split("\t")[3:9] == [
        "customers_x_series.csv", "8", "5", "0", "0", "3"]

    undone = bridge("import-undo", "1", tmp=tmp_path)
    assert undone.returncode == 0, undone.stderr
    assert "batch 1 undone: removed 5, restored 0, not undone 0" in undone.stdout
    twice = bridge("import-undo", "1", tmp=tmp_path)
    assert twice.returncode == 1 and "was undone on" in twice.stderr
    registry = Registry.open(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        assert registry.customers.count() == 0
    finally:
        registry.close()


def test_a_big_file_shows_progress_on_stderr(tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    source.write_text("customer_code,first_name,last_name,mobile\n" + "".join(
        f"{n},Test,Person{n},070{n:07d}\n" for n in range(1, 6_001)), encoding="utf-8")
    result = bridge("import-csv", str(source), tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "checking: 6,000/6,000 rows (100 %)" in result.stderr
    assert "importing: 6,000/6,000 rows (100 %)" in result.stderr
    assert "created 6000" in result.stdout


def test_a_file_past_a_limit_is_refused_with_line_column_and_limit(tmp_path: Path) -> None:
    long_cell = tmp_path / "lang.csv"
    long_cell.write_bytes(b"first_name,last_name,note\nAnna,Berg,ok\nBo,Ek," + b"x" * 131_073
                          + b"\n")
    result = bridge("import-csv", str(long_cell), tmp=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "line 3, note: a cell longer than 10,000 characters (at most 10,000 are read); is a "
        "closing quote missing?")
    assert result.stdout.strip() == "nothing imported"
    assert "Traceback" not in result.stderr

    wide = tmp_path / "bred.csv"
    wide.write_bytes(b"first_name,last_name," + b",".join(
        b"c%d" % n for n in range(999_998)) + b"\n")
    result = bridge("import-csv", str(wide), "--dry-run", tmp=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("header: longer than 100,000 characters")
    registry = Registry.open(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        assert registry.customers.count() == 0 and registry.imports.list() == []
    finally:
        registry.close()
