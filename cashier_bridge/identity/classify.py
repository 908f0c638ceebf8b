"""Ordered classification of what a shopper typed or presented.

An input can be several kinds at once (ten digits are a personnummer, a card number and maybe a
phone number).  ``classify`` never guesses: it returns every reading that parses, in the order the
registry should try them, plus the reasons the other readings were rejected, so that a shopper
who mistyped their personnummer is told so instead of "not found".

The stated order: personal identity number (personnummer, then samordningsnummer -- one input
is never both), phone number, e-mail (documents only), the shop's customer code.  A scanned
document (vCard, MECARD, BIZCARD, AAMVA licence, passport/ID MRZ) is parsed whole into
``Classification.document``; its personal id, phones and e-mail become readings in that order.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from cashier_bridge.identity import aamva, customer_code, mecard, mrz, personnummer, phone, vcard
from cashier_bridge.identity.clean import payload
from cashier_bridge.identity.document import ParsedDocument
from cashier_bridge.identity.errors import IdentityError, InvalidLength, NoIdentity

Kind = Literal["personnummer", "samordningsnummer", "phone", "email", "customer_code"]
Source = Literal["numpad", "scan", "mobile"]

MAX_INPUT_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class Reading:
    kind: Kind
    value: str  # normalised: 12-digit personal id, E.164 phone, lower-case e-mail, or card code
    masked: str  # safe for the customer screen
    birth_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Classification:
    raw_length: int
    readings: tuple[Reading, ...] = ()
    rejected: tuple[IdentityError, ...] = field(default=())
    document: ParsedDocument | None = None

    @property
    def personal_id(self) -> Reading | None:
        return next((r for r in self.readings if r.kind in ("personnummer", "samordningsnummer")),
                    None)

    @property
    def phone(self) -> Reading | None:
        return next((r for r in self.readings if r.kind == "phone"), None)

    @property
    def email(self) -> Reading | None:
        return next((r for r in self.readings if r.kind == "email"), None)

    @property
    def can_become_member(self) -> bool:
        """A new member needs something that identifies a person, not just a card number."""
        if self.document is not None:
            return self.document.has_name and self.document.identifies
        return self.personal_id is not None or self.phone is not None

    def best_rejection(self) -> IdentityError | None:
        """The rejection worth telling the shopper, when nothing identified them."""
        return self.rejected[0] if self.rejected else None


_PNR_SHAPED = re.compile(r"^(\d{6}|\d{8})[-+]?[\dA-Z]\d{3}$", re.ASCII)
_DIGITS = re.compile(r"\D", re.ASCII)


def detect_document(raw: str) -> Callable[..., ParsedDocument] | None:
    r"""The parser for a scanned document payload, or None if it is none of them.

    >>> detect_document("\x00MECARD:N:Owen,Sean;;") is mecard.parse
    True
    >>> detect_document("198503121249") is None
    True
    """
    if vcard.looks_like(raw):
        return vcard.parse
    if mecard.looks_like(raw):
        return mecard.parse
    if aamva.looks_like(raw):
        return aamva.parse
    if mrz.looks_like(raw):
        return mrz.parse
    return None


def parse_document(raw: str, *, region: str = "SE", today: dt.date | None = None
                   ) -> ParsedDocument | None:
    """The scanned document ``raw`` holds, or None if it is not a document at all.

    >>> parse_document("BIZCARD:N:Sean;X:Owen;M:+12125551212;;").kind
    'bizcard'
    """
    parser = detect_document(raw)
    if parser is None:
        return None
    if parser in (vcard.parse, mecard.parse):
        return parser(raw, region=region)
    return parser(raw, today=today)


def classify(
    raw: str,
    source: Source = "numpad",
    *,
    region: str = "SE",
    card_format: customer_code.CardFormat = customer_code.ANY,
    today: dt.date | None = None,
) -> Classification:
    r"""Every reading of ``raw`` in the order the registry tries them, and why others failed.

    >>> result = classify(" 850312-1249\r\n", today=dt.date(2025, 6, 1))
    >>> [(r.kind, r.value) for r in result.readings]
    [('personnummer', '198503121249'), ('customer_code', '850312-1249')]
    >>> result.can_become_member
    True

    A scanned card without a name cannot make a member; the shopper is told why:

    >>> result = classify("MECARD:TEL:070-123 45 67;;", "scan")
    >>> [r.kind for r in result.readings], result.can_become_member
    (['phone'], False)
    >>> result.best_rejection().code
    'no_identity'
    """
    if len(raw) > MAX_INPUT_CHARS:
        err = InvalidLength("the input is far too long to be an identifier")
        return Classification(len(raw), rejected=(err,))
    if source != "numpad":
        try:
            document = parse_document(raw, region=region, today=today)
        except IdentityError as err:
            return Classification(len(raw), rejected=(err,))
        if document is not None:
            result = Classification(len(raw), _document_readings(document, today),
                                    document=document)
            if result.can_become_member:
                return result
            # Its phone or e-mail may still find a customer; if not, the shopper hears why no
            # member can be made from it rather than a bare "not found".
            what = ("nothing to register by besides the name" if document.has_name
                    else "no name")
            missing = NoIdentity(f"this {document.kind} carries {what}", kind=document.kind)
            return Classification(len(raw), result.readings, (missing,), document)

    try:
        text = payload(raw)
    except IdentityError as err:
        return Classification(len(raw), rejected=(err,))
    compact = "".join(text.split())
    readings: list[Reading] = []
    rejected: list[IdentityError] = []

    if _PNR_SHAPED.match(compact.upper()):
        try:
            pid = personnummer.parse(text, today=today)
        except IdentityError as err:
            rejected.append(err)
        else:
            readings.append(Reading(pid.kind, pid.number, pid.masked, pid.birth_date))

    if compact.startswith(("+", "0")) and len(_DIGITS.sub("", compact)) >= 7:
        try:
            e164 = phone.validate(text, region)
        except IdentityError as err:
            if not readings and not rejected:
                rejected.append(err)
        else:
            readings.append(Reading("phone", e164, phone.mask(e164)))

    try:
        code = customer_code.validate(text, card_format)
    except IdentityError as err:
        if not readings and not rejected:
            rejected.append(err)
    else:
        readings.append(Reading("customer_code", code, _mask_code(code)))
        # A card printed as an in-store EAN-13 carries the shop's own number inside it; the
        # whole 13 digits are tried first, in case the shop keeps them as the code.
        inner = customer_code.in_store_number(code)
        if inner is not None:
            readings.append(Reading("customer_code", inner, _mask_code(inner)))

    return Classification(len(text), tuple(readings), tuple(rejected))


def _document_readings(doc: ParsedDocument, today: dt.date | None) -> tuple[Reading, ...]:
    readings: list[Reading] = []
    if doc.personal_id:
        pid = personnummer.parse(doc.personal_id, today=today)
        readings.append(Reading(pid.kind, pid.number, pid.masked, pid.birth_date))
    readings.extend(Reading("phone", p, phone.mask(p)) for p in doc.phones)
    readings.extend(Reading("email", e.lower(), mask_email(e)) for e in doc.emails)
    return tuple(readings)


def mask_email(email: str) -> str:
    """What the customer screen may show of an e-mail address.

    >>> mask_email("anna.andersson@example.org")
    'a***@example.org'
    """
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _mask_code(code: str) -> str:
    return code if len(code) <= 4 else "*" * (len(code) - 4) + code[-4:]
