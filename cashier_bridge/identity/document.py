"""What a scanned document (contact card, driver's licence, passport MRZ) says about its holder.

Every document parser returns this one shape, so classify, the registry and ``parse`` on the
command line treat a vCard and a passport alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from .clean import field as _field

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
        # value (line breaks, tabs, runs of padding spaces) never reaches the register.
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _field(value))
        for name in ("first_name", "middle_name", "last_name"):
            value = getattr(self, name)
            if value is not None and not any(c.isalpha() for c in value):
                # "-", "." or a stray separator where a reader lost the name: no name at all.
                object.__setattr__(self, name, None)
        object.__setattr__(self, "emails", tuple(e for e in map(_field, self.emails) if e))
        object.__setattr__(self, "extra", {k: _field(v) or "" for k, v in self.extra.items()})

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


def join_nonempty(parts: list[str | None] | tuple[str | None, ...], sep: str = " ") -> str | None:
    """The non-blank parts, stripped, joined by ``sep``; None when there are none.

    >>> join_nonempty(["17 FIRST STREET", None, " ", "STAUNTON "], ", ")
    '17 FIRST STREET, STAUNTON'
    """
    text = sep.join(p.strip() for p in parts if p and p.strip())
    return text or None
