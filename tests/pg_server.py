"""A PostgreSQL server for tests, and a fresh database per test on it.

If ``SELFREG_TEST_PG_URL`` is set (``postgresql+psycopg://user@host:port/db``, a role that may
CREATE DATABASE), that server is used.  Otherwise a throwaway cluster is started from the
PostgreSQL binaries (``/usr/lib/postgresql/*/bin``) in a temporary directory, listening on a
free port of 127.0.0.1 with trust authentication, and deleted at the end of the session.  initdb
refuses to run as root, so when we are root the server runs as the ``postgres`` system user.

Usage from a conftest::

    from tests.pg_server import postgres_server  # session fixture, re-exported
    def test_x(postgres_server):
        url = postgres_server.create_database()   # postgresql+psycopg://.../test_<random>

When no server can be had, ``postgres_server`` skips with "PostgreSQL server not available".
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

# The cluster itself is shared with the benchmarks; find_* are re-exported for the tests.
from cashier_bridge.devtools.pg_cluster import Cluster, find_bindir, find_runuser

__all__ = ["ENV_URL", "UNAVAILABLE", "Cluster", "PostgresServer", "find_bindir",
           "find_runuser", "postgres_server", "start_cluster", "start_server"]

ENV_URL = "SELFREG_TEST_PG_URL"
UNAVAILABLE = "PostgreSQL server not available"


class PostgresServer:
    """A server we may create databases on; ``close`` drops them (and stops our own cluster)."""

    def __init__(self, admin_url: URL, cluster: Cluster | None = None) -> None:
        self.admin_url = admin_url
        self._cluster = cluster
        self._created: list[str] = []

    def url(self, database: str) -> str:
        return self.admin_url.set(drivername="postgresql+psycopg",
                                  database=database).render_as_string(hide_password=False)

    def create_database(self, prefix: str = "test") -> str:
        name = f"{prefix}_{secrets.token_hex(6)}"
        self._admin_execute(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
        self._created.append(name)
        return self.url(name)

    def drop_database(self, url_or_name: str) -> None:
        name = make_url(url_or_name).database if "://" in url_or_name else url_or_name
        self._admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self._created:
            self._created.remove(name)

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
            return
        for name in list(self._created):
            with contextlib.suppress(Exception):
                self.drop_database(name)

    def _admin_execute(self, sql: str) -> None:
        engine = create_engine(self.admin_url.set(drivername="postgresql+psycopg"),
                               isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(text(sql))
        finally:
            engine.dispose()


def start_cluster() -> Cluster | None:
    """A cluster of our own (one a test may stop and start), or None without the binaries."""
    bindir = find_bindir()
    if bindir is None:
        return None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None
    cluster = Cluster(bindir=bindir)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def start_server() -> PostgresServer | None:
    """The server to test against, or None if neither the URL nor the binaries exist."""
    explicit = os.environ.get(ENV_URL)
    if explicit:
        return PostgresServer(make_url(explicit))
    cluster = start_cluster()
    return PostgresServer(cluster.admin_url, cluster) if cluster is not None else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_server()
    if server is None:
        pytest.skip(UNAVAILABLE)
    try:
        yield server
    finally:
        server.close()
