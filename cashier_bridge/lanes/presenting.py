"""What a presented input means for a lane: pure rules beside the lane state machine.

Which readings of a typed or scanned input, or of a phone's Via mobil form, become match keys,
what a candidate may keep (a fingerprint and masked forms, never the raw personal ID; one
builder, :func:`candidate_of`, for every way in), whether a customer found is the shopper
(:func:`agrees`), which near misses the duplicate guard looks for, and what a confirmed member is
created with.  No I/O: the personal-ID fingerprint (keyed with the personnummer key, kept outside
the database) is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cashier_bridge.identity import Classification, Reading, personnummer
from cashier_bridge.identity import phone as phone_id
from cashier_bridge.identity.classify import classify
from cashier_bridge.identity.customer_code import ANY, CardFormat
from cashier_bridge.lanes import lane as machine
from cashier_bridge.lanes.lane import Candidate, Lane, MatchKey
from cashier_bridge.lanes.mobile_tokens import token_hash
from cashier_bridge.protocol import CustomerCard, MemberDetails, Method, Notice, PhoneSubmit
from cashier_bridge.registry.duplicates import DuplicateProbe
from cashier_bridge.registry.fields import name as clean_name
from cashier_bridge.registry.fields import search_key
from cashier_bridge.registry.records import NewCustomer

Fingerprint = Callable[[str], str]


def present(lane: Lane, raw: str, source: Method, *, lookup_id: str, fingerprint: Fingerprint,
            region: str = "SE", card_format: CardFormat = ANY, now: float = 0.0,
            ange_id_limit: int = machine.ANGE_ID_LIMIT) -> machine.Step:
    """The shopper presented ``raw``: look it up, or tell them why it is no identifier."""
    result = classify(raw, source.value, region=region, card_format=card_format)
    candidate, keys = candidate_of(result, source, fingerprint)
    # A licence that carries no phone or e-mail is still a member proposal: look up nothing.
    if not keys and not (result.document and result.can_become_member):
        rejection = result.best_rejection()
        notice = Notice.of(rejection.code) if rejection else Notice.unreadable
        return machine.present_rejected(lane, source, notice)
    return machine.present(lane, candidate, keys, lookup_id, now, ange_id_limit=ange_id_limit)


def phone_submit(lane: Lane, submission: PhoneSubmit, *, lookup_id: str,
                 fingerprint: Fingerprint, region: str = "SE", now: float = 0.0
                 ) -> machine.Step:
    """The shopper's phone sent its form: look them up as a typed number is looked up, keeping
    the names typed to check a find against (:func:`agrees`).  The lane machine decides whether
    the code may still be used (:func:`~cashier_bridge.lanes.lane.mobile_submit`)."""
    try:
        candidate, keys = phone_candidate(submission, fingerprint, region)
    except ValueError:  # IdentityError and InvalidCustomer are; the page checks fields first
        raise machine.NotAllowed("the phone's details are not valid: the phone page checks "
                                 "every field before it submits") from None
    return machine.mobile_submit(
        lane, token_hash=token_hash(submission.code), receipt_hash=token_hash(submission.receipt),
        candidate=candidate, keys=keys, lookup_id=lookup_id, consents=submission.consents,
        wants_member=submission.member, now=now)


def phone_candidate(submission: PhoneSubmit, fingerprint: Fingerprint, region: str = "SE"
                    ) -> tuple[Candidate, tuple[MatchKey, ...]]:
    """What the lane may keep of a phone's form, and its match keys: personal ID, then phone.
    Raises ValueError (IdentityError, InvalidCustomer) for a field that is not valid."""
    pid = personnummer.parse(submission.personal_id)
    e164 = phone_id.validate(submission.phone, region)
    readings = (Reading(pid.kind, pid.number, pid.masked, pid.birth_date),
                Reading("phone", e164, phone_id.mask(e164)))
    names = (clean_name(submission.first_name, "first_name"),
             clean_name(submission.last_name, "last_name"))
    return candidate_of(Classification(len(submission.personal_id), readings), Method.mobile,
                        fingerprint, names=names)


def candidate_of(result: Classification, source: Method, fingerprint: Fingerprint, *,
                 names: tuple[str, str] | None = None
                 ) -> tuple[Candidate, tuple[MatchKey, ...]]:
    """The match keys of every reading, in the stated order, and what the lane may keep.
    ``names`` (first, last) are what a phone's shopper typed: a find must agree with them."""
    keys: list[MatchKey] = []
    fields: dict[str, object] = {}
    for reading in result.readings:
        if reading.kind in ("personnummer", "samordningsnummer"):
            fp = fingerprint(reading.value)
            keys.append(MatchKey(kind="personal_id_fingerprint", value=fp, reading=reading.kind))
            fields.setdefault("personal_id_fingerprint", fp)
            fields.setdefault("personal_id_masked", reading.masked)
            if reading.birth_date:
                fields.setdefault("birth_date", reading.birth_date.isoformat())
        elif reading.kind == "phone":
            keys.append(MatchKey(kind="phone", value=reading.value, reading="phone"))
            fields.setdefault("phone", reading.value)
            fields.setdefault("phone_masked", reading.masked)
        elif reading.kind == "email":
            keys.append(MatchKey(kind="email", value=reading.value, reading="email"))
            fields.setdefault("email", reading.value)
        elif reading.kind == "customer_code":
            keys.append(MatchKey(kind="customer_code", value=reading.value,
                                 reading="customer_code"))
            fields.setdefault("customer_code", reading.value)
    document = result.document
    if document is not None:
        fields.update(first_name=document.first_name, last_name=document.last_name,
                      address=document.address, document=document.kind,
                      document_number=document.document_number,
                      document_expired=document.expired)
        if document.birth_date and "birth_date" not in fields:
            fields["birth_date"] = document.birth_date.isoformat()
    if names is not None:
        fields.update(first_name=names[0], last_name=names[1])
    first = result.readings[0].kind if result.readings else "unknown"
    rejection = result.best_rejection()
    candidate = Candidate(source=source, kind=first, can_become_member=result.can_become_member,
                          rejection=rejection.code if rejection else None,
                          **fields)  # type: ignore[arg-type]
    return candidate, tuple(keys)


def contradicts(candidate: Candidate | None, personal_id_fingerprint: str | None) -> bool:
    """A customer found by phone or e-mail who has *another* personal ID on file is someone
    else (a family's shared phone, a recycled number): never connect the shopper to them.

    >>> c = Candidate(source=Method.mobile, kind="personnummer", personal_id_fingerprint="a1")
    >>> contradicts(c, "b2"), contradicts(c, "a1"), contradicts(c, None)
    (True, False, False)
    """
    mine = candidate.personal_id_fingerprint if candidate is not None else None
    return bool(mine and personal_id_fingerprint and mine != personal_id_fingerprint)


def agrees(candidate: Candidate | None, customer: CustomerCard) -> bool:
    """Whether a customer found by what the shopper presented is the shopper.

    A typed number or a card held up to the camera at the till is enough, as it always was.  A
    phone's form is not: a personnummer is no secret in Sweden and a phone number is easily
    known, so the names typed must be the names on file (:func:`same_name`), and the phone
    number typed the one on file when there is one.

    >>> def phone(first, last, number=None):
    ...     return Candidate(source=Method.mobile, kind="personnummer", first_name=first,
    ...                      last_name=last, phone=number)
    >>> anna = CustomerCard(id=1, customer_code="1001", first_name="Åsa",
    ...                     last_name="Östlund", phone="+46701234567", created_via="import")
    >>> agrees(phone("asa", "OSTLUND", "+46701234567"), anna)
    True
    >>> agrees(phone("Eva", "Östlund", "+46701234567"), anna)  # another first name
    False
    >>> agrees(phone("Åsa", "Östlund", "+46709999999"), anna)  # another phone than on file
    False
    >>> agrees(phone("Åsa", "Östlund", "+46709999999"), anna.model_copy(update={"phone": None}))
    True
    >>> agrees(Candidate(source=Method.numpad, kind="personnummer"), anna)
    True
    """
    if candidate is None or candidate.source is not Method.mobile:
        return True
    if not (candidate.first_name and candidate.last_name):
        return False
    return same_name(candidate.first_name, customer.first_name) and \
        same_name(candidate.last_name, customer.last_name) and \
        (customer.phone is None or candidate.phone == customer.phone)


def same_name(typed: str, on_file: str) -> bool:
    """Names compared as the registry's search compares them (case, accents and spacing do not
    count), and a hyphen is a space: phones autocorrect and keyboards lack letters, but the
    name must be the same.

    >>> same_name("asa", "Åsa"), same_name("ÖSTLUND", "östlund"), same_name(" Björn ", "bjorn")
    (True, True, True)
    >>> same_name("anna karin", "Anna-Karin"), same_name("ANNA-KARIN", "Anna-Karin")
    (True, True)
    >>> same_name("Anna", "Anna-Karin"), same_name("Ana", "Anna"), same_name("", "Anna")
    (False, False, False)
    """
    return bool(_name_key(typed)) and _name_key(typed) == _name_key(on_file)


def _name_key(name: str) -> str:
    return " ".join(search_key(name).replace("-", " ").split())


def duplicate_probe(candidate: Candidate) -> DuplicateProbe:
    """What the duplicate guard compares a would-be member with."""
    c = candidate
    return DuplicateProbe(birth_date=_date(c.birth_date), first_name=c.first_name,
                          last_name=c.last_name, phone=c.phone, email=c.email,
                          personal_id_fingerprint=c.personal_id_fingerprint)


def new_customer(candidate: Candidate, details: MemberDetails, region: str) -> NewCustomer:
    """The member the cashier confirmed: their completed details over what was presented."""
    phone = candidate.phone
    if details.phone:
        phone = phone_id.validate(details.phone, region)  # IdentityError is a ValueError
    email = (details.email or candidate.email or None)
    return NewCustomer(
        first_name=details.first_name.strip(),
        last_name=details.last_name.strip(),
        phone=phone,
        email=email.strip().lower() if email else None,
        personal_id_fingerprint=candidate.personal_id_fingerprint,
        personal_id_masked=candidate.personal_id_masked,
        birth_date=_date(candidate.birth_date),
        created_via=candidate.source.value,
        marketing_consent=details.marketing_consent,
        consent_source="register",
    )


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None
