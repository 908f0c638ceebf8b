"""What every parser does first: drop what a camera or scanner adds to a code.

Readers hand over more than the code: a byte-order mark, NUL or DEL padding, CR or CRLF line
ends, record separators instead of line feeds, code points no font can show.  Each parser calls
:func:`payload` on its input before anything else, naming the control characters that are
structure in its format (``keep``); everything else that cannot be printed goes, so no field
can carry it.  :func:`lead` is the same rule for the ``looks_like`` checks, which only need the
first characters.  :func:`field` is the last step for every text field of a parsed document.
"""

from __future__ import annotations

import functools

from cashier_bridge.identity.errors import Unreadable

# Work is done on UTF-8 bytes, where bytes.translate drops and replaces ASCII controls at C
# speed; a regular expression scanning a 50 kB vCard for them costs more than parsing it.
_ASCII_CONTROLS = bytes([*range(0x20), 0x7F])
_SPACE_CONTROLS = b"\t\n\v\f\r\x1c\x1d\x1e\x1f"
_ALL_ASCII = bytes(range(0x80))
# Zero-width (non-)joiners spell words in Persian and Indic names; other format characters
# (BOM, zero-width space, bidi marks, soft hyphen) are invisible and only get in the way.
_FORMAT_KEPT = frozenset("\u200c\u200d")


@functools.lru_cache(maxsize=16)
def _tables(keep: str) -> tuple[bytes, bytes]:
    """``bytes.translate`` arguments: whitespace controls not kept become spaces, other
    controls not kept are deleted."""
    kept = keep.encode("latin-1", errors="ignore")
    table = bytearray(range(256))
    for byte in _SPACE_CONTROLS:
        if byte not in kept:
            table[byte] = 0x20
    delete = bytes(b for b in _ASCII_CONTROLS if b not in kept and b not in _SPACE_CONTROLS)
    return bytes(table), delete


def _unicode_char(char: str, keep: str) -> str:
    if char.isprintable() or char in keep:
        return char
    if char.isspace():  # NBSP, NEL, line/paragraph separators, ideographic space...
        return " "
    if char in _FORMAT_KEPT:
        return char
    return ""  # C1 controls, format characters, surrogates, private use, unassigned


def payload(raw: str, kind: str | None = None, *, keep: str = "") -> str:
    """``raw`` as a parser should read it: junk dropped, whitespace trimmed at both ends.

    Characters in ``keep`` (a format's separators) stay; other whitespace controls become a
    space; every other control, format, private-use, surrogate or unassigned code point goes.
    Raises :class:`Unreadable` when the input had something in it but nothing readable.

    >>> payload("\\ufeff 19850312-1249\\x00\\x00\\r\\n")
    '19850312-1249'
    >>> payload("@\\n\\x1e\\rANSI 6360\\x7f", "aamva", keep="\\n\\r\\x1e")
    '@\\n\\x1e\\rANSI 6360'
    >>> payload("\\x00\\x00\\x00", "customer_code")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    Unreadable: nothing readable in this customer_code
    """
    # A leading BOM is the usual non-ASCII junk: without it, most payloads take the ASCII path.
    text = raw[1:] if raw.startswith("\ufeff") else raw
    if not text.isprintable():  # typed input is, and this check runs at C speed
        table, delete = _tables(keep)
        data = text.encode("utf-8", "surrogatepass").translate(table, delete)
        ascii_only = text.isascii()
        text = data.decode("utf-8", "surrogatepass")
        if not ascii_only:
            # Only the non-ASCII characters, side by side: almost always letters, all printable;
            # otherwise a handful of distinct ones to replace (a BOM, NBSP, a noncharacter).
            others = data.translate(None, _ALL_ASCII).decode("utf-8", "surrogatepass")
            if not others.isprintable():
                for char in set(others):
                    fixed = _unicode_char(char, keep)
                    if fixed != char:
                        text = text.replace(char, fixed)
    text = text.strip()
    if not text and raw.strip():
        raise Unreadable(f"nothing readable in this {kind or 'input'}", kind=kind)
    return text


def _is_junk(char: str) -> bool:
    return char.isspace() or _unicode_char(char, "") == ""


def lead(raw: str, size: int = 64) -> str:
    """The first ``size`` characters of ``raw`` after any junk it starts with, as is.

    >>> lead("\\x00\\ufeff\\r\\nBEGIN:VCARD\\r\\n", 11)
    'BEGIN:VCARD'
    """
    start = 0
    while start < len(raw) and _is_junk(raw[start]):
        start += 1
    return raw[start : start + size]


def field(value: str | None) -> str | None:
    """A field's text on one line: runs of whitespace (line breaks too) become one space.

    >>> field(" 17 FIRST STREET\\n STAUNTON ")
    '17 FIRST STREET STAUNTON'
    >>> field(" \\t ") is None
    True
    """
    if value is None:
        return None
    if is_tidy(value):
        return value or None  # most fields are
    return " ".join(value.split()) or None


def is_tidy(text: str) -> bool:
    """Printable, single-spaced and trimmed: what :func:`field` leaves as it is.

    >>> is_tidy("ANNA MARIA"), is_tidy("ANNA  MARIA"), is_tidy("ANNA\tMARIA")
    (True, False, False)
    """
    return (text.isprintable() and "  " not in text
            and not text.startswith(" ") and not text.endswith(" "))
