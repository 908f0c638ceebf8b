"""AAMVA driver's licence / ID card PDF417 payloads (DL/ID card design standard, versions 1-10).

Real scans deviate from the standard in many ways (missing or garbled separators, a BOM before
the compliance indicator, "AAMVA" instead of "ANSI ", element IDs jammed together with no line
breaks, dates in either MMDDCCYY or CCYYMMDD), so elements are found by their IDs, not by the
subfile offsets in the header, which are often wrong.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import string

from cashier_bridge.identity.clean import lead, payload
from cashier_bridge.identity.document import ParsedDocument, join_nonempty
from cashier_bridge.identity.errors import (
    Incomplete,
    InvalidDate,
    InvalidFormat,
    InvalidLength,
    NoIdentity,
)

_HEADER = re.compile(r"(?:ANSI ?|AAMVA|AMVA ?)(\d{6})(\d{2})", re.ASCII)
_ELEMENT_IDS = frozenset(
    [f"DA{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    + [f"DB{c}" for c in "ABCDEFGHIJKLMNOPQRS"]
    + [f"DC{c}" for c in "ABDEFGHIJKLMNOPQRSTU"]
    + [f"DD{c}" for c in "ABCDEFGHIJKL"]
)
# With no separators, values are cut wherever an element ID appears, so only the IDs cards
# actually use are searched for: "ADAM" must not be cut at DAM (a rare version 1 element).
_JAMMED_IDS = frozenset(
    [
        "DAA",
        "DAB",
        "DAC",
        "DAD",
        "DAG",
        "DAH",
        "DAI",
        "DAJ",
        "DAK",
        "DAQ",
        "DAR",
        "DAS",
        "DAT",
        "DAU",
        "DAW",
        "DAY",
        "DAZ",
        "DBA",
        "DBB",
        "DBC",
        "DBD",
        "DBF",
        "DBH",
        "DCA",
        "DCB",
        "DCD",
        "DCE",
        "DCF",
        "DCG",
        "DCH",
        "DCI",
        "DCJ",
        "DCK",
        "DCL",
        "DCS",
        "DCT",
        "DCU",
        "DDA",
        "DDB",
        "DDC",
        "DDD",
        "DDE",
        "DDF",
        "DDG",
        "DDH",
        "DDI",
        "DDJ",
        "DDK",
        "DDL",
    ]
)
_JAMMED_ID_AT = re.compile("(?=(" + "|".join(sorted(_JAMMED_IDS)) + "))")
# A jurisdiction subfile ("ZV", "ZT"...) starts with its type then its first element ID.
_JURISDICTION_SUBFILE = re.compile(r"Z[A-Z]Z[A-Z]")
# The header is "@", the data element separator (LF), the record separator (RS, 0x1E), the
# segment terminator (CR), then "ANSI ".  Readers replace these (CR for LF, pipes, group
# separators) or drop them, so every control character that can stand for one is kept through
# clean.payload and splits elements; a printable separator counts when the header declares it.
_CONTROL_SEPARATORS = "\n\r\t\v\f\x1c\x1d\x1e\x1f"
# Punctuation that occurs inside values ("SMITH,JOHN", "K-134-123", "APT 3/B") never separates
# elements, even where a garbled header shows it; any other ASCII punctuation may.
_PRINTABLE_SEPARATORS = frozenset(string.punctuation) - frozenset(",.-'/#&()\"")
_SEPARATOR_BEFORE_ID = re.compile(
    f"([{re.escape(''.join(sorted(_PRINTABLE_SEPARATORS)))}])(?:{'|'.join(sorted(_JAMMED_IDS))})"
)
_PLAUSIBLE_YEARS = range(1880, 2200)
# The longest value the DL/ID Card Design Standard (Annex D) allows for each element read here,
# the largest of any version: version 1's full name DAA 125, versions 2-3's given names DCT 80.
# Longer is no licence: refused, never cut (a cut licence number would find somebody else).
_MAX_CHARS = {"DAA": 125, "DAB": 40, "DAC": 40, "DAD": 40, "DAE": 5, "DCS": 40, "DCT": 80,
              "DCU": 5, "DAG": 35, "DAH": 35, "DAI": 20, "DAJ": 2, "DAK": 11, "DAQ": 25,
              "DBB": 8, "DCG": 3}
_WHAT = {"DAA": "full name", "DAB": "last name", "DAC": "first name", "DAD": "middle name",
         "DAE": "name suffix", "DCS": "last name", "DCT": "given names", "DCU": "name suffix",
         "DAG": "street", "DAH": "street (second line)", "DAI": "city", "DAJ": "jurisdiction",
         "DAK": "postal code", "DAQ": "licence number", "DBB": "birth date",
         "DCG": "country"}
# Dates are 8 digits; a longer expiry or issue date is unreadable (it does not hide who the
# holder is), and what is kept of it for support is no longer than a date.
_DATE_CHARS = 8


@functools.lru_cache(maxsize=32)
def _splitter(extra: str) -> re.Pattern[str]:
    return re.compile(f"[{re.escape(_CONTROL_SEPARATORS + extra)}]+")


def _declared_separators(text: str) -> str:
    """Printable characters in the header's three separator places (``@|||ANSI``)."""
    header = text[1:4]
    if _PRINTABLE_SEPARATORS.isdisjoint(header):  # the standard's own controls, usually
        return ""
    return "".join(sorted(_PRINTABLE_SEPARATORS.intersection(header)))


def _inferred_separator(body: str) -> str | None:
    """The character element IDs follow, when the header did not say (``DCSSMITH|DACJOHN``)."""
    found = _SEPARATOR_BEFORE_ID.search(body)
    # Element IDs all start with D: three of "|D" is a separator, not a stray character.
    if found is not None and body.count(found[1] + "D") >= 3:
        return found[1]
    return None


def looks_like(raw: str) -> bool:
    r"""Whether ``raw`` starts like an AAMVA licence payload (junk before the ``@`` is allowed).

    >>> looks_like("\x00@\n\x1e\rANSI 636000100002DL00410278ZV03190008DLDAQT64235789")
    True
    >>> looks_like("ANSI 636000100002")
    False
    """
    head = lead(raw, 40)
    return head.startswith("@") and _HEADER.search(head) is not None


def elements(raw: str) -> tuple[int, dict[str, str]]:
    r"""The AAMVA version and the data elements of the DL/ID subfile, values stripped.

    The header's separator places say what the reader put between elements, here pipes:

    >>> elements("@|\x1e|ANSI 636000100002DL00410278ZV03190008DLDAQT64235789|DCSSAMPLE|")
    (10, {'DAQ': 'T64235789', 'DCS': 'SAMPLE'})
    """
    text = payload(raw, "aamva", keep=_CONTROL_SEPARATORS)
    if not text.startswith("@"):
        raise InvalidFormat("an AAMVA payload starts with @", kind="aamva")
    header = _HEADER.search(text, 0, 40)
    if not header:
        raise InvalidFormat("no AAMVA header (ANSI + issuer number) found", kind="aamva")
    version = int(header.group(2))
    pos = header.end() + (2 if version == 1 else 4)  # [jurisdiction version] + entry count
    while re.match(r"(DL|ID|Z[A-Z])\d{8}", text[pos : pos + 10]):
        pos += 10
    body = text[pos:]
    if body[:2] in ("DL", "ID") and body[2:5] in _ELEMENT_IDS:
        body = body[2:]
    chunks = _splitter(_declared_separators(text)).split(body)
    jammed = len(chunks) <= 2 and len(body) > 40
    if jammed:
        separator = _inferred_separator(body)
        if separator is not None:
            chunks = _splitter(separator).split(body)
            jammed = len(chunks) <= 2
    found: dict[str, str] = {}
    for chunk in chunks:
        if jammed:
            chunk = _JURISDICTION_SUBFILE.split(chunk, maxsplit=1)[0]
            starts = _jammed_starts(chunk)
            ends = [*starts[1:], len(chunk)] if starts else []
            pieces = [chunk[a:b] for a, b in zip(starts, ends, strict=True)]
        else:
            pieces = [chunk]
        for piece in pieces:
            key = piece[:3]
            if key in _ELEMENT_IDS and key not in found:
                found[key] = piece[3:].strip()
    if not found:
        # The header was read, nothing after it: a scan cut short, worth another try.
        raise Incomplete("the licence code ends after its header", kind="aamva")
    return version, found


def _jammed_starts(chunk: str) -> list[int]:
    candidates = [m.start() for m in _JAMMED_ID_AT.finditer(chunk)]
    starts: list[int] = []
    for pos in candidates:
        if starts and pos - starts[-1] < 3:
            # "3RDDAG": DDA at +0 and DAG at +1 -- values often end in D, so the later ID wins;
            # "DADBETH": DAD at +0, DBE at +2 -- the earlier ID's value starts with B, it wins.
            if pos - starts[-1] == 1:
                starts[-1] = pos
            continue
        starts.append(pos)
    return starts


def _date(value: str | None, what: str) -> dt.date | None:
    if not value or value.upper() in ("NONE", "UNAVL"):
        return None
    digits = value[:_DATE_CHARS]
    if len(value) != _DATE_CHARS or not digits.isdigit():
        raise InvalidDate(f"the {what} {value!r} is not a date", kind="aamva")
    # The standard says MMDDCCYY for the USA and CCYYMMDD for Canada (and version 1); cards
    # disagree, so take whichever order gives a real date in a plausible year.
    for year, month, day in (
        (int(digits[4:]), int(digits[:2]), int(digits[2:4])),
        (int(digits[:4]), int(digits[4:6]), int(digits[6:])),
    ):
        if year in _PLAUSIBLE_YEARS:
            try:
                return dt.date(year, month, day)
            except ValueError:
                continue
    raise InvalidDate(f"the {what} {value!r} is not a calendar date", kind="aamva")


def _split_given(value: str) -> tuple[str | None, str | None]:
    parts = [p.strip() for p in (value.split(",") if "," in value else value.split(" "))]
    parts = [p for p in parts if p]
    if not parts:
        return None, None
    return parts[0], join_nonempty(parts[1:])


def _full_name(value: str) -> tuple[str | None, str | None, str | None]:
    """Version 1's DAA: ``LAST,FIRST,MIDDLE,SUFFIX`` or ``FIRST MIDDLE LAST``."""
    if "," in value:
        parts = [p.strip() for p in value.split(",")]
        last = parts[0] or None
        first = parts[1] if len(parts) > 1 and parts[1] else None
        middle = parts[2] if len(parts) > 2 and parts[2] else None
        return first, middle, last
    words = value.split()
    if len(words) == 1:
        return None, None, words[0]
    return words[0], join_nonempty(words[1:-1]), words[-1]


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return None if not value or value.upper() in ("NONE", "UNAVL", "UNKNOWN") else value


def _postal_code(value: str | None) -> str | None:
    code = _clean(value)
    if not code:
        return None
    zip_code = re.match(r"(\d{5})[- ]?(\d{4})?", code, re.ASCII)
    if zip_code:  # US ZIP (+4); padding zeros and stray digits after it dropped
        five, four = zip_code.groups()
        return f"{five}-{four}" if four and four != "0000" else five
    return code


def parse(raw: str, *, today: dt.date | None = None) -> ParsedDocument:
    r"""What a licence's PDF417 code says about its holder.

    >>> doc = parse("@\n\x1e\rANSI 636000100002DL00410278ZV03190008DLDAQT64235789\n"
    ...             "DCSSAMPLE\nDACMICHAEL\nDBB06061986\nDBA12102030\nDAJVA\r\x00\x00",
    ...             today=dt.date(2025, 6, 1))
    >>> (doc.first_name, doc.last_name, doc.document_number, doc.birth_date.isoformat())
    ('MICHAEL', 'SAMPLE', 'T64235789', '1986-06-06')
    >>> doc.expired
    False

    A licence with neither a name nor a number identifies nobody:

    >>> parse("@\n\x1e\rANSI 636000100002DL00410278ZV03190008DLDCSNONE\nDBB06061986\n")
    ... # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    NoIdentity: this licence carries neither a name nor a licence number
    """
    today = today or dt.date.today()
    version, el = elements(raw)
    for element, limit in _MAX_CHARS.items():
        value = el.get(element)
        if value is not None and len(value) > limit:
            raise InvalidLength(f"the licence's {_WHAT[element]} ({element}) has {len(value)} "
                                f"characters; AAMVA allows at most {limit}", kind="aamva")
    last = _clean((el.get("DCS") or el.get("DAB") or "").rstrip(", "))
    first = _clean(el.get("DAC"))
    middle = _clean(el.get("DAD"))
    if first is None and _clean(el.get("DCT")):
        first, given_middle = _split_given(el["DCT"])
        middle = middle or given_middle
    if last is None and first is None and _clean(el.get("DAA")):
        first, middle, last = _full_name(el["DAA"])
    birth = _date(el.get("DBB"), "birth date")
    extra: dict[str, str] = {}
    try:
        expiry = _date(el.get("DBA"), "expiry date")
    except InvalidDate:
        # A garbled expiry date must not hide who the holder is; "expired" stays unknown.
        expiry = None
        extra["expiry_date_unreadable"] = el.get("DBA", "")[:_DATE_CHARS]
    number = _clean(el.get("DAQ"))
    street = join_nonempty([_clean(el.get("DAG")), _clean(el.get("DAH"))], ", ")
    city_line = join_nonempty([_clean(el.get("DAJ")), _postal_code(el.get("DAK"))])
    address = join_nonempty([street, _clean(el.get("DAI")), city_line], ", ")
    suffix = _clean(el.get("DCU") or el.get("DAE"))
    try:
        issued = _date(el.get("DBD"), "issue date")
    except InvalidDate:
        issued = None
    extra["aamva_version"] = str(version)
    if _clean(el.get("DAJ")):
        extra["jurisdiction"] = el["DAJ"].strip()
    if suffix:
        extra["name_suffix"] = suffix
    if issued:
        extra["issue_date"] = issued.isoformat()
    doc = ParsedDocument(
        kind="aamva",
        first_name=first,
        middle_name=middle,
        last_name=last,
        birth_date=birth,
        document_number=number,
        expiry_date=expiry,
        expired=expiry < today if expiry else None,
        address=address,
        nationality=_clean(el.get("DCG")),
        extra=extra,
    )
    # Checked on the finished document: a name of padding or punctuation is no name.
    if not doc.has_name and not doc.document_number:
        raise NoIdentity("this licence carries neither a name nor a licence number", kind="aamva")
    return doc
