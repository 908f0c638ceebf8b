"""``/admin/security``: the security warnings page (managers and admins) — every actor refused
a personnummer look-up in the last :data:`PAGE_PERIOD`, with when and how many numbers."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from cashier_bridge.config import Settings
from cashier_bridge.permissions import Action, allowed
from cashier_bridge.registry.staff import StaffSession
from cashier_bridge.web.admin.auth import Needs, registry_of

PAGE_PERIOD = dt.timedelta(days=30)
PAGE_ROWS = 200

# At module level: with postponed annotations, FastAPI resolves them in the module's globals.
Watcher = Annotated[StaffSession, Depends(Needs(Action.view_security_warnings))]


def security_router(settings: Settings, page: Callable[..., HTMLResponse]) -> APIRouter:
    router = APIRouter(prefix="/admin")

    @router.get("/security", response_class=HTMLResponse)
    async def security(request: Request, session: Watcher) -> HTMLResponse:
        lookups = registry_of(request).lookups
        since = lookups.clock() - PAGE_PERIOD
        hits = await asyncio.to_thread(lookups.limit_hits, since, limit=PAGE_ROWS)
        return page(request, "security.html", title="Security warnings", hits=hits,
                    per_minute=lookups.per_minute, days=PAGE_PERIOD.days,
                    may_manage_staff=allowed(session.staff.role, Action.manage_staff))

    return router
