"""`selfreg-bridge migrate`: what an installer runs with a new release before switching to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cashier_bridge.cli import main
from cashier_bridge.registry import migrate
from cashier_bridge.registry.engine import make_engine


def run(db_url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["migrate", "--db", db_url])
    out, err = capsys.readouterr()
    return status, out, err


def test_migrate_says_from_which_schema_to_which_and_runs_once(
        db_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFREG_DATA_DIR", str(tmp_path / "data"))  # where a PG key goes
    monkeypatch.setenv("SELFREG_CONFIG", str(tmp_path / "none.toml"))
    engine = make_engine(db_url)  # makes the SQLite file's directory, as the bridge does
    migrate.upgrade(engine, "0012")
    engine.dispose()
    head = migrate.head_revision()

    status, out, _ = run(db_url, capsys)
    assert status == 0
    shown = make_url(db_url).render_as_string(hide_password=True)
    assert out == f"registry {shown}: schema 0012 -> {head}\n"
    if make_url(db_url).password:
        assert make_url(db_url).password not in out

    status, out, _ = run(db_url, capsys)
    assert (status, out) == (0, f"registry {shown}: schema already at {head}, nothing to do\n")


def test_migrate_refuses_a_registry_from_a_newer_release(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFREG_CONFIG", str(tmp_path / "none.toml"))
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:  # as a newer release would leave it
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()

    status, out, err = run(url, capsys)
    assert status == 1 and out == ""
    assert (f"is at schema 9999, which this release does not know (it knows up to "
            f"{migrate.head_revision()}): it was written by a newer release") in err
    engine = create_engine(url)
    assert migrate.current_revision(engine) == "9999"  # left alone
    engine.dispose()
