"""The REST API, ``/api/v1``: customers, groups, sales, consents, GDPR export and erasure, for
POS vendors' integrations and the bundled cashier console.  OpenAPI at ``/openapi.json``, a
documentation page at ``/docs``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from cashier_bridge.config import Settings
from cashier_bridge.web.api import docs, errors
from cashier_bridge.web.api.customers import customers_router
from cashier_bridge.web.api.groups import groups_router
from cashier_bridge.web.api.refusals import document

PREFIX = "/api/v1"


def install_api(app: FastAPI, settings: Settings) -> None:
    """Mount the API, its error answers and its documentation page on the bridge's app."""
    router = APIRouter(prefix=PREFIX)
    # Every refusal each route can answer with, in the document (refusals.py).
    router.include_router(document(customers_router(settings)))
    router.include_router(document(groups_router()))
    app.include_router(router)
    errors.install(app)
    docs.install(app)


__all__ = ["PREFIX", "install_api"]
