"""The shop's settings as the pages read them: :class:`ShopSettings` keeps the current values
(cashier_bridge.shop.settings.Current) for at most a second, and :class:`LoadShopSettings`
hands them to every back-office, console and phone-page request as ``request.state.shop``.

A second: a setting saved on another process of a chain shows on this one's pages within it,
while a page costs no query of its own (at most one a second per process, on a worker thread,
never on the event loop).  A save on this process shows at once (:meth:`ShopSettings.saved`)."""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from cashier_bridge.config import Settings
from cashier_bridge.registry import Registry
from cashier_bridge.shop.settings import Current, Stored

MAX_AGE_S = 1.0
# What reads the shop's settings: the pages (name, controller, colours) and the API (the
# consent texts it accepts answers to).
_PREFIXES = ("/admin", "/console", "/m/", "/api/")


class ShopSettings:
    def __init__(self, registry: Registry, file: Settings, *, max_age_s: float = MAX_AGE_S
                 ) -> None:
        self._registry = registry
        self._file = file
        self._max_age_s = max_age_s
        self._current: Current | None = None
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    def _load(self) -> Current:
        stored = {k: Stored(s.value, s.at, s.by)
                  for k, s in self._registry.settings.stored().items()}
        return Current(stored, self._file)

    async def current(self) -> Current:
        if self._current is not None and time.monotonic() - self._read_at < self._max_age_s:
            return self._current
        async with self._lock:  # one read for every request that finds them stale at once
            if self._current is None or time.monotonic() - self._read_at >= self._max_age_s:
                started = time.monotonic()
                self._current = await asyncio.to_thread(self._load)
                self._read_at = started
        return self._current

    def expire(self) -> None:
        """Read again on the next request (after a save on this process)."""
        self._read_at = float("-inf")

    async def saved(self) -> Current:
        """After a save on this process: read again now."""
        self.expire()
        return await self.current()


class LoadShopSettings:
    """ASGI middleware: ``request.state.shop`` for the pages that show the shop's settings."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(_PREFIXES):
            shop: ShopSettings | None = getattr(scope["app"].state, "shop", None)
            if shop is not None:
                scope.setdefault("state", {})["shop"] = await shop.current()
        await self.app(scope, receive, send)


def brand_css(shop: Current) -> str:
    """The brand colours as CSS custom properties, for the pages' style sheets."""
    return (f":root{{--brand:{shop.brand_colour};"
            f"--on-brand:{shop.brand_text_colour}}}\n")


def shop_of(request: Request) -> Current:
    """The settings a page shows (set by :class:`LoadShopSettings`)."""
    shop: Current = request.state.shop
    return shop
