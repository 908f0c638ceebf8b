"""The registry's SQLite files hold personal data: readable by the bridge's user only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from structlog.testing import capture_logs

from cashier_bridge.registry import NewCustomer, Registry


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_registry_is_0600_in_directories_made_0700(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual one: files 0644 unless made otherwise
    try:
        db = tmp_path / "var" / "selfreg" / "selfreg.db"
        registry = Registry.open(f"sqlite:///{db}")
        try:
            registry.customers.create_new("a", NewCustomer(first_name="Anna", last_name="A"))
            # WAL mode: the -wal and -shm files exist while the registry is open.
            files = [db, db.with_name("selfreg.db-wal"), db.with_name("selfreg.db-shm")]
            assert {f.name: oct(mode(f)) for f in files} == {f.name: "0o600" for f in files}
        finally:
            registry.close()
        assert oct(mode(db.parent)) == oct(mode(db.parent.parent)) == "0o700"
    finally:
        os.umask(old_umask)


def test_wider_modes_are_tightened_at_start_and_said_once(tmp_path: Path) -> None:
    db = tmp_path / "selfreg.db"
    Registry.open(f"sqlite:///{db}").close()
    db.chmod(0o644)
    journal = db.with_name("selfreg.db-journal")  # as a bulk load in rollback mode leaves one
    journal.write_bytes(b"")
    journal.chmod(0o664)

    with capture_logs() as logs:
        registry = Registry.open(f"sqlite:///{db}")
    try:
        assert mode(db) == mode(journal) == 0o600
        said = [e for e in logs if e["event"] == "database_file_mode_tightened"]
        assert len(said) == 1
        assert "selfreg.db 644" in said[0]["files"] and "selfreg.db-journal 664" in \
            said[0]["files"]
    finally:
        registry.close()
    with capture_logs() as logs:
        Registry.open(f"sqlite:///{db}").close()
    assert not [e for e in logs if e["event"] == "database_file_mode_tightened"]


def test_selfregs_own_data_directory_is_tightened(tmp_path: Path, own_data_dir: Path) -> None:
    own_data_dir.mkdir(mode=0o755)
    own_data_dir.chmod(0o755)
    Registry.open(f"sqlite:///{own_data_dir / 'selfreg.db'}").close()
    assert mode(own_data_dir) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    Registry.open(f"sqlite:///{shared / 'selfreg.db'}").close()
    assert mode(shared) == 0o755  # not ours to change; the files in it are 0600
    assert mode(shared / "selfreg.db") == 0o600
