"""/api/v1/customers: search, list, create, check, read, change, erase; each customer's sales,
consents and personal-data export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from cashier_bridge.config import Settings
from cashier_bridge.customers.service import CustomerService, Permit
from cashier_bridge.ids import Id, parse_id
from cashier_bridge.permissions import Action
from cashier_bridge.registry.api_tokens import Principal
from cashier_bridge.registry.consents import ConsentText
from cashier_bridge.registry.records import CustomerRecord
from cashier_bridge.web.api.auth import (
    CREATE,
    ERASE,
    EXPORT,
    READ,
    ROUTE_ACTIONS,
    WRITE,
    check,
    registry_of,
)
from cashier_bridge.web.api.errors import RATE_LIMITED_RESPONSES, invalid
from cashier_bridge.web.api.models import (
    ConsentIn,
    ConsentLogEntry,
    Consents,
    Customer,
    CustomerIn,
    CustomerPage,
    CustomerPatch,
    Export,
    PossibleDuplicate,
    SaleIn,
    SaleList,
    SaleOut,
    ValidationResult,
)
from cashier_bridge.web.api.refusals import refusals
from cashier_bridge.web.mobile.consent import version
from cashier_bridge.web.shop import shop_of

MAX_SEARCH = 50
MAX_PAGE = 200
API_FORM = "api"  # how an export was asked for, in its audit entry
API_SOURCE = "api"  # created_via and consent source
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", pattern=r"^[A-Za-z0-9._~+/=-]{1,80}$",
    description="Send the same key when retrying: the customer is created once.")]


def customers_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/customers", tags=["customers"])
    region = settings.phone_region

    def texts_of(request: Request) -> dict[str, ConsentText]:
        """Every text the shop asks with today, in every language, by version."""
        return {version(p, lang, text): ConsentText(version(p, lang, text), p, lang, text)
                for p, by_language in shop_of(request).consent_texts.items()
                for lang, text in by_language.items()}

    def shown(request: Request, records: list[CustomerRecord]) -> list[Customer]:
        ids = registry_of(request).groups.ids()
        return [Customer.of(r, ids) for r in records]

    @router.get("", response_model=CustomerPage, summary="Search or list customers")
    def list_customers(
        request: Request, principal: Principal = READ,
        q: Annotated[str | None, Query(max_length=200, description=(
            "search as you type: name prefixes in either order, phone in any format, the "
            "start of a customer code or e-mail address"))] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
        cursor: Annotated[str | None, Query(max_length=20)] = None,
        group_id: Id | None = None,
    ) -> CustomerPage:
        registry = registry_of(request)
        searching = q is not None and q.strip()
        if searching and cursor is not None:
            raise invalid("cursor", "a search has one page; leave cursor out with q")
        if searching and limit > MAX_SEARCH:
            raise invalid("limit", f"a search returns at most {MAX_SEARCH} customers")
        if group_id is not None:
            try:
                registry.groups.get(group_id)
            except LookupError:
                raise invalid("group_id", f"there is no group with id {group_id}") from None
        if searching:
            # The group is part of the search, so a page holds up to ``limit`` of its members.
            found = registry.customers.search(q or "", limit=limit, region=region,
                                              group_id=group_id)
            return CustomerPage(items=shown(request, found), next_cursor=None)
        after = None
        if cursor is not None:
            after = parse_id(cursor)
            if after is None:
                raise invalid("cursor", "is not a cursor this API gave out")
        page, last = registry.customers.list(limit=limit, after=after, group_id=group_id)
        return CustomerPage(items=shown(request, page),
                            next_cursor=str(last) if last is not None else None)

    @router.post("", response_model=Customer, status_code=status.HTTP_201_CREATED,
                 summary="Create a customer",
                 responses={200: {"model": Customer,
                                  "description": "a retry: the customer this key created"},
                            **refusals(409), **RATE_LIMITED_RESPONSES})
    def create_customer(body: CustomerIn, request: Request, response: Response,
                        principal: Principal = CREATE,
                        idempotency_key: IdempotencyKey = None) -> Customer:
        record, created = service_of(request).create(
            body.model_dump(exclude_unset=True), permit=permit_of(principal), region=region,
            idempotency_key=idempotency_key, actor=principal.actor, source=API_SOURCE)
        if not created:
            response.status_code = status.HTTP_200_OK
        return shown(request, [record])[0]

    @router.post("/validate", response_model=ValidationResult,
                 summary="Check a would-be customer as creating it would, changing nothing",
                 responses={**refusals(409), **RATE_LIMITED_RESPONSES})
    def validate_customer(body: CustomerIn, request: Request,
                          principal: Principal = CREATE) -> ValidationResult:
        found = service_of(request).validate(body.model_dump(exclude_unset=True),
                                             permit=permit_of(principal), region=region,
                                             actor=principal.actor)
        ids = registry_of(request).groups.ids()
        return ValidationResult(ok=True, possible_duplicates=[
            PossibleDuplicate(customer=Customer.of(r, ids), reason=why) for r, why in found])

    @router.get("/{customer_id}", response_model=Customer, summary="One customer")
    def get_customer(customer_id: Id, request: Request,
                     principal: Principal = READ) -> Customer:
        return shown(request, [registry_of(request).customers.get(customer_id)])[0]

    @router.patch("/{customer_id}", response_model=Customer, summary="Change a customer",
                  responses={**refusals(409), **RATE_LIMITED_RESPONSES})
    def patch_customer(customer_id: Id, body: CustomerPatch, request: Request,
                       principal: Principal = WRITE) -> Customer:
        record = service_of(request).update(
            customer_id, body.model_dump(exclude_unset=True), permit=permit_of(principal),
            region=region, actor=principal.actor, source=API_SOURCE)
        return shown(request, [record])[0]

    @router.delete("/{customer_id}", status_code=status.HTTP_204_NO_CONTENT,
                   summary="Erase a customer (GDPR): their personal data is removed")
    def erase_customer(customer_id: Id, request: Request,
                       principal: Principal = ERASE) -> Response:
        service_of(request).erase(customer_id, actor=principal.actor)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/{customer_id}/export", response_model=Export,
                summary="Everything held about a customer (GDPR access request)")
    def export_customer(customer_id: Id, request: Request,
                        principal: Principal = EXPORT) -> Export:
        held = service_of(request).export(customer_id, actor=principal.actor, form=API_FORM)
        return Export.of(held, registry_of(request).groups.ids())

    @router.get("/{customer_id}/sales", response_model=SaleList, summary="A customer's sales")
    def list_sales(customer_id: Id, request: Request,
                   principal: Principal = READ) -> SaleList:
        return SaleList(items=[SaleOut.of(s) for s in
                               registry_of(request).sales.list(customer_id)])

    @router.post("/{customer_id}/sales", response_model=SaleOut,
                 status_code=status.HTTP_201_CREATED, summary="Record a finished sale",
                 responses={200: {"model": SaleOut, "description": "already recorded so"},
                            **refusals(409)})
    def record_sale(customer_id: Id, body: SaleIn, request: Request, response: Response,
                    principal: Principal = WRITE) -> SaleOut:
        sale, changed = registry_of(request).sales.record(
            customer_id, sale_id=body.sale_id, register=body.register_,
            total_minor=body.total_minor, currency=body.currency, at=body.at,
            recorded_by=principal.actor)
        if not changed:
            response.status_code = status.HTTP_200_OK
        return SaleOut.of(sale)

    @router.get("/{customer_id}/consents", response_model=Consents,
                summary="A customer's consents: the current answer per purpose, and the log")
    def get_consents(customer_id: Id, request: Request,
                     principal: Principal = READ) -> Consents:
        registry = registry_of(request)
        return Consents.of(registry.consents.current(customer_id),
                           registry.consents.log(customer_id))

    @router.post("/{customer_id}/consents", response_model=ConsentLogEntry,
                 status_code=status.HTTP_201_CREATED, summary="Record a consent answer")
    def record_consent(customer_id: Id, body: ConsentIn, request: Request,
                       principal: Principal = WRITE) -> ConsentLogEntry:
        configured = texts_of(request).get(body.text_version or "")
        # A text the shop has but no phone has shown yet is filed with the answer.
        entry = service_of(request).answer_consent(
            customer_id, body.purpose, body.granted, body.source, body.text_version,
            actor=principal.actor, purposes=shop_of(request).consent_texts,
            shown=[configured] if configured is not None else [])
        return ConsentLogEntry.of(entry)

    return router


# The route (scope for a token, action for a staff member) each action a field needs is.
_ROUTE_OF = {Action.edit_customer: ROUTE_ACTIONS["edit"],
             Action.create_customer: ROUTE_ACTIONS["create"],
             Action.edit_credit_terms: ROUTE_ACTIONS["credit_terms"],
             Action.manage_groups: ROUTE_ACTIONS["groups"]}


def permit_of(principal: Principal) -> Permit:
    """The caller's answer to "may you?" for the customer service: 403 before anything is
    written when not (a token by scope, a back-office sign-in by role)."""
    def permit(action: Action) -> None:
        check(principal, *_ROUTE_OF[action])
    return permit


def service_of(request: Request) -> CustomerService:
    return CustomerService(registry_of(request))
