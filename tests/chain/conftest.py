"""Chain tests need a real PostgreSQL server (started by the tests themselves)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) leaves the root out
    sys.path.insert(0, str(ROOT))

from tests.pg_server import postgres_server  # noqa: E402

__all__ = ["postgres_server"]
