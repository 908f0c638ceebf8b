"""The websocket protocol between the bridge and its devices (kiosk, register).

JSON text frames, one pydantic model per message type, discriminated by ``type`` and versioned by
``v``.  Devices send *intents*; the bridge answers with the lane's *state* (a view tailored to the
role: the kiosk never receives more personal data than it may show) and, for the register, with
*events*.  A message that does not validate gets an ``error`` reply and the connection stays up.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import from_json

VERSION = 1
# The largest frame a device may send. The largest valid message is a ``scan`` (8192 characters
# of text, at most 6 bytes each when JSON-escaped: under 50 kB); anything bigger is not ours.
MAX_FRAME_BYTES = 64 * 1024


class Phase(StrEnum):
    idle = "idle"
    choosing = "choosing"
    identifying = "identifying"
    not_found = "not_found"
    ask_member = "ask_member"
    await_cashier = "await_cashier"
    connected = "connected"


class Method(StrEnum):
    mobile = "mobile"
    scan = "scan"
    numpad = "numpad"


class Role(StrEnum):
    kiosk = "kiosk"
    register = "register"


class Notice(StrEnum):
    """Why the lane is where it is, for the screen (the kiosk has a text for each in every
    language) and for the cashier.  The first group are the identity parsers' error codes."""

    invalid = "invalid"
    invalid_length = "invalid_length"
    invalid_format = "invalid_format"
    invalid_checksum = "invalid_checksum"
    invalid_date = "invalid_date"
    interim_number = "interim_number"
    incomplete = "incomplete"
    no_identity = "no_identity"
    unrecognised = "unrecognised"
    unreadable = "unreadable"
    not_found = "not_found"
    unavailable = "unavailable"
    storage_full = "storage_full"
    member_aborted = "member_aborted"
    member_declined = "member_declined"
    # The cashier's new member collides with another customer (register only).
    duplicate_phone = "duplicate_phone"
    duplicate_email = "duplicate_email"
    duplicate_customer_code = "duplicate_customer_code"
    invalid_details = "invalid_details"

    @classmethod
    def of(cls, code: str) -> Notice:
        """The notice for an identity error code; an unknown code is plain ``invalid``."""
        try:
            return cls(code)
        except ValueError:
            return cls.invalid


class ErrorCode(StrEnum):
    invalid_json = "invalid_json"
    invalid_message = "invalid_message"
    unsupported_version = "unsupported_version"
    unknown_type = "unknown_type"
    hello_required = "hello_required"
    unauthorized = "unauthorized"
    wrong_role = "wrong_role"
    not_allowed = "not_allowed"
    stale_prompt = "stale_prompt"
    unknown_customer = "unknown_customer"  # no (unerased) customer has that id
    binary_frame = "binary_frame"
    message_too_large = "message_too_large"
    lane_limit = "lane_limit"
    unavailable = "unavailable"  # the registry cannot be reached: nothing changed, retry
    storage_full = "storage_full"  # the registry's disk is full: nothing changed
    internal = "internal"


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1] = VERSION


# --- device -> bridge -------------------------------------------------------------------------

LaneName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


class Hello(_Msg):
    type: Literal["hello"] = "hello"
    role: Role
    lane: LaneName
    token: Annotated[str, Field(max_length=200)] | None = None


class StartSale(_Msg):
    type: Literal["start_sale"] = "start_sale"
    sale_id: Annotated[str, Field(min_length=1, max_length=64)]


class EndSale(_Msg):
    """The sale is over.  With a customer connected it is recorded against them: the sale id,
    this register's lane, the total and the time."""

    type: Literal["end_sale"] = "end_sale"
    sale_id: str | None = None
    # In minor units (öre, cents): 24900 is 249.00.  Negative for a refund.
    total_minor: Annotated[int, Field(ge=-10**12, le=10**12)] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None  # ISO 4217


class MemberDetails(BaseModel):
    """What the cashier completes before creating the member."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    first_name: Annotated[str, Field(min_length=1, max_length=100)]
    last_name: Annotated[str, Field(min_length=1, max_length=100)]
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None
    marketing_consent: bool = False


class ConfirmMember(_Msg):
    type: Literal["confirm_member"] = "confirm_member"
    prompt_id: str
    details: MemberDetails


class ConnectExisting(_Msg):
    """The cashier recognised the shopper among the prompt's possible duplicates."""

    type: Literal["connect_existing"] = "connect_existing"
    prompt_id: str
    customer_id: int


class ConnectCustomer(_Msg):
    """The cashier connects a customer by hand (found with the register's own search, or just
    created there) to the open sale, whatever the shopper's screen is doing."""

    type: Literal["connect_customer"] = "connect_customer"
    customer_id: Annotated[int, Field(ge=1)]


class AbortMember(_Msg):
    type: Literal["abort_member"] = "abort_member"
    prompt_id: str


class Choose(_Msg):
    type: Literal["choose"] = "choose"
    method: Method


class SubmitId(_Msg):
    type: Literal["submit_id"] = "submit_id"
    digits: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9+\- ]+$")]


class Scan(_Msg):
    """A code the customer-facing camera decoded: its text and symbology (as zxing-cpp names it)."""

    type: Literal["scan"] = "scan"
    text: Annotated[str, Field(min_length=1, max_length=8192)]
    symbology: Annotated[str, Field(max_length=32)] | None = None


class MemberAnswer(_Msg):
    type: Literal["member_answer"] = "member_answer"
    accept: bool


class Cancel(_Msg):
    """The shopper pressed back/cancel: return to the choices."""

    type: Literal["cancel"] = "cancel"


class ScreenTimeout(_Msg):
    """Nobody touched the screen for a while: return to a safe state."""

    type: Literal["screen_timeout"] = "screen_timeout"
    seq: int


class RenewMobile(_Msg):
    """The phone code on the screen ran out unused: the kiosk asks for a fresh one (a code that
    is still live is kept, so a repeated or early request changes nothing)."""

    type: Literal["renew_mobile"] = "renew_mobile"


class Ping(_Msg):
    type: Literal["ping"] = "ping"


Intent = Annotated[
    Hello | StartSale | EndSale | ConfirmMember | ConnectExisting | ConnectCustomer
    | AbortMember | Choose
    | SubmitId | Scan | MemberAnswer | Cancel | ScreenTimeout | RenewMobile | Ping,
    Field(discriminator="type"),
]

KIOSK_INTENTS = frozenset(
    {"choose", "submit_id", "scan", "member_answer", "cancel", "screen_timeout",
     "renew_mobile"})
REGISTER_INTENTS = frozenset(
    {"start_sale", "end_sale", "confirm_member", "connect_existing", "connect_customer",
     "abort_member"})


# --- bridge -> device -------------------------------------------------------------------------


class CustomerCard(BaseModel):
    """A customer as the register sees it."""

    model_config = ConfigDict(frozen=True)
    id: int
    customer_code: str
    first_name: str
    last_name: str
    phone: str | None = None
    email: str | None = None
    personal_id_masked: str | None = None
    created_via: str
    is_new: bool = False
    matched_on: str | None = None


class MemberPrompt(BaseModel):
    """What the register is told when a shopper wants to become a member."""

    model_config = ConfigDict(frozen=True)
    prompt_id: str
    personal_id_masked: str | None = None
    birth_date: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    address: str | None = None
    document: str | None = None  # vcard, mecard, aamva, mrz… when the shopper showed one
    document_number: str | None = None
    document_expired: bool | None = None
    source: str
    # Existing customers who may be this shopper (matched_on says why); the cashier can connect
    # one of them instead of creating a duplicate.
    possible_duplicates: tuple[CustomerCard, ...] = ()


class Welcome(_Msg):
    type: Literal["welcome"] = "welcome"
    role: Role
    lane: str
    server_version: str


class KioskView(BaseModel):
    """Everything the customer screen may show; no full personal data ever."""

    model_config = ConfigDict(frozen=True)
    method: Method | None = None
    first_name: str | None = None  # on the welcome screen only
    masked_id: str | None = None
    notice: Notice | None = None  # the kiosk translates it
    busy: bool = False
    # Whether this screen goes back to a safe state when nobody touches it for the kiosk's
    # screen timeout (the kiosk then sends screen_timeout with this state's seq).
    times_out: bool = False
    # Via mobil: the address the kiosk shows as a QR code (<public_url>/m/<token>) while a phone
    # code is open, and the seconds it has left when this state was sent. At 0 the kiosk sends
    # renew_mobile. None when no code is open (e.g. the phone already submitted).
    mobile_url: str | None = None
    mobile_expires_in_s: int | None = None
    # The shopper's phone sent its details; the kiosk may say "continue on your phone".
    mobile_submitted: bool = False


class RegisterView(BaseModel):
    model_config = ConfigDict(frozen=True)
    sale_id: str | None = None
    method: Method | None = None
    customer: CustomerCard | None = None
    prompt: MemberPrompt | None = None
    # Why the cashier's last action did not go through, e.g. duplicate_phone.
    notice: Notice | None = None


class KioskState(_Msg):
    type: Literal["state"] = "state"
    lane: str
    phase: Phase
    seq: int
    view: KioskView


class RegisterState(_Msg):
    type: Literal["state"] = "state"
    lane: str
    phase: Phase
    seq: int
    view: RegisterView


class CustomerConnected(_Msg):
    type: Literal["customer_connected"] = "customer_connected"
    lane: str
    seq: int
    sale_id: str | None
    customer: CustomerCard


class MemberPromptEvent(_Msg):
    type: Literal["member_prompt"] = "member_prompt"
    lane: str
    seq: int
    sale_id: str | None
    prompt: MemberPrompt


class PromptWithdrawn(_Msg):
    type: Literal["prompt_withdrawn"] = "prompt_withdrawn"
    lane: str
    seq: int
    prompt_id: str
    reason: str


class Error(_Msg):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    ref: str | None = None  # the type of the message that caused it, when known


class Pong(_Msg):
    type: Literal["pong"] = "pong"


KioskMessage = Annotated[Welcome | KioskState | Error | Pong, Field(discriminator="type")]
RegisterMessage = Annotated[
    Welcome | RegisterState | CustomerConnected | MemberPromptEvent | PromptWithdrawn | Error
    | Pong,
    Field(discriminator="type"),
]

_intent_adapter: TypeAdapter[Intent] = TypeAdapter(Intent)
_kiosk_adapter: TypeAdapter[KioskMessage] = TypeAdapter(KioskMessage)
_register_adapter: TypeAdapter[RegisterMessage] = TypeAdapter(RegisterMessage)


class ProtocolError(Exception):
    def __init__(self, code: ErrorCode, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.ref = ref

    def reply(self) -> Error:
        return Error(code=self.code, message=str(self), ref=self.ref)


def parse_intent(text: str | bytes) -> Intent:
    """Validate one frame from a device; raises ProtocolError with a specific code."""
    if len(text) > MAX_FRAME_BYTES:  # never spend parsing work on what cannot be a message
        raise ProtocolError(ErrorCode.message_too_large,
                            f"a message is at most {MAX_FRAME_BYTES} bytes")
    try:
        # pydantic's parser rather than json.loads: its nesting limit (about 200) does not
        # depend on how deep the Python stack happens to be, so a frame always gets the same
        # answer; and it refuses escaped lone surrogates, which no reply or saved lane could
        # encode again.
        data = from_json(text)
    except ValueError as exc:  # UnicodeDecodeError is one
        raise ProtocolError(ErrorCode.invalid_json, f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.invalid_message, "a message is a JSON object")
    kind = data.get("type")
    ref = kind[:_ECHO_CHARS] if isinstance(kind, str) else None
    if data.get("v", VERSION) != VERSION:
        raise ProtocolError(
            ErrorCode.unsupported_version, f"protocol version {_brief(data.get('v'))}; this "
            f"bridge speaks {VERSION}", ref)
    if not isinstance(kind, str) or kind not in _INTENT_TYPES:  # a list is not even hashable
        raise ProtocolError(ErrorCode.unknown_type, f"unknown message type {_brief(kind)}", ref)
    try:
        return _intent_adapter.validate_python(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        problems = "; ".join(
            f"{'.'.join(_brief(p, quote=False) for p in e['loc'][1:]) or '(message)'}: "
            f"{e['msg']}" for e in errors[:_MAX_PROBLEMS])
        if len(errors) > _MAX_PROBLEMS:
            problems += f"; and {len(errors) - _MAX_PROBLEMS} more"
        raise ProtocolError(ErrorCode.invalid_message, problems, ref) from None


# What a device sent is echoed in error replies and logs only this far: a reply must stay small
# whatever the device sent.
_ECHO_CHARS = 40
_MAX_PROBLEMS = 5


def _brief(value: object, *, quote: bool = True) -> str:
    if isinstance(value, dict | list):  # a structure may be big: its kind says enough
        return f"<{type(value).__name__}>"
    text = repr(value) if quote else str(value)
    return text if len(text) <= _ECHO_CHARS else text[:_ECHO_CHARS] + "…"


def parse_kiosk_message(text: str | bytes) -> KioskMessage:
    return _kiosk_adapter.validate_json(text)


def parse_register_message(text: str | bytes) -> RegisterMessage:
    return _register_adapter.validate_json(text)


def dump(message: BaseModel) -> str:
    return message.model_dump_json()


_INTENT_TYPES = frozenset(m.model_fields["type"].default for m in get_args(get_args(Intent)[0]))
