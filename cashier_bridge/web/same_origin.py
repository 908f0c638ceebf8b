"""Changes come from the bridge's own pages: an HTTP request that changes something (anything
but GET, HEAD and OPTIONS) and says in ``Origin`` that another site's page sent it is refused
(403) before any route sees it.

Cookies ignore ports, and SameSite counts another port of the same host as the same site: a
page of some other program on the till (a printer's, a router's, anything the cashier opens)
can make the browser send a form to the bridge *with* the cashier console's or the back
office's cookie.  The back office's forms carry a CSRF token, but not every write does (the
console's sign-out and sign-in, the phone page's form), and checking one header here covers
them all, and every write added later.  The websockets use the same rule
(:class:`~cashier_bridge.web.origins.OriginPolicy`, and the reasoning about DNS rebinding there).

Two headers say where a browser's request comes from, and each is checked:

- ``Sec-Fetch-Site`` (every current browser): ``same-site`` (another port of this host) or
  ``cross-site`` is refused; ``same-origin`` and ``none`` (typed, a bookmark) pass.
- ``Origin``: a named origin must be one of the bridge's own.  Our pages send no referrer
  (``Referrer-Policy: no-referrer``), and a browser then writes ``Origin: null`` on their own
  form posts, so ``null`` passes when ``Sec-Fetch-Site`` says ``same-origin`` — which a page
  under a rebound name could also say, but such a page gets none of this host's cookies.  A
  browser too old for ``Sec-Fetch-Site`` that sends ``null`` is let through; the back office's
  CSRF tokens still hold there.

A request with neither header is no browser's (browsers send ``Origin`` with every POST).  Nor
is one that carries its own ``Authorization``: a program with an API token is no victim of
ambient cookies.
"""

from __future__ import annotations

import json

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

log = structlog.get_logger("selfreg.http")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MESSAGE = ("this request came from a page of another site ({origin}); the bridge takes changes "
           "only from its own pages, and nothing was changed (a console or back office opened "
           "under another address? add it to allowed_origins)")


class SameOriginWrites:
    """ASGI middleware: refuse cross-origin writes (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        origin = headers.get(b"origin", b"").decode("latin-1")
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
        policy = getattr(scope["app"].state, "origins", None)
        foreign = site in ("same-site", "cross-site") or (
            origin not in ("", "null") and policy is not None and not policy.allows(
                origin, local=scope.get("server"), secure=scope.get("scheme") == "https"))
        if not foreign or b"authorization" in headers:
            await self.app(scope, receive, send)
            return
        shown = (origin or site)[:100]
        log.warning("cross_origin_write_refused", origin=shown, path=scope.get("path", "")[:100])
        message = MESSAGE.format(origin=shown)
        if scope.get("path", "").startswith("/api/"):
            body = json.dumps({"error": "forbidden", "message": message}).encode()
            media_type = b"application/json"
        else:
            body = (message[0].upper() + message[1:] + ".\n").encode()
            media_type = b"text/plain; charset=utf-8"
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", media_type),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
