"""One shop's SQLite registry becomes a chain's PostgreSQL registry with nothing lost."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from cashier_bridge.lanes.lane import MatchKey
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.registry.engine import make_engine
from cashier_bridge.registry.personal_id_key import PersonalIdKeyError
from cashier_bridge.registry.schema import consents, installation, sales
from tests.chain.test_chain import ANNA_PNR
from tests.pg_server import PostgresServer
from tests.registry.test_personal_id_key import ANNA, old_registry

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cashier_bridge.cli", *args],
                          capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)


@pytest.fixture
def shop_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A shop before it joins the chain: its key is the file beside its SQLite registry (not
    the chain's SELFREG_PERSONAL_ID_KEY), and this machine's data directory is empty."""
    monkeypatch.delenv("SELFREG_PERSONAL_ID_KEY")
    monkeypatch.setenv("SELFREG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SELFREG_CONFIG", str(tmp_path / "none.toml"))
    return tmp_path / "personal-id.key"


def test_copy_keeps_personal_id_matching_consents_sales_and_devices(
        postgres_server: PostgresServer, tmp_path: Path, shop_keys: Path) -> None:
    shop = f"sqlite:///{tmp_path / 'shop.db'}"
    assert _cli("import-csv", "demo", "--db", shop).returncode == 0
    registry = Registry.open(shop)
    anna, _ = registry.customers.create_new("k1", NewCustomer(
        first_name="Anna", last_name="Åberg", personal_id_fingerprint=registry.fingerprint(
            ANNA_PNR), personal_id_masked="19850312-****", marketing_consent=True,
        consent_source="register"))
    token = registry.devices.pair("kassa-1", "kiosk").token
    total = registry.customers.count()
    registry.close()

    chain = postgres_server.create_database("copy")
    done = _cli("copy-registry", "--db", shop, "--to", chain)
    assert done.returncode == 0, done.stderr
    assert f"copied {total} customers" in done.stdout
    # The key stayed behind, and the operator is told where it must go.
    chain_key = tmp_path / "data" / "personal-id.key"
    assert f"Copy {shop_keys} (mode 0600) into the data directory of every bridge" in \
        done.stdout and str(chain_key) in done.stdout
    with pytest.raises(PersonalIdKeyError, match="this bridge has none"):
        Registry.open(chain)
    with copied_engine(chain) as conn:
        assert "secret" not in dict(conn.execute(select(installation.c.key,
                                                        installation.c.value)).all())

    chain_key.parent.mkdir()
    shutil.copy(shop_keys, chain_key)
    copied = Registry.open(chain)
    try:
        assert copied.customers.count() == total
        # With the shop's key: the same personnummer finds the same customer.
        found = copied.customers.find([MatchKey(kind="personal_id_fingerprint",
                                                value=copied.fingerprint(ANNA_PNR),
                                                reading="personnummer")])
        assert found is not None and found[0].id == anna.id and found[0].last_name == "Åberg"
        assert copied.devices.allowed("kassa-1", "kiosk", token)
        with copied.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(consents)).scalar() >= 1
            assert conn.execute(select(func.count()).select_from(sales)).scalar() == 0
        # New customers get fresh ids after the copied ones.
        berit, _ = copied.customers.create_new("k2", NewCustomer(first_name="Berit", last_name="B"))
        assert berit.id > anna.id
    finally:
        copied.close()

    again = _cli("copy-registry", "--db", shop, "--to", chain)
    assert again.returncode == 1 and "already holds customers" in again.stderr
    postgres_server.drop_database(chain)


def test_an_old_shop_registry_has_its_key_moved_out_before_it_is_copied(
        postgres_server: PostgresServer, tmp_path: Path, shop_keys: Path) -> None:
    """A shop still on the previous version (the key in its database) joins a chain: the
    key is moved out to the shop's key file first and never reaches the chain's database."""
    shop = f"sqlite:///{tmp_path / 'shop.db'}"
    secret = bytes(range(100, 132))
    fp = old_registry(shop, secret)
    chain = postgres_server.create_database("old")
    try:
        done = _cli("copy-registry", "--db", shop, "--to", chain)
        assert done.returncode == 0, done.stderr
        assert shop_keys.read_text().strip() == secret.hex()
        with copied_engine(chain) as conn:
            rows = dict(conn.execute(select(installation.c.key, installation.c.value)).all())
        assert "secret" not in rows and secret.hex() not in rows.values()
        copied = Registry.open(chain, personal_id_key=secret.hex())
        try:
            found = copied.customers.find([MatchKey(kind="personal_id_fingerprint", value=fp,
                                                    reading="personnummer")])
            assert found is not None and copied.fingerprint(ANNA) == fp
        finally:
            copied.close()
    finally:
        postgres_server.drop_database(chain)


@contextlib.contextmanager
def copied_engine(url: str) -> Iterator[Connection]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()
