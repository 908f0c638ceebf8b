"""Chain tests need a real PostgreSQL server (started by the tests themselves)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) leaves the root out
    sys.path.insert(0, str(ROOT))

from tests.pg_server import postgres_server  # noqa: E402

__all__ = ["postgres_server"]

# Every bridge of a chain is given the same personnummer key, as the README's chain steps say
# (the registry keeps only the key's check value); the test process opens the registry with it
# too.
CHAIN_PERSONAL_ID_KEY = "5e1f" * 16


@pytest.fixture(autouse=True)
def chain_personal_id_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SELFREG_PERSONAL_ID_KEY", CHAIN_PERSONAL_ID_KEY)
    return CHAIN_PERSONAL_ID_KEY
