"""The websocket protocol between the bridge and its devices (kiosk, register).

JSON text frames, one pydantic model per message type, discriminated by ``type`` and versioned by
``v``.  Devices send *intents*; the bridge answers with the lane's *state* (a view tailored to the
role: the kiosk never receives more personal data than it may show) and, for the register, with
*events*.  A message that does not validate gets an ``error`` reply and the connection stays up.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    TypeAdapter,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, from_json

VERSION = 1
# The largest frame a device may send. The largest valid message is a ``scan`` (8192 characters
# of text, at most 6 bytes each when JSON-escaped: under 50 kB); anything bigger is not ours.
MAX_FRAME_BYTES = 64 * 1024


class Phase(StrEnum):
    """Where the lane is.  ``idle``: no sale open.  ``choosing``: a sale is open and the screen
    offers the ways to identify.  ``identifying``: the shopper chose a way (``method``) and is
    typing, scanning or using their phone; the bridge may be looking them up.  ``not_found``:
    nobody matched and the shopper cannot become a member from what they showed.
    ``ask_member``: nobody matched; the shopper is asked whether to become a member.
    ``await_cashier``: the shopper said yes; the cashier confirms (or aborts) the new member.
    ``connected``: a customer is connected to the open sale."""

    idle = "idle"
    choosing = "choosing"
    identifying = "identifying"
    not_found = "not_found"
    ask_member = "ask_member"
    await_cashier = "await_cashier"
    connected = "connected"


class Method(StrEnum):
    """How the shopper identifies: ``mobile`` (Via mobil, their own phone), ``scan`` (Skanna
    ID, a card or code held up to the camera), ``numpad`` (Ange ID, typed digits)."""

    mobile = "mobile"
    scan = "scan"
    numpad = "numpad"


class Role(StrEnum):
    """Which side of a lane a device is: the customer-facing ``kiosk`` or the ``register``."""

    kiosk = "kiosk"
    register = "register"
    # The shopper's own phone on the Via mobil page: it acts on the lane under its own role
    # with its own intent (PhoneSubmit), over HTTP.  It is no websocket device, so it is not
    # in the protocol's documents and no device may say hello as one (DeviceRole).
    phone = "phone"

    @classmethod
    def __get_pydantic_json_schema__(cls, core: CoreSchema, handler: GetJsonSchemaHandler
                                     ) -> JsonSchemaValue:
        schema = handler(core)
        resolved = handler.resolve_ref_schema(schema)
        resolved["enum"] = [r.value for r in DEVICE_ROLES]
        return schema


DEVICE_ROLES = (Role.kiosk, Role.register)


def _device_role(value: object) -> object:
    if value not in DEVICE_ROLES:
        raise ValueError(f"Input should be {' or '.join(repr(r.value) for r in DEVICE_ROLES)}")
    return value


# The roles a device may say hello as (and the documents list: see Role's schema).
DeviceRole = Annotated[Role, BeforeValidator(_device_role)]


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
    # Via mobil: what the phone sent does not match the member on file, so the cashier takes
    # over (the kiosk asks the shopper to turn to the till and says no more).
    ask_cashier = "ask_cashier"
    # Ange ID is paused on this lane: too many look-ups in a minute (the view says how long).
    too_many_tries = "too_many_tries"
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
    """Why the bridge refused a message.  The connection stays open unless the code is
    ``unauthorized`` or ``lane_limit`` (or ``hello_required`` because nothing came for 30 s):
    then the bridge closes with 1008.  ``unavailable``, ``storage_full`` and ``internal``
    changed nothing: the same message may be sent again."""

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
    v: Literal[1] = Field(VERSION, description="The protocol version; may be left out when "
                          "sending.")


# --- device -> bridge -------------------------------------------------------------------------

LaneName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


class Hello(_Msg):
    """The first message on every connection: who the device is and which lane it serves.  The
    bridge answers ``welcome`` and the lane's current ``state``.  Sending it again on the same
    connection moves the device to the lane it names."""

    type: Literal["hello"] = "hello"
    role: DeviceRole = Field(description="Must match the endpoint: register on /ws/register, kiosk "
                       "on /ws/kiosk.")
    lane: LaneName = Field(description="The lane (register and kiosk pair) this device "
                           "serves, e.g. kassa-1.")
    token: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="The device token from `selfreg-bridge pair --lane LANE --role "
        "ROLE`; every bridge requires it, on loopback too (unless run with `auth = \"off\"` "
        "for development).")


class StartSale(_Msg):
    """A sale is open: the kiosk offers the shopper the ways to identify.  Sending it again with
    the open sale's id changes nothing (a retry after reconnecting); another id starts a new
    sale and withdraws what the old one had."""

    type: Literal["start_sale"] = "start_sale"
    sale_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The register's own id of the sale (receipt number); the sale is recorded "
        "under it.")


class EndSale(_Msg):
    """The sale is over.  With a customer connected it is recorded against them: the sale id,
    this register's lane, the total and the time."""

    type: Literal["end_sale"] = "end_sale"
    sale_id: str | None = Field(None, description="The open sale's id; when given and another "
                                "sale is open, the message is refused (not_allowed).")
    # In minor units (öre, cents): 24900 is 249.00.  Negative for a refund.
    total_minor: Annotated[int, Field(ge=-10**12, le=10**12)] | None = Field(
        None, description="The sale's total in minor units (öre, cents): 24900 is 249.00. "
        "Negative for a refund.")
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = Field(
        None, description="ISO 4217 code of the total, e.g. SEK.")


class MemberDetails(BaseModel):
    """What the cashier completes before creating the member."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    first_name: Annotated[str, Field(min_length=1, max_length=100)]
    last_name: Annotated[str, Field(min_length=1, max_length=100)]
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=32)] | None = Field(
        None, description="In any usual format; stored as E.164 (national numbers are read in "
        "the bridge's phone_region).")
    marketing_consent: bool = Field(False, description="The shopper agreed to marketing.")


class ConfirmMember(_Msg):
    """The cashier creates the new member of the open ``member_prompt`` and connects them to the
    sale.  Creation is idempotent on the prompt id: a repeated confirm never makes a twin."""

    type: Literal["confirm_member"] = "confirm_member"
    prompt_id: str = Field(description="The open prompt's prompt_id (from member_prompt).")
    details: MemberDetails


class ConnectExisting(_Msg):
    """The cashier recognised the shopper among the prompt's possible duplicates."""

    type: Literal["connect_existing"] = "connect_existing"
    prompt_id: str = Field(description="The open prompt's prompt_id (from member_prompt).")
    customer_id: int = Field(description="The id of one of the prompt's possible_duplicates.")


class ConnectCustomer(_Msg):
    """The cashier connects a customer by hand (found with the register's own search, or just
    created there) to the open sale, whatever the shopper's screen is doing."""

    type: Literal["connect_customer"] = "connect_customer"
    customer_id: Annotated[int, Field(ge=1)] = Field(
        description="The customer's id in the registry (CustomerCard.id; the REST API's "
        "customer id).")


class AbortMember(_Msg):
    """The cashier declines the new member of the open prompt: no customer is created and the
    kiosk returns to the choices (notice member_aborted); the sale stays open."""

    type: Literal["abort_member"] = "abort_member"
    prompt_id: str = Field(description="The open prompt's prompt_id (from member_prompt).")


class Choose(_Msg):
    """The shopper picked a way to identify on the choices screen."""

    type: Literal["choose"] = "choose"
    method: Method


class SubmitId(_Msg):
    """What the shopper typed on Ange ID: a personnummer, phone number or customer number."""

    type: Literal["submit_id"] = "submit_id"
    digits: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9+\- ]+$")]


class Scan(_Msg):
    """A code the customer-facing camera decoded: its text and symbology (as zxing-cpp names it)."""

    type: Literal["scan"] = "scan"
    text: Annotated[str, Field(min_length=1, max_length=8192)]
    symbology: Annotated[str, Field(max_length=32)] | None = None


class MemberAnswer(_Msg):
    """The shopper's answer to "become a member?"."""

    type: Literal["member_answer"] = "member_answer"
    accept: bool


class Cancel(_Msg):
    """The shopper pressed back/cancel: return to the choices."""

    type: Literal["cancel"] = "cancel"


class ScreenTimeout(_Msg):
    """Nobody touched the screen for a while: return to a safe state."""

    type: Literal["screen_timeout"] = "screen_timeout"
    seq: int = Field(description="The seq of the state whose screen timed out; a newer state "
                     "makes the timeout void.")


class RenewMobile(_Msg):
    """The phone code on the screen ran out unused: the kiosk asks for a fresh one (a code that
    is still live is kept, so a repeated or early request changes nothing)."""

    type: Literal["renew_mobile"] = "renew_mobile"


class ConsentChoice(BaseModel):
    """One consent box the shopper ticked on the phone, with the version of the text shown."""

    model_config = ConfigDict(frozen=True)
    purpose: str
    granted: bool  # only ticked boxes are kept: an unticked one was not answered
    version: str  # of the text the shopper saw


# What a form field may hold before it is even parsed: beyond any valid value.
PHONE_FIELD_MAX = 200


class PhoneSubmit(_Msg):
    """The shopper's phone sent the Via mobil form with the code from the kiosk's QR.

    Not a websocket message: the phone page (``/m/<code>``) reads the form and hands this to
    the lane hub as the phone's intent, the way a websocket hands a kiosk's ``submit_id``.  The
    code, the form's receipt and the shopper's details are kept out of ``repr`` (and so out of
    logs); the lane keeps only the hashes of the first two and a candidate of the rest."""

    type: Literal["phone_submit"] = "phone_submit"
    code: Annotated[str, Field(max_length=64, repr=False)]
    receipt: Annotated[str, Field(max_length=64, repr=False)]
    first_name: Annotated[str, Field(max_length=PHONE_FIELD_MAX, repr=False)]
    last_name: Annotated[str, Field(max_length=PHONE_FIELD_MAX, repr=False)]
    phone: Annotated[str, Field(max_length=PHONE_FIELD_MAX, repr=False)]
    personal_id: Annotated[str, Field(max_length=PHONE_FIELD_MAX, repr=False)]
    member: bool = False  # "make me a member" ticked
    consents: tuple[ConsentChoice, ...] = ()


class Ping(_Msg):
    """Are you there?  The bridge answers ``pong`` at once, in any phase, even before hello."""

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
# The phone's, outside the websocket union above: no device can send them on a websocket.
PHONE_INTENTS = frozenset({"phone_submit"})


# --- bridge -> device -------------------------------------------------------------------------


class CustomerCard(BaseModel):
    """A customer as the register sees it."""

    model_config = ConfigDict(frozen=True)
    id: int = Field(description="The registry's id (connect_customer, connect_existing, the "
                    "REST API).")
    customer_code: str = Field(description="The number on the customer's card.")
    first_name: str
    last_name: str
    phone: str | None = Field(None, description="E.164, e.g. +46701234567.")
    email: str | None = None
    personal_id_masked: str | None = Field(
        None, description="The personnummer with its last four digits hidden "
        "(YYYYMMDD-****); the full number is never stored.")
    created_via: str = Field(description="How the customer came to the registry: numpad, scan, "
                             "mobile (at a kiosk), import (CSV), api.")
    is_new: bool = Field(False, description="Created just now, in this sale.")
    matched_on: str | None = Field(
        None, description="Why this customer: personnummer, phone, customer_code or email (what "
        "the shopper showed matched), cashier (the cashier chose them); in possible_duplicates "
        "same_phone, same_email, same_birth_date_similar_name or "
        "same_birth_date_no_personal_id.")


class PromptKind(StrEnum):
    """Why the cashier is asked.  ``new_member``: nobody matched and the shopper wants to become
    a member.  ``details_mismatch``: a phone (Via mobil) sent the personnummer or phone number
    of a customer on file, but the names (or the phone number on file) differ: the shopper may
    be someone else who knows her number.  Nothing of hers was shown or changed; the cashier
    checks the shopper's ID and connects her (connect_existing) or aborts.  Creating a member
    from such a prompt is refused."""

    new_member = "new_member"
    details_mismatch = "details_mismatch"


class MemberPrompt(BaseModel):
    """What the register is told when a shopper wants to become a member, or when what a phone
    sent does not match the customer on file (``kind``)."""

    model_config = ConfigDict(frozen=True)
    prompt_id: str = Field(description="Answer with confirm_member, connect_existing or "
                           "abort_member carrying this id.")
    kind: PromptKind = Field(PromptKind.new_member, description="new_member: create the "
                             "shopper (confirm_member), connect a possible duplicate or abort. "
                             "details_mismatch: the details below are what the shopper typed; "
                             "the one possible_duplicates entry is the customer on file they "
                             "claim to be. Connect them after checking ID, or abort; "
                             "confirm_member is refused (not_allowed).")
    personal_id_masked: str | None = None
    birth_date: str | None = Field(None, description="YYYY-MM-DD")
    phone: str | None = Field(None, description="E.164")
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    address: str | None = None
    document: str | None = Field(None, description="vcard, mecard, aamva (driver's licence), "
                                 "mrz… when the shopper showed one")
    document_number: str | None = None
    document_expired: bool | None = None
    source: str = Field(description="How the shopper identified: numpad, scan or mobile.")
    # Existing customers who may be this shopper (matched_on says why); the cashier can connect
    # one of them instead of creating a duplicate.
    possible_duplicates: tuple[CustomerCard, ...] = Field(
        (), description="Existing customers who may be this shopper (matched_on says why): "
        "connect one with connect_existing instead of creating a duplicate. For a "
        "details_mismatch prompt: exactly the customer on file (matched_on personnummer, "
        "samordningsnummer or phone).")


class Welcome(_Msg):
    """The bridge accepted ``hello``; the lane's current ``state`` follows."""

    type: Literal["welcome"] = "welcome"
    role: DeviceRole
    lane: str
    server_version: str = Field(description="The bridge's software version (informative).")


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
    # With notice too_many_tries: the seconds, when this state was sent, until Ange ID takes
    # a number again.
    retry_in_s: int | None = None


class RegisterView(BaseModel):
    """The lane as the register sees it."""

    model_config = ConfigDict(frozen=True)
    sale_id: str | None = Field(None, description="The open sale; null when idle.")
    method: Method | None = Field(None, description="How the shopper is identifying.")
    customer: CustomerCard | None = Field(None, description="The connected customer (phase "
                                          "connected).")
    prompt: MemberPrompt | None = Field(None, description="The open member prompt (phase "
                                        "await_cashier).")
    # Why the cashier's last action did not go through, e.g. duplicate_phone.
    notice: Notice | None = Field(None, description="Why the cashier's last confirm did not "
                                  "go through (await_cashier only), e.g. duplicate_phone.")


class KioskState(_Msg):
    """The lane as the customer screen shows it; sent after hello and after every change."""

    type: Literal["state"] = "state"
    lane: str
    phase: Phase
    seq: int = Field(description="The lane's step number: grows by one with every change.")
    view: KioskView


class RegisterState(_Msg):
    """The whole lane as the register may know it; sent after hello and after every change of
    the lane.  It is authoritative: render it, whatever events came before."""

    type: Literal["state"] = "state"
    lane: str
    phase: Phase
    seq: int = Field(description="The lane's step number: grows by one with every change and "
                     "survives bridge restarts; a state never follows a newer one.")
    view: RegisterView


class CustomerConnected(_Msg):
    """The shopper is this customer, now connected to the sale (event; the state follows)."""

    type: Literal["customer_connected"] = "customer_connected"
    lane: str
    seq: int = Field(description="The seq of the state this step leads to.")
    sale_id: str | None
    customer: CustomerCard


class MemberPromptEvent(_Msg):
    """A shopper nobody knows wants to become a member: the cashier completes the details and
    answers confirm_member, connect_existing or abort_member; or (prompt kind
    details_mismatch) a phone's details do not match the customer on file: the cashier
    connects them after checking ID, or aborts (event; the state follows)."""

    type: Literal["member_prompt"] = "member_prompt"
    lane: str
    seq: int = Field(description="The seq of the state this step leads to.")
    sale_id: str | None
    prompt: MemberPrompt


class PromptWithdrawn(_Msg):
    """The open member prompt is gone without the cashier's answer: close its dialog (event;
    the state follows)."""

    type: Literal["prompt_withdrawn"] = "prompt_withdrawn"
    lane: str
    seq: int = Field(description="The seq of the state this step leads to.")
    prompt_id: str
    reason: str = Field(description="shopper_cancelled, timeout (the screen was left), "
                        "new_sale, sale_ended or connected_by_cashier.")


class Error(_Msg):
    """The bridge could not accept a message; ``code`` says why, ``message`` says it for
    people (English; it may change, do not parse it)."""

    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    ref: str | None = Field(None, description="The type of the message that caused it, when "
                            "known.")


class Pong(_Msg):
    """The answer to ``ping``."""

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


class MatchKey(BaseModel):
    """One key a presented identifier is looked up by in the registry; kept in the lane's saved
    state and handed to the registry, so it sits here below both."""

    model_config = ConfigDict(frozen=True)
    kind: str  # personal_id_fingerprint | phone | customer_code | email
    value: str
    reading: str  # the identifier kind it came from (personnummer, phone, customer_code…)
