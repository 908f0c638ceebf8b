"""The one place where refusals become HTTP answers.  Every route raises what the registry (or
pydantic) raises; these handlers give each its status and the API's error body:

- 422 ``{"error": "invalid", "message", "fields": [{"field", "reason"}]}``
- 401 ``unauthorized``, 403 ``forbidden`` (with ``needed_scope``), 404 ``not_found``
- 409 ``duplicate`` (``field``, ``existing_id``) or ``conflict``
- 413 ``too_large``, 503 ``unavailable`` / ``storage_full`` (the database, not the request)
- 429 ``rate_limited`` (``retry_after_s``, and ``Retry-After``): the caller's personnummer
  look-ups are spent for now (:mod:`cashier_bridge.customers.lookup_limit`)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import structlog
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cashier_bridge.customers.lookup_limit import TooManyLookups
from cashier_bridge.identity.errors import IdentityError
from cashier_bridge.protocol import ErrorCode
from cashier_bridge.registry.customer_admin import FIELD_OF
from cashier_bridge.registry.faults import MESSAGES as FAULT_MESSAGES
from cashier_bridge.registry.faults import registry_fault
from cashier_bridge.registry.fields import InvalidCustomer
from cashier_bridge.registry.problems import Conflict, NotFound
from cashier_bridge.registry.records import DuplicateCustomer

log = structlog.get_logger("selfreg.api")

API_PREFIX = "/api/"
MAX_LISTED_FIELDS = 10
_HTTP_ERRORS = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "not_allowed",
                409: "conflict", 413: "too_large", 415: "unsupported_media_type"}


class RateLimited(BaseModel):
    """The caller looked up too many personnummer in the last minute; nothing was checked."""

    error: Literal["rate_limited"]
    message: str
    retry_after_s: int


# ``responses=`` of every operation whose body may carry a personnummer.
RATE_LIMITED_RESPONSES: dict[int | str, dict[str, Any]] = {429: {
    "model": RateLimited,
    "description": "too many personnummer look-ups by this caller (API token, console lane or "
                   "staff member) in the last minute; nothing was checked or changed",
    "headers": {"Retry-After": {"description": "seconds until the next look-up is allowed",
                                "schema": {"type": "integer"}}}}}


class ApiError(Exception):
    """A refusal the API decides itself (authentication, scope, a bad query value)."""

    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": error, "message": message, **extra}
        self.headers = ({"WWW-Authenticate": "Bearer"} if status == 401 else None)


def invalid(field: str, reason: str) -> ApiError:
    return ApiError(422, "invalid", f"{field}: {reason}",
                    fields=[{"field": field, "reason": reason}])


def _invalid_body(problems: Sequence[tuple[str, str]]) -> dict[str, Any]:
    field, reason = problems[0]
    return {"error": "invalid", "message": f"{field}: {reason}",
            "fields": [{"field": f, "reason": r} for f, r in problems[:MAX_LISTED_FIELDS]]}


def _field_of(loc: Sequence[Any]) -> str:
    # ("body", "email") -> "email"; ("query", "limit") -> "limit"; ("body",) -> "body"
    inner = [str(part) for part in loc[1:]]
    return ".".join(inner) if inner else str(loc[0]) if loc else "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> Response:
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation(_request: Request, exc: RequestValidationError) -> Response:
        # Pydantic's messages name the rule, never echo the value (which may be personal).
        problems = [("body", "is not valid JSON") if e.get("type") == "json_invalid"
                    else (_field_of(e.get("loc", ())), str(e.get("msg", "is not valid")))
                    for e in exc.errors()] or [("body", "is not valid")]
        return JSONResponse(_invalid_body(problems), status_code=422)

    @app.exception_handler(InvalidCustomer)
    async def invalid_customer(_request: Request, exc: InvalidCustomer) -> Response:
        reason = str(exc).removeprefix(f"{exc.field}: ")
        return JSONResponse(_invalid_body([(exc.field, reason)]), status_code=422)

    @app.exception_handler(IdentityError)
    async def identity_error(_request: Request, exc: IdentityError) -> Response:
        return JSONResponse(_invalid_body([(exc.kind or "value", str(exc))]), status_code=422)

    @app.exception_handler(DuplicateCustomer)
    async def duplicate(_request: Request, exc: DuplicateCustomer) -> Response:
        field = FIELD_OF.get(exc.field, exc.field)
        return JSONResponse({"error": "duplicate",
                             "message": f"{field} already belongs to customer "
                                        f"{exc.existing.customer_code} (id {exc.existing.id})",
                             "field": field, "existing_id": exc.existing.id}, status_code=409)

    @app.exception_handler(TooManyLookups)
    async def too_many_lookups(_request: Request, exc: TooManyLookups) -> Response:
        return JSONResponse({"error": "rate_limited", "message": exc.message,
                             "retry_after_s": exc.retry_after_s}, status_code=429,
                            headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: NotFound) -> Response:
        return JSONResponse({"error": "not_found", "message": exc.message}, status_code=404)

    @app.exception_handler(Conflict)
    async def conflict(_request: Request, exc: Conflict) -> Response:
        return JSONResponse({"error": "conflict", "message": exc.message}, status_code=409)

    @app.exception_handler(DBAPIError)
    async def database(request: Request, exc: DBAPIError) -> Response:
        # Weather, not a bug: the transaction rolled back, the caller may retry.
        code = registry_fault(exc) or ErrorCode.unavailable
        log.warning(f"registry_{code.value}", path=request.url.path,
                    error=type(exc.orig or exc).__name__)
        return JSONResponse({"error": code.value, "message": FAULT_MESSAGES[code]},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not request.url.path.startswith(API_PREFIX):
            return await http_exception_handler(request, exc)
        if exc.status_code == 400:
            # FastAPI's "error parsing the body" (bytes that are not UTF-8, say): to a caller
            # it is a body that is not valid, like any other.
            return JSONResponse(_invalid_body([("body", "could not be read: send JSON in "
                                                        "UTF-8")]), status_code=422)
        error = _HTTP_ERRORS.get(exc.status_code, "error")
        message = (exc.detail if isinstance(exc.detail, str) else error).lower()
        return JSONResponse({"error": error, "message": message}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
