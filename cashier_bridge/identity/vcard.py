"""vCard 2.1, 3.0 and 4.0 contact cards.

What 2.1 exporters write (quoted-printable values whose soft line breaks are not folded, base64
photos whose lines are not folded, charsets other than UTF-8, files in UTF-16) is rewritten by
``_normalise`` into plain unfolded lines of the few properties read (N, FN, TEL, EMAIL, ADR,
BDAY).  Those lines are then split here (RFC 6350 3.3-3.4: name, parameters, value; backslash
escapes; the structured N and ADR).  vobject did that last step until issue 19: it built an
object per line and per parameter, about two thirds of a card's 550 us, for six properties
whose grammar is a few lines.
"""

from __future__ import annotations

import datetime as dt
import quopri
import re
from dataclasses import dataclass

from cashier_bridge.identity import phone as phone_parser
from cashier_bridge.identity.clean import lead, payload
from cashier_bridge.identity.document import ParsedDocument, join_nonempty
from cashier_bridge.identity.errors import Incomplete, InvalidFormat, NoIdentity

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
    cards = [_card(c, region) for c in _components(_normalise(lines))]
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


@dataclass
class _Line:
    name: str  # lower case, group dropped
    params: list[str]  # upper case: "TYPE=CELL,VOICE", "PREF=1", or 2.1's bare "CELL"
    value: str  # still escaped


_Component = dict[str, list[_Line]]


def _components(text: str) -> list[_Component]:
    """The top-level VCARD blocks of normalised lines; a card nested in one (a 2.1 AGENT) is
    skipped, as are lines without a colon."""
    cards: list[_Component] = []
    stack: list[str] = []
    current: _Component = {}
    for line in text.split("\r\n"):
        head, colon, value = line.partition(":")
        if not colon:
            continue
        name = head.split(";", 1)[0].split(".")[-1].lower()
        if name in ("begin", "end"):
            kind = value.strip().upper()
            if name == "begin":
                stack.append(kind)
                if len(stack) == 1:
                    current = {}
            elif not stack or stack[-1] != kind:
                raise InvalidFormat(f"not a readable vCard: END:{kind} without its BEGIN",
                                    kind="vcard")
            else:
                stack.pop()
                if not stack and kind == "VCARD":
                    cards.append(current)
            continue
        if len(stack) == 1 and stack[0] == "VCARD":
            params = [p.strip().upper() for p in head.split(";")[1:]]
            current.setdefault(name, []).append(_Line(name, params, value))
    if stack:
        raise InvalidFormat(f"not a readable vCard: BEGIN:{stack[-1]} is never ended",
                            kind="vcard")
    return cards


_ESCAPE = re.compile(r"\\([\\,;nN])")  # the escapes RFC 6350 has; any other backslash stays
_UNESCAPED = {"n": "\n", "N": "\n"}


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: _UNESCAPED.get(m.group(1), m.group(1)), value)


def _split(value: str, separator: str) -> list[str]:
    """``value`` split at the separators that are not escaped (still escaped)."""
    parts: list[str] = []
    start = i = 0
    while i < len(value):
        char = value[i]
        if char == "\\":
            i += 2
            continue
        if char == separator:
            parts.append(value[start:i])
            start = i + 1
        i += 1
    parts.append(value[start:])
    return parts


def _fields(value: str, count: int) -> list[str]:
    """A structured value's ``count`` fields (N, ADR), each with its list items joined by a
    space (``ing. jr,M.Sc.``) and unescaped; missing fields are empty."""
    fields = [" ".join(p.strip() for p in map(_unescape, _split(f, ",")) if p.strip())
              for f in _split(value, ";")]
    return (fields + [""] * count)[:count]


def _values(component: _Component, name: str) -> list[_Line]:
    return component.get(name, [])


def _text(line: _Line) -> str:
    return _unescape(line.value).strip()


def _name(component: _Component) -> tuple[str | None, str | None, str | None]:
    for line in _values(component, "n"):
        family, given, additional = _fields(line.value, 3)
        first = join_nonempty([given])
        last = join_nonempty([family])
        middle = join_nonempty([additional])
        if first or last:
            return first, middle, last
    for line in _values(component, "fn"):
        full = _text(line)
        if "," in full:  # "Last, First"
            last, _, first = full.partition(",")
            return join_nonempty([first]), None, join_nonempty([last])
        words = full.split()
        if len(words) == 1:
            return words[0], None, None
        if words:
            return " ".join(words[:-1]), None, words[-1]
    return None, None, None


def _is_preferred(line: _Line) -> bool:
    types = ",".join(line.params)
    return "CELL" in types or "PREF" in types


def _phones(component: _Component, region: str) -> tuple[str, ...]:
    lines = sorted(_values(component, "tel"), key=lambda ln: not _is_preferred(ln))
    return phone_parser.validate_all((_tel_text(line) for line in lines), region)


def _tel_text(line: _Line) -> str:
    value = _text(line)
    if value.lower().startswith("tel:"):  # vCard 4.0 writes numbers as tel: URIs
        value = value[4:].split(";", 1)[0]
    return value


def _birthday(component: _Component) -> dt.date | None:
    for line in _values(component, "bday"):
        digits = _text(line)[:10].replace("-", "")
        if len(digits) >= 8 and digits[:8].isdigit():
            try:
                return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
            except ValueError:
                continue
    return None


def _address(component: _Component) -> str | None:
    for line in _values(component, "adr"):
        box, extended, street, city, region, code, country = _fields(line.value, 7)
        text = join_nonempty(
            [box, extended, street, join_nonempty([code, city]), region, country], ", ")
        if text:
            return " ".join(text.split())
    return None


def _card(component: _Component, region: str) -> ParsedDocument:
    first, middle, last = _name(component)
    phones = _phones(component, region)
    emails = tuple(
        e for e in (_text(line) for line in _values(component, "email")) if "@" in e
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
