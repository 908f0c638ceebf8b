"""The retention review, ``/admin/retention`` (managers and admins: erasing is theirs): the
members with no sale and no sign-in at a register for the years the shop set (Settings →
``retention_years``), listed, and erased in one confirmed batch (GDPR storage limitation).

The confirmation carries the cut-off and how many were shown; the customer service erases
exactly those still due at that cut-off, or nothing when the list changed since it was shown.
Each member is erased as one erase is (audited, consents withdrawn, sales kept anonymised)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cashier_bridge.customers.service import RETENTION_BATCH, CustomerService, ListChanged
from cashier_bridge.permissions import Action, allowed
from cashier_bridge.registry.staff import StaffSession
from cashier_bridge.shop.settings import retention_cutoff
from cashier_bridge.web.admin.auth import Form, Needs, Refused, registry_of
from cashier_bridge.web.shop import shop_of

log = structlog.get_logger("selfreg.admin")

Deleter = Annotated[StaffSession, Depends(Needs(Action.delete_customer))]
SHOWN = 100  # members listed on the page; the batch erases up to RETENTION_BATCH


def retention_router(page: Callable[..., HTMLResponse]) -> APIRouter:
    router = APIRouter(prefix="/admin")

    async def review(request: Request, session: StaffSession, status: int = 200, *,
                     cutoff: dt.datetime | None = None, error: str | None = None
                     ) -> HTMLResponse:
        years = shop_of(request).retention_years
        may_set = allowed(session.staff.role, Action.manage_settings)
        erased = request.query_params.get("erased", "")
        shown = {"may_set": may_set, "error": error,
                 "request_erased": erased if erased.isdigit() else None}
        if years is None:
            return page(request, "retention.html", status, title="Retention", years=None,
                        **shown)
        cutoff = cutoff or retention_cutoff(years, dt.datetime.now(dt.UTC))
        registry = registry_of(request)
        count = await asyncio.to_thread(registry.retention.count, cutoff)
        members = await asyncio.to_thread(registry.retention.dormant, cutoff, limit=SHOWN)
        return page(request, "retention.html", status, title="Retention", years=years,
                    cutoff=cutoff, count=count, members=members,
                    batch=min(count, RETENTION_BATCH), **shown)

    @router.get("/retention", response_class=HTMLResponse)
    async def retention(request: Request, session: Deleter) -> HTMLResponse:
        return await review(request, session)

    @router.post("/retention", response_class=HTMLResponse, responses={
        303: {"description": "Erased: back to the review, which says how many"},
        400: {"description": "A form that did not come from the review page; nothing erased"},
        403: {"description": "Not a manager or admin, or the form lacks the session's security "
                             "code; nothing erased"},
        409: {"description": "The list changed since it was shown; nothing erased, the list "
                             "shown again"},
        413: {"description": "The form is larger than 16 kB; nothing erased"},
        422: {"description": "The typed count is not the number to erase; nothing erased"}})
    async def erase(request: Request, session: Deleter, form: Form) -> Response:
        try:
            cutoff = dt.datetime.fromisoformat(form.get("cutoff", ""))
            reviewed = int(form.get("reviewed", ""))
        except ValueError:
            raise Refused("This form did not come from the retention page; nothing was "
                          "erased.", status=400, title="Not erased") from None
        if cutoff.tzinfo is None or not 0 <= reviewed <= RETENTION_BATCH:
            raise Refused("This form did not come from the retention page; nothing was "
                          "erased.", status=400, title="Not erased")
        if form.get("confirm", "").strip() != str(reviewed):
            return await review(request, session, 422, cutoff=cutoff, error=(
                f"Type {reviewed} (how many members will be erased) to confirm; nothing was "
                "erased."))
        service = CustomerService(registry_of(request))
        try:
            erased = await asyncio.to_thread(service.erase_dormant, cutoff, reviewed=reviewed,
                                             actor=session.staff.actor)
        except ListChanged as changed:
            due = f"{changed.now} members are" if changed.now != 1 else "1 member is"
            return await review(request, session, 409, cutoff=cutoff, error=(
                f"The list changed since you reviewed it ({due} due now, {reviewed} were "
                "shown); nothing was erased. Review it again below."))
        log.info("retention_erased", by=session.staff.id, count=erased)
        return RedirectResponse(f"/admin/retention?erased={erased}", status_code=303)

    return router
