"""The headers every HTTP answer of the bridge carries unless the route set its own: one ASGI
middleware, so a new page or route cannot forget them.

- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` everywhere: a phone
  link's code, a customer id in a path, never leave in a Referer.
- ``Cache-Control: no-store`` by default: nearly every answer names a customer (API JSON, the
  pages, the exports), and a shared till or phone browser must not keep them.  Static files set
  their own (``max-age``), which is kept.
- HTML gets a Content-Security-Policy: a page's own is kept — the back office, the console, the
  phone page and ``/docs`` set theirs — but always with ``frame-ancestors 'none'``, added when
  a page's policy leaves it out, so no other site can frame a page (clickjacking).  A page with
  no policy of its own gets :data:`DEFAULT_CSP`: this origin only, inline code allowed (a page
  that has none should say so with a stricter policy of its own).
- ``Strict-Transport-Security`` when the request came over HTTPS: served with TLS, or through a
  proxy that says ``X-Forwarded-Proto: https``.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRAME_ANCESTORS = "frame-ancestors 'none'"
DEFAULT_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
               f"base-uri 'none'; form-action 'self'; {FRAME_ANCESTORS}")
HSTS = "max-age=31536000"  # a year; not includeSubDomains: other hosts of the shop are theirs
EVERY_RESPONSE = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def with_frame_ancestors(policy: str) -> str:
    """``policy`` with ``frame-ancestors 'none'`` unless it names its own.

    >>> with_frame_ancestors("default-src 'self'")
    "default-src 'self'; frame-ancestors 'none'"
    >>> with_frame_ancestors("default-src 'none'; frame-ancestors 'self'")
    "default-src 'none'; frame-ancestors 'self'"
    """
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    if any(d.split()[0].lower() == "frame-ancestors" for d in directives):
        return policy
    return "; ".join([*directives, FRAME_ANCESTORS])


def _https(scope: Scope) -> bool:
    if scope.get("scheme") == "https":
        return True
    forwarded = dict(_lower(scope.get("headers", ()))).get(b"x-forwarded-proto", b"")
    # "https" or a proxy chain's "https, http": the first is the client's.
    return forwarded.split(b",")[0].strip().lower() == b"https"


def _lower(headers: Iterable[tuple[bytes, bytes]]) -> Iterable[tuple[bytes, bytes]]:
    return ((k.lower(), v) for k, v in headers)


class SecurityHeaders:
    """Fills in the headers above on every HTTP response the wrapped app sends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = _https(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in EVERY_RESPONSE.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    policy = headers.get("content-security-policy")
                    headers["content-security-policy"] = (
                        DEFAULT_CSP if policy is None else with_frame_ancestors(policy))
                    headers.setdefault("x-frame-options", "DENY")
                if https:
                    headers.setdefault("strict-transport-security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
