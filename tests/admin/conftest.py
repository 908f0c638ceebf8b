"""Back-office tests: the staff store on SQLite and a real PostgreSQL, the /admin pages through
the bridge's real app, and a browser against ``selfreg-bridge serve``."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) leaves the root out
    sys.path.insert(0, str(ROOT))

from cashier_bridge.config import Settings  # noqa: E402
from cashier_bridge.permissions import StaffRole  # noqa: E402
from cashier_bridge.registry import Registry  # noqa: E402
from cashier_bridge.web.app import create_app  # noqa: E402
from simulator.processes import BridgeProcess  # noqa: E402
from tests.pg_server import postgres_server  # noqa: E402

__all__ = ["postgres_server"]

# argon2's real parameters take 64 MiB and a good part of a second per hash on this machine;
# tests that hash dozens of times use cheap ones (the rehash test switches between the two).
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
START = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


class CountingHasher(PasswordHasher):
    """The tests' cheap hasher, counting the argon2 work it is asked to do and noting the
    threads that do it."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verifies = 0
        self.hashes = 0
        self.threads: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verifies += 1
        self.threads.append(threading.current_thread().name)
        return super().verify(hash, password)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.hashes += 1
        self.threads.append(threading.current_thread().name)
        return super().hash(password, salt=salt)


class Clock:
    """A clock the test moves: lock-outs and idle timeouts without sleeping."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(db_url: str, clock: Clock) -> Iterator[Registry]:
    reg = Registry.open(db_url)
    reg.staff.hasher = FAST_HASHER
    reg.staff.clock = clock
    yield reg
    reg.close()


def make_client(registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                base_url: str = "http://testserver", address: str = "testclient"
                ) -> TestClient:
    """A browser at ``address`` on the bridge's real app."""
    monkeypatch.setenv("SELFREG_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("SELFREG_DATA_DIR", str(tmp_path / "data"))
    settings = Settings(db_url=registry.engine.url.render_as_string(hide_password=False),
                        shop_name="Butiken Centrum")
    return TestClient(create_app(settings, registry), base_url=base_url,
                      follow_redirects=False, client=(address, 50000))


@pytest.fixture
def client(registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[TestClient]:
    """A browser on the bridge's real app over this test module's ``registry``."""
    with make_client(registry, tmp_path, monkeypatch) as c:
        yield c


@contextlib.contextmanager
def staffed_bridge(workdir: Path, staff: dict[str, tuple[StaffRole, str, str]],
                   seed: Callable[[Registry], object] = lambda registry: None,
                   never_logged: Iterable[str] = ()) -> Iterator[BridgeProcess]:
    """``selfreg-bridge serve`` in its own process over a registry with ``staff`` (username →
    role, password, display name) and whatever ``seed`` adds; afterwards its log holds no
    traceback, no password and nothing of ``never_logged`` (personal data)."""
    b = BridgeProcess(workdir)
    registry = Registry.open(b.db_url)
    for username, (role, password, name) in staff.items():
        registry.staff.add(username, password, role, display_name=name)
    seed(registry)
    registry.close()
    b.start()
    try:
        yield b
    finally:
        b.stop()
    log = b.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    for secret in (*(p for _r, p, _n in staff.values()), *never_logged):
        assert secret not in log, "a password or personal data in the bridge's log"
