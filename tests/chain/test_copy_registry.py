"""One shop's SQLite registry becomes a chain's PostgreSQL registry with nothing lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cashier_bridge.lane import MatchKey
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.registry.schema import consents, sales
from tests.chain.test_chain import ANNA_PNR
from tests.pg_server import PostgresServer

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cashier_bridge.cli", *args],
                          capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)


def test_copy_keeps_personal_id_matching_consents_sales_and_devices(
        postgres_server: PostgresServer, tmp_path: Path) -> None:
    shop = f"sqlite:///{tmp_path / 'shop.db'}"
    assert _cli("import-csv", "demo", "--db", shop).returncode == 0
    registry = Registry.open(shop)
    anna, _ = registry.create_customer("k1", NewCustomer(
        first_name="Anna", last_name="Åberg", personal_id_fingerprint=registry.fingerprint(
            ANNA_PNR), personal_id_masked="19850312-****", marketing_consent=True,
        consent_source="register"))
    token = registry.devices.pair("kassa-1", "kiosk").token
    total = registry.count_customers()
    registry.close()

    chain = postgres_server.create_database("copy")
    done = _cli("copy-registry", "--db", shop, "--to", chain)
    assert done.returncode == 0, done.stderr
    assert f"copied {total} customers" in done.stdout

    copied = Registry.open(chain)
    try:
        assert copied.count_customers() == total
        # The secret came along: the same personnummer finds the same customer.
        found = copied.find([MatchKey(kind="personal_id_fingerprint",
                                      value=copied.fingerprint(ANNA_PNR), reading="personnummer")])
        assert found is not None and found[0].id == anna.id and found[0].last_name == "Åberg"
        assert copied.devices.allowed("kassa-1", "kiosk", token)
        with copied.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(consents)).scalar() >= 1
            assert conn.execute(select(func.count()).select_from(sales)).scalar() == 0
        # New customers get fresh ids after the copied ones.
        berit, _ = copied.create_customer("k2", NewCustomer(first_name="Berit", last_name="B"))
        assert berit.id > anna.id
    finally:
        copied.close()

    again = _cli("copy-registry", "--db", shop, "--to", chain)
    assert again.returncode == 1 and "already holds customers" in again.stderr
    postgres_server.drop_database(chain)
