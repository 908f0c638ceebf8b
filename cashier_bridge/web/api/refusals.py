"""Which refusals each API operation can answer with, written into the OpenAPI document from
this one place, so an integrator (and the fuzzer in CI) knows every status and its body.

Most follow from what a route is, read from the route itself; a new route gets them without
anyone remembering:

- every route needs a caller (:func:`.auth.caller`): 401, 403;
- a customer or group named in the path: 404;
- a path, query or header parameter, or a body: 422, naming each bad one;
- a body: 413 (over 1 MiB);
- a body that may carry a personnummer (``personal_id``): 429, as look-ups are limited per
  caller;
- every route reads or writes the registry: 503 when it cannot (nothing was changed).

The rest a route says itself, with ``responses=refusals(409)``: a conflict with what is stored
depends on what the route does.  A route's own entry for a status wins over the derived one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from cashier_bridge.web.api.auth import caller
from cashier_bridge.web.api.models import Duplicate, Forbidden, Invalid, Problem

_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                                "schema": {"type": "integer"}}}

REFUSALS: dict[int, tuple[type[BaseModel], str]] = {
    401: (Problem, "no API token, or an unknown or revoked one; or a console or back-office "
                   "sign-in that has ended (error unauthorized)"),
    403: (Forbidden, "the caller may not: the scope (token) or back-office action (sign-in) it "
                     "would need is named; or a back-office call without its CSRF token "
                     "(error forbidden)"),
    404: (Problem, "there is no such customer or group, or the customer was erased or merged "
                   "into another (error not_found)"),
    409: (Duplicate, "the request contradicts what is stored: an identifier that belongs to "
                     "another customer (error duplicate, with field and existing_id), or a "
                     "reused Idempotency-Key, sale or group name (error conflict)"),
    413: (Problem, "the body is larger than 1 MiB (error too_large; text/plain when the "
                   "declared length alone is too large)"),
    422: (Invalid, "a body field, parameter or header is not valid: each is named with the "
                   "reason (error invalid); nothing was changed"),
    429: (Problem, "too many personnummer look-ups by this caller for now; Retry-After says "
                   "when to try again (error rate_limited); nothing was checked or changed"),
    503: (Problem, "the registry cannot be reached or its disk is full (error unavailable or "
                   "storage_full): nothing was changed; try again after Retry-After"),
}


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for refusals a route knows it can answer with."""
    return {status: _entry(status) for status in statuses}


def _entry(status: int) -> dict[str, Any]:
    model, description = REFUSALS[status]
    entry: dict[str, Any] = {"model": model, "description": description}
    if status in (429, 503):
        entry["headers"] = _RETRY_AFTER
    if status == 413:
        entry["content"] = {"text/plain": {"schema": {"type": "string"}}}
    return entry


def statuses_of(route: APIRoute) -> set[int]:
    """The refusals that follow from what ``route`` is (see the module's docstring)."""
    dependant = route.dependant
    found = {503}
    if any(d.call is caller for d in _all(dependant)):
        found |= {401, 403}
    if dependant.path_params:
        found |= {404, 422}
    if dependant.query_params or dependant.header_params or route.body_field is not None:
        found.add(422)
    if route.body_field is not None:
        found.add(413)
        model = route.body_field.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel) and \
                "personal_id" in model.model_fields:
            found.add(429)
    return found


def _all(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _all(sub)


def document(router: APIRouter) -> APIRouter:
    """Add each route's refusals to its ``responses`` (before the router is included)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            for status in sorted(statuses_of(route)):
                route.responses.setdefault(status, _entry(status))
    return router
