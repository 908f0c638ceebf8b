"""vCard 2.1, 3.0 and 4.0 contact cards, read with vobject.

vobject reads 3.0 well but trips over what 2.1 exporters write: quoted-printable values whose
soft line breaks are not folded, base64 photos whose lines are not folded, charsets other than
UTF-8, and files in UTF-16.  ``_normalise`` rewrites those into plain unfolded 3.0-style lines
first; vobject then does the rest (unfolding, unescaping, structured N and ADR).
"""

from __future__ import annotations

import datetime as dt
import logging
import quopri
import re

import vobject
from vobject.base import VObjectError

from cashier_bridge.identity import phone as phone_parser
from cashier_bridge.identity.clean import lead, payload
from cashier_bridge.identity.document import ParsedDocument, join_nonempty
from cashier_bridge.identity.errors import Incomplete, InvalidFormat, NoIdentity

logging.getLogger("vobject").setLevel(logging.CRITICAL)  # parse errors are reported as ours

_PROPERTY = re.compile(r"^[A-Za-z0-9.-]+(;[^:]*)?:", re.ASCII)
_BINARY = ("BASE64", "ENCODING=B")
# Only these properties are read; dropping the rest (notes, photos, custom X- fields) before
# vobject sees them is most of the speed on big address-book exports.
_KEPT = frozenset({"BEGIN", "END", "VERSION", "N", "FN", "TEL", "EMAIL", "ADR", "BDAY"})
MAX_BYTES = 2_000_000


# Structure kept through clean.payload: CR and LF (the standard's CRLF, or either alone), the
# file, group and record separators some readers put in their place (str.splitlines breaks
# lines at all of these), and the tab that may start a folded line.
_KEEP = "\r\n\x1c\x1d\x1e\t"


def looks_like(raw: str) -> bool:
    r"""Whether ``raw`` starts like a vCard (after any BOM, NULs or blank lines).

    >>> looks_like("\ufeff\x00begin:vcard\r\n")
    True
    """
    return lead(raw, 11).upper() == "BEGIN:VCARD"


def decode(data: bytes) -> str:
    r"""Text of a .vcf file: UTF-16 by BOM (or NULs), else UTF-8, else Windows-1252.

    >>> decode("BEGIN:VCARD\r\nN:Åberg;Märta\r\n".encode("utf-16"))[:20]
    'BEGIN:VCARD\r\nN:Åberg'
    >>> decode(b"\xef\xbb\xbfBEGIN:VCARD\x00\x00")
    'BEGIN:VCARD\x00\x00'
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # A reader's NUL padding can leave an odd byte at the end: replaced, not fatal.
        return data.decode("utf-16", errors="replace")
    # UTF-16 without a BOM has a NUL in every other byte of ASCII text, all on the same side;
    # NUL padding before or after a UTF-8 payload is not on one side only.
    head = data[:200]
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if odd > len(head) // 5 and even * 4 < odd:
        return data.decode("utf-16-le", errors="replace")
    if even > len(head) // 5 and odd * 4 < even:
        return data.decode("utf-16-be", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _params(head: str) -> list[str]:
    return [p.upper() for p in head.split(";")[1:]]


def _decode_qp(value: str, params: list[str]) -> str:
    charset = next((p.split("=", 1)[1] for p in params if p.startswith("CHARSET=")), "UTF-8")
    raw = quopri.decodestring(value.encode("latin-1", errors="replace"))
    try:
        text = raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        text = raw.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\\n").replace("\n", "\\n")


def _normalise(lines: list[str]) -> str:
    logical: list[str] = []
    skipping = False  # inside 2.1 base64 data
    dropping = False  # inside a folded property that is not read
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line[:1] in (" ", "\t"):
            if not skipping and not dropping and logical:
                logical[-1] += line[1:]
            continue
        if skipping:
            # 2.1 base64 data runs until a blank line or the next property.
            if line.strip() and not _PROPERTY.match(line):
                continue
            skipping = False
        if not line.strip():
            continue
        head = line.split(":", 1)[0]
        params = _params(head)
        name = head.split(";", 1)[0].split(".")[-1].upper()
        if any(p in _BINARY or p.endswith("BASE64") for p in params):
            # Folded base64 may go on after a stray blank line: drop it until the next property.
            skipping = dropping = True
            continue
        quoted_printable = any("QUOTED-PRINTABLE" in p for p in params) and ":" in line
        if name not in _KEPT:
            dropping = True
            while quoted_printable and line.endswith("=") and i < len(lines):
                line = lines[i]  # soft line breaks of a dropped value
                i += 1
            continue
        dropping = False
        if quoted_printable:
            while line.endswith("=") and i < len(lines):
                line = line[:-1] + lines[i]
                i += 1
            value = line.split(":", 1)[1]
            kept = [p for p in head.split(";")[1:]
                    if "QUOTED-PRINTABLE" not in p.upper() and not p.upper().startswith("CHARSET")]
            line = ";".join([head.split(";", 1)[0], *kept]) + ":" + _decode_qp(value, params)
        logical.append(line)
    return "\r\n".join(logical) + "\r\n"


def _is_end(line: str) -> bool:
    return line[:9].upper() == "END:VCARD" and not line[9:].strip()


def parse_all(raw: str | bytes, *, region: str = "SE") -> list[ParsedDocument]:
    r"""Every card in the payload, in order; raises if there is none or the text is not vCard.

    >>> [c.first_name for c in parse_all("BEGIN:VCARD\nFN:Anna Andersson\nEND:VCARD\n"
    ...                                  "BEGIN:VCARD\nN:Berg;Lars\nEND:VCARD\n")]
    ['Anna', 'Lars']
    """
    if isinstance(raw, bytes):
        if len(raw) > MAX_BYTES:
            raise InvalidFormat("a vCard file this large is not a contact card", kind="vcard")
        raw = decode(raw)
    text = payload(raw, "vcard", keep=_KEEP)
    if not looks_like(text):
        raise InvalidFormat("a vCard starts with BEGIN:VCARD", kind="vcard")
    # CRLF as the standard says, LF, or CR alone as some readers deliver: lines all the same.
    lines = text.splitlines()
    if not any(_is_end(line) for line in reversed(lines)):  # it is nearly always the last
        raise Incomplete("the vCard is cut off: END:VCARD is missing", kind="vcard")
    try:
        components = list(vobject.readComponents(_normalise(lines), ignoreUnreadable=True))
    except (VObjectError, ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise InvalidFormat(f"not a readable vCard: {exc}", kind="vcard") from None
    cards = [_card(c, region) for c in components if c.name.upper() == "VCARD"]
    if not cards:
        raise InvalidFormat("no BEGIN:VCARD ... END:VCARD block found", kind="vcard")
    return cards


def parse(raw: str | bytes, *, region: str = "SE") -> ParsedDocument:
    r"""The first card that names or identifies somebody (files may hold several).

    >>> doc = parse("\ufeffBEGIN:VCARD\r\nVERSION:3.0\r\nN:Åberg;Märta\r\n"
    ...             "TEL;TYPE=cell:070-123 45 67\r\nEND:VCARD\r\n\x00\x00\x00")
    >>> (doc.first_name, doc.last_name, doc.phone)
    ('Märta', 'Åberg', '+46701234567')
    """
    cards = parse_all(raw, region=region)
    for card in cards:
        if card.has_name or card.identifies:
            return card
    raise NoIdentity("the vCard carries no name, phone or e-mail", kind="vcard")


def _values(component: vobject.base.Component, name: str) -> list[vobject.base.ContentLine]:
    return list(component.contents.get(name, []))


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value if v)
    return str(value or "").strip()


def _name(component: vobject.base.Component) -> tuple[str | None, str | None, str | None]:
    for line in _values(component, "n"):
        value = line.value
        if isinstance(value, vobject.vcard.Name):
            first = join_nonempty([_text(value.given)])
            last = join_nonempty([_text(value.family)])
            middle = join_nonempty([_text(value.additional)])
            if first or last:
                return first, middle, last
    for line in _values(component, "fn"):
        full = _text(line.value)
        if "," in full:  # "Last, First"
            last, _, first = full.partition(",")
            return join_nonempty([first]), None, join_nonempty([last])
        words = full.split()
        if len(words) == 1:
            return words[0], None, None
        if words:
            return " ".join(words[:-1]), None, words[-1]
    return None, None, None


def _is_preferred(line: vobject.base.ContentLine) -> bool:
    types = ",".join(line.params.get("TYPE", []) + list(line.params.keys())).upper()
    return "CELL" in types or "PREF" in types


def _phones(component: vobject.base.Component, region: str) -> tuple[str, ...]:
    lines = sorted(_values(component, "tel"), key=lambda ln: not _is_preferred(ln))
    return phone_parser.validate_all((_tel_text(line) for line in lines), region)


def _tel_text(line: vobject.base.ContentLine) -> str:
    value = _text(line.value)
    if value.lower().startswith("tel:"):  # vCard 4.0 writes numbers as tel: URIs
        value = value[4:].split(";", 1)[0]
    return value


def _birthday(component: vobject.base.Component) -> dt.date | None:
    for line in _values(component, "bday"):
        digits = _text(line.value)[:10].replace("-", "")
        if len(digits) >= 8 and digits[:8].isdigit():
            try:
                return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
            except ValueError:
                continue
    return None


def _address(component: vobject.base.Component) -> str | None:
    for line in _values(component, "adr"):
        value = line.value
        if isinstance(value, vobject.vcard.Address):
            city = join_nonempty([_text(value.code), _text(value.city)])
            text = join_nonempty(
                [_text(value.box), _text(value.extended), _text(value.street), city,
                 _text(value.region), _text(value.country)],
                ", ",
            )
        else:
            text = join_nonempty([_text(value)])
        if text:
            return " ".join(text.split())
    return None


def _card(component: vobject.base.Component, region: str) -> ParsedDocument:
    first, middle, last = _name(component)
    phones = _phones(component, region)
    emails = tuple(
        e for e in (_text(line.value) for line in _values(component, "email")) if "@" in e
    )
    return ParsedDocument(
        kind="vcard",
        first_name=first,
        middle_name=middle,
        last_name=last,
        birth_date=_birthday(component),
        phone=phones[0] if phones else None,
        phones=phones,
        email=emails[0] if emails else None,
        emails=emails,
        address=_address(component),
    )
