"""The back office's customer pages: the list (search as you type, keyset paging, sorting, a
filter by group, bulk "assign to group"), a customer's profile (details, addresses, balances,
sales, consents, audit trail, possible duplicates), the edit and new-customer forms, and groups.

Who may do what is :mod:`cashier_bridge.permissions`: cashiers view, create and edit details;
managers and admins also set credit terms (account limit and status, loyalty rate), move
customers between groups and manage groups.  A refused request says why and changes nothing.
Every field is checked by the registry's own rules; a bad one keeps what was typed and shows
the reason next to it.  Nothing personal is logged: staff and customers by id.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import jinja2
import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cashier_bridge.audit import ACTION_TEXT, DEFAULT_LANGUAGE
from cashier_bridge.config import Settings
from cashier_bridge.customers import fields as customer_fields
from cashier_bridge.customers.fields import Merge
from cashier_bridge.customers.lookup_limit import TooManyLookups
from cashier_bridge.customers.rules import MAX_ACCOUNT_LIMIT_MINOR, MAX_LOYALTY_RATE_BP
from cashier_bridge.customers.service import CustomerService, Permit, authorise
from cashier_bridge.ids import Id, parse_id
from cashier_bridge.money import money, parse_kronor, parse_percent, percent
from cashier_bridge.permissions import Action, allowed, refusal
from cashier_bridge.registry import DuplicateProbe, Registry
from cashier_bridge.registry.customer_admin import normalise
from cashier_bridge.registry.fields import InvalidCustomer
from cashier_bridge.registry.groups import Group
from cashier_bridge.registry.problems import Conflict, NotFound
from cashier_bridge.registry.records import AccountStatus, CustomerRecord, DuplicateCustomer
from cashier_bridge.registry.staff import StaffSession
from cashier_bridge.shop.settings import Current
from cashier_bridge.web.admin.auth import (
    CSRF_FIELD,
    CSRF_REFUSED,
    MAX_FORM_BYTES,
    Form,
    Needs,
    Refused,
    registry_of,
)
from cashier_bridge.web.mobile.consent import archive, offers
from cashier_bridge.web.shop import shop_of

log = structlog.get_logger("selfreg.admin")

# At module level: with postponed annotations, FastAPI resolves them in the module's globals.
Viewer = Annotated[StaffSession, Depends(Needs(Action.view_customers))]
Creator = Annotated[StaffSession, Depends(Needs(Action.create_customer))]
Editor = Annotated[StaffSession, Depends(Needs(Action.edit_customer))]
GroupManager = Annotated[StaffSession, Depends(Needs(Action.manage_groups))]

PAGE_SIZE = 50
SEARCH_LIMIT = 50  # the API's most for a search
BACK_OFFICE = "back_office"  # created_via and consent source
SORTS = {"name": "Name", "code": "Customer number", "newest": "Newest first"}
_BLOCKS = (Merge.address, Merge.delivery, Merge.joined)

# The form's fields, in the order of the page, with their labels: the field table's.
DETAILS: tuple[tuple[str, str], ...] = tuple((f.name, f.label) for f in customer_fields.FORM)
LABELS = customer_fields.LABELS
# The form's fieldsets (legend, aside, fields), grouped as a merge groups the addresses.
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Person", "", tuple(f.name for f in customer_fields.FORM if f.merge not in _BLOCKS)),
    ("Postal address", "", tuple(f.name for f in customer_fields.FORM
                                 if f.merge is Merge.address)),
    ("Delivery address", "(if not the postal address)",
     tuple(f.name for f in customer_fields.FORM if f.merge is Merge.delivery)),
    ("", "", tuple(f.name for f in customer_fields.FORM if f.merge is Merge.joined)),
)
# The profile's details: the form's "Person" fields but the name (its heading), as (element id,
# label, record attribute).
PROFILE: tuple[tuple[str, str, str], ...] = tuple(
    (f.name.replace("_", "-"), f.label, f.record[0]) for f in customer_fields.FORM
    if f.name in SECTIONS[0][2] and not f.required)
# The profile's addresses: (element id, heading, columns, what it says when there is none).
_ADDRESSES = (("postal-address", "Postal address", customer_fields.columns_of(Merge.address), "—"),
              ("delivery-address", "Delivery address",
               customer_fields.columns_of(Merge.delivery), "the postal address"))


def address_lines(record: CustomerRecord) -> list[tuple[str, str, list[Any], str]]:
    return [(at, heading, [getattr(record, k) for k in columns], none)
            for at, heading, columns, none in _ADDRESSES]


# How a field is typed on the page, where it is not a line of text.
INPUTS = {"email": "email", "phone": "tel", "note": "textarea"}
HINTS = {"birth_date": "ÅÅÅÅ-MM-DD", "personal_id": "ÅÅÅÅMMDD-NNNN"}
FORM_LABELS = {**LABELS, "note": "Note (the shop's own; never shown to the customer)"}
# The credit-term fields as the form names them (in kronor and per cent, not minor units).
CREDIT_FORM = {"account_limit": "account_limit_minor", "account_status": "account_status",
               "loyalty_rate": "loyalty_rate_bp"}

DONE = {
    "created": "The customer was created.",
    "saved": "The changes were saved.",
    "unchanged": "Nothing was changed: the form held what was stored.",
    "group": "The customer's group was changed.",
    "consent": "The consent was recorded in the log.",
    "group_created": "The group was created.",
    "group_renamed": "The group was renamed.",
    "group_deleted": "The group was deleted; its members are back in “All customers”.",
}
_SCRIPT = jinja2.PackageLoader("cashier_bridge.web.admin", "static")
_ENV = jinja2.Environment(loader=_SCRIPT, autoescape=False)


def audited_value(field: str, value: Any) -> str:
    """An audit entry's value as a person reads it: money in kronor, rates in per cent."""
    if value is None:
        return "—"
    if field == "account_limit_minor" and isinstance(value, int):
        return money(value)
    if field == "loyalty_rate_bp" and isinstance(value, int):
        return percent(value)
    if field == "account_status":
        try:
            return AccountStatus(value).label
        except ValueError:
            return str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# --- reading forms ------------------------------------------------------------------------------

async def posted_pairs(request: Request, session: Viewer) -> list[tuple[str, str]]:
    """A POSTed form as (name, value) pairs (a checkbox per customer repeats a name), if it
    carries the session's CSRF token; else Refused, nothing changed."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Refused("This form is too large to be read; nothing was changed.", status=413,
                      title="Form too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), max_num_fields=PAGE_SIZE + 10)
    except (UnicodeDecodeError, ValueError):
        raise Refused("This form could not be read; nothing was changed.", status=400,
                      title="Form not readable") from None
    token = next((v for k, v in pairs if k == CSRF_FIELD), "")
    if not hmac.compare_digest(token.encode(), session.csrf.encode()):
        raise Refused(CSRF_REFUSED, title="Form refused")
    return pairs


Pairs = Annotated[list[tuple[str, str]], Depends(posted_pairs)]


def _detail_values(form: Mapping[str, str], *, editing: bool) -> dict[str, Any]:
    """The detail fields of a form as the registry takes them ("" clears an optional one)."""
    given: dict[str, Any] = {}
    for name, _label in DETAILS:
        if name not in form:
            continue
        value = form[name].strip()
        if name == "personal_id" and editing and not value:
            continue  # the number is never shown, so an empty box means "keep it"
        if name == "customer_code" and not value:
            if editing:
                given[name] = value  # the registry says why a code cannot be empty
            continue
        given[name] = value if value else None
    return given


def _check(given: Mapping[str, Any], region: str, registry: Registry
           ) -> tuple[dict[str, Any], dict[str, str]]:
    """(values for the registry, reasons by field): every field checked on its own, so each
    bad one gets its reason at once, not one per submission."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in given.items():
        try:
            if isinstance(value, str):  # as typed: a number or a date is read as one first
                value = customer_fields.from_text(customer_fields.BY_NAME[name], value)
            normalise({name: value}, region=region, fingerprint=registry.fingerprint)
        except InvalidCustomer as err:
            errors[err.field if err.field != "personal_id_fingerprint" else "personal_id"] = \
                _reason(err)
            continue
        out[name] = value
    return out, errors


def _credit_values(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    terms: dict[str, Any] = {}
    errors: dict[str, str] = {}
    try:
        limit = parse_kronor(form.get("account_limit", ""))
        if limit is not None and limit > MAX_ACCOUNT_LIMIT_MINOR:
            raise ValueError(f"is at most {money(MAX_ACCOUNT_LIMIT_MINOR)}")
        terms["account_limit_minor"] = limit
    except ValueError as err:
        errors["account_limit"] = str(err)
    try:
        rate = parse_percent(form.get("loyalty_rate", ""))
        if rate is not None and rate > MAX_LOYALTY_RATE_BP:
            raise ValueError("is at most 100 %")
        terms["loyalty_rate_bp"] = rate
    except ValueError as err:
        errors["loyalty_rate"] = str(err)
    status = form.get("account_status", "")
    if status in {s.value for s in AccountStatus}:
        terms["account_status"] = AccountStatus(status)
    else:
        errors["account_status"] = "choose active, on hold or closed"
    return terms, errors


def permit_of(session: StaffSession) -> Permit:
    """The staff member's answer to "may you?" for the customer service
    (:mod:`cashier_bridge.permissions`): a refusal page, nothing changed, when not."""
    def permit(action: Action) -> None:
        if not allowed(session.staff.role, action):
            log.info("customer_field_refused", by=session.staff.id, action=action.value)
            raise Refused(refusal(session.staff.role, action) + " Nothing was changed.")
    return permit


def _reason(err: InvalidCustomer) -> str:
    text = str(err).removeprefix(f"{err.field}: ")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def too_many_checks(err: TooManyLookups) -> str:
    """What a form says at the personnummer when the staff member's look-ups are spent.

    >>> too_many_checks(TooManyLookups(42, 5))
    'Too many personnummer checks in the last minute; try again in 42 seconds. Nothing was saved.'
    """
    unit = "second" if err.retry_after_s == 1 else "seconds"
    return (f"Too many personnummer checks in the last minute; try again in "
            f"{err.retry_after_s} {unit}. Nothing was saved.")


def _duplicate_reason(err: DuplicateCustomer) -> str:
    other = err.existing
    return (f"Already belongs to customer {other.customer_code} "
            f"({other.first_name} {other.last_name}).")


def _form_of(record: CustomerRecord) -> dict[str, str]:
    values = {name: "" if (value := getattr(record, name, None)) is None else str(value)
              for name, _ in DETAILS}
    values["personal_id"] = ""
    values["birth_date"] = record.birth_date.isoformat() if record.birth_date else ""
    limit = record.account_limit_minor
    values["account_limit"] = money(limit).removesuffix("\u00a0kr") if limit is not None else ""
    values["loyalty_rate"] = (percent(record.loyalty_rate_bp).removesuffix("\u00a0%")
                              if record.loyalty_rate_bp is not None else "")
    values["account_status"] = record.account_status.value
    return values


def _redirect(path: str, done: str, **extra: int) -> RedirectResponse:
    # Post/redirect/get: reloading the page that follows does not send the form again.
    return RedirectResponse(f"{path}?{urlencode({'done': done, **extra})}", status_code=303)


# --- the pages ---------------------------------------------------------------------------------

def customers_router(settings: Settings, page: Callable[..., HTMLResponse]) -> APIRouter:
    router = APIRouter(prefix="/admin")
    region = settings.phone_region

    def render(request: Request, template: str, status: int = 200, **context: Any
               ) -> HTMLResponse:
        session: StaffSession = request.state.staff_session
        role = session.staff.role
        return page(request, template, status, may={a.value: allowed(role, a) for a in Action},
                    kronor=money, percent=percent, labels=LABELS, audited=audited_value,
                    action_texts=ACTION_TEXT[DEFAULT_LANGUAGE], sections=SECTIONS, inputs=INPUTS,
                    hints=HINTS, form_labels=FORM_LABELS, profile=PROFILE,
                    address_lines=address_lines, **context)

    async def customer_or_404(registry: Registry, customer_id: int) -> CustomerRecord:
        try:
            return await asyncio.to_thread(registry.customers.get, customer_id)
        except NotFound:
            raise Refused(f"There is no customer with number {customer_id} (or they were "
                          "erased or merged into another customer).", status=404,
                          title="No such customer") from None

    async def group_or_404(registry: Registry, group_id: int) -> Group:
        try:
            return await asyncio.to_thread(registry.groups.get, group_id)
        except NotFound:
            raise Refused(f"There is no group with id {group_id}.", status=404,
                          title="No such group") from None

    @router.get("/static/customers.js")
    async def script() -> Response:
        source, _name, _fresh = _SCRIPT.get_source(_ENV, "customers.js")
        return Response(source, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "max-age=3600",
                                 "X-Content-Type-Options": "nosniff"})

    # --- the list ------------------------------------------------------------------------------

    @router.get("/customers", response_class=HTMLResponse)
    async def customer_list(request: Request, session: Viewer) -> HTMLResponse:
        registry = registry_of(request)
        params = request.query_params
        query = params.get("q", "").strip()[:100]
        sort = params.get("sort", "name")
        sort = sort if sort in SORTS else "name"
        group_id = parse_id(params.get("group"))
        groups = await asyncio.to_thread(registry.groups.list)
        group = next((g for g in groups if g.id == group_id), None)
        error, more, status = None, None, 200
        found: list[CustomerRecord] = []
        if query:
            found = await asyncio.to_thread(registry.customers.search, query, limit=SEARCH_LIMIT,
                                            region=region,
                                            group_id=group.id if group else None)
        else:
            try:
                found, more = await asyncio.to_thread(
                    registry.customers.browse, sort=sort, limit=PAGE_SIZE,
                    after=params.get("after") or None,
                    group_id=group.id if group else None)
            except InvalidCustomer:
                # 400, yet a page to go on from: the first one.
                error = ("That page link is out of date (or was not made by this list): its "
                         "position (after=) is not one this list gave out; here is the first "
                         "page.")
                status = 400
                found, more = await asyncio.to_thread(
                    registry.customers.browse, sort=sort, limit=PAGE_SIZE,
                    group_id=group.id if group else None)
        keep = {k: v for k, v in (("q", query), ("sort", sort if not query else ""),
                                  ("group", str(group.id) if group else "")) if v}
        next_link = ("/admin/customers?" + urlencode({**keep, "after": more})) if more else None
        done = None
        if params.get("done") == "assigned":
            moved, to = parse_id(params.get("n")) or 0, parse_id(params.get("to"))
            target = next((g.name for g in groups if g.id == to), "the group")
            done = (f"{moved} customer{'s' if moved != 1 else ''} moved to {target}."
                    if moved else f"Those customers were in {target} already; nothing changed.")
        return render(request, "customer_list.html", status, title="Customers", query=query,
                      customers=found, next_link=next_link, sorts=SORTS, sort=sort,
                      groups=groups, group=group, error=error, done=done,
                      first_page=not params.get("after"), page_size=PAGE_SIZE)

    @router.post("/customers/assign", response_class=HTMLResponse)
    async def assign_many(request: Request, session: GroupManager, pairs: Pairs) -> Response:
        registry = registry_of(request)
        ids = [i for k, v in pairs if k == "customer" and (i := parse_id(v)) is not None]
        group_id = parse_id(dict(pairs).get("group_id"))
        if group_id is None:
            raise Refused("Choose the group to put the customers in; nothing was changed.",
                          status=422, title="No group chosen")
        if not ids:
            raise Refused("Tick at least one customer in the list; nothing was changed.",
                          status=422, title="No customer chosen")
        try:
            moved = await asyncio.to_thread(registry.groups.assign, group_id, ids,
                                            actor=session.staff.actor)
        except NotFound as err:
            raise Refused(_sentence(err.message) + " Nothing was changed.", status=404,
                          title="Not found") from None
        log.info("customers_assigned", by=session.staff.id, group=group_id, count=moved)
        back = dict(pairs).get("back", "")
        path = back if back.startswith("/admin/groups/") else "/admin/customers"
        return _redirect(path, "assigned", n=moved, to=group_id)

    # --- creating ------------------------------------------------------------------------------

    def new_page(request: Request, status: int = 200, *, values: Mapping[str, str],
                 errors: Mapping[str, str] | None = None, error: str | None = None,
                 duplicates: list[tuple[CustomerRecord, str]] | None = None) -> HTMLResponse:
        return render(request, "customer_form.html", status, title="New customer",
                      record=None, values=values, errors=errors or {}, error=error,
                      details=DETAILS, statuses=list(AccountStatus), duplicates=duplicates or [],
                      action="/admin/customers/new", reasons=DUPLICATE_REASONS)

    @router.get("/customers/new", response_class=HTMLResponse)
    async def customer_new(request: Request, session: Creator) -> HTMLResponse:
        values = {name: "" for name, _ in DETAILS}
        # The first name or a search that found nobody may arrive from the list.
        values["request"] = secrets.token_urlsafe(16)
        return new_page(request, values=values)

    @router.post("/customers/new", response_class=HTMLResponse)
    async def customer_create(request: Request, session: Creator, form: Form) -> Response:
        registry = registry_of(request)
        service = CustomerService(registry)
        values = {name: form.get(name, "") for name, _ in DETAILS}
        values["request"] = form.get("request", "") or secrets.token_urlsafe(16)
        given, errors = _check(_detail_values(form, editing=False), region, registry)
        for required in ("first_name", "last_name"):
            if not form.get(required, "").strip():
                errors[required] = "Required."
        if errors:
            return new_page(request, 422, values=values, errors=errors)
        try:
            if form.get("confirmed") != "yes":
                try:
                    possible = await asyncio.to_thread(
                        service.validate, given, permit=permit_of(session), region=region,
                        actor=session.staff.actor)
                except DuplicateCustomer:
                    # Taken by someone else: creating says who.  Taken by this very form sent
                    # before (a double click): creating returns that customer.
                    possible = []
                if possible:
                    return new_page(request, 409, values=values, duplicates=possible, error=(
                        "This may be someone already in the register; open them, or create "
                        "the new customer anyway."))
            key = values["request"] if re.fullmatch(r"[A-Za-z0-9_-]{8,64}", values["request"]) \
                else None
            record, _created = await asyncio.to_thread(
                service.create, given, permit=permit_of(session), region=region,
                idempotency_key=key, actor=session.staff.actor, source=BACK_OFFICE)
        except InvalidCustomer as err:
            return new_page(request, 422, values=values, errors={err.field: _reason(err)})
        except DuplicateCustomer as err:
            field = "personal_id" if err.field == "personal_id_fingerprint" else err.field
            return new_page(request, 409, values=values,
                            errors={field: _duplicate_reason(err)})
        except Conflict as err:
            return new_page(request, 409, values=values, error=_sentence(err.message))
        except TooManyLookups as err:
            return new_page(request, 429, values=values,
                            errors={"personal_id": too_many_checks(err)})
        log.info("customer_created", by=session.staff.id, customer=record.id)
        return _redirect(f"/admin/customers/{record.id}", "created")

    # --- the profile ---------------------------------------------------------------------------

    @router.get("/customers/{customer_id}", response_class=HTMLResponse)
    async def profile(request: Request, customer_id: Id, session: Viewer) -> HTMLResponse:
        registry = registry_of(request)
        record = await customer_or_404(registry, customer_id)

        offered = _offers(shop_of(request), settings.language)

        def gather() -> dict[str, Any]:
            probe = DuplicateProbe(
                birth_date=record.birth_date, first_name=record.first_name,
                last_name=record.last_name, phone=record.phone, email=record.email,
                personal_id_fingerprint=record.personal_id_fingerprint)
            current = registry.consents.current(customer_id)
            return {
                "history": registry.customers.history(customer_id),
                "sales": registry.sales.list(customer_id),
                "consent_log": registry.consents.log_with_actors(customer_id),
                "consents": [(o, current.get(o.purpose)) for o in offered],
                "duplicates": [(r, why) for r, why
                               in registry.customers.likely_duplicates(probe, limit=6)
                               if r.id != customer_id][:5],
                "groups": registry.groups.list(),
            }
        return render(request, "customer_profile.html", title=_name(record), c=record,
                      done=DONE.get(request.query_params.get("done", "")),
                      reasons=DUPLICATE_REASONS, **await asyncio.to_thread(gather))

    @router.post("/customers/{customer_id}/group", response_class=HTMLResponse)
    async def change_group(request: Request, customer_id: Id, session: GroupManager,
                           form: Form) -> Response:
        registry = registry_of(request)
        await customer_or_404(registry, customer_id)
        group = await group_or_404(registry, parse_id(form.get("group_id")) or 0)
        await asyncio.to_thread(registry.groups.assign, group.id, [customer_id],
                                actor=session.staff.actor)
        return _redirect(f"/admin/customers/{customer_id}", "group")

    @router.post("/customers/{customer_id}/consents", response_class=HTMLResponse)
    async def record_consent(request: Request, customer_id: Id, session: Editor,
                             form: Form) -> Response:
        registry = registry_of(request)
        await customer_or_404(registry, customer_id)
        offer = next((o for o in _offers(shop_of(request), settings.language)
                      if o.purpose == form.get("purpose")), None)
        if offer is None or form.get("granted") not in ("yes", "no"):
            raise Refused("That consent is not one the shop asks for (see the settings); "
                          "nothing was recorded.", status=422, title="Unknown consent")
        # The text the customer agreed to is kept by version, as for the phone page.
        await asyncio.to_thread(CustomerService(registry).record_consent, customer_id,
                                offer.purpose, form["granted"] == "yes", BACK_OFFICE,
                                offer.version, actor=session.staff.actor,
                                shown=archive([offer]))
        log.info("consent_recorded", by=session.staff.id, customer=customer_id)
        return _redirect(f"/admin/customers/{customer_id}", "consent")

    # --- editing -------------------------------------------------------------------------------

    def edit_page(request: Request, record: CustomerRecord, status: int = 200, *,
                  values: Mapping[str, str], errors: Mapping[str, str] | None = None,
                  error: str | None = None) -> HTMLResponse:
        return render(request, "customer_form.html", status, title=f"Edit {_name(record)}",
                      record=record, values=values, errors=errors or {}, error=error,
                      details=DETAILS, statuses=list(AccountStatus), duplicates=[],
                      action=f"/admin/customers/{record.id}/edit")

    @router.get("/customers/{customer_id}/edit", response_class=HTMLResponse)
    async def customer_edit(request: Request, customer_id: Id, session: Editor
                            ) -> HTMLResponse:
        record = await customer_or_404(registry_of(request), customer_id)
        return edit_page(request, record, values=_form_of(record))

    @router.post("/customers/{customer_id}/edit", response_class=HTMLResponse)
    async def customer_save(request: Request, customer_id: Id, session: Editor,
                            form: Form) -> Response:
        registry = registry_of(request)
        record = await customer_or_404(registry, customer_id)
        permit = permit_of(session)
        credit_fields = [f for f in CREDIT_FORM if f in form]
        # Asked before the form is read: a cashier's refusal says why, whatever was typed (the
        # page shows credit terms read-only to a cashier: such a form was made elsewhere).
        asked = [CREDIT_FORM[f] for f in credit_fields] + (["group_id"] if "group_id" in form
                                                          else [])
        authorise(asked, permit, Action.edit_customer)
        values = {**_form_of(record), **{k: v for k, v in form.items() if k != CSRF_FIELD}}
        given, errors = _check(_detail_values(form, editing=True), region, registry)
        if credit_fields:
            terms, credit_errors = _credit_values(form)
            given.update(terms)
            errors.update(credit_errors)
        if errors:
            return edit_page(request, record, 422, values=values, errors=errors)
        try:
            after = await asyncio.to_thread(
                CustomerService(registry).update, customer_id, given, permit=permit,
                region=region, actor=session.staff.actor, source=BACK_OFFICE)
        except InvalidCustomer as err:
            return edit_page(request, record, 422, values=values,
                             errors={err.field: _reason(err)})
        except DuplicateCustomer as err:
            field = "personal_id" if err.field == "personal_id_fingerprint" else err.field
            return edit_page(request, record, 409, values=values,
                             errors={field: _duplicate_reason(err)})
        except TooManyLookups as err:
            return edit_page(request, record, 429, values=values,
                             errors={"personal_id": too_many_checks(err)})
        log.info("customer_changed", by=session.staff.id, customer=customer_id)
        unchanged = after.updated_at == record.updated_at
        return _redirect(f"/admin/customers/{customer_id}", "unchanged" if unchanged else "saved")

    # --- groups --------------------------------------------------------------------------------

    async def groups_page(request: Request, status: int = 200, *, error: str | None = None,
                          name: str = "") -> HTMLResponse:
        groups = await asyncio.to_thread(registry_of(request).groups.list)
        return render(request, "group_list.html", status, title="Groups", groups=groups,
                      error=error, name=name, done=DONE.get(request.query_params.get("done", "")))

    @router.get("/groups", response_class=HTMLResponse)
    async def group_list(request: Request, session: Viewer) -> HTMLResponse:
        return await groups_page(request)

    @router.post("/groups", response_class=HTMLResponse)
    async def group_create(request: Request, session: GroupManager, form: Form) -> Response:
        name = form.get("name", "")
        try:
            group = await asyncio.to_thread(registry_of(request).groups.create, name,
                                            actor=session.staff.actor)
        except InvalidCustomer as err:
            return await groups_page(request, 422, name=name,
                                     error="The group's name: " + _reason(err).lower())
        except Conflict as err:
            return await groups_page(request, 409, name=name, error=_sentence(err.message))
        return _redirect(f"/admin/groups/{group.id}", "group_created")

    async def group_page(request: Request, group: Group, status: int = 200, *,
                         error: str | None = None, name: str | None = None) -> HTMLResponse:
        registry = registry_of(request)
        try:
            members, more = await asyncio.to_thread(
                registry.customers.browse, sort="name", limit=PAGE_SIZE,
                after=request.query_params.get("after") or None, group_id=group.id)
        except InvalidCustomer:
            members, more = await asyncio.to_thread(
                registry.customers.browse, sort="name", limit=PAGE_SIZE, group_id=group.id)
        params = request.query_params
        done = DONE.get(params.get("done", ""))
        if params.get("done") == "assigned":
            moved = parse_id(params.get("n")) or 0
            done = f"{moved} customer{'s' if moved != 1 else ''} added to this group."
        return render(request, "group_detail.html", status, title=group.name, group=group,
                      members=members, error=error, name=group.name if name is None else name,
                      next_link=(f"/admin/groups/{group.id}?" + urlencode({"after": more})
                                 if more else None), done=done)

    @router.get("/groups/{group_id}", response_class=HTMLResponse)
    async def group_detail(request: Request, group_id: Id, session: Viewer) -> HTMLResponse:
        return await group_page(request, await group_or_404(registry_of(request), group_id))

    @router.post("/groups/{group_id}/rename", response_class=HTMLResponse)
    async def group_rename(request: Request, group_id: Id, session: GroupManager,
                           form: Form) -> Response:
        registry = registry_of(request)
        group = await group_or_404(registry, group_id)
        name = form.get("name", "")
        try:
            await asyncio.to_thread(registry.groups.rename, group_id, name,
                                    actor=session.staff.actor)
        except InvalidCustomer as err:
            return await group_page(request, group, 422, name=name,
                                    error="The group's name: " + _reason(err).lower())
        except Conflict as err:
            return await group_page(request, group, 409, name=name,
                                    error=_sentence(err.message))
        return _redirect(f"/admin/groups/{group_id}", "group_renamed")

    @router.get("/groups/{group_id}/delete", response_class=HTMLResponse)
    async def group_delete_confirm(request: Request, group_id: Id, session: GroupManager
                                   ) -> HTMLResponse:
        group = await group_or_404(registry_of(request), group_id)
        if group.is_default:
            raise Refused(DEFAULT_GROUP_FIXED.format(name=group.name), status=409,
                          title="This group stays")
        return render(request, "group_delete.html", title=f"Delete {group.name}?", group=group)

    @router.post("/groups/{group_id}/delete", response_class=HTMLResponse)
    async def group_delete(request: Request, group_id: Id, session: GroupManager,
                           form: Form) -> Response:
        registry = registry_of(request)
        group = await group_or_404(registry, group_id)
        if group.is_default:
            raise Refused(DEFAULT_GROUP_FIXED.format(name=group.name), status=409,
                          title="This group stays")
        try:
            await asyncio.to_thread(registry.groups.delete, group_id, actor=session.staff.actor)
        except (Conflict, NotFound) as err:
            raise Refused(_sentence(err.message), status=409, title="Not deleted") from None
        log.info("group_deleted", by=session.staff.id, group=group_id)
        return _redirect("/admin/groups", "group_deleted")

    return router


DEFAULT_GROUP_FIXED = ("“{name}” is everyone who is in no other group, so it can be neither "
                       "renamed nor deleted. Nothing was changed.")
DUPLICATE_REASONS = {
    "same_phone": "same phone number",
    "same_email": "same e-mail address (written differently)",
    "same_birth_date_similar_name": "same birth date, similar name",
    "same_birth_date_no_personal_id": "same birth date, no personnummer on file",
}


def _offers(shop: Current, language: str) -> list[Any]:
    # The texts in the shop's own language: what staff read out or show the customer.
    return offers(shop.consent_texts, language)


def _name(record: CustomerRecord) -> str:
    return f"{record.first_name} {record.last_name}"


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
