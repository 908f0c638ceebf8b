"""``pip install selfreg`` without extras is a bridge that serves a shop on SQLite: installed
into a fresh virtualenv that has only the base dependencies (no psycopg), its ``selfreg-bridge``
pairs a kiosk and a register, serves, and a member identifies over the real websockets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cashier_bridge.registry import NewCustomer, Registry
from simulator.processes import BridgeProcess
from simulator.sync_device import SyncDevice

ROOT = Path(__file__).resolve().parents[2]
ANNA_PNR = "198503121249"
# What a source checkout's pyproject.toml packages (its package-data and data-files).
SOURCES = ("pyproject.toml", "README.md", "cashier_bridge", "kiosk", "simulator", "assets/locale")


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with ``pip install <checkout>``: the base dependencies, no extras."""
    base = tmp_path_factory.mktemp("plain")
    source = base / "selfreg"  # a copy, so the build leaves nothing in the checkout
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    venv = base / "venv"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(source)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"plain install took {time.monotonic() - started:.1f} s", file=sys.stderr)
    yield venv


def run(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # From inside the venv: ``python -c`` puts the working directory (this checkout) first.
    return subprocess.run([str(venv / "bin" / "python"), *args], capture_output=True, text=True,
                          timeout=60, check=False, cwd=venv)


def test_the_plain_install_has_no_postgres_driver_and_its_own_copy(plain_install: Path) -> None:
    # Otherwise the test below would prove nothing: this venv must lack psycopg and run the
    # installed package, not this checkout (its entry points, like selfreg-bridge, never put
    # the working directory on the path; PYTHONPATH is not set here).
    assert "PYTHONPATH" not in os.environ
    missing = run(plain_install, "-c", "import psycopg")
    assert "ModuleNotFoundError" in missing.stderr
    where = run(plain_install, "-c", "import cashier_bridge; print(cashier_bridge.__file__)")
    assert where.stdout.startswith(str(plain_install)), where


def test_a_plain_install_pairs_serves_and_identifies_on_sqlite(plain_install: Path,
                                                                tmp_path: Path) -> None:
    bridge = BridgeProcess(tmp_path, program=(str(plain_install / "bin" / "selfreg-bridge"),))
    tokens = {}
    for role in ("kiosk", "register"):
        paired = bridge.cli("pair", "--lane", "kassa-1", "--role", role)
        assert paired.returncode == 0, paired.stderr
        tokens[role] = paired.stdout.strip().splitlines()[-1]
    registry = Registry.open(bridge.db_url)
    try:
        registry.customers.create_new("seed-anna", NewCustomer(
            first_name="Anna", last_name="Andersson", customer_code="1001",
            personal_id_fingerprint=registry.fingerprint(ANNA_PNR),
            personal_id_masked="19850312-****", created_via="import"))
    finally:
        registry.close()
    bridge.start()
    try:
        register = SyncDevice(bridge, "register", "kassa-1", tokens["register"])
        kiosk = SyncDevice(bridge, "kiosk", "kassa-1", tokens["kiosk"])
        register.send(type="start_sale", sale_id="s1")
        kiosk.next("state", phase="choosing")
        kiosk.send(type="choose", method="numpad")
        kiosk.next("state", phase="identifying")
        kiosk.send(type="submit_id", digits=ANNA_PNR)
        event = register.next("customer_connected")
        assert (event["customer"]["customer_code"], event["sale_id"]) == ("1001", "s1")
        assert kiosk.next("state", phase="connected")["view"]["first_name"] == "Anna"
        kiosk.close()
        register.close()
    finally:
        bridge.stop()
    log = bridge.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


def test_a_postgres_url_without_the_extra_says_which_extra(plain_install: Path,
                                                           tmp_path: Path) -> None:
    bridge = BridgeProcess(tmp_path, db_url="postgresql+psycopg://shop@127.0.0.1:1/selfreg",
                           program=(str(plain_install / "bin" / "selfreg-bridge"),))
    refused = bridge.cli("pair", "--lane", "kassa-1", "--role", "kiosk")
    assert refused.returncode == 2
    assert "selfreg[postgres]" in refused.stderr and "Traceback" not in refused.stderr
