"""The OpenAPI document is the truth about the API (issue 16): Schemathesis drives every
``/api/v1`` operation with an admin token against the bridge's real app — bodies, parameters
and headers that fit the document and ones that break it — and fails on any 500, any status the
document does not list for that operation, and any body or content type it does not describe.

Bounded for CI on two cores: a fixed number of examples per operation, no deadline, and one
SQLite registry for the whole module (a customer and a group to find, the rest 404s)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from cashier_bridge.config import Settings
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.web.app import create_app

EXAMPLES_PER_OPERATION = 40
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]


@dataclass
class Bridge:
    schema: Any
    token: str


def _operations() -> list[tuple[str, str]]:
    # From the app as built (no database is opened for its document).
    document = create_app(Settings(db_url="sqlite://", auth="off")).openapi()
    return sorted((method.upper(), path) for path, operations in document["paths"].items()
                  if path.startswith("/api/v1/") for method in operations)


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    tmp = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'fuzz.db'}"
    registry = Registry.open(url)
    registry.customers.create_new("seed", NewCustomer("Anna", "Svensson", phone="+46701234567",
                                                      customer_code="1001"))
    registry.groups.create("Staff", actor="test")
    token = registry.api_tokens.create("fuzz", "admin").token
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SELFREG_CONFIG", str(tmp / "none.toml"))
        env.setenv("SELFREG_DATA_DIR", str(tmp / "data"))
        app = create_app(Settings(db_url=url, auth="off", phone_region="SE"), registry)
        # Schemathesis runs the app's lifespan (its registry and state) until told to stop.
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        try:
            yield Bridge(schema, token)
        finally:
            shutdown_lifespans()
            registry.close()


def test_every_api_operation_is_fuzzed() -> None:
    assert len(OPERATIONS) >= 16 and ("POST", "/api/v1/customers") in OPERATIONS


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["fits", "breaks"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS,
                         ids=[f"{m} {p.removeprefix('/api/v1')}" for m, p in OPERATIONS])
def test_every_operation_answers_as_documented(bridge: Bridge, method: str, path: str,
                                               mode: GenerationMode) -> None:
    operation = bridge.schema[path][method]
    auth = {"Authorization": f"Bearer {bridge.token}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    def answers_as_documented(case: Any) -> None:
        case.call_and_validate(headers=auth, checks=CHECKS)

    answers_as_documented()
