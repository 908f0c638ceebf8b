"""The lane state machine: the only place where a lane's state changes.

Pure functions, no I/O, like the protocol core of the *websockets* library: each transition takes
the current :class:`Lane` and an input and returns the next lane plus a list of *effects* for the
I/O layer to carry out (look a customer up, create one, tell the register).  Results of effects
come back as further transitions (``lookup_done``, ``customer_created``).  The I/O layer persists
the lane after every step, so a restarted bridge resumes exactly where it stopped; effects that
were in flight are re-issued from the persisted lane by :func:`pending_effects`.

    idle → choosing → identifying → connected
                      identifying → not_found | ask_member → await_cashier → connected | choosing

Via mobil adds two things to a lane: an open *phone code* (:class:`MobileLink`, what the kiosk
shows as a QR code: only its hash and the nonce it is derived from are kept, never the code) and,
once a phone sent its details, the *phone session* (:class:`PhoneSession`) the phone page follows
until the flow ends.  A submission is a presentation like a typed number (method ``mobile``),
with one difference: a personnummer is not a secret, so a customer found by it (or by the phone
number) is connected only when the rest of what the phone sent matches what the shop holds
(:class:`Found`, decided by ``presenting.agrees``); otherwise the cashier is asked
(``details_mismatch``) and the phone learns nothing.  The session records how its shopper was
connected (:class:`PhoneLink`): only a match or a member made from the phone's own details
is shown their card and has their consent answers kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from cashier_bridge.customers.lookup_limit import WINDOW_S, wait_s
from cashier_bridge.protocol import (
    ConsentChoice,
    CustomerCard,
    CustomerConnected,
    KioskState,
    KioskView,
    MatchKey,
    MemberDetails,
    MemberPrompt,
    MemberPromptEvent,
    Method,
    Notice,
    Phase,
    PromptKind,
    PromptWithdrawn,
    RegisterState,
    RegisterView,
)


class NotAllowed(Exception):
    """An intent that makes no sense in the lane's current phase."""


class StalePrompt(NotAllowed):
    """The cashier answered a prompt that is no longer open."""


class MobileProblem(StrEnum):
    """Why a phone code cannot be used; the phone page explains each (404 or 410)."""

    malformed = "malformed"  # not even shaped like a code
    unknown = "unknown"  # no lane ever issued it
    expired = "expired"  # ran out before the phone sent the form
    used = "used"  # a phone already sent its details with it
    replaced = "replaced"  # voided: the sale ended, another method was chosen, a newer code


class MobileRefused(NotAllowed):
    def __init__(self, problem: MobileProblem) -> None:
        super().__init__(f"the phone code cannot be used: {problem.value}")
        self.problem = problem


class PhoneOutcome(StrEnum):
    """How a phone session ended, for the phone page."""

    connected = "connected"
    cancelled = "cancelled"  # the shopper chose something else on the screen, or it timed out
    member_declined = "member_declined"
    member_aborted = "member_aborted"


class MobileLink(BaseModel):
    """An open phone code.  The code itself is HMAC(key, lane, nonce) with a key kept outside
    the database (cashier_bridge.lanes.mobile_tokens); the lane keeps the nonce (useless without the
    key) to show the code again, and the code's SHA-256 to recognise it."""

    model_config = ConfigDict(frozen=True)
    nonce: str
    key_id: str  # which key derived it (a chain's bridges must share the key)
    token_hash: str
    sale_id: str | None
    expires_at: float  # Unix time

    def live(self, now: float) -> bool:
        return now < self.expires_at


class PhoneLink(StrEnum):
    """How the lane's customer came to be the phone's shopper; it alone decides whether the
    phone may see them (welcome, customer code, member card) and whether the phone's consent
    answers are theirs."""

    matched = "matched"  # what the phone sent matches the customer on file
    new_member = "new_member"  # created from what the phone sent
    by_cashier = "by_cashier"  # the cashier connected someone: the phone is told nothing


# The links that let the phone see the customer and speak for them.
PHONE_SPEAKS_FOR = frozenset({PhoneLink.matched, PhoneLink.new_member})


class PhoneSession(BaseModel):
    """The phone that sent its details: it alone may follow the flow (its receipt)."""

    model_config = ConfigDict(frozen=True)
    token_hash: str
    receipt_hash: str
    consents: tuple[ConsentChoice, ...] = ()
    wants_member: bool = False
    outcome: PhoneOutcome | None = None
    # Set when the lane connects a customer while the session is under way; None (as in a lane
    # saved before this field existed) shows the phone nothing.
    link: PhoneLink | None = None
    # Whom: the phone never sees nor speaks for a customer the cashier connects afterwards.
    customer_id: int | None = None
    consents_recorded: bool = False


class Candidate(BaseModel):
    """What the shopper presented, in the form the lane may keep (no raw personal ID)."""

    model_config = ConfigDict(frozen=True)
    source: Method
    kind: str
    personal_id_fingerprint: str | None = None
    personal_id_masked: str | None = None
    birth_date: str | None = None
    phone: str | None = None
    phone_masked: str | None = None
    customer_code: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    address: str | None = None
    document: str | None = None
    document_number: str | None = None
    document_expired: bool | None = None
    can_become_member: bool = False
    rejection: str | None = None  # why another reading of the same input was rejected

    @property
    def masked(self) -> str | None:
        return self.personal_id_masked or self.phone_masked


class Found(BaseModel):
    """The customer a lookup found, and whether the rest of what the shopper presented agrees
    with what the shop holds of them (``presenting.agrees``: for a phone, the names, and the
    phone number when one is on file).  Only an agreeing find is connected by itself."""

    model_config = ConfigDict(frozen=True)
    customer: CustomerCard
    agrees: bool


class Lane(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    phase: Phase = Phase.idle
    seq: int = 0
    sale_id: str | None = None
    method: Method | None = None
    candidate: Candidate | None = None
    lookup_id: str | None = None
    lookup_keys: tuple[MatchKey, ...] = ()
    prompt_id: str | None = None
    prompt_kind: PromptKind = PromptKind.new_member  # of the open prompt (await_cashier)
    creating: MemberDetails | None = None
    customer: CustomerCard | None = None
    duplicates: tuple[CustomerCard, ...] = ()
    notice: Notice | None = None
    mobile: MobileLink | None = None
    phone: PhoneSession | None = None
    # Unix times of the lane's recent Ange ID look-ups, and until when Ange ID is paused
    # after too many of them (see present): kept across sales, so ending one resets nothing.
    ange_id_tries: tuple[float, ...] = ()
    ange_id_paused_until: float | None = None


# Screens that return to the choices when nobody touches them (the kiosk times them).
TIMED_PHASES = frozenset({Phase.identifying, Phase.not_found, Phase.ask_member})


# --- effects ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lookup:
    lookup_id: str
    keys: tuple[MatchKey, ...]
    candidate: Candidate | None = None  # for the duplicate guard when nobody matches


@dataclass(frozen=True, slots=True)
class CreateCustomer:
    prompt_id: str
    candidate: Candidate
    details: MemberDetails


@dataclass(frozen=True, slots=True)
class ToRegister:
    message: CustomerConnected | MemberPromptEvent | PromptWithdrawn


@dataclass(frozen=True, slots=True)
class LinkSale:
    """Record the open sale against the connected customer (stored with the transition)."""

    sale_id: str
    customer_id: int


@dataclass(frozen=True, slots=True)
class CloseSale:
    """Record the ended sale's total and time against its customer (stored with the
    transition)."""

    sale_id: str
    customer_id: int
    total_minor: int | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class RecordConsents:
    """Write the phone's consent answers to the consent log (idempotent on ``request_key``)."""

    customer_id: int
    request_key: str
    consents: tuple[ConsentChoice, ...]


@dataclass(frozen=True, slots=True)
class AuditLookup:
    """Audit an Ange ID look-up, or its refusal during a pause, with the lane's kiosk as the
    actor (written after the step, on its own).  ``fingerprint``: the personnummer's, when it
    was one."""

    refused: bool
    fingerprint: str | None


Effect = (Lookup | CreateCustomer | ToRegister | LinkSale | CloseSale | RecordConsents
          | AuditLookup)
Step = tuple[Lane, list[Effect]]

# Ange ID look-ups one lane may make in ANGE_ID_WINDOW_S seconds before it pauses (the bridge's
# ange_id_lookups_per_minute: the budget a staff member or an API token has for personnummer).
ANGE_ID_LIMIT = 5
ANGE_ID_WINDOW_S = WINDOW_S

# A code about to run out is renewed too: a QR shown for its last second or two cannot be
# scanned and opened in time.
RENEW_MARGIN_S = 2.0
MOBILE_URL_PLACEHOLDER = "selfreg-mobile-code:"


def _connect(lane: Lane, customer: CustomerCard, link: PhoneLink, **changes: object) -> Step:
    """The shopper is this customer: the register hears it and the sale is theirs.  ``link``
    says how, for a phone session under way."""
    phone = lane.phone
    if phone is not None and phone.outcome is None:
        phone = phone.model_copy(update={"outcome": PhoneOutcome.connected, "link": link,
                                         "customer_id": customer.id})
    nxt = _next(lane, phase=Phase.connected, customer=customer, phone=phone, **changes)
    effects: list[Effect] = [ToRegister(CustomerConnected(
        lane=lane.name, seq=nxt.seq, sale_id=lane.sale_id, customer=customer))]
    if lane.sale_id:
        effects.append(LinkSale(lane.sale_id, customer.id))
    effects.extend(_consent_effects(nxt))
    return nxt, effects


def _consent_effects(lane: Lane) -> list[Effect]:
    """The phone's ticked boxes, for the customer it may speak for.  An unticked box was not
    answered (nothing is written for it, least of all a withdrawal), and a customer the phone
    merely named (a personnummer is no secret) or the cashier connected is not the phone's to
    consent for."""
    p = lane.phone
    if p is None or p.outcome is not PhoneOutcome.connected or p.consents_recorded or \
            p.link not in PHONE_SPEAKS_FOR or p.customer_id is None:
        return []
    given = tuple(c for c in p.consents if c.granted)
    return [RecordConsents(p.customer_id, p.token_hash, given)] if given else []


def _next(lane: Lane, **changes: object) -> Lane:
    return lane.model_copy(update={**changes, "seq": lane.seq + 1})


def _back_to_choices(lane: Lane, *, reason: str) -> Step:
    effects: list[Effect] = []
    if lane.phase is Phase.await_cashier and lane.prompt_id:
        nxt = _choosing(lane)
        effects.append(ToRegister(PromptWithdrawn(lane=lane.name, seq=nxt.seq,
                                                  prompt_id=lane.prompt_id, reason=reason)))
        return nxt, effects
    return _choosing(lane), effects


def _choosing(lane: Lane, outcome: PhoneOutcome = PhoneOutcome.cancelled) -> Lane:
    # Back to the choices voids the phone code; a phone session still under way ends here.
    return _next(lane, phase=Phase.choosing, method=None, candidate=None, lookup_id=None,
                 lookup_keys=(), prompt_id=None, prompt_kind=PromptKind.new_member,
                 creating=None, customer=None, duplicates=(), notice=None, mobile=None,
                 phone=_phone_ended(lane.phone, outcome))


def _phone_ended(phone: PhoneSession | None, outcome: PhoneOutcome) -> PhoneSession | None:
    if phone is None or phone.outcome is not None:
        return phone
    return phone.model_copy(update={"outcome": outcome})


def _require(lane: Lane, *phases: Phase) -> None:
    if lane.phase not in phases:
        allowed = ", ".join(p.value for p in phases)
        raise NotAllowed(f"not possible while the lane is {lane.phase.value} (needs {allowed})")


# --- register intents -------------------------------------------------------------------------


def start_sale(lane: Lane, sale_id: str) -> Step:
    if lane.sale_id == sale_id and lane.phase is not Phase.idle:
        return lane, []  # a register retrying after a reconnect
    if lane.phase is Phase.idle:
        return _next(lane, phase=Phase.choosing, sale_id=sale_id), []
    nxt, effects = _back_to_choices(lane, reason="new_sale")
    return nxt.model_copy(update={"sale_id": sale_id}), effects


def end_sale(lane: Lane, sale_id: str | None = None, total_minor: int | None = None,
             currency: str | None = None) -> Step:
    if lane.phase is Phase.idle:
        return lane, []
    if sale_id is not None and lane.sale_id is not None and sale_id != lane.sale_id:
        raise NotAllowed(f"sale {sale_id} is not the open sale")
    effects: list[Effect] = []
    nxt = Lane(name=lane.name, seq=lane.seq + 1, ange_id_tries=lane.ange_id_tries,
               ange_id_paused_until=lane.ange_id_paused_until)
    if lane.phase is Phase.connected and lane.customer is not None and lane.sale_id:
        effects.append(CloseSale(lane.sale_id, lane.customer.id, total_minor, currency))
    if lane.phase is Phase.await_cashier and lane.prompt_id:
        effects.append(ToRegister(PromptWithdrawn(lane=lane.name, seq=nxt.seq,
                                                  prompt_id=lane.prompt_id, reason="sale_ended")))
    return nxt, effects


def confirm_member(lane: Lane, prompt_id: str, details: MemberDetails) -> Step:
    if lane.phase is Phase.connected and lane.prompt_id == prompt_id:
        return lane, []  # the confirm was already carried out; a retry changes nothing
    _require(lane, Phase.await_cashier)
    if prompt_id != lane.prompt_id:
        raise StalePrompt(f"prompt {prompt_id} is not the open prompt")
    if lane.prompt_kind is PromptKind.details_mismatch:
        raise NotAllowed("the shopper's details do not match the customer on file, who holds "
                         "this personnummer or phone number: check their ID and connect them "
                         "(connect_existing), or abort")
    assert lane.candidate is not None
    if lane.creating is not None:
        return lane, []  # already being created
    nxt = _next(lane, creating=details, notice=None)
    return nxt, [CreateCustomer(prompt_id, lane.candidate, details)]


def connect_existing(lane: Lane, prompt_id: str, customer_id: int) -> Step:
    """The cashier says the shopper is one of the possible duplicates: connect, create nothing."""
    if lane.phase is Phase.connected and lane.prompt_id == prompt_id and lane.customer and \
            lane.customer.id == customer_id:
        return lane, []
    _require(lane, Phase.await_cashier)
    if prompt_id != lane.prompt_id:
        raise StalePrompt(f"prompt {prompt_id} is not the open prompt")
    if lane.creating is not None:
        raise NotAllowed("the customer is already being created")
    chosen = next((c for c in lane.duplicates if c.id == customer_id), None)
    if chosen is None:
        raise NotAllowed(f"customer {customer_id} is not among the prompt's possible duplicates")
    card = chosen.model_copy(update={"matched_on": "cashier", "is_new": False})
    return _connect(lane, card, PhoneLink.by_cashier, duplicates=())


def connect_by_hand(lane: Lane, customer: CustomerCard) -> Step:
    """The cashier picked this customer for the open sale (search, or created at the register):
    whatever the shopper was doing ends, and an open member prompt is withdrawn."""
    if lane.phase is Phase.connected and lane.customer and lane.customer.id == customer.id:
        return lane, []  # a retry, or the same customer picked twice
    if lane.phase is Phase.idle:
        raise NotAllowed("start a sale first: a customer is connected to a sale")
    if lane.creating is not None:
        raise NotAllowed("the shopper's new membership is being created; wait for it")
    card = customer.model_copy(update={"matched_on": "cashier"})
    nxt, effects = _connect(lane, card, PhoneLink.by_cashier, method=None, candidate=None,
                            lookup_id=None, lookup_keys=(), prompt_id=None, duplicates=(),
                            notice=None, mobile=None)
    if lane.phase is Phase.await_cashier and lane.prompt_id:
        effects.insert(0, ToRegister(PromptWithdrawn(
            lane=lane.name, seq=nxt.seq, prompt_id=lane.prompt_id,
            reason="connected_by_cashier")))
    return nxt, effects


def abort_member(lane: Lane, prompt_id: str) -> Step:
    _require(lane, Phase.await_cashier)
    if prompt_id != lane.prompt_id:
        raise StalePrompt(f"prompt {prompt_id} is not the open prompt")
    if lane.creating is not None:
        raise NotAllowed("the customer is already being created")
    if lane.prompt_kind is PromptKind.details_mismatch:
        # Nobody asked for a membership: the shopper simply starts again.
        return _choosing(lane, PhoneOutcome.cancelled), []
    nxt = _choosing(lane, PhoneOutcome.member_aborted)
    return nxt.model_copy(update={"notice": Notice.member_aborted}), []


# --- kiosk intents ----------------------------------------------------------------------------


def choose(lane: Lane, method: Method, mobile: MobileLink | None = None, now: float = 0.0
           ) -> Step:
    """The shopper chose a method.  Via mobil needs a fresh phone code (``mobile``) unless the
    lane's current one is still live: a repeated choice keeps the code a phone may be reading."""
    _require(lane, Phase.choosing, Phase.identifying, Phase.not_found)
    link: MobileLink | None = None
    if method is Method.mobile:
        current = lane.mobile
        if current is not None and current.live(now + RENEW_MARGIN_S) and \
                current.sale_id == lane.sale_id:
            link = current
        elif mobile is None:
            raise NotAllowed("Via mobil needs a phone code")
        else:
            link = mobile.model_copy(update={"sale_id": lane.sale_id})  # bound to this sale
    return _next(lane, phase=Phase.identifying, method=method, candidate=None, lookup_id=None,
                 lookup_keys=(), notice=None, mobile=link,
                 phone=_phone_ended(lane.phone, PhoneOutcome.cancelled)), []


def renew_mobile(lane: Lane, mobile: MobileLink, now: float, *, on_choices: bool = False
                 ) -> Step:
    """A fresh phone code for the screen when the one shown ran out unused (or there is none);
    a live code is kept, so asking twice changes nothing.  ``on_choices``: the lane offers the
    code on the choices screen already (a lane setting)."""
    offering = lane.phase is Phase.identifying and lane.method is Method.mobile and \
        lane.lookup_id is None
    if not offering and not (on_choices and lane.phase is Phase.choosing):
        raise NotAllowed(f"no phone code is shown while the lane is {lane.phase.value}")
    current = lane.mobile
    if current is not None and current.live(now + RENEW_MARGIN_S) and \
            current.sale_id == lane.sale_id:
        return lane, []
    return _next(lane, mobile=mobile.model_copy(update={"sale_id": lane.sale_id})), []


def mobile_submit(lane: Lane, *, token_hash: str, receipt_hash: str, candidate: Candidate,
                  keys: tuple[MatchKey, ...], lookup_id: str,
                  consents: tuple[ConsentChoice, ...], wants_member: bool, now: float) -> Step:
    """A phone sent the shopper's details with the code ``token_hash``: look them up.

    The code is used up at once (a second phone is refused); the same form sent again (a double
    tap, a retry) has the same receipt and changes nothing."""
    if lane.phone is not None and lane.phone.token_hash == token_hash:
        if lane.phone.receipt_hash == receipt_hash:
            return lane, []
        raise MobileRefused(MobileProblem.used)
    link = lane.mobile
    if link is None or link.token_hash != token_hash or link.sale_id != lane.sale_id:
        raise MobileRefused(MobileProblem.replaced)
    if not link.live(now):
        raise MobileRefused(MobileProblem.expired)
    if lane.lookup_id is not None or lane.phase not in (Phase.choosing, Phase.identifying):
        raise MobileRefused(MobileProblem.replaced)
    session = PhoneSession(token_hash=token_hash, receipt_hash=receipt_hash, consents=consents,
                           wants_member=wants_member)
    nxt = _next(lane, phase=Phase.identifying, method=Method.mobile, candidate=candidate,
                lookup_id=lookup_id, lookup_keys=keys, notice=None, mobile=None, phone=session)
    return nxt, [Lookup(lookup_id, keys, candidate)]


def consents_recorded(lane: Lane, token_hash: str) -> Step:
    p = lane.phone
    if p is None or p.token_hash != token_hash or p.consents_recorded:
        return lane, []
    return _next(lane, phone=p.model_copy(update={"consents_recorded": True})), []


def present(lane: Lane, candidate: Candidate, keys: tuple[MatchKey, ...], lookup_id: str,
            now: float = 0.0, *, ange_id_limit: int = ANGE_ID_LIMIT) -> Step:
    """The shopper presented something that parsed; look it up.

    Ange ID pauses after ``ange_id_limit`` look-ups in a minute on this lane, found or not: a
    masked personnummer leaves a thousand candidates and customer numbers can be typed one
    after the other, and each answer says whether the number is someone's.  During the pause
    the screen says how long to wait (or to ask the cashier), nothing is looked up, and every
    refused try is audited; so is every look-up made.  Typos that are no valid number never
    get here (:func:`present_rejected`), so they cost nothing."""
    _require_presentable(lane, candidate.source)
    if lane.lookup_id is not None:
        raise NotAllowed("a lookup is already running")
    changes: dict[str, object] = {}
    effects: list[Effect] = []
    if candidate.source is Method.numpad:
        recent = tuple(t for t in lane.ange_id_tries if t > now - ANGE_ID_WINDOW_S)
        wait = wait_s(recent, now, limit=ange_id_limit, window_s=ANGE_ID_WINDOW_S)
        if wait:
            nxt = _next(lane, phase=Phase.identifying, method=Method.numpad, candidate=None,
                        notice=Notice.too_many_tries, ange_id_tries=recent,
                        ange_id_paused_until=now + wait)
            return nxt, [AuditLookup(refused=True,
                                     fingerprint=candidate.personal_id_fingerprint)]
        changes = {"ange_id_tries": (*recent, now), "ange_id_paused_until": None}
        effects.append(AuditLookup(refused=False, fingerprint=candidate.personal_id_fingerprint))
    nxt = _next(lane, phase=Phase.identifying, method=candidate.source, candidate=candidate,
                lookup_id=lookup_id, lookup_keys=keys, notice=None, **changes)
    return nxt, [Lookup(lookup_id, keys, candidate), *effects]


def present_rejected(lane: Lane, source: Method, notice: Notice) -> Step:
    """The shopper presented something that is no valid identifier; tell them why."""
    _require_presentable(lane, source)
    if lane.lookup_id is not None:
        raise NotAllowed("a lookup is already running")
    return _next(lane, phase=Phase.identifying, method=source, candidate=None, notice=notice), []


def _require_presentable(lane: Lane, source: Method) -> None:
    # A card held up to the camera is read whenever the shopper may act: they need not first
    # press "Skanna ID" (the camera is always on during a sale).
    if source is Method.scan:
        _require(lane, Phase.choosing, Phase.identifying, Phase.not_found)
    else:
        _require(lane, Phase.identifying)


def lookup_done(lane: Lane, lookup_id: str, found: Found | None,
                duplicates: tuple[CustomerCard, ...] = (), prompt_id: str | None = None
                ) -> Step:
    """The registry answered; ``duplicates`` are near misses for the cashier's prompt.  A phone
    that already said "make me a member" goes straight to the cashier (``prompt_id``), and so
    does one whose details do not match the customer it named."""
    if lane.lookup_id != lookup_id:
        return lane, []  # the shopper or cashier moved on meanwhile
    assert lane.candidate is not None
    if found is not None and found.agrees:
        return _connect(lane, found.customer, PhoneLink.matched, lookup_id=None)
    if found is not None:
        if prompt_id is None:
            raise NotAllowed("a details mismatch goes to the cashier: it needs a prompt id")
        return _details_mismatch(lane, found.customer, prompt_id)
    if lane.candidate.can_become_member:
        asked = _next(lane, phase=Phase.ask_member, lookup_id=None, duplicates=duplicates)
        if lane.phone is not None and lane.phone.wants_member and prompt_id is not None:
            return member_answer(asked, True, prompt_id)
        return asked, []
    notice = Notice.of(lane.candidate.rejection) if lane.candidate.rejection else \
        Notice.not_found
    return _next(lane, phase=Phase.not_found, lookup_id=None, notice=notice), []


def lookup_failed(lane: Lane, lookup_id: str) -> Step:
    """The registry could not answer (database down): let the shopper try again."""
    if lane.lookup_id != lookup_id:
        return lane, []
    return _next(lane, lookup_id=None, lookup_keys=(), notice=Notice.unavailable), []


def _details_mismatch(lane: Lane, on_file: CustomerCard, prompt_id: str) -> Step:
    """The shopper named a customer (by personnummer or phone) but the rest does not match: the
    cashier checks their ID.  Nothing of the customer's reaches the kiosk or the phone, whose
    page looks exactly as for a shopper waiting to become a member."""
    nxt = _next(lane, phase=Phase.await_cashier, lookup_id=None, prompt_id=prompt_id,
                prompt_kind=PromptKind.details_mismatch, duplicates=(on_file,))
    return nxt, [ToRegister(MemberPromptEvent(lane=lane.name, seq=nxt.seq, sale_id=lane.sale_id,
                                              prompt=member_prompt(nxt)))]


def member_answer(lane: Lane, accept: bool, prompt_id: str) -> Step:
    _require(lane, Phase.ask_member)
    if not accept:
        return _choosing(lane, PhoneOutcome.member_declined).model_copy(
            update={"notice": Notice.member_declined}), []
    assert lane.candidate is not None
    nxt = _next(lane, phase=Phase.await_cashier, prompt_id=prompt_id,
                prompt_kind=PromptKind.new_member)
    return nxt, [ToRegister(MemberPromptEvent(lane=lane.name, seq=nxt.seq, sale_id=lane.sale_id,
                                              prompt=member_prompt(nxt)))]


def cancel(lane: Lane) -> Step:
    _require(lane, Phase.identifying, Phase.not_found, Phase.ask_member, Phase.await_cashier)
    if lane.creating is not None:
        raise NotAllowed("the cashier is already creating the customer")
    return _back_to_choices(lane, reason="shopper_cancelled")


def screen_timeout(lane: Lane, seen_seq: int) -> Step:
    """The kiosk saw no touch on the screen of ``seen_seq`` for its timeout."""
    if seen_seq != lane.seq:
        return lane, []  # the screen changed since; the timer was stale
    if lane.phase in TIMED_PHASES:
        return _back_to_choices(lane, reason="timeout")
    return lane, []


# --- results of effects -----------------------------------------------------------------------


def customer_created(lane: Lane, prompt_id: str, customer: CustomerCard, *,
                     made_here: bool = True) -> Step:
    """The confirmed member exists.  ``made_here`` false: not from this prompt's details but
    someone who registered the same personnummer meanwhile; they are connected, but a phone
    is told nothing of them."""
    if lane.prompt_id != prompt_id or lane.phase is not Phase.await_cashier:
        return lane, []
    link = PhoneLink.new_member if made_here else PhoneLink.by_cashier
    return _connect(lane, customer, link, creating=None, duplicates=())


def create_failed(lane: Lane, prompt_id: str, notice: Notice) -> Step:
    if lane.prompt_id != prompt_id or lane.phase is not Phase.await_cashier:
        return lane, []
    return _next(lane, creating=None, notice=notice), []


def is_pending(lane: Lane) -> bool:
    """An effect is in flight: someone must carry it out (and take over if its driver dies)."""
    return bool(pending_effects(lane))


def pending_effects(lane: Lane) -> list[Effect]:
    """Effects that were in flight when the lane was last saved (the bridge stopped)."""
    if lane.lookup_id is not None:
        return [Lookup(lane.lookup_id, lane.lookup_keys, lane.candidate)]
    if lane.phase is Phase.await_cashier and lane.creating is not None and lane.prompt_id:
        assert lane.candidate is not None
        return [CreateCustomer(lane.prompt_id, lane.candidate, lane.creating)]
    return _consent_effects(lane)


# --- views ------------------------------------------------------------------------------------


def member_prompt(lane: Lane) -> MemberPrompt:
    c = lane.candidate
    assert c is not None and lane.prompt_id is not None
    return MemberPrompt(prompt_id=lane.prompt_id, kind=lane.prompt_kind,
                        personal_id_masked=c.personal_id_masked,
                        birth_date=c.birth_date, phone=c.phone, first_name=c.first_name,
                        last_name=c.last_name, email=c.email, address=c.address,
                        document=c.document, document_number=c.document_number,
                        document_expired=c.document_expired, source=c.source.value,
                        possible_duplicates=lane.duplicates)


def kiosk_state(lane: Lane, now: float | None = None) -> KioskState:
    """What the customer screen is sent.  The phone code's URL is a placeholder naming the
    nonce: each bridge process puts the real address in as it sends the state to its kiosk
    (:func:`mobile_placeholder`), so no live code is ever written to the database."""
    connected = lane.phase is Phase.connected and lane.customer is not None
    first_name = lane.customer.first_name if connected and lane.customer else None
    masked = lane.candidate.masked if lane.candidate else None
    busy = lane.lookup_id is not None or lane.creating is not None
    notice = lane.notice
    if lane.phase is Phase.await_cashier and lane.prompt_kind is PromptKind.details_mismatch:
        notice = Notice.ask_cashier  # and no more: the shopper may not be who they said
    # The QR screen does not time out: the shopper is busy on their phone, not on the screen.
    showing_code = lane.phase is Phase.identifying and lane.method is Method.mobile
    link = lane.mobile
    paused = lane.ange_id_paused_until
    view = KioskView(method=lane.method, first_name=first_name, masked_id=masked,
                     notice=notice, busy=busy,
                     retry_in_s=max(1, math.ceil(paused - now))
                     if notice is Notice.too_many_tries and paused and now is not None
                     else None,
                     times_out=lane.phase in TIMED_PHASES and not showing_code,
                     mobile_url=mobile_placeholder(link) if link else None,
                     mobile_expires_in_s=max(0, round(link.expires_at - now))
                     if link and now is not None else None,
                     mobile_submitted=lane.phone is not None and lane.phone.outcome is None)
    return KioskState(lane=lane.name, phase=lane.phase, seq=lane.seq, view=view)


def mobile_placeholder(link: MobileLink) -> str:
    return f"{MOBILE_URL_PLACEHOLDER}{link.key_id}:{link.nonce}"


def register_state(lane: Lane) -> RegisterState:
    prompt = member_prompt(lane) if lane.phase is Phase.await_cashier else None
    view = RegisterView(sale_id=lane.sale_id, method=lane.method, customer=lane.customer,
                        prompt=prompt, notice=lane.notice if prompt else None)
    return RegisterState(lane=lane.name, phase=lane.phase, seq=lane.seq, view=view)
