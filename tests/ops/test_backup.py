"""Backups as a shop uses them: ``selfreg-bridge backup`` while the lanes register (a real
bridge process, customers arriving through the REST API), ``restore`` onto a new till, and the
refusals that keep a restore from doing harm."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from simulator.processes import BridgeProcess
from tests.ops.conftest import environment


def selfreg_bridge(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as a shop's support person runs it."""
    return subprocess.run([sys.executable, "-m", "cashier_bridge.cli", *args],
                          capture_output=True, text=True, env=environment(workdir), timeout=300,
                          check=False)


class Burst:
    """Threads registering customers through the REST API until told to stop; what the bridge
    acknowledged (201) is kept, in order."""

    def __init__(self, bridge: BridgeProcess, token: str, threads: int = 4) -> None:
        self.url = f"{bridge.http_url}/api/v1/customers"
        self.token = token
        self.acknowledged: dict[int, str] = {}  # customer id -> phone
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.reached = threading.Event()
        self.goal = 0
        self.threads = [threading.Thread(target=self._register, args=(n,)) for n in
                        range(threads)]

    def start(self, goal: int) -> None:
        self.goal = goal
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def _register(self, worker: int) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            phone = f"+4670{worker}{n:06d}"
            body = json.dumps({"first_name": f"Kund{worker}x{n}", "last_name": "Burst",
                               "phone": phone}).encode()
            request = urllib.request.Request(self.url, body, method="POST", headers={
                "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    created = json.loads(answer.read())
            except (urllib.error.URLError, OSError) as exc:
                with self.lock:
                    self.failures.append(f"{phone}: {exc}")
                continue
            with self.lock:
                self.acknowledged[created["id"]] = created["phone"]
                if len(self.acknowledged) >= self.goal:
                    self.reached.set()


def api_get(bridge: BridgeProcess, token: str, path: str) -> Any:
    request = urllib.request.Request(f"{bridge.http_url}/api/v1{path}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def everyone(bridge: BridgeProcess, token: str) -> dict[int, str]:
    found: dict[int, str] = {}
    cursor = ""
    while True:
        page = api_get(bridge, token, f"/customers?limit=200{cursor}")
        found.update({c["id"]: c["phone"] for c in page["items"]})
        if page["next_cursor"] is None:
            return found
        cursor = f"&cursor={page['next_cursor']}"


def test_a_backup_taken_during_a_burst_restores_every_acknowledged_customer_on_a_new_till(
        tmp_path: Path) -> None:
    old_till, new_till = tmp_path / "old-till", tmp_path / "new-till"
    old_till.mkdir()
    bridge = BridgeProcess(old_till)
    bridge.start()
    restored_bridge: BridgeProcess | None = None
    try:
        token = bridge.cli("token", "create", "--name", "POS sync", "--scope", "write"
                           ).stdout.strip()
        burst = Burst(bridge, token)
        burst.start(goal=40)
        try:
            assert burst.reached.wait(120), burst.failures[:3]
            with burst.lock:
                before_backup = dict(burst.acknowledged)
            backup_file = tmp_path / "usb-stick" / "selfreg.db"
            made = selfreg_bridge(old_till, "backup", str(backup_file), "--db", bridge.db_url)
        finally:
            burst.finish()
        assert made.returncode == 0, made.stderr
        assert burst.failures == []
        assert "backed up" in made.stdout and "personal-id.key" in made.stderr
        assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600
        assert [p.name for p in backup_file.parent.iterdir()] == ["selfreg.db"]  # no leftovers

        # While the old till's bridge runs, a restore into its registry is refused.
        customers_now = bridge.health()["customers"]  # type: ignore[index]
        refused = selfreg_bridge(old_till, "restore", str(backup_file), "--db", bridge.db_url)
        assert refused.returncode == 2 and "the bridge is running" in refused.stderr
        assert "Nothing was restored" in refused.stderr
        assert bridge.health()["customers"] == customers_now  # type: ignore[index]

        # The new till: a fresh data directory, the key copied from where it was kept apart.
        (new_till / "data").mkdir(parents=True)
        shutil.copy2(old_till / "personal-id.key", new_till / "data" / "personal-id.key")
        new_db = f"sqlite:///{new_till / 'data' / 'selfreg.db'}"
        restored = selfreg_bridge(new_till, "restore", str(backup_file), "--db", new_db)
        assert restored.returncode == 0, restored.stderr
        assert "restored" in restored.stdout

        restored_bridge = BridgeProcess(new_till, db_url=new_db)
        restored_bridge.start()
        on_new_till = everyone(restored_bridge, token)  # the API token came along too
        missing = {i: p for i, p in before_backup.items() if on_new_till.get(i) != p}
        assert missing == {}, f"{len(missing)} acknowledged customers lost"
        # Nothing half-written or invented: everything restored was acknowledged.
        assert set(on_new_till) <= set(burst.acknowledged)
        assert all(burst.acknowledged[i] == p for i, p in on_new_till.items())
    finally:
        bridge.stop()
        if restored_bridge is not None:
            restored_bridge.stop()


@pytest.fixture
def registry_dir(tmp_path: Path) -> Path:
    """A shop's registry with the demo customers (and its personnummer key beside it)."""
    shop = tmp_path / "shop"
    shop.mkdir()
    loaded = selfreg_bridge(shop, "import-csv", "demo", "--db", f"sqlite:///{shop / 'selfreg.db'}")
    assert loaded.returncode == 0, loaded.stderr
    return shop


def db(directory: Path) -> str:
    return f"sqlite:///{directory / 'selfreg.db'}"


def test_a_backup_from_a_newer_schema_is_refused_and_says_why(registry_dir: Path,
                                                             tmp_path: Path) -> None:
    backup_file = tmp_path / "from-a-newer-till.db"
    assert selfreg_bridge(registry_dir, "backup", str(backup_file), "--db", db(registry_dir)
                          ).returncode == 0
    with sqlite3.connect(backup_file) as conn:  # what a later release's migration leaves
        conn.execute("UPDATE alembic_version SET version_num = '0099_later_release'")
    target = tmp_path / "till"
    before = (registry_dir / "selfreg.db").read_bytes()
    for into in (target, registry_dir):
        refused = selfreg_bridge(into, "restore", str(backup_file), "--db", db(into))
        assert refused.returncode == 2
        assert "made by a newer selfreg" in refused.stderr
        assert "0099_later_release" in refused.stderr and "Nothing was restored" in refused.stderr
    assert not (target / "selfreg.db").exists()
    assert (registry_dir / "selfreg.db").read_bytes() == before


def test_restore_keeps_the_database_it_replaces(registry_dir: Path, tmp_path: Path) -> None:
    backup_file = tmp_path / "monday.db"
    assert selfreg_bridge(registry_dir, "backup", str(backup_file), "--db", db(registry_dir)
                          ).returncode == 0
    # Tuesday the demo import is undone; then Monday's backup is restored over it.
    undo = selfreg_bridge(registry_dir, "import-undo", "1", "--db", db(registry_dir))
    assert undo.returncode == 0, undo.stderr
    restored = selfreg_bridge(registry_dir, "restore", str(backup_file), "--db", db(registry_dir))
    assert restored.returncode == 0, restored.stderr
    assert "restored 300 customers" in restored.stdout
    kept = [p for p in registry_dir.iterdir() if ".before-restore-" in p.name]
    assert len(kept) == 1 and str(kept[0]) in restored.stdout
    assert stat.S_IMODE(kept[0].stat().st_mode) == 0o600
    with sqlite3.connect(kept[0]) as conn:
        live = conn.execute("SELECT count(*) FROM customers WHERE erased_at IS NULL").fetchone()
    assert live == (0,)  # the undone import, as it was before the restore


def test_restore_on_a_till_without_the_key_says_where_to_put_it(registry_dir: Path,
                                                                tmp_path: Path) -> None:
    backup_file = tmp_path / "b.db"
    assert selfreg_bridge(registry_dir, "backup", str(backup_file), "--db", db(registry_dir)
                          ).returncode == 0
    new = tmp_path / "new"
    restored = selfreg_bridge(new, "restore", str(backup_file), "--db", db(new))
    assert restored.returncode == 1
    assert "restored 300 customers" in restored.stdout
    assert f"{new / 'personal-id.key'}" in restored.stderr


def test_rotating_backups_keep_the_newest(registry_dir: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "notes.txt").write_text("not ours")
    for _ in range(3):
        made = selfreg_bridge(registry_dir, "backup", "--dir", str(backups), "--keep", "2",
                              "--db", db(registry_dir))
        assert made.returncode == 0, made.stderr
    ours = sorted(p.name for p in backups.glob("selfreg-*.db"))
    assert len(ours) == 2 and (backups / "notes.txt").exists()
    assert "removed 1 older backup(s), keeping the newest 2" in made.stdout


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_a_chain_is_told_to_use_pg_dump_without_its_password_shown(tmp_path: Path,
                                                                   command: str) -> None:
    url = "postgresql+psycopg://selfreg:s3cret@db.chain.example:5432/selfreg"
    told = selfreg_bridge(tmp_path, command, str(tmp_path / "x.db"), "--db", url)
    assert told.returncode == 2
    assert "pg_dump --format=custom" in told.stderr and "pg_restore --no-owner" in told.stderr
    assert "'postgresql://selfreg@db.chain.example:5432/selfreg'" in told.stderr
    assert "s3cret" not in told.stderr + told.stdout
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("args, says", [
    ((), "name a backup FILE, or --dir DIR"),
    (("--dir", "x", "--keep", "0"), "--keep must be at least 1"),
])
def test_backup_asked_wrongly_says_what_to_give(registry_dir: Path, args: tuple[str, ...],
                                                says: str) -> None:
    told = selfreg_bridge(registry_dir, "backup", *args, "--db", db(registry_dir))
    assert told.returncode == 2 and says in told.stderr


def test_restore_of_something_that_is_not_a_backup_changes_nothing(registry_dir: Path,
                                                                   tmp_path: Path) -> None:
    junk = tmp_path / "photo.jpg"
    junk.write_bytes(b"\xff\xd8\xff" + bytes(5000))
    before = (registry_dir / "selfreg.db").read_bytes()
    told = selfreg_bridge(registry_dir, "restore", str(junk), "--db", db(registry_dir))
    assert told.returncode == 2 and "is not a SQLite database" in told.stderr
    assert (registry_dir / "selfreg.db").read_bytes() == before


def test_run_with_sudo_what_it_writes_stays_the_bridge_users(registry_dir: Path,
                                                             tmp_path: Path) -> None:
    """The support person types sudo; the bridge (its own user) must still be able to open the
    restored registry and rotate the backups."""
    bridge_user = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    if os.geteuid() == 0:
        for path in (registry_dir, *registry_dir.iterdir()):
            os.chown(path, *bridge_user)
    backups = registry_dir / "backups"  # made by this first (root's) run
    made = selfreg_bridge(registry_dir, "backup", "--dir", str(backups), "--db", db(registry_dir))
    assert made.returncode == 0, made.stderr
    written = next(backups.iterdir())
    restored = selfreg_bridge(registry_dir, "restore", str(written), "--db", db(registry_dir))
    assert restored.returncode == 0, restored.stderr
    kept = next(p for p in registry_dir.iterdir() if ".before-restore-" in p.name)
    assert kept.exists()
    for path in (*registry_dir.iterdir(), written):  # the registry, its copy, -wal, the key…
        assert (path.stat().st_uid, path.stat().st_gid) == bridge_user, path


def test_a_backup_that_cannot_be_written_says_so_and_leaves_nothing(registry_dir: Path,
                                                                    tmp_path: Path) -> None:
    not_a_directory = tmp_path / "usb-stick"
    not_a_directory.write_text("a file where a directory should be")
    told = selfreg_bridge(registry_dir, "backup", str(not_a_directory / "b.db"), "--db",
                          db(registry_dir))
    assert told.returncode == 1 and "no backup was written" in told.stderr
    assert "Traceback" not in told.stderr
    assert not_a_directory.read_text() == "a file where a directory should be"
