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
def personal_id_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The personnummer key the test process and the bridges it starts share, as every bridge
    of a chain is given it (a PostgreSQL registry's key file would otherwise be looked for in
    whichever data directory a test happens to set)."""
    key = "b1d9e" * 12 + "b1d9"
    monkeypatch.setenv("SELFREG_PERSONAL_ID_KEY", key)
    return key
