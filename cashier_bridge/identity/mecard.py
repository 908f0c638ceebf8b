"""MECARD (``MECARD:N:Last,First;TEL:...;;``) and BIZCARD contact QR codes.

Both are ``KEY:value;`` lists; MECARD escapes ``\\``, ``;``, ``:`` and ``,`` with a backslash.
"""

from __future__ import annotations

import datetime as dt

from cashier_bridge.identity import phone as phone_parser
from cashier_bridge.identity.clean import lead, payload
from cashier_bridge.identity.document import ParsedDocument, join_nonempty
from cashier_bridge.identity.errors import InvalidFormat, NoIdentity

_MECARD = "MECARD:"
_BIZCARD = "BIZCARD:"


def looks_like(raw: str) -> bool:
    r"""Whether ``raw`` starts like a MECARD or BIZCARD (after any BOM, NULs or blank lines).

    >>> looks_like("\ufeffMECARD:N:Owen,Sean;;"), looks_like("BEGIN:VCARD")
    (True, False)
    """
    head = lead(raw, 8).upper()
    return head.startswith((_MECARD, _BIZCARD))


def _split(text: str, sep: str) -> list[str]:
    """``text`` cut at unescaped ``sep``; escapes are kept for the caller to resolve."""
    out: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            current.append(char + next(chars, ""))
        elif char == sep:
            out.append("".join(current))
            current = []
        else:
            current.append(char)
    out.append("".join(current))
    return out


def _unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


def _fields(body: str) -> list[tuple[str, str]]:
    """``KEY:value`` pairs (value still escaped)."""
    return [p for p in (_pair(item) for item in _split(body, ";")) if p[0]]


def _pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition(":")
    return (key.strip().upper(), value.strip()) if sep else ("", "")


def escape(value: str) -> str:
    return "".join("\\" + c if c in '\\;:,"' else c for c in value)


def format(first_name: str, last_name: str, *, phone: str | None = None,
           email: str | None = None) -> str:
    r"""A MECARD for a person, special characters escaped; ``parse`` reads it back.

    >>> print(format("Seán", "O,Brien", phone="+46701234567"))
    MECARD:N:O\,Brien,Seán;TEL:+46701234567;;
    """
    parts = [f"N:{escape(last_name)},{escape(first_name)}"]
    if phone:
        parts.append(f"TEL:{escape(phone)}")
    if email:
        parts.append(f"EMAIL:{escape(email)}")
    return "MECARD:" + ";".join(parts) + ";;"


def _split_name_mecard(value: str) -> tuple[str | None, str | None]:
    # "Last,First" per the spec; "First Last" in the wild (no comma).
    parts = _split(value, ",")
    if len(parts) > 1:
        last, first = _unescape(parts[0]), _unescape(",".join(parts[1:]))
        return join_nonempty([first]), join_nonempty([last])
    words = _unescape(value).split()
    if len(words) < 2:
        return None, join_nonempty(words)
    return " ".join(words[:-1]), words[-1]


def _birthday(value: str | None) -> dt.date | None:
    digits = (value or "").replace("-", "")
    if len(digits) == 8 and digits.isdigit():
        try:
            return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            return None
    return None


def parse(raw: str, *, region: str = "SE") -> ParsedDocument:
    r"""The person a MECARD or BIZCARD describes; line breaks between fields are allowed.

    >>> doc = parse("\ufeffMECARD:N:Owen,Sean;\r\nTEL:070-123 45 67;\r\n"
    ...             "EMAIL:sean@example.org;;\r\n\x00\x00")
    >>> (doc.first_name, doc.last_name, doc.phone, doc.email)
    ('Sean', 'Owen', '+46701234567', 'sean@example.org')

    A code with nothing to identify a person by is refused:

    >>> parse("MECARD:URL:example.org;;")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    NoIdentity: this MECARD carries no name, phone or e-mail
    """
    # No control character is structure in a MECARD: line breaks read as spaces.
    text = payload(raw, "mecard")
    upper = text[:8].upper()
    if upper.startswith(_MECARD):
        kind, body = "mecard", text[len(_MECARD):]
    elif upper.startswith(_BIZCARD):
        kind, body = "bizcard", text[len(_BIZCARD):]
    else:
        raise InvalidFormat("a MECARD starts with MECARD: and a BIZCARD with BIZCARD:",
                            kind="mecard")
    pairs = _fields(body)
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        if value:
            values.setdefault(key, []).append(value)

    def first(key: str) -> str | None:
        found = values.get(key)
        return _unescape(found[0]) if found else None

    def every(key: str) -> list[str]:
        return [_unescape(v) for v in values.get(key, [])]

    if kind == "mecard":
        first_name, last_name = _split_name_mecard(values.get("N", [""])[0])
        phones = phone_parser.validate_all(every("TEL"), region)
        emails = tuple(every("EMAIL"))
        address = first("ADR")
        birth = _birthday(first("BDAY"))
    else:
        first_name, last_name = first("N"), first("X")
        # BIZCARD: B = business phone, M = mobile; a mobile is the better key for a person.
        phones = phone_parser.validate_all(every("M") + every("B"), region)
        emails = tuple(every("E"))
        address = first("A")
        birth = None
    doc = ParsedDocument(
        kind=kind,
        first_name=first_name,
        last_name=last_name,
        birth_date=birth,
        phone=phones[0] if phones else None,
        phones=phones,
        email=emails[0] if emails else None,
        emails=emails,
        address=address,
    )
    if not (doc.has_name or doc.identifies):
        raise NoIdentity(f"this {kind.upper()} carries no name, phone or e-mail", kind=kind)
    return doc
