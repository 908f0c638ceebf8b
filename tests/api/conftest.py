"""The REST API against the bridge's real app (``create_app``) and a real registry, SQLite and
PostgreSQL, called through httpx as an integrator would."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) leaves the root out
    sys.path.insert(0, str(ROOT))

from cashier_bridge.config import Settings  # noqa: E402
from cashier_bridge.registry import Registry  # noqa: E402
from cashier_bridge.web.app import create_app  # noqa: E402
from tests.pg_server import postgres_server  # noqa: E402

__all__ = ["postgres_server"]

API = "/api/v1"
ANNA_PNR = "198503121249"




@pytest.fixture
def registry(db_url: str) -> Iterator[Registry]:
    reg = Registry.open(db_url)
    yield reg
    reg.close()


@dataclass
class Api:
    """A client per scope, and the registry behind them (to check what was stored)."""

    client: TestClient
    registry: Registry
    tokens: dict[str, str]

    def headers(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}"}

    def get(self, path: str, scope: str = "admin", **kw: object):  # type: ignore[no-untyped-def]
        return self.client.get(API + path, headers=self.headers(scope), **kw)  # type: ignore[arg-type]

    def post(self, path: str, scope: str = "admin", **kw: object):  # type: ignore[no-untyped-def]
        headers = {**self.headers(scope), **kw.pop("headers", {})}  # type: ignore[dict-item]
        return self.client.post(API + path, headers=headers, **kw)  # type: ignore[arg-type]

    def patch(self, path: str, scope: str = "admin", **kw: object):  # type: ignore[no-untyped-def]
        return self.client.patch(API + path, headers=self.headers(scope), **kw)  # type: ignore[arg-type]

    def delete(self, path: str, scope: str = "admin"):  # type: ignore[no-untyped-def]
        return self.client.delete(API + path, headers=self.headers(scope))


@pytest.fixture
def api(registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("SELFREG_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("SELFREG_DATA_DIR", str(tmp_path / "data"))
    settings = Settings(db_url=registry.engine.url.render_as_string(hide_password=False),
                        auth="off", phone_region="SE")
    tokens = {scope: registry.api_tokens.create(f"test {scope}", scope).token
              for scope in ("read", "write", "admin")}
    with TestClient(create_app(settings, registry)) as client:
        yield Api(client, registry, tokens)
