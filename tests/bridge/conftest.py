"""The bridge tests run on SQLite and on a real PostgreSQL server (a chain's set-up)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) leaves the root out
    sys.path.insert(0, str(ROOT))

from tests.pg_server import postgres_server  # noqa: E402

__all__ = ["postgres_server"]


@pytest.fixture(autouse=True)
def own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's data directory, the same ``tmp_path / "data"`` the tests set for the bridge
    they start, and set before any registry is opened: a PostgreSQL registry's personnummer key
    file lives there, so the test process and its bridge share it, as one machine's bridge and
    CLI do.  No personnummer key from the environment that runs the tests."""
    monkeypatch.setenv("SELFREG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SELFREG_PERSONAL_ID_KEY", raising=False)
    return tmp_path / "data"
