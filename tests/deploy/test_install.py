"""deploy/install.sh end to end into a throwaway root: what it creates, the installed bridge and
kiosk started from their units' ExecStart lines, an upgrade from an older schema with data, a
failed upgrade, uninstall."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import stat
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_harness import UNITS, Till, copy_checkout
from sqlalchemy import create_engine, inspect, text

from cashier_bridge.registry import migrate
from simulator.processes import KioskProcess, ProcessFailed, VirtualScreen, _stop, free_port
from tests.pg_server import PostgresServer

# An older release's schema: the revision a till installed a few releases ago would be at.
OLD_REVISION = "0012"
OLD_CUSTOMERS = [("1001", "Astrid", "Berg"), ("1002", "Björn", "Åkesson"),
                 ("1003", "Cecilia", "Lund")]


def passwd(till: Till) -> dict[str, list[str]]:
    rows = till.path("/etc/passwd").read_text().splitlines()
    return {row.split(":")[0]: row.split(":") for row in rows}


def gid(till: Till, group: str) -> int:
    for row in till.path("/etc/group").read_text().splitlines():
        name, _, number, _ = row.split(":")
        if name == group:
            return int(number)
    raise AssertionError(f"no group {group}")


def set_port(till: Till, port: int) -> None:
    """What a shop's admin does to run the bridge on another port: edit both config files."""
    bridge = till.path("/etc/selfreg/selfreg.toml")
    bridge.write_text(re.sub(r"(?m)^port = \d+", f"port = {port}", bridge.read_text()))
    kiosk = till.path("/etc/selfreg/kiosk.toml")
    if kiosk.exists():
        kiosk.write_text(re.sub(r'(?m)^bridge_url = ".*"', f'bridge_url = "ws://127.0.0.1:{port}"',
                                kiosk.read_text()))


@contextlib.contextmanager
def bridge_from_unit(till: Till, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """The installed bridge, started as its unit's ExecStart says, answering /ready."""
    argv, env = till.command("selfreg-bridge.service")
    log = till.root / "bridge.log"
    proc = subprocess.Popen(argv, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:  # until /ready answers (the event we mean), or a minute has gone
            if proc.poll() is not None:
                raise ProcessFailed(f"bridge exited {proc.returncode}: {log.read_text()[-2000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/ready", timeout=1) as r:
                if r.status == 200:
                    break
            if time.monotonic() > deadline:
                raise ProcessFailed(f"bridge not ready: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield proc
    finally:
        _stop(proc)


def customers(till: Till) -> list[tuple[str, str, str]]:
    """Every customer, as `selfreg-bridge export-csv -` with the unit's settings shows them."""
    done = till.run_as_unit("selfreg-bridge.service", "export-csv", "-")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    return sorted((r["customer_code"], r["first_name"], r["last_name"]) for r in rows)


def revision(db: Path) -> str | None:
    engine = create_engine(f"sqlite:///{db}")
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


def old_registry(db: Path) -> None:
    """A SQLite registry as an older release left it (see :func:`old_schema_with_customers`)."""
    db.unlink(missing_ok=True)
    for extra in db.parent.glob("*.key"):
        extra.unlink()  # an older release kept the personnummer key in the database
    old_schema_with_customers(f"sqlite:///{db}")
    assert revision(db) == OLD_REVISION


def old_schema_with_customers(url: str) -> None:
    """A registry at OLD_REVISION with customers written with SQL that schema takes."""
    engine = create_engine(url)
    try:
        migrate.upgrade(engine, OLD_REVISION)
        with engine.begin() as conn:
            for code, first, last in OLD_CUSTOMERS:
                conn.execute(text(
                    "INSERT INTO customers (customer_code, first_name, last_name, "
                    "first_name_key, last_name_key, created_via, created_at, updated_at) "
                    "VALUES (:c, :f, :l, :fk, :lk, 'import', "
                    "'2025-01-02 10:00:00', '2025-01-02 10:00:00')"),
                    {"c": code, "f": first, "l": last, "fk": first.lower(),
                     "lk": last.lower()})
    finally:
        engine.dispose()


def url_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


def customer_columns(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [column["name"] for column in inspect(conn).get_columns("customers")]
    finally:
        engine.dispose()


def next_release_with_broken_migration(dest: Path) -> Path:
    """The next release's checkout, with a migration that changes the schema, then fails."""
    broken = copy_checkout(dest)
    (broken / "cashier_bridge" / "migrations" / "versions" / "9999_broken.py").write_text(
        '"""A migration that fails half way."""\n\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f'revision = "9999"\ndown_revision = "{migrate.head_revision()}"\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        '    op.add_column("customers", sa.Column("half_done", sa.Text()))\n'
        '    op.execute("SELECT no_such_column FROM customers")\n\n\n'
        "def downgrade() -> None:\n    pass\n")
    return broken


def test_fresh_install_creates_users_release_config_and_units(installed: Till) -> None:
    users = passwd(installed)
    assert users["selfreg"][5:] == ["/var/lib/selfreg", "/usr/sbin/nologin"]
    assert "selfreg-kiosk" in users
    assert re.fullmatch(r"releases/0\.\d+\.\d+-\d{8}T\d{6}Z", installed.current())
    assert installed.path("/opt/selfreg/current/venv/bin/selfreg-bridge").is_file()
    for name, group in (("selfreg.toml", "selfreg"), ("kiosk.toml", "selfreg-kiosk")):
        info = installed.path(f"/etc/selfreg/{name}").stat()
        assert stat.S_IMODE(info.st_mode) == 0o640, name
        if os.geteuid() == 0:
            assert info.st_gid == gid(installed, group), name
    kiosk = installed.path("/etc/selfreg/kiosk.toml").read_text()
    assert 'lane = "kassa-1"' in kiosk
    assert re.search(r'(?m)^device_token = "sr_[A-Za-z0-9_-]{20,}"', kiosk)
    assert revision(installed.path("/var/lib/selfreg/selfreg.db")) == migrate.head_revision()
    wrapper = installed.path("/usr/local/sbin/selfreg-bridge").read_text()
    assert "runuser -u selfreg -- env SELFREG_CONFIG=/etc/selfreg/selfreg.toml" in wrapper
    output = installed.output  # type: ignore[attr-defined]
    assert "schema empty -> " in output
    assert "paired this till's kiosk with lane kassa-1" in output
    assert "would run: systemctl daemon-reload; systemctl enable --now " \
           "selfreg-bridge.service selfreg-kiosk.service" in output
    assert "sr_" not in output  # the token went to the kiosk's config, not the screen


def test_installed_bridge_and_kiosk_start_from_their_units(installed: Till) -> None:
    port = free_port()
    set_port(installed, port)
    screen = VirtualScreen(1280, 800)
    display = screen.start()
    work = installed.root / "kiosk-run"
    work.mkdir(exist_ok=True)
    try:
        with bridge_from_unit(installed, port):
            argv, env = installed.command("selfreg-kiosk.service", DISPLAY=display)
            assert argv[1:] == ["--fullscreen"]
            kiosk = KioskProcess(work, f"ws://127.0.0.1:{port}", "kassa-1", display)
            # The probe is the test's eye on the screen (what simulator.processes reads).
            env["SELFREG_KIOSK_PROBE"] = str(kiosk.probe_path)
            kiosk.proc = subprocess.Popen(argv, env=env, stdout=kiosk.log_path.open("ab"),
                                          stderr=subprocess.STDOUT)
            try:
                # Paired by the install: the bridge welcomes it and it waits for a sale (an
                # unpaired kiosk shows the idle screen offline, then says it is not paired).
                shown = kiosk.wait_for(lambda p: p["screen"] == "idle" and p["online"], 60,
                                       what="the idle screen, online", since=0)
                assert "parkopplad" not in " ".join(shown["texts"])
            finally:
                kiosk.stop()
    finally:
        screen.stop()


def test_upgrade_keeps_customers_from_an_older_schema_and_migrates_once(
        till: Till, checkout: Path) -> None:
    till.install(checkout, "--lane", "kassa-1")
    first = till.current()
    # What the till held before: an older release's registry with its customers, and an
    # admin's change to the config.
    db = till.path("/var/lib/selfreg/selfreg.db")
    old_registry(db)
    port = free_port()
    set_port(till, port)
    kiosk_config = till.path("/etc/selfreg/kiosk.toml").read_text()

    upgrade = till.install(checkout, "--lane", "kassa-1")

    assert f"schema {OLD_REVISION} -> {migrate.head_revision()}" in upgrade.stdout
    assert f"upgraded from {first.removeprefix('releases/')}" in upgrade.stdout
    assert till.current() != first
    assert revision(db) == migrate.head_revision()
    assert customers(till) == sorted(OLD_CUSTOMERS)
    # never overwritten, and the kiosk is not paired a second time
    assert f"port = {port}" in till.path("/etc/selfreg/selfreg.toml").read_text()
    assert till.path("/etc/selfreg/kiosk.toml").read_text() == kiosk_config
    assert "kept" in upgrade.stdout and "paired" not in upgrade.stdout
    assert not list(db.parent.glob("pre-upgrade-*"))  # the safety copy went once it was safe
    with bridge_from_unit(till, port):  # the new release serves the old data
        pass

    again = till.install(checkout, "--lane", "kassa-1")
    assert f"schema already at {migrate.head_revision()}, nothing to do" in again.stdout
    assert customers(till) == sorted(OLD_CUSTOMERS)


def test_a_failing_migration_leaves_the_old_release_current(
        till: Till, checkout: Path, tmp_path: Path) -> None:
    till.install(checkout, "--bridge-only")
    before = till.current()
    releases = sorted(till.path("/opt/selfreg/releases").iterdir())
    db = till.path("/var/lib/selfreg/selfreg.db")
    old_registry(db)
    # The next release: a migration that changes the schema, then fails (SQLite runs DDL
    # outside the transaction, so the column stays unless the install puts the copy back).
    broken = next_release_with_broken_migration(tmp_path / "next-release")

    failed = till.install(broken, "--bridge-only", check=False)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "could not be migrated" in failed.stderr
    assert f"could not be brought from schema {OLD_REVISION} to 9999" in failed.stderr
    assert "no such column: no_such_column" in failed.stderr
    assert f"{before} stays current" in failed.stderr
    assert till.current() == before
    assert sorted(till.path("/opt/selfreg/releases").iterdir()) == releases
    assert revision(db) == OLD_REVISION  # put back as it was, not left half migrated
    assert "half_done" not in customer_columns(f"sqlite:///{db}")
    port = free_port()
    set_port(till, port)
    with bridge_from_unit(till, port):  # the old release still starts and serves its data
        assert customers(till) == sorted(OLD_CUSTOMERS)


def test_uninstall_keeps_the_data_unless_purged(till: Till, checkout: Path) -> None:
    till.install(checkout, "--lane", "kassa-1")
    db = till.path("/var/lib/selfreg/selfreg.db")
    old_registry(db)
    till.install(checkout, "--lane", "kassa-1")

    kept = till.uninstall()
    assert "kept the registry" in kept.stdout
    assert not till.path("/opt/selfreg").exists()
    assert not till.path("/usr/local/sbin/selfreg-bridge").exists()
    assert not any(till.unit(unit.name).exists() for unit in UNITS)
    assert till.path("/etc/selfreg/selfreg.toml").exists()
    token = till.path("/etc/selfreg/kiosk.toml").read_text()
    till.install(checkout, "--lane", "kassa-1")  # back, with its customers and pairing
    assert customers(till) == sorted(OLD_CUSTOMERS)
    assert till.path("/etc/selfreg/kiosk.toml").read_text() == token

    till.uninstall("--purge")
    for gone in ("/opt/selfreg", "/var/lib/selfreg", "/etc/selfreg"):
        assert not till.path(gone).exists(), gone
    assert "selfreg" not in passwd(till) and "selfreg-kiosk" not in passwd(till)


def test_kiosk_only_tries_the_typed_token_on_the_bridge_and_keeps_it(
        installed: Till, till: Till, checkout: Path) -> None:
    port = free_port()
    set_port(installed, port)
    with bridge_from_unit(installed, port):  # the bridge on "the other machine"
        paired = installed.run_as_unit("selfreg-bridge.service", "pair", "--lane", "kassa-2",
                                       "--role", "kiosk")
        token = paired.stdout.strip()
        done = till.install(checkout, "--kiosk-only", "--bridge", f"ws://127.0.0.1:{port}",
                            "--lane", "kassa-2", "--pair-code", token)
    assert f"the bridge at ws://127.0.0.1:{port} accepted the kiosk's token for lane kassa-2" \
        in done.stdout
    config = till.path("/etc/selfreg/kiosk.toml").read_text()
    assert f'bridge_url = "ws://127.0.0.1:{port}"' in config
    assert 'lane = "kassa-2"' in config
    assert f'device_token = "{token}"' in config
    assert not till.path("/etc/selfreg/selfreg.toml").exists()
    assert not till.path("/var/lib/selfreg").exists()
    assert "enable --now selfreg-kiosk.service" in done.stdout
    assert "selfreg-bridge.service" not in done.stdout.split("would run: systemctl")[-1]
    assert token not in done.stdout + done.stderr


def test_kiosk_only_refuses_a_token_the_bridge_refuses(
        installed: Till, till: Till, checkout: Path) -> None:
    port = free_port()
    set_port(installed, port)
    with bridge_from_unit(installed, port):
        typo = "sr_" + "x" * 43
        done = till.install(checkout, "--kiosk-only", "--bridge", f"ws://127.0.0.1:{port}",
                            "--lane", "kassa-2", "--pair-code", typo, check=False)
    assert done.returncode == 1
    assert "refused that token for lane kassa-2" in done.stderr
    assert "selfreg-bridge pair --lane kassa-2 --role kiosk" in done.stderr
    assert "device_token" not in till.path("/etc/selfreg/kiosk.toml").read_text()
    assert not till.path("/opt/selfreg/current").exists()
    assert list(till.path("/opt/selfreg/releases").iterdir()) == []


def test_kiosk_only_keeps_the_token_when_the_bridge_is_away(till: Till, checkout: Path) -> None:
    away = f"ws://127.0.0.1:{free_port()}"  # nothing listens there
    token = "sr_" + "k" * 43
    done = till.install(checkout, "--kiosk-only", "--bridge", away, "--lane", "kassa-2",
                        "--pair-code", token)
    assert f"could not reach the bridge at {away} to try the token" in done.stdout
    assert f'device_token = "{token}"' in till.path("/etc/selfreg/kiosk.toml").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--kiosk-only"], "--kiosk-only needs --bridge"),
    (["--lane", "kassa 1"], "--lane kassa 1: use letters"),
    (["--bridge", "http://x"], "give the bridge's websocket address"),
    (["--kiosk-only", "--bridge", "ws://h:1", "--pair-code", "1234"], "not a device token"),
    (["--frobnicate"], "unknown option --frobnicate"),
    (["--display", "HDMI 2"], "--display HDMI 2: give a monitor's name or index"),
    (["--python", "/usr/bin/false"], "selfreg needs Python 3.11 or newer"),
])
def test_bad_options_are_refused_before_anything_is_done(
        till: Till, checkout: Path, args: list[str], message: str) -> None:
    done = till.install(checkout, *args, check=False)
    assert done.returncode == 2
    assert message in done.stderr
    assert list(till.root.iterdir()) == []


def test_a_local_bridge_on_another_port_is_configured_on_both_sides(
        till: Till, checkout: Path) -> None:
    port = free_port()
    till.install(checkout, "--bridge", f"ws://127.0.0.1:{port}", "--lane", "kassa-3",
                 "--display", "HDMI-2")
    assert f"port = {port}\n" in till.path("/etc/selfreg/selfreg.toml").read_text()
    kiosk = till.path("/etc/selfreg/kiosk.toml").read_text()
    # the customer's monitor, for the kiosk and for map-touch.sh (its unit's ExecStartPre)
    assert 'kiosk_display = "HDMI-2"\nkiosk_fullscreen = true\n' in kiosk
    assert f'bridge_url = "ws://127.0.0.1:{port}"' in kiosk
    assert "device_token" in kiosk  # paired by the local bridge, not asked for a token
    with bridge_from_unit(till, port):
        pass


def test_release_records_what_it_is(installed: Till) -> None:
    record = installed.path("/opt/selfreg/current/release.toml").read_text()
    assert json.dumps(installed.current().removeprefix("releases/")) in record


@pytest.mark.postgres
def test_a_chain_registry_on_postgresql_is_migrated_in_one_transaction(
        till: Till, checkout: Path, tmp_path: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("till")
    try:
        old_schema_with_customers(url)
        # The chain's settings, written before the install (which keeps them).
        config = till.path("/etc/selfreg/selfreg.toml")
        config.parent.mkdir(parents=True)
        port = free_port()
        config.write_text(f'host = "127.0.0.1"\nport = {port}\ndb_url = "{url}"\n')

        broken = next_release_with_broken_migration(tmp_path / "next-release")
        failed = till.install(broken, "--bridge-only", check=False)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "could not be migrated" in failed.stderr
        assert "nothing was switched on" in failed.stderr
        assert not till.path("/opt/selfreg/current").exists()
        # PostgreSQL rolled every step back: no copy needed, nothing half done
        assert url_revision(url) == OLD_REVISION
        assert "half_done" not in customer_columns(url)

        done = till.install(checkout, "--bridge-only")
        assert f"schema {OLD_REVISION} -> {migrate.head_revision()}" in done.stdout
        assert "kept" in done.stdout and str(config) in done.stdout
        assert customers(till) == sorted(OLD_CUSTOMERS)
        with bridge_from_unit(till, port):
            pass
    finally:
        postgres_server.drop_database(url)


FAKE_SYSTEMCTL = """#!/bin/sh
# systemctl for a till in a directory: notes each call; the bridge "runs" while a file exists.
echo "$*" >> "$FAKE_SYSTEMCTL_LOG"
running="$FAKE_SYSTEMCTL_LOG.bridge-running"
case "$*" in
  "-q is-active selfreg-bridge.service") test -e "$running" ;;
  "is-active selfreg-bridge.service") test -e "$running" && echo active ;;
  "restart selfreg-bridge.service"|"start selfreg-bridge.service")
    test -z "$FAKE_BRIDGE_FAILS" && touch "$running" ;;
  "stop selfreg-bridge.service") rm -f "$running" ;;
esac
"""


def test_upgrade_stops_migrates_switches_and_rolls_back_a_bridge_that_will_not_start(
        till: Till, checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "systemctl"
    fake.write_text(FAKE_SYSTEMCTL)
    fake.chmod(0o755)
    log = tmp_path / "systemctl.log"
    monkeypatch.setenv("SELFREG_SYSTEMCTL", str(fake))
    monkeypatch.setenv("FAKE_SYSTEMCTL_LOG", str(log))

    till.install(checkout, "--lane", "kassa-1")
    # The nightly backup's timer is enabled and started with the services it belongs to.
    assert log.read_text().splitlines() == [
        "daemon-reload",
        "enable selfreg-bridge.service selfreg-kiosk.service selfreg-backup.timer",
        "restart selfreg-bridge.service", "is-active selfreg-bridge.service",
        "restart selfreg-kiosk.service", "restart selfreg-backup.timer"]
    first = till.current()
    db = till.path("/var/lib/selfreg/selfreg.db")
    old_registry(db)

    # The new release migrates the registry, then its bridge does not start.
    log.write_text("")
    monkeypatch.setenv("FAKE_BRIDGE_FAILS", "1")
    failed = till.install(checkout, "--lane", "kassa-1", check=False)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "did not start" in failed.stderr
    assert log.read_text().splitlines() == [
        "-q is-active selfreg-bridge.service", "stop selfreg-bridge.service",  # then migrate
        "daemon-reload",
        "enable selfreg-bridge.service selfreg-kiosk.service selfreg-backup.timer",
        "restart selfreg-bridge.service",  # fails
        "stop selfreg-bridge.service",  # systemd's retries of the new one end
        "start selfreg-bridge.service"]  # the old one, on the registry as it was
    assert till.current() == first
    assert revision(db) == OLD_REVISION

    log.write_text("")
    monkeypatch.delenv("FAKE_BRIDGE_FAILS")
    (tmp_path / "systemctl.log.bridge-running").touch()
    done = till.install(checkout, "--lane", "kassa-1")
    assert log.read_text().splitlines()[:2] == [
        "-q is-active selfreg-bridge.service", "stop selfreg-bridge.service"]
    assert "started selfreg-bridge.service (active)" in done.stdout
    assert till.current() != first
    assert customers(till) == sorted(OLD_CUSTOMERS)
