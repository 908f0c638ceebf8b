"""What a scanned document (contact card, driver's licence, passport MRZ) says about its holder.

Every document parser returns this one shape, so classify, the registry and ``parse`` on the
command line treat a vCard and a passport alike.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Literal

from cashier_bridge.identity.clean import field as _field
from cashier_bridge.identity.clean import is_tidy as _is_tidy
from cashier_bridge.identity.errors import InvalidLength

DocumentKind = Literal["vcard", "mecard", "bizcard", "aamva", "mrz"]

# The longest value each field may have, whatever the document: never more than the customer
# field it ends up in (names 100, e-mail 254, street 200), and no more than any of the formats
# allows (a document number: AAMVA 25, an MRZ's at most 24 with its overflow; an MRZ's
# optional data 26; nationality 3).  Each parser also holds its own format's tighter limits.
MAX_CHARS = {"first_name": 100, "middle_name": 100, "last_name": 100, "phone": 16,
             "email": 254, "personal_id": 12, "personal_number": 26, "document_number": 25,
             "address": 200, "nationality": 3}
MAX_EXTRA_CHARS = 64
# More than this many phone numbers or e-mail addresses on one card is not a person's card.
MAX_ALTERNATIVES = 10
_LABELS = {"first_name": "first name", "middle_name": "middle name", "last_name": "last name",
           "personal_id": "personal identity number", "personal_number": "personal number",
           "document_number": "document number", "email": "e-mail address",
           "phone": "phone number"}


def too_long(what: str, length: int, limit: int, kind: str) -> InvalidLength:
    """The error for a value past its limit, naming the field (never echoing the value)."""
    return InvalidLength(f"the {what} on this {kind} has {length} characters; at most {limit} "
                         "are accepted", kind=kind)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    kind: DocumentKind
    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    birth_date: dt.date | None = None
    phone: str | None = None  # E.164, the preferred number
    phones: tuple[str, ...] = ()  # E.164, every valid number, preferred first
    email: str | None = None
    emails: tuple[str, ...] = ()
    personal_id: str | None = None  # 12-digit Swedish personnummer/samordningsnummer
    personal_number: str | None = None  # as printed, when the document carries one
    document_number: str | None = None
    expiry_date: dt.date | None = None
    expired: bool | None = None
    address: str | None = None
    nationality: str | None = None
    extra: dict[str, str] = field(default_factory=dict)  # kind-specific facts worth showing

    def __post_init__(self) -> None:
        # The one place every parser's text passes through: whatever a reader left inside a
        # value (line breaks, tabs, runs of padding spaces) never reaches the register.  One
        # check of all values at once keeps this cheap when, as nearly always, all are tidy.
        texts = _TEXT_VALUES(self)
        # Joined by spaces, the values are tidy together exactly when each is and none is
        # empty (an empty one leaves two spaces or one at an end).
        probe = " ".join(chain(filter(None, texts), self.emails, self.extra.values()))
        if "" in texts or "" in self.emails or not _is_tidy(probe):
            for name, value in zip(_TEXT_FIELDS, texts, strict=True):
                if value is not None and (tidy := _field(value)) is not value:
                    object.__setattr__(self, name, tidy)
            if self.emails:
                emails = tuple(e for e in map(_field, self.emails) if e)
                object.__setattr__(self, "emails", emails)
            if self.extra:
                extra = {k: _field(v) or "" for k, v in self.extra.items()}
                object.__setattr__(self, "extra", extra)
        self._check_lengths()
        names = _NAME_VALUES(self)
        if not "".join(filter(None, names)).isalpha():  # else all plain words: nothing to do
            for name, value in zip(_NAME_FIELDS, names, strict=True):
                if value and _LETTER.search(value) is None:
                    # "-", "." or a stray separator where a reader lost the name: no name.
                    object.__setattr__(self, name, None)

    def _check_lengths(self) -> None:
        kind = self.kind
        for name, value in zip(_TEXT_FIELDS, _TEXT_VALUES(self), strict=True):
            if value is not None and len(value) > MAX_CHARS[name]:
                raise too_long(_LABELS.get(name, name.replace("_", " ")), len(value),
                               MAX_CHARS[name], kind)
        for what, many, values, limit in (
                ("phone number", "phone numbers", self.phones, MAX_CHARS["phone"]),
                ("e-mail address", "e-mail addresses", self.emails, MAX_CHARS["email"])):
            if len(values) > MAX_ALTERNATIVES:
                raise InvalidLength(f"this {kind} carries {len(values)} {many}; at most "
                                    f"{MAX_ALTERNATIVES} are accepted", kind=kind)
            for value in values:
                if len(value) > limit:
                    raise too_long(what, len(value), limit, kind)
        for key, value in self.extra.items():
            if len(value) > MAX_EXTRA_CHARS:
                raise too_long(key.replace("_", " "), len(value), MAX_EXTRA_CHARS, kind)

    @property
    def has_name(self) -> bool:
        """A first or last name; one without a letter in it (``-``, ``|``) is none.

        >>> ParsedDocument("mecard", first_name="Anna").has_name
        True
        >>> doc = ParsedDocument("aamva", last_name=" - ", document_number="T16700185")
        >>> doc.has_name, doc.last_name
        (False, None)
        """
        return bool(self.first_name or self.last_name)

    @property
    def identifies(self) -> bool:
        """Carries something a person can be found or registered by, besides a name."""
        return bool(self.phone or self.email or self.personal_id or self.document_number)

    def fields(self) -> dict[str, Any]:
        """The JSON-ready fields of ``selfreg-bridge parse``; unknown ones are left out.

        >>> ParsedDocument("mecard", first_name="Anna", last_name="Andersson",
        ...                birth_date=dt.date(1985, 3, 12)).fields()
        {'first_name': 'Anna', 'last_name': 'Andersson', 'birth_date': '1985-03-12'}
        """
        out: dict[str, Any] = {}
        for key in ("first_name", "middle_name", "last_name"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.birth_date:
            out["birth_date"] = self.birth_date.isoformat()
        if self.phone:
            out["phone"] = self.phone
        if len(self.phones) > 1:
            out["phones"] = list(self.phones)
        if self.email:
            out["email"] = self.email
        if len(self.emails) > 1:
            out["emails"] = list(self.emails)
        if self.personal_id:
            out["personal_id"] = self.personal_id
        if self.personal_number:
            out["personal_number"] = self.personal_number
        if self.document_number:
            out["document_number"] = self.document_number
        if self.expiry_date:
            out["expiry_date"] = self.expiry_date.isoformat()
        if self.expired is not None:
            out["expired"] = self.expired
        if self.address:
            out["address"] = self.address
        if self.nationality:
            out["nationality"] = self.nationality
        out.update(self.extra)
        return out


_TEXT_FIELDS = ("first_name", "last_name", "middle_name", "phone", "email", "personal_id",
                "personal_number", "document_number", "address", "nationality")
_NAME_FIELDS = ("first_name", "middle_name", "last_name")
_TEXT_VALUES = operator.attrgetter(*_TEXT_FIELDS)
_NAME_VALUES = operator.attrgetter(*_NAME_FIELDS)
_LETTER = re.compile(r"[^\W\d_]")  # a letter of any script
def join_nonempty(parts: list[str | None] | tuple[str | None, ...], sep: str = " ") -> str | None:
    """The non-blank parts, stripped, joined by ``sep``; None when there are none.

    >>> join_nonempty(["17 FIRST STREET", None, " ", "STAUNTON "], ", ")
    '17 FIRST STREET, STAUNTON'
    """
    text = sep.join(p.strip() for p in parts if p and p.strip())
    return text or None
