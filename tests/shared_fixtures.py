"""Fixtures several test folders use, defined once and loaded for the whole suite as a pytest
plugin (``addopts = "-p tests.shared_fixtures"`` in pyproject.toml)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator import browser as chromium_browser
from tests.pg_server import PostgresServer, postgres_server

__all__ = ["browser", "db_url", "postgres_server"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty registry on SQLite and on a throwaway PostgreSQL server."""
    if request.param == "sqlite":
        # A directory that does not exist yet: Registry.open() must create it.
        yield f"sqlite:///{tmp_path / 'state' / 'selfreg.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database("t")
    yield url
    server.drop_database(url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless.  Not an optional server: ./test.sh installs it, so its
    absence is a broken set-up and fails the test."""
    try:
        with chromium_browser.chromium() as b:
            yield b
    except chromium_browser.NoChromium as exc:
        pytest.fail(str(exc))
