"""A private PostgreSQL cluster started from the PostgreSQL binaries, for tests and benchmarks.

``initdb`` + ``pg_ctl`` in a directory of our own, listening on a free port of 127.0.0.1 (and a
Unix socket in the same directory) with trust authentication.  initdb refuses to run as root, so
when we are root the server runs as the ``postgres`` system user (through util-linux's
``runuser``).  Durability is switched off (``fsync=off`` …): such a cluster holds nothing that
cannot be made again.

Throwaway (tests)::

    cluster = Cluster()                 # a temporary directory, deleted by stop()
    admin_url = cluster.start()

Kept between runs (benchmarks that cache a ten-million-row database)::

    cluster = Cluster(Path("bench/out/pg"), keep=True)
    cluster.start()                     # initdb only the first time
    url = cluster.create_database("match_1m")
    cluster.stop()                      # data stays for the next run
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

# What the tests have always run with: no durability, room for many test connections.
DEFAULT_SETTINGS: Mapping[str, str] = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` with initdb and pg_ctl, else those on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                        key=lambda p: int(Path(p).parent.name), reverse=True)
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path and shutil.which("pg_ctl") else None


def find_runuser() -> str:
    """util-linux's runuser, which Debian installs in /usr/sbin: not on every PATH (CI's, a
    non-login shell's), so look where it lives too."""
    found = shutil.which("runuser") or next(
        (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)), None)
    if found is None:
        raise RuntimeError("runuser not found (Debian package util-linux); needed to run "
                           "PostgreSQL as the postgres user when we are root")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def available() -> bool:
    """Whether a cluster can be started here at all (binaries, and a postgres user if root)."""
    if find_bindir() is None:
        return False
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False
    return True


class Cluster:
    def __init__(self, root: Path | None = None, *, keep: bool = False,
                 bindir: Path | None = None, settings: Mapping[str, str] | None = None) -> None:
        """``root``: the directory to keep the cluster in (created if missing), else a new
        temporary one.  ``keep``: stop() leaves the data for the next start().  ``settings``:
        server settings on top of :data:`DEFAULT_SETTINGS`."""
        found = bindir or find_bindir()
        if found is None:
            raise RuntimeError("PostgreSQL binaries not found (/usr/lib/postgresql/*/bin)")
        self.bindir = found
        if root is None:
            self.root = Path(tempfile.mkdtemp(prefix="selfreg-pg-"))
        else:
            self.root = root.resolve()
            self.root.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}

    @property
    def admin_url(self) -> URL:
        return URL.create("postgresql+psycopg", username="postgres", host="127.0.0.1",
                          port=self.port, database="postgres")

    def url(self, database: str) -> str:
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            command = [find_runuser(), "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False)

    def start(self) -> URL:
        """Start the server (running initdb first if there is no data yet); the admin URL."""
        self.sockets.mkdir(exist_ok=True)
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.root, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            done = self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
            if done.returncode != 0:
                raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        elif self._run("pg_ctl", "status", "-D", str(self.data)).returncode == 0:
            # A kept cluster left running by a run that was killed: restart it on our port.
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", timeout=600)
        options = " ".join([f"-p {self.port}", f"-k {self.sockets}",
                            *(f"-c {key}={value}" for key, value in self.settings.items())])
        done = self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w",
                         "-t", "120", "-o", options, timeout=180)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()} {log[-2000:]}")
        return self.admin_url

    def pause(self) -> None:
        """Stop the server as an outage would (clients cut off), keeping its data; start()
        brings it back."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", timeout=600)

    def resume(self) -> URL:
        return self.start()

    def stop(self) -> None:
        """Stop the server; a throwaway cluster's directory goes too."""
        if (self.data / "PG_VERSION").exists():
            mode = "fast" if self.keep else "immediate"
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", timeout=600)
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    # --- databases -------------------------------------------------------------------------

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[object, ...]]:
        """Run one statement outside a transaction (CREATE/DROP DATABASE); rows if any."""
        engine = create_engine(self.admin_url.set(database=database),
                               isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with engine.connect() as conn:
                result = conn.execute(text(sql))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def database_exists(self, name: str) -> bool:
        return bool(self.execute(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))

    def create_database(self, name: str) -> str:
        self.execute(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def database_size(self, name: str) -> int:
        rows = self.execute(f"SELECT pg_database_size('{name}')")
        return int(rows[0][0])  # type: ignore[call-overload]
