"""The API's request and response bodies (the contract the cashier console shares)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, create_model

from cashier_bridge.customers.fields import FIELDS
from cashier_bridge.customers.fields import Field as TableField
from cashier_bridge.ids import Id
from cashier_bridge.registry.consents import AnswerSource, ConsentEntry
from cashier_bridge.registry.customer_admin import AuditEntry, CustomerExport
from cashier_bridge.registry.groups import Group
from cashier_bridge.registry.records import CustomerRecord
from cashier_bridge.registry.sales import Sale

# Long enough for any valid value; the registry gives the precise reason below this.
Text = Annotated[str, Field(max_length=2000)]
Purpose = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]



class Strict(BaseModel):
    # An unknown field is refused, not dropped: a typo must not lose what was sent.
    model_config = ConfigDict(extra="forbid")


# --- refusals: every answer that is not a success has one of these bodies ---------------------


class Problem(BaseModel):
    """Why the request was refused: ``error`` is a code to act on, ``message`` says it to a
    person.  Some refusals add fields (below); nothing else about the caller's data is echoed."""

    error: str = Field(description="invalid, unauthorized, forbidden, not_found, duplicate, "
                                   "conflict, too_large, rate_limited, unavailable, "
                                   "storage_full")
    message: str


class FieldProblem(BaseModel):
    field: str = Field(description="a body field (dotted into lists and objects), a query or "
                                   "path parameter, or a header")
    reason: str


class Invalid(Problem):
    """422: what was sent is not valid; each bad field with its reason (the first ten)."""

    fields: list[FieldProblem]


class Forbidden(Problem):
    """403: the caller may not; what it would need."""

    needed_scope: str | None = Field(None, description="for an API token")
    needed_action: str | None = Field(None, description="for a back-office sign-in")


class Duplicate(Problem):
    """409 ``duplicate``: an identifier belongs to another customer; or 409 ``conflict``
    (no more fields): the request contradicts what is stored."""

    field: str | None = None
    existing_id: int | None = None


class GroupRef(BaseModel):
    id: int
    name: str


class Balances(BaseModel):
    """Money in minor units (öre, cents)."""

    account_minor: int
    loyalty_minor: int
    store_credit_minor: int


class _CustomerBase(BaseModel):
    id: int
    group: GroupRef
    balances: Balances

    @classmethod
    def of(cls, record: CustomerRecord, group_ids: dict[str, int]) -> Customer:
        group = record.customer_group or ""
        return cls(  # type: ignore[return-value]
            id=record.id,
            **{name: getattr(record, attribute) for name, attribute in _SHOWN},
            group=GroupRef(id=group_ids.get(group, 0), name=group),
            balances=Balances(account_minor=record.account_balance_minor,
                              loyalty_minor=record.loyalty_balance_minor,
                              store_credit_minor=record.store_credit_minor))


# The field table's fields the API shows as they are (the group and balances are objects).
_SHOWN = tuple((f.api_out, f.record[0]) for f in FIELDS
               if f.api_out and f.api_out not in ("group", "balances"))


def _shown(f: TableField) -> tuple[Any, Any]:
    return (f.record_type, Field(description=f.doc) if f.doc else ...)


def _taken(f: TableField, *, required: bool) -> tuple[Any, Any]:
    kind: Any = (f.api_type if f.api_type is not None
                 else Text if f.type is str
                 else Annotated[int, Field(ge=0, le=f.highest)] if f.highest is not None
                 else f.type)
    if required:
        return (kind, Field(description=f.doc_in) if f.doc_in else ...)
    return (kind | None, Field(None, description=f.doc_in or None))


# The models are made from the field table (cashier_bridge.customers.fields): a field added
# there is shown, taken and documented (OpenAPI) without an edit here.
Customer = create_model(
    "Customer", __base__=_CustomerBase, __module__=__name__,
    **{f.api_out: _shown(f) for f in FIELDS
       if f.api_out and f.api_out not in ("group", "balances")})  # type: ignore[call-overload]

CustomerFields = create_model(
    "CustomerFields", __base__=Strict, __module__=__name__,
    **{f.name: _taken(f, required=False) for f in FIELDS
       if f.write is not None and not f.required},
    marketing_consent=(StrictBool | None, Field(
        None, description="recorded in the consent log with source 'api'")),
)  # type: ignore[call-overload]

CustomerIn = create_model(
    "CustomerIn", __base__=CustomerFields, __module__=__name__,
    **{f.name: _taken(f, required=True) for f in FIELDS if f.required})  # type: ignore[call-overload]

CustomerPatch = create_model(
    "CustomerPatch", __base__=CustomerFields, __module__=__name__,
    __doc__="Any CustomerIn field; null clears an optional one.",
    **{f.name: _taken(f, required=False) for f in FIELDS if f.required})  # type: ignore[call-overload]


class CustomerPage(BaseModel):
    items: list[Customer]
    next_cursor: str | None


class PossibleDuplicate(BaseModel):
    customer: Customer
    reason: str


class ValidationResult(BaseModel):
    ok: bool
    possible_duplicates: list[PossibleDuplicate]


class SaleIn(Strict):
    # "register" is also a method pydantic models inherit: the field is aliased, not renamed.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sale_id: Annotated[str, Field(min_length=1, max_length=64)]
    register_: Annotated[str, Field(min_length=1, max_length=64, alias="register",
                                    description="the register (lane) the sale was made at")]
    total_minor: Annotated[int, Field(ge=-(2**62), le=2**62)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    at: AwareDatetime | None = None


class SaleOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    sale_id: str
    register_: str = Field(alias="register")
    total_minor: int | None
    currency: str | None
    connected_at: dt.datetime
    ended_at: dt.datetime | None
    recorded_by: str | None

    @classmethod
    def of(cls, sale: Sale) -> SaleOut:
        return cls(sale_id=sale.sale_id, register_=sale.register, total_minor=sale.total_minor,
                   currency=sale.currency, connected_at=sale.connected_at,
                   ended_at=sale.ended_at, recorded_by=sale.recorded_by)


class SaleList(BaseModel):
    items: list[SaleOut]


class ConsentIn(Strict):
    purpose: Purpose = Field(description="one the shop asks about (its consent texts)")
    granted: StrictBool
    source: AnswerSource = Field(AnswerSource.api,
                                 description="where the customer gave this answer")
    text_version: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        None, description="the version of the text the customer agreed to, as the consent "
                          "log shows it: one of the shop's texts (see the back office's "
                          "settings); leave it out when no text was shown")


class ConsentOut(BaseModel):
    granted: bool
    recorded_at: dt.datetime
    source: str
    text_version: str | None


class ConsentLogEntry(ConsentOut):
    purpose: str

    @classmethod
    def of(cls, entry: ConsentEntry) -> ConsentLogEntry:
        return cls(purpose=entry.purpose, granted=entry.granted, recorded_at=entry.recorded_at,
                   source=entry.source, text_version=entry.text_version)


class Consents(BaseModel):
    current: dict[str, ConsentOut]
    log: list[ConsentLogEntry]

    @classmethod
    def of(cls, current: dict[str, ConsentEntry], log: list[ConsentEntry]) -> Consents:
        return cls(current={p: ConsentOut(granted=e.granted, recorded_at=e.recorded_at,
                                          source=e.source, text_version=e.text_version)
                            for p, e in current.items()},
                   log=[ConsentLogEntry.of(e) for e in log])


class AuditOut(BaseModel):
    at: dt.datetime
    actor: str
    action: str
    detail: Any

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        return cls(at=entry.at, actor=entry.actor, action=entry.action, detail=entry.detail)


class Export(BaseModel):
    """Everything held about one person."""

    customer: Customer
    consents: Consents
    sales: list[SaleOut]
    audit: list[AuditOut]

    @classmethod
    def of(cls, export: CustomerExport, group_ids: dict[str, int]) -> Export:
        return cls(customer=Customer.of(export.customer, group_ids),
                   consents=Consents.of(export.consents, export.consent_log),
                   sales=[SaleOut.of(s) for s in export.sales],
                   audit=[AuditOut.of(a) for a in export.audit])


class GroupOut(BaseModel):
    id: int
    name: str
    is_default: bool
    members: int

    @classmethod
    def of(cls, group: Group) -> GroupOut:
        return cls(id=group.id, name=group.name, is_default=group.is_default,
                   members=group.members)


class GroupList(BaseModel):
    items: list[GroupOut]


class GroupIn(Strict):
    name: Text


class Members(Strict):
    customer_ids: Annotated[list[Id], Field(min_length=1, max_length=1000)]

