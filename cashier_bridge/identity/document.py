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

from .clean import field as _field
from .clean import is_tidy as _is_tidy

DocumentKind = Literal["vcard", "mecard", "bizcard", "aamva", "mrz"]


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
        names = _NAME_VALUES(self)
        if not "".join(filter(None, names)).isalpha():  # else all plain words: nothing to do
            for name, value in zip(_NAME_FIELDS, names, strict=True):
                if value and _LETTER.search(value) is None:
                    # "-", "." or a stray separator where a reader lost the name: no name.
                    object.__setattr__(self, name, None)

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
