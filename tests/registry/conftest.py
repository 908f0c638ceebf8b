"""Every registry test runs against SQLite and against a real PostgreSQL server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) leaves the root out
    sys.path.insert(0, str(ROOT))

from cashier_bridge.registry import Registry  # noqa: E402
from tests.pg_server import postgres_server  # noqa: E402

__all__ = ["postgres_server"]

DEMO_CSV = ROOT / "cashier_bridge" / "data" / "demo_customers.csv"


@pytest.fixture(autouse=True)
def own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own data directory (where a PostgreSQL registry's personal-id.key goes),
    and no personnummer key from the environment that runs the tests."""
    monkeypatch.setenv("SELFREG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SELFREG_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.delenv("SELFREG_PERSONAL_ID_KEY", raising=False)
    return tmp_path / "data"


@pytest.fixture
def registry(db_url: str) -> Iterator[Registry]:
    reg = Registry.open(db_url)
    yield reg
    reg.close()
