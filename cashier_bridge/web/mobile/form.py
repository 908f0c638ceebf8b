"""The phone form: read, validated with exactly the parsers the bridge uses everywhere (names as
the registry stores them, phone numbers and personal ID numbers by the identity parsers), and
turned into the phone's intent (:class:`~cashier_bridge.protocol.PhoneSubmit`).  What the lane
keeps of it is built where every presentation's is, in :mod:`cashier_bridge.lanes.presenting`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cashier_bridge.identity import personnummer
from cashier_bridge.identity import phone as phone_id
from cashier_bridge.identity.errors import IdentityError
from cashier_bridge.lanes.mobile_tokens import RECEIPT_RE
from cashier_bridge.protocol import PHONE_FIELD_MAX, ConsentChoice, PhoneSubmit
from cashier_bridge.registry.fields import InvalidCustomer
from cashier_bridge.registry.fields import name as clean_name
from cashier_bridge.web.mobile.texts import LANGUAGES

FIELDS = ("first_name", "last_name", "phone", "personal_id")
MAX_FIELD = PHONE_FIELD_MAX  # beyond any valid value: not even parsed
MAX_VERSION = 32  # a consent text's version: "v-" and 16 hex digits


@dataclass(frozen=True)
class PhoneForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)  # field -> reason code
    member: bool = False
    consents: dict[str, bool] = field(default_factory=dict)
    receipt: str = ""
    language: str | None = None  # the language the form was shown in (one the page has)
    # The version of each consent text the form showed (checked against the filed texts
    # before an answer is kept: a text changed in the back office meanwhile is a new version).
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def read(data: Mapping[str, str], purposes: Sequence[str], region: str = "SE") -> PhoneForm:
    """The submitted form with a reason code for every field that is not valid.  A box that is
    not in the form was not ticked (browsers send only ticked boxes)."""
    values = {f: str(data.get(f, ""))[:MAX_FIELD] for f in FIELDS}
    errors = {f: code for f in FIELDS if (code := check(f, values[f], region))}
    receipt = str(data.get("receipt", ""))
    if not RECEIPT_RE.fullmatch(receipt):
        errors["receipt"] = "reload"
    shown = data.get("lang")
    return PhoneForm(values=values, errors=errors, member=_ticked(data.get("member")),
                     consents={p: _ticked(data.get(f"consent_{p}")) for p in purposes},
                     receipt=receipt, language=shown if shown in LANGUAGES else None,
                     versions={p: str(data.get(f"version_{p}", ""))[:MAX_VERSION]
                               for p in purposes})


def check(name: str, value: str, region: str = "SE") -> str | None:
    """Why ``value`` is no valid ``name`` field (a code the page has a text for), or None."""
    if not value.strip():
        return "required"
    try:
        if name in ("first_name", "last_name"):
            clean_name(value, name)
        elif name == "phone":
            phone_id.validate(value, region)
        elif name == "personal_id":
            personnummer.parse(value)
        else:
            return "unknown_field"
    except InvalidCustomer:
        return "too_long"
    except IdentityError as err:
        return err.code
    return None


def submission(form: PhoneForm, code: str, versions: Mapping[str, str]) -> PhoneSubmit:
    """The phone's intent from a valid form: its fields as typed (the lane hub builds the
    candidate from them, as from anything presented), the ticked boxes with their versions."""
    v = form.values
    return PhoneSubmit(code=code, receipt=form.receipt, first_name=v["first_name"],
                       last_name=v["last_name"], phone=v["phone"],
                       personal_id=v["personal_id"], member=form.member,
                       consents=consent_choices(form, versions))


def consent_choices(form: PhoneForm, versions: Mapping[str, str]) -> tuple[ConsentChoice, ...]:
    """The ticked boxes, each with the version of the text shown.  An unticked box is "not
    asked now": it is no refusal, and never a withdrawal of a consent given before."""
    return tuple(ConsentChoice(purpose=p, granted=True, version=versions[p])
                 for p, ticked in form.consents.items() if ticked and p in versions)


def _ticked(value: object) -> bool:
    return value in ("on", "yes", "true", "1")
