"""The sign-in pages answer a flood at the door: each client address may ask for them
``sign_in_requests_per_minute`` times a minute, and past that gets 429 before anything else is
done — no routing, no form, no page rendered, no database, no password hashed.

The back office counts failed sign-ins per address and per username in the database
(:mod:`cashier_bridge.throttle`), so a whole chain stops a guesser; but each of those answers
still costs a page, a form and a query, and twenty clients that ask as fast as they are answered
kept the bridge's one event loop busy enough to slow a register's ``start_sale`` several times
over.  This gate is per process and in memory (``ratelimit.RateLimiter``: bounded keys, a
refused request costs one dictionary look-up), and a refusal is answered after a second
(:data:`HOLD_S`; at most :data:`MAX_HELD` at a time, the rest at once): a client that asks again
the moment it is answered — what a flooding script does — then asks once a second instead of
hundreds of times, and a flood from a few addresses costs almost nothing.  A flood from
thousands of addresses is for the firewall or the proxy in front (README, "Security").
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from cashier_bridge.web.ratelimit import RateLimiter, address_key, retry_after_header

SIGN_IN_PATHS = frozenset({"/admin/login", "/console/sign-in"})
WINDOW_S = 60.0
HOLD_S = 1.0
MAX_HELD = 100


class SignInGate:
    """ASGI middleware: at most ``per_minute`` requests to the sign-in pages per address."""

    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.limiter = RateLimiter(per_minute, WINDOW_S)
        self.hold_s = HOLD_S
        self._held = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in SIGN_IN_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.limiter.hit(address_key(client[0] if client else None))
        if wait is None:
            await self.app(scope, receive, send)
            return
        if self._held < MAX_HELD:
            self._held += 1
            try:
                await asyncio.sleep(self.hold_s)
            finally:
                self._held -= 1
        retry = retry_after_header(wait)
        body = (f"Too many sign-in requests from this address; try again in {retry} s.\n"
                ).encode()
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()),
                                (b"retry-after", retry.encode())]})
        await send({"type": "http.response.body", "body": body})
