"""The OpenAPI document lists every refusal each operation can answer with, and its body
(issue 16: an API fuzzer got 401, 403, 404, 409 … where only 2xx and a 422 of another shape were
documented).  The fuzzing itself is test_openapi_fuzz.py; this says what the document holds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from cashier_bridge.ids import Id
from cashier_bridge.registry.api_tokens import Principal
from cashier_bridge.web.api.auth import READ
from cashier_bridge.web.api.models import GroupIn
from cashier_bridge.web.api.refusals import document, statuses_of
from tests.api.conftest import Api

SCHEMAS = "#/components/schemas/"


def _body_of(response: dict[str, Any]) -> str:
    return str(response["content"]["application/json"]["schema"]["$ref"]).removeprefix(SCHEMAS)


def test_every_operation_documents_its_refusals_with_their_bodies(api: Api) -> None:
    document_ = api.client.get("/openapi.json").json()
    operations = [(m.upper(), p, op) for p, ops in document_["paths"].items()
                  if p.startswith("/api/v1/") for m, op in ops.items()]
    assert len(operations) >= 16
    for method, path, operation in operations:
        responses = operation["responses"]
        said = f"{method} {path}: {sorted(responses)}"
        assert {"401", "403", "503"} <= set(responses), said
        assert _body_of(responses["401"]) == "Problem" and \
            _body_of(responses["403"]) == "Forbidden", said
        assert "Retry-After" in responses["503"]["headers"], said
        if "{" in path:
            assert _body_of(responses["404"]) == "Problem", said
        if "422" in responses:
            assert _body_of(responses["422"]) == "Invalid", said  # not FastAPI's "detail"
        if "requestBody" in operation:
            assert {"413", "422"} <= set(responses), said
    create = document_["paths"]["/api/v1/customers"]["post"]["responses"]
    assert _body_of(create["409"]) == "Duplicate" and "429" in create
    assert "Retry-After" in create["429"]["headers"]
    # A route that takes no personnummer is not rate-limited.
    assert "429" not in document_["paths"]["/api/v1/groups"]["post"]["responses"]


def test_a_new_route_gets_its_refusals_from_what_it_is() -> None:
    """No one has to remember: a route with a caller, a path id and a body is documented with
    401, 403, 404, 413, 422 and 503 by the one place that knows."""
    router = APIRouter()

    @router.put("/things/{thing_id}")
    def put_thing(thing_id: Id, body: GroupIn, request: Request,
                  principal: Principal = READ) -> None:
        """(a route as a helper would add it)"""

    @router.get("/open")
    def open_route() -> None:
        """(no caller, no parameters)"""

    document(router)
    routes = {r.path: r for r in router.routes}  # type: ignore[attr-defined]
    assert statuses_of(routes["/things/{thing_id}"]) == {401, 403, 404, 413, 422, 503}
    assert set(routes["/things/{thing_id}"].responses) == {401, 403, 404, 413, 422, 503}
    assert statuses_of(routes["/open"]) == {503}
