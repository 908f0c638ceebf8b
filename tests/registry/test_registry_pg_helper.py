from __future__ import annotations

import pytest

from tests import pg_server


def test_no_server_and_no_binaries_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pg_server.ENV_URL, raising=False)
    monkeypatch.setattr(pg_server, "find_bindir", lambda: None)
    assert pg_server.start_server() is None
    assert pg_server.UNAVAILABLE == "PostgreSQL server not available"


def test_an_explicit_url_is_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pg_server.ENV_URL, "postgresql+psycopg://shop@db.example:5433/postgres")
    server = pg_server.start_server()
    assert server is not None
    assert server.url("test_x") == "postgresql+psycopg://shop@db.example:5433/test_x"


def test_runuser_is_found_where_debian_installs_it_when_path_lacks_sbin(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    found = pg_server.find_runuser()
    assert os.path.basename(found) == "runuser" and os.access(found, os.X_OK)
