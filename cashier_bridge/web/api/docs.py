"""The API's documentation page, served with Swagger UI from this machine: a shop's bridge must
not load scripts from a CDN.  The files come from the swagger-ui-bundle-v2 package (Swagger UI,
Apache-2.0), not from the network.

The page has a Content-Security-Policy of its own: scripts from this origin plus the one inline
script that starts Swagger UI, allowed by its hash (so no other inline script runs); the
stylesheet's icons are data: images; "Try it out" calls this origin.  No validator badge: it
would load an image from swagger.io."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
ASSETS = "/docs/assets"
ASSETS_MAX_AGE_S = 86_400


class _Assets(StaticFiles):
    """Swagger UI's files: the same for every visitor, so cached (unlike everything else)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.setdefault("Cache-Control", f"max-age={ASSETS_MAX_AGE_S}")
        return response


def _csp(html: str) -> str:
    inline = re.findall(r"<script>(.*?)</script>", html, re.S)
    hashes = " ".join("'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest())
                      .decode() + "'" for s in inline)
    return (f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; "
            "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


def install(app: FastAPI) -> None:
    app.mount(ASSETS, _Assets(directory=str(swagger_ui_path)), name="swagger-ui")
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} — API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None})
    body = bytes(page.body)
    headers = {"Content-Security-Policy": _csp(body.decode())}

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(body, headers=headers)
