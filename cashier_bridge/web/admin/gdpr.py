"""The back office's GDPR pages: merge two customers (and undo it from the audit trail), export
everything held about one customer (a printable page and JSON), delete a customer, and the
privacy settings, read-only.

Who may: :data:`~cashier_bridge.permissions.LEAST_ROLE` (merging, exporting and deleting are a
manager's, settings an admin's); a refusal says why and changes nothing.  Every change is a
CSRF-checked POST after a page that says what it will do.  Logs carry ids, never personal data.

PDF: the export page is laid out for printing (``gdpr.css``'s print rules), and the browser's
"Print → Save as PDF" makes the PDF.  A server-side PDF would need WeasyPrint (Pango and its
system libraries on every shop's machine) or laying the whole export out again by hand in
fpdf2; neither is cheap for what the browser already does (docs/decisions.md would say the same).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cashier_bridge.config import Settings
from cashier_bridge.customers.fields import FIELDS, Merge, columns_of
from cashier_bridge.customers.service import CustomerService
from cashier_bridge.ids import ID_RULE, Id, parse_id
from cashier_bridge.money import money, percent
from cashier_bridge.permissions import Action
from cashier_bridge.registry import Registry
from cashier_bridge.registry.customer_admin import CustomerExport
from cashier_bridge.registry.merging import MergeRefused
from cashier_bridge.registry.problems import NotFound
from cashier_bridge.registry.staff import StaffSession
from cashier_bridge.web.admin.auth import Form, Needs, Refused, registry_of
from cashier_bridge.web.shop import shop_of

log = structlog.get_logger("selfreg.admin")

# At module level: with postponed annotations, FastAPI resolves them in the module's globals.
Merger = Annotated[StaffSession, Depends(Needs(Action.merge_customers))]
Exporter = Annotated[StaffSession, Depends(Needs(Action.export_personal_data))]
Deleter = Annotated[StaffSession, Depends(Needs(Action.delete_customer))]
Admin = Annotated[StaffSession, Depends(Needs(Action.manage_settings))]

_CSS = jinja2.PackageLoader("cashier_bridge.web.admin", "static")
_CSS_ENV = jinja2.Environment(loader=_CSS)

PERSONAL_ID_NOTE = ("Only a keyed fingerprint (HMAC-SHA256) of the personnummer is stored, for "
                    "matching, and the masked form shown here; never the number itself.")

# From the field table: the export's profile is every field that is not an address, the group,
# a balance, a credit term or the note (those have their own sections), by its name; the page
# lists those but the name and when the customer came (said in sentences) under their labels.
_SECTIONED = (Merge.address, Merge.delivery, Merge.joined, Merge.added)
PROFILE = tuple(f for f in FIELDS if f.merge not in _SECTIONED
                and f.write not in (Action.edit_credit_terms, Action.manage_groups))
PROFILE_LINES = tuple((f.name, f.label) for f in PROFILE if not f.required and f.write)
# What an erase takes that the delete page names as "label value" (the name, the personnummer,
# the addresses, the note and the customer number are said in their own words).
ERASED_LINES = tuple((f.label, f.columns[0]) for f in FIELDS
                     if f.erased and not f.always and f.merge not in
                     (Merge.identifier, Merge.address, Merge.delivery, Merge.joined))
ADDRESSES = (columns_of(Merge.address), columns_of(Merge.delivery))


def _iso(value: Any) -> Any:
    # To the second: what a person reads (and all the export needs to say when).
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat() if isinstance(value, dt.date) else value


def personal_data(held: CustomerExport, *, shop: str, controller: str | None
                  ) -> dict[str, Any]:
    """The export (assembled and audited by the customer service) as JSON values, for the
    printable page and the file (GDPR article 15)."""
    c = held.customer
    texts = held.texts

    def consent(e: Any) -> dict[str, Any]:
        shown = texts.get(e.text_version or "")
        return {"purpose": e.purpose, "granted": e.granted, "source": e.source,
                "recorded_at": _iso(e.recorded_at), "text_version": e.text_version,
                "text": shown["text"] if shown else None,
                "language": shown["language"] if shown else None}

    def address(columns: tuple[str, ...]) -> dict[str, Any]:
        # By the postal address's names: the delivery address's, without "delivery_".
        return {k: getattr(c, column) for k, column in zip(ADDRESSES[0], columns, strict=True)}

    return {
        "export": {"shop": shop, "data_controller": controller or shop,
                   "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                   "customer_id": c.id},
        "profile": {
            **{f.name: _iso(getattr(c, f.record[0])) for f in PROFILE},
            "personal_id_note": PERSONAL_ID_NOTE if c.personal_id_fingerprint else None},
        "addresses": {"postal": address(ADDRESSES[0]), "delivery": address(ADDRESSES[1])},
        "group": c.customer_group,
        "balances": {"account_minor": c.account_balance_minor,
                     "loyalty_minor": c.loyalty_balance_minor,
                     "store_credit_minor": c.store_credit_minor},
        "credit_terms": {"account_status": c.account_status.value,
                         "account_limit_minor": c.account_limit_minor,
                         "loyalty_rate_bp": c.loyalty_rate_bp},
        "note": c.note,
        "consents": {p: consent(e) for p, e in held.consents.items()},
        "consent_log": [consent(e) for e in held.consent_log],
        "consent_texts": {v: {"purpose": t["purpose"], "language": t["language"],
                              "text": t["text"], "first_shown_at": _iso(t["first_shown_at"])}
                          for v, t in texts.items()},
        "sales": [{"sale_id": s.sale_id, "register": s.register, "total_minor": s.total_minor,
                   "currency": s.currency, "connected_at": _iso(s.connected_at),
                   "ended_at": _iso(s.ended_at), "recorded_by": s.recorded_by}
                  for s in held.sales],
        "audit": [{"at": _iso(a.at), "actor": a.actor, "action": a.action,
                   "detail": a.detail} for a in held.audit],
    }


def _customer_path(customer_id: int) -> str:
    return f"/admin/customers/{customer_id}"


def gdpr_router(settings: Settings, page: Callable[..., HTMLResponse]) -> APIRouter:
    router = APIRouter(prefix="/admin")

    @router.get("/static/gdpr.css")
    async def stylesheet() -> Response:
        css, _name, _fresh = _CSS.get_source(_CSS_ENV, "gdpr.css")
        return Response(css, media_type="text/css; charset=utf-8",
                        headers={"Cache-Control": "max-age=3600",
                                 "X-Content-Type-Options": "nosniff"})

    async def live_row(registry: Registry, customer_id: int) -> dict[str, Any]:
        """The customer's row, or a refusal that says where they went."""
        try:
            return await asyncio.to_thread(registry.merges.customer_row, customer_id)
        except NotFound:
            kept = await asyncio.to_thread(registry.merges.merged_into, customer_id)
            if kept is not None:
                raise Refused(f"Customer {customer_id} was merged into customer {kept}; open "
                              f"{_customer_path(kept)} instead.", status=404,
                              title="Merged into another customer") from None
            raise Refused(f"There is no customer with id {customer_id} (or they were deleted).",
                          status=404, title="No such customer") from None

    # --- merge ---------------------------------------------------------------------------------

    async def merge_page(request: Request, kept_id: int, other_text: str, status: int = 200,
                         error: str | None = None) -> HTMLResponse:
        registry = registry_of(request)
        other_id = parse_id(other_text.strip())
        if other_id is None:
            raise Refused("Say which customer to merge with: the page needs ?other=<customer "
                          "id> (the profile's possible duplicates link to it); "
                          f"other {ID_RULE}.", status=400, title="Which customer?")
        await live_row(registry, kept_id)
        await live_row(registry, other_id)
        plan = await asyncio.to_thread(registry.merges.preview, kept_id, other_id)
        return page(request, "merge_preview.html", status, title="Merge customers", plan=plan,
                    error=error or plan.refusal, money=money, percent=percent)

    @router.get("/customers/{customer_id}/merge", response_class=HTMLResponse)
    async def merge_preview(request: Request, customer_id: Id, session: Merger
                            ) -> HTMLResponse:
        return await merge_page(request, customer_id, request.query_params.get("other", ""))

    @router.post("/customers/{customer_id}/merge", response_class=HTMLResponse)
    async def merge(request: Request, customer_id: Id, session: Merger, form: Form
                    ) -> Response:
        other = parse_id(form.get("other", ""))
        if other is None:
            return await merge_page(request, customer_id, form.get("other", ""))
        registry = registry_of(request)
        try:
            entry = await asyncio.to_thread(CustomerService(registry).merge, customer_id,
                                            other, actor=session.staff.actor)
        except NotFound as exc:
            raise Refused(f"{exc.message[:1].upper()}{exc.message[1:]}; nothing was merged.",
                          status=404, title="No such customer") from None
        except MergeRefused as exc:
            return await merge_page(request, customer_id, str(other), 409, exc.reason)
        log.info("customers_merged", by=session.staff.id, kept=customer_id, other=other,
                 entry=entry)
        return RedirectResponse(f"{_customer_path(customer_id)}?done=merged&merge={entry}",
                                status_code=303)

    async def undo_page(request: Request, entry_id: int, status: int = 200,
                        error: str | None = None) -> HTMLResponse:
        registry = registry_of(request)
        try:
            plan = await asyncio.to_thread(registry.merges.undo_preview, entry_id)
        except NotFound:
            raise Refused(f"Audit entry {entry_id} is not a merge.", status=404,
                          title="No such merge") from None
        return page(request, "merge_undo.html", status, title="Undo a merge", plan=plan,
                    error=error or plan.refusal)

    @router.get("/audit/{entry_id}/undo-merge", response_class=HTMLResponse)
    async def undo_preview(request: Request, entry_id: Id, session: Merger) -> HTMLResponse:
        return await undo_page(request, entry_id)

    @router.post("/audit/{entry_id}/undo-merge", response_class=HTMLResponse)
    async def undo(request: Request, entry_id: Id, session: Merger, form: Form) -> Response:
        registry = registry_of(request)
        try:
            other = await asyncio.to_thread(registry.merges.undo, entry_id,
                                            actor=session.staff.actor)
        except NotFound:
            raise Refused(f"Audit entry {entry_id} is not a merge.", status=404,
                          title="No such merge") from None
        except MergeRefused as exc:
            return await undo_page(request, entry_id, 409, exc.reason)
        log.info("merge_undone", by=session.staff.id, entry=entry_id, restored=other)
        return RedirectResponse(f"{_customer_path(other)}?done=unmerged", status_code=303)

    # --- export --------------------------------------------------------------------------------

    async def exported(request: Request, customer_id: int, session: StaffSession, form: str
                       ) -> dict[str, Any]:
        registry = registry_of(request)
        await live_row(registry, customer_id)
        held = await asyncio.to_thread(CustomerService(registry).export, customer_id,
                                       actor=session.staff.actor, form=form)
        shop = shop_of(request)
        data = personal_data(held, shop=shop.shop_name, controller=shop.data_controller)
        log.info("personal_data_exported", by=session.staff.id, customer=customer_id, form=form)
        return data

    @router.get("/customers/{customer_id}/export", response_class=HTMLResponse)
    async def export_page(request: Request, customer_id: Id, session: Exporter
                          ) -> HTMLResponse:
        data = await exported(request, customer_id, session, "page")
        merges = await asyncio.to_thread(registry_of(request).merges.merges_of, customer_id)
        return page(request, "gdpr_export.html", title="Personal data", data=data,
                    merges=merges, money=money, percent=percent, detail=_detail_text,
                    profile_lines=PROFILE_LINES)

    @router.get("/customers/{customer_id}/export.json")
    async def export_json(request: Request, customer_id: Id, session: Exporter) -> Response:
        data = await exported(request, customer_id, session, "json")
        name = f"personal-data-{quote(data['profile']['customer_code'], safe='')}.json"
        return Response(json.dumps(data, ensure_ascii=False, indent=2),
                        media_type="application/json; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store",
                                 "X-Content-Type-Options": "nosniff"})

    # --- delete --------------------------------------------------------------------------------

    async def delete_page(request: Request, customer_id: int, status: int = 200,
                          error: str | None = None) -> HTMLResponse:
        registry = registry_of(request)
        row = await live_row(registry, customer_id)
        sales = await asyncio.to_thread(registry.sales.list, customer_id)
        current = await asyncio.to_thread(registry.consents.current, customer_id)
        return page(request, "gdpr_delete.html", status, title="Delete customer", row=row,
                    erased_lines=ERASED_LINES,
                    addresses=[[row[k] for k in block] for block in ADDRESSES],
                    sales=len(sales), granted=sorted(p for p, e in current.items() if e.granted),
                    error=error)

    @router.get("/customers/{customer_id}/delete", response_class=HTMLResponse)
    async def delete_confirm(request: Request, customer_id: Id, session: Deleter
                             ) -> HTMLResponse:
        return await delete_page(request, customer_id)

    @router.post("/customers/{customer_id}/delete", response_class=HTMLResponse)
    async def delete(request: Request, customer_id: Id, session: Deleter, form: Form
                     ) -> Response:
        registry = registry_of(request)
        row = await live_row(registry, customer_id)
        typed = form.get("confirm_code", "").strip()
        if typed != row["customer_code"]:
            said = f"“{typed}” is not" if typed else "You did not type"
            return await delete_page(request, customer_id, 422, (
                f"{said} this customer's number ({row['customer_code']}); nothing was deleted. "
                "Type it exactly to confirm."))
        sales = await asyncio.to_thread(registry.sales.list, customer_id)
        try:
            await asyncio.to_thread(CustomerService(registry).erase, customer_id,
                                    actor=session.staff.actor)
        except NotFound:
            raise Refused(f"There is no customer with id {customer_id} (or they were deleted).",
                          status=404, title="No such customer") from None
        log.info("customer_erased", by=session.staff.id, customer=customer_id)
        return page(request, "gdpr_deleted.html", title="Customer deleted", row=row,
                    sales=len(sales), erased_code=f"ERASED-{customer_id}")

    return router


def _detail_text(action: str, detail: Any) -> str:
    """An audit entry's detail on the export page, in one short line."""
    if not detail:
        return ""
    if action == "merge" and isinstance(detail, Mapping):
        before = detail.get("other_before") or {}
        who = (f"{before.get('first_name', '')} {before.get('last_name', '')} "
               f"({before.get('customer_code', '')})" if before else f"customer "
               f"{detail.get('other_id')}")
        fields = ", ".join(detail.get("fields") or []) or "no fields"
        state = " — undone since" if "undone_by" in detail else ""
        return f"merged {who.strip()} into this customer; changed: {fields}{state}"
    if isinstance(detail, Mapping) and ("before" in detail or "after" in detail):
        before, after = detail.get("before") or {}, detail.get("after") or {}
        return "; ".join(f"{k}: {before.get(k, '—')} → {after.get(k, '—')}"
                         for k in dict.fromkeys([*before, *after]))
    return json.dumps(detail, ensure_ascii=False, sort_keys=True)
