"""The ONE table of customer fields.  Adding a field is an entry here plus its migration; a test
(tests/registry/test_customer_fields.py) fails while any other place that lists the fields (the
``customers`` table, :class:`~cashier_bridge.registry.records.CustomerRecord`, the API's models,
the CSV columns, the back office's form) disagrees with it.

Each :class:`Field` says:

- ``name``: how callers write it (API body, back-office form); ``columns``: what it is stored as
  (a name also has its search key, a personnummer is kept as a fingerprint and a masked form);
  ``record``: its attributes on :class:`CustomerRecord`; ``api_out``: its name in the API's
  ``Customer`` (None: not shown);
- ``type``, ``max_length`` and ``read``: the rule every typed value passes (:mod:`.rules`),
  giving the column values; None: nobody types it (the register keeps it);
- ``label``: the back office's label (the console's text key is ``label_key``);
- ``csv``: the Lightspeed X-Series column(s) it is read from and written to
  (:mod:`cashier_bridge.registry.csv_io`);
- ``write``: the :class:`~cashier_bridge.permissions.Action` a person needs to set it (the
  credit terms: :attr:`Action.edit_credit_terms`, managers and admins); None: read-only;
- ``erased``: emptied when the customer is erased (GDPR), and with the merged-away customer;
- ``merge``: how a merge combines the kept customer's value with the other's (:class:`Merge`);
- ``required``: a new customer must be given it; ``always``: every stored customer has one (its
  column is NOT NULL, its record attribute never None), ``default`` when none was given;
- ``doc`` and ``doc_in``: the API's description of it as shown and as taken; ``api_type``: the
  API's type where it is not ``type`` (an id, a bounded number); ``shown_type``: the record's
  (the group is shown by its name).

From the entry alone come: its column (:mod:`cashier_bridge.registry.schema`, where no
constraint needs saying), :class:`~cashier_bridge.registry.records.CustomerRecord`'s attribute,
the API's models (and so the OpenAPI document), a CSV column (``csv``, read with ``read``,
written by its type), the back office's form input and profile line, the GDPR export, erase and
the merge preview.  So a new field is its entry here and the migration adding its column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cashier_bridge.customers import rules
from cashier_bridge.customers.rules import AccountStatus, InvalidCustomer
from cashier_bridge.identity import personnummer
from cashier_bridge.identity import phone as phone_id
from cashier_bridge.identity.errors import IdentityError
from cashier_bridge.ids import Id
from cashier_bridge.money import percent
from cashier_bridge.permissions import Action


@dataclass(frozen=True, slots=True)
class Context:
    """What reading a value may need beyond the value: the shop's phone region, and how a
    personnummer becomes its fingerprint (the registry's key)."""

    region: str = "SE"
    fingerprint: Callable[[str], str] | None = None


class Merge(StrEnum):
    """How a merge combines the kept customer's value with the other's."""

    kept = "kept"  # the kept customer's, always
    gap = "gap"  # the kept customer's; the other's when the kept one has none
    # A personnummer moves only to a kept customer without one (two numbers: two people).
    identifier = "identifier"
    # An address moves as a whole: half of one and half of another is nobody's address.
    address = "address"
    delivery = "delivery"
    joined = "joined"  # both, one after the other (the note)
    added = "added"  # summed (balances)


Reader = Callable[[Any, Context], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: type
    label: str
    read: Reader | None
    columns: tuple[str, ...] = ()
    record: tuple[str, ...] = ()
    api_out: str | None = ""
    max_length: int | None = None
    csv: tuple[str, ...] = ()
    write: Action | None = Action.edit_customer
    erased: bool = True
    merge: Merge = Merge.gap
    form: bool = True  # on the back office's details form
    required: bool = False
    always: bool = False
    default: Any = None
    doc: str = ""
    doc_in: str = ""
    api_type: Any = None
    highest: int | None = None  # a whole number's largest (its smallest is 0)
    shown_type: Any = None

    def __post_init__(self) -> None:
        # Defaults that repeat the name, filled here so the table says only what differs.
        if not self.columns:
            object.__setattr__(self, "columns", (self.name,))
        if not self.record:
            object.__setattr__(self, "record", (self.name,))
        if self.api_out == "":
            object.__setattr__(self, "api_out", self.name)

    @property
    def label_key(self) -> str:
        """The key of the label in the console's texts (cashier_bridge.web.console.texts)."""
        return f"field.{self.name}"

    @property
    def erased_values(self) -> dict[str, Any]:
        """Its columns when emptied: names (never NULL) become "", the rest NULL."""
        empty = "" if self.always else None
        return dict.fromkeys(self.columns, empty)

    @property
    def record_type(self) -> Any:
        """The type of its (first) record attribute."""
        shown = self.shown_type or self.type
        return shown if self.always else shown | None


def from_text(field: Field, text: str) -> Any:
    """A value typed as text (a form's box, a file's cell) as the field's type, for its reader;
    "" is nothing given.  Raises InvalidCustomer."""
    text = text.strip()
    if not text or issubclass(field.type, str):  # text, and an enum's value
        return text or None
    if field.type is int:
        try:
            return int(text)
        except ValueError:
            raise InvalidCustomer(field.name, f"'{text}' is not a whole number") from None
    if field.type is dt.date:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise InvalidCustomer(field.name, f"'{text}' is not a date (year-month-day, like "
                                              "1985-03-12)") from None
    raise InvalidCustomer(field.name, "cannot be typed")


# --- readers: a typed value → its column values; raise InvalidCustomer -------------------------


def _name(field: str) -> Reader:
    def read(value: Any, ctx: Context) -> dict[str, Any]:
        if value is None:
            raise InvalidCustomer(field, "is required")
        text = rules.name(value, field)
        return {field: text, f"{field}_key": rules.search_key(text)}
    return read


def _text(field: str, max_length: int) -> Reader:
    return lambda value, ctx: {field: rules.optional_text(value, field, max_length)}


def _postal(field: str) -> Reader:
    return lambda value, ctx: {field: rules.postal_code(value, field)}


def _email(value: Any, ctx: Context) -> dict[str, Any]:
    email = rules.email(value) if value and value.strip() else None
    return {"email": email, "email_key": rules.email_key(email) if email else None}


def _parsed(field: str, value: str | None, parse: Callable[[str], Any]) -> Any:
    if value is None or not value.strip():
        return None
    try:
        return parse(value)
    except IdentityError as err:
        raise InvalidCustomer(field, str(err)) from None


def _phone(value: Any, ctx: Context) -> dict[str, Any]:
    return {"phone": _parsed("phone", value, lambda v: phone_id.validate(v, ctx.region))}


def _personal_id(value: Any, ctx: Context) -> dict[str, Any]:
    pid = _parsed("personal_id", value, personnummer.parse)
    if pid is not None and ctx.fingerprint is None:
        raise InvalidCustomer("personal_id", "cannot be checked here")
    out = {"personal_id_fingerprint": ctx.fingerprint(pid.number) if pid and ctx.fingerprint
           else None,
           "personal_id_masked": pid.masked if pid else None}
    if pid and pid.birth_date:
        out[BIRTH_DATE_FROM_ID] = pid.birth_date
    return out


def _birth_date(value: Any, ctx: Context) -> dict[str, Any]:
    if value is not None and not isinstance(value, dt.date):
        raise InvalidCustomer("birth_date", "is a date (year-month-day, like 1985-03-12)")
    return {"birth_date": value}


def _customer_code(value: Any, ctx: Context) -> dict[str, Any]:
    if value is None or not value.strip():
        raise InvalidCustomer("customer_code", "cannot be empty; every customer has one")
    return {"customer_code": rules.customer_code(value)}


def _note(value: Any, ctx: Context) -> dict[str, Any]:
    return {"note": rules.note(value)}


def _group(value: Any, ctx: Context) -> dict[str, Any]:
    return {"group_id": value}  # checked against the groups by the registry


def _account_status(value: Any, ctx: Context) -> dict[str, Any]:
    return {"account_status": rules.account_status(value)}


def _bounded(field: str, highest: int) -> Reader:
    return lambda value, ctx: {field: rules.bounded_int(value, field, highest)}


# A personnummer tells the birth date; a birth date given beside it wins (see normalise).
BIRTH_DATE_FROM_ID = "birth_date"

CREDIT = Action.edit_credit_terms
# The API's docs are English: a rate reads as money.percent writes it there.
RATE_EXAMPLE = f"250 = {percent(250, locale='en')}"

# In the order of the back office's form.
FIELDS: tuple[Field, ...] = (
    Field("first_name", str, "First name", _name("first_name"),
          columns=("first_name", "first_name_key"), max_length=rules.MAX_NAME,
          csv=("first_name",), merge=Merge.kept, required=True, always=True),
    Field("last_name", str, "Last name", _name("last_name"),
          columns=("last_name", "last_name_key"), max_length=rules.MAX_NAME,
          csv=("last_name",), merge=Merge.kept, required=True, always=True),
    Field("company_name", str, "Company", _text("company_name", 100), max_length=100,
          csv=("company_name",)),
    Field("email", str, "E-mail", _email, columns=("email", "email_key"), max_length=254,
          csv=("email",)),
    Field("phone", str, "Phone", _phone, max_length=20, csv=("mobile", "phone"), doc="E.164",
          doc_in="any format; read with the shop's region"),
    Field("personal_id", str, "Personnummer", _personal_id,
          columns=("personal_id_fingerprint", "personal_id_masked"),
          record=("personal_id_masked", "personal_id_fingerprint"),
          api_out="personal_id_masked", max_length=13, csv=("personal_id",),
          merge=Merge.identifier,
          doc_in="a full personnummer; only a fingerprint and a masked form are kept"),
    Field("birth_date", dt.date, "Birth date", _birth_date, csv=("date_of_birth",)),
    Field("customer_code", str, "Customer number", _customer_code, max_length=64,
          csv=("customer_code",), merge=Merge.kept, always=True, doc_in="assigned when absent"),
    Field("street", str, "Street", _text("street", 200), max_length=200,
          csv=("postal_address1", "postal_address2", "postal_suburb"), merge=Merge.address),
    Field("postal_code", str, "Postal code", _postal("postal_code"),
          max_length=rules.MAX_POSTAL_CODE, csv=("postal_postcode",), merge=Merge.address),
    Field("city", str, "City", _text("city", 100), max_length=100, csv=("postal_city",),
          merge=Merge.address),
    Field("country", str, "Country", _text("country", 56), max_length=56,
          csv=("postal_country_id",), merge=Merge.address),
    Field("delivery_street", str, "Street", _text("delivery_street", 200), max_length=200,
          csv=("physical_address1", "physical_address2", "physical_suburb"),
          merge=Merge.delivery),
    Field("delivery_postal_code", str, "Postal code", _postal("delivery_postal_code"),
          max_length=rules.MAX_POSTAL_CODE, csv=("physical_postcode",), merge=Merge.delivery),
    Field("delivery_city", str, "City", _text("delivery_city", 100), max_length=100,
          csv=("physical_city",), merge=Merge.delivery),
    Field("delivery_country", str, "Country", _text("delivery_country", 56), max_length=56,
          csv=("physical_country_id",), merge=Merge.delivery),
    Field("note", str, "Note", _note, max_length=rules.MAX_NOTE, csv=("note",),
          merge=Merge.joined),
    # Credit terms: the form shows them in kronor and per cent (admin/customers.py).
    Field("account_limit_minor", int, "Account limit",
          _bounded("account_limit_minor", rules.MAX_ACCOUNT_LIMIT_MINOR), write=CREDIT,
          erased=False, form=False, highest=rules.MAX_ACCOUNT_LIMIT_MINOR,
          doc="in minor units; null: no limit set",
          doc_in="credit terms (scope admin): the account limit in minor units"),
    Field("account_status", AccountStatus, "Account status", _account_status, write=CREDIT,
          erased=False, merge=Merge.kept, form=False, always=True, default=AccountStatus.active,
          doc="may the customer buy on account: active, on_hold (for now), closed",
          doc_in="credit terms (scope admin): active, on_hold or closed"),
    Field("loyalty_rate_bp", int, "Loyalty rate",
          _bounded("loyalty_rate_bp", rules.MAX_LOYALTY_RATE_BP), write=CREDIT, erased=False,
          form=False, highest=rules.MAX_LOYALTY_RATE_BP,
          doc=f"basis points of a sale earned as loyalty balance ({RATE_EXAMPLE})",
          doc_in=f"credit terms (scope admin): loyalty in basis points ({RATE_EXAMPLE})"),
    # Moving a customer between groups is a manager's (the profile's group form).
    Field("group_id", int, "Group", _group, record=("customer_group",), api_out="group",
          csv=("customer_group_name",), write=Action.manage_groups, erased=False, form=False,
          api_type=Id, shown_type=str),
    # Kept by the register (sales); set from a file for a new customer only.
    Field("account_balance_minor", int, "Account balance", None, api_out="balances",
          csv=("account_balance",), write=None, erased=False, merge=Merge.added, form=False,
          always=True, default=0),
    Field("loyalty_balance_minor", int, "Loyalty balance", None, api_out="balances",
          csv=("loyalty_balance",), write=None, erased=False, merge=Merge.added, form=False,
          always=True, default=0),
    Field("store_credit_minor", int, "Store credit", None, api_out="balances",
          csv=("store_credit",), write=None, erased=False, merge=Merge.added, form=False,
          always=True, default=0),
    Field("created_via", str, "Created via", None, max_length=32, write=None, erased=False,
          merge=Merge.kept, form=False, always=True),
    Field("created_at", dt.datetime, "Created", None, write=None, erased=False,
          merge=Merge.kept, form=False, always=True),
    Field("updated_at", dt.datetime, "Changed", None, write=None, erased=False,
          merge=Merge.kept, form=False, always=True),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
# The registry's own columns, no customer field: the row's id, the request that created it,
# when it was erased, what it was merged into, the import that created it.
BOOKKEEPING = ("id", "request_key", "erased_at", "merged_into_id", "import_batch_id")

# Derived lists, for the places that need one kind of field.
CREDIT_TERMS = tuple(f.name for f in FIELDS if f.write is CREDIT)
WRITABLE = tuple(f.name for f in FIELDS if f.write is not None)
FORM = tuple(f for f in FIELDS if f.form)
# Every name a field goes by (as typed, stored, on the record, in the API), with its label.
LABELS: dict[str, str] = {key: f.label for f in FIELDS
                          for key in (f.name, *f.columns, *f.record, f.api_out)
                          if key and key != "balances" and not key.endswith("_key")}


def columns_of(merge: Merge) -> tuple[str, ...]:
    """The stored columns of the fields a merge combines as ``merge``."""
    return tuple(c for f in FIELDS if f.merge is merge for c in f.columns)


def erased_values() -> dict[str, Any]:
    """The columns an erase empties (the customer code becomes ``ERASED-<id>`` besides)."""
    out: dict[str, Any] = {}
    for f in FIELDS:
        if f.erased and f.name != "customer_code":
            out.update(f.erased_values)
    return out


def normalise(given: Mapping[str, Any], ctx: Context, *, credit_terms: bool = False
              ) -> dict[str, Any]:
    """Column values of the fields in ``given`` (None clears an optional one); raises
    InvalidCustomer naming the first bad field.  Credit terms are refused unless
    ``credit_terms`` (the caller has checked that the person may set them)."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        field = BY_NAME.get(name)
        if field is None or field.read is None:
            raise InvalidCustomer(name, "is not a customer field")
        if field.write is CREDIT and not credit_terms:
            raise InvalidCustomer(name, "is a credit term; only managers and admins change it")
        for column, stored in field.read(value, ctx).items():
            if column == BIRTH_DATE_FROM_ID and name != "birth_date" and "birth_date" in given:
                continue
            out[column] = stored
    return out


__all__ = ["BOOKKEEPING", "BY_NAME", "CREDIT_TERMS", "FIELDS", "FORM", "LABELS", "WRITABLE",
           "Context", "Field", "Merge", "columns_of", "erased_values", "normalise"]
