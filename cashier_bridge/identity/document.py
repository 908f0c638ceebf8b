"""What a scanned document (contact card, driver's licence, passport MRZ) says about its holder.

Every document parser returns this one shape, so classify, the registry and ``parse`` on the
command line treat a vCard and a passport alike.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
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
        values = [v for v in _TEXT_VALUES(self) if v is not None]
        values += self.emails
        values += self.extra.values()
        if not _all_tidy(values):  # rare: one check of all values keeps construction cheap
            for name, value in zip(_TEXT_FIELDS, _TEXT_VALUES(self), strict=True):
                if value is not None:
                    object.__setattr__(self, name, _field(value))
            object.__setattr__(self, "emails", tuple(e for e in map(_field, self.emails) if e))
            object.__setattr__(self, "extra", {k: _field(v) or "" for k, v in self.extra.items()})
        for name, value in zip(_NAME_FIELDS, _NAME_VALUES(self), strict=True):
            if value and not value.isalpha() and _LETTER.search(value) is None:
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
# Joins the values for _all_tidy; printable, so a probe of tidy values is printable too.
_JOIN = "\u00a6"
_SPACE_JOIN, _JOIN_SPACE, _EDGES = " " + _JOIN, _JOIN + " ", (" ", _JOIN)


def _all_tidy(values: list[str]) -> bool:
    """Whether no value needs clean.field: every one printable, non-empty, single-spaced and
    trimmed.  Checked on all values joined, as that is one pass in C instead of one per value;
    a value containing the joiner itself can only make this answer False, never wrongly True."""
    probe = _JOIN.join(values)
    return (all(values) and probe.isprintable() and "  " not in probe
            and _SPACE_JOIN not in probe and _JOIN_SPACE not in probe
            and not probe.startswith(_EDGES) and not probe.endswith(_EDGES))


def join_nonempty(parts: list[str | None] | tuple[str | None, ...], sep: str = " ") -> str | None:
    """The non-blank parts, stripped, joined by ``sep``; None when there are none.

    >>> join_nonempty(["17 FIRST STREET", None, " ", "STAUNTON "], ", ")
    '17 FIRST STREET, STAUNTON'
    """
    text = sep.join(p.strip() for p in parts if p and p.strip())
    return text or None
