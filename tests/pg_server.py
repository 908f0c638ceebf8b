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
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

ENV_URL = "SELFREG_TEST_PG_URL"
UNAVAILABLE = "PostgreSQL server not available"


class PostgresServer:
    """A server we may create databases on; ``close`` drops them (and stops our own cluster)."""

    def __init__(self, admin_url: URL, cluster: _Cluster | None = None) -> None:
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


class _Cluster:
    """initdb + pg_ctl in a temporary directory."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="selfreg-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self._options = ""
        self.admin_url: URL | None = None

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            command = [find_runuser(), "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> URL:
        self.sockets.mkdir()
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.root, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        done = self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                         "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        options = (f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        self._options = options
        self.resume()
        return URL.create("postgresql+psycopg", username="postgres", host="127.0.0.1",
                          port=self.port, database="postgres")

    def resume(self) -> None:
        """Start the server (again, after :meth:`pause`), waiting until it accepts clients."""
        done = self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w",
                         "-t", "60", "-o", self._options)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()} {log[-2000:]}")

    def pause(self) -> None:
        """Stop the server as an outage would (clients disconnected), keeping its data."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        shutil.rmtree(self.root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_runuser() -> str:
    """util-linux's runuser, which Debian installs in /usr/sbin: not on every PATH (CI's, a
    non-login shell's), so look where it lives too."""
    found = shutil.which("runuser") or next(
        (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)), None)
    if found is None:
        raise RuntimeError("runuser not found (Debian package util-linux); needed to run "
                           "PostgreSQL as the postgres user when the tests run as root")
    return found


def find_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                        key=lambda p: int(Path(p).parent.name), reverse=True)
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path and shutil.which("pg_ctl") else None


def start_cluster() -> _Cluster | None:
    """A cluster of our own (one a test may stop and start), or None without the binaries."""
    bindir = find_bindir()
    if bindir is None:
        return None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None
    cluster = _Cluster(bindir)
    try:
        cluster.admin_url = cluster.start()
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
