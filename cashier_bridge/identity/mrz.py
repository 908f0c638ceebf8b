"""ICAO 9303 machine-readable zones: TD1 (ID cards, 3x30), TD2 (2x36) and TD3 (passports, 2x44).

Every check digit (weights 7-3-1) is verified, the composite one included: a misread MRZ must
never be matched to a person.  A Swedish document's personal number becomes ``personal_id``.
"""

from __future__ import annotations

import datetime as dt
import re

from cashier_bridge.identity import personnummer
from cashier_bridge.identity.clean import payload
from cashier_bridge.identity.document import ParsedDocument, join_nonempty
from cashier_bridge.identity.errors import (
    IdentityError,
    InvalidChecksum,
    InvalidDate,
    InvalidFormat,
    InvalidLength,
)

_CHARS = re.compile(r"^[A-Z0-9<]+$", re.ASCII)
_SHAPES = {(3, 30): "TD1", (2, 36): "TD2", (2, 44): "TD3"}
_WEIGHTS = (7, 3, 1)
# Line breaks as readers deliver them (str.splitlines splits on each); a pipe is never an MRZ
# character, so a reader that writes one between lines is understood too.
_KEEP = "\n\r\v\f\x1c\x1d\x1e"


def check_digit(field: str) -> str:
    """The ICAO 9303 check digit (weights 7, 3, 1; ``<`` counts 0, letters 10-35).

    >>> check_digit("L898902C3"), check_digit("740812")
    ('6', '2')
    """
    total = 0
    for i, char in enumerate(field):
        if char.isdigit():
            value = int(char)
        elif char == "<":
            value = 0
        else:
            value = ord(char) - ord("A") + 10
        total += value * _WEIGHTS[i % 3]
    return str(total % 10)


def looks_like(raw: str) -> bool:
    r"""Whether ``raw`` has the shape of an MRZ (TD1, TD2 or TD3), whatever the line ends.

    >>> looks_like("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\r\n"
    ...            "L898902C36UTO7408122F1204159ZE184226B<<<<<10\r\n")
    True
    """
    try:
        _lines(raw)
    except IdentityError:
        return False
    return True


def _lines(raw: str) -> list[str]:
    text = payload(raw, "mrz", keep=_KEEP).upper().replace("|", "\n")
    lines = [ln.strip().replace(" ", "") for ln in text.splitlines() if ln.strip()]
    if len(lines) == 1 and len(lines[0]) in (90, 72, 88):
        # Some scanners drop the line breaks; the total length tells the format.
        width = {90: 30, 72: 36, 88: 44}[len(lines[0])]
        lines = [lines[0][i : i + width] for i in range(0, len(lines[0]), width)]
    shape = (len(lines), len(lines[0]) if lines else 0)
    if shape not in _SHAPES or any(len(ln) != shape[1] for ln in lines):
        raise InvalidLength(
            "an MRZ has 3 lines of 30, 2 of 36 or 2 of 44 characters, this has "
            + ("/".join(str(len(ln)) for ln in lines) or "none"),
            kind="mrz",
        )
    for line in lines:
        if not _CHARS.match(line):
            raise InvalidFormat("an MRZ has only A-Z, 0-9 and <", kind="mrz")
    return lines


def _verify(field: str, digit: str, what: str) -> None:
    if digit == "<" and not field.strip("<"):
        return
    if check_digit(field) != digit:
        raise InvalidChecksum(f"the check digit of the {what} does not match", kind="mrz")


def _date(yymmdd: str, what: str, *, future: bool, today: dt.date) -> dt.date | None:
    if yymmdd == "<<<<<<":
        return None
    if not yymmdd.isdigit():
        raise InvalidDate(f"the {what} {yymmdd} is not a date", kind="mrz")
    yy, month, day = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    year = 2000 + yy
    # Birth dates lie in the past; expiry dates at most a few decades ahead.
    if (not future and year > today.year) or (future and year > today.year + 50):
        year -= 100
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise InvalidDate(f"the {what} {yymmdd} is not a calendar date", kind="mrz") from None


def _names(field: str) -> tuple[str | None, str | None]:
    # A leading "<<" is an empty primary identifier (a holder with given names only).
    last, _, first = field.rstrip("<").partition("<<")
    return (join_nonempty(first.split("<")), join_nonempty(last.split("<")))


def _text(field: str) -> str | None:
    return join_nonempty(field.split("<"))


def parse(raw: str, *, today: dt.date | None = None) -> ParsedDocument:
    r"""The holder of a passport or ID card, from its machine-readable zone.

    >>> doc = parse("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\x1e"
    ...             "L898902C36UTO7408122F1204159ZE184226B<<<<<10\x00", today=dt.date(2025, 6, 1))
    >>> (doc.first_name, doc.last_name, doc.document_number, doc.expired)
    ('ANNA MARIA', 'ERIKSSON', 'L898902C3', True)

    A misread character fails its check digit rather than naming the wrong person:

    >>> parse("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
    ...       "L898902C36UTO7408122F1204159ZE184226B<<<<<11")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InvalidChecksum: the check digit of the whole zone (composite) does not match
    """
    today = today or dt.date.today()
    lines = _lines(raw)
    fmt = _SHAPES[(len(lines), len(lines[0]))]
    if fmt == "TD1":
        l1, l2, l3 = lines
        number_field, number_check, optional1 = l1[5:14], l1[14], l1[15:30]
        if number_check == "<" and optional1.strip("<"):
            # Long document numbers overflow into the optional data, their check digit last.
            overflow = optional1.split("<", 1)[0]
            number_field, number_check = number_field + overflow[:-1], overflow[-1]
            optional1 = optional1[len(overflow):]
            # Issuers disagree on whether the filler before the overflow counts (Belgium: yes).
            if check_digit(l1[5:15] + overflow[:-1]) == number_check:
                number_check = check_digit(number_field)
        _verify(number_field, number_check, "document number")
        birth, birth_check, sex = l2[0:6], l2[6], l2[7]
        expiry, expiry_check, nationality = l2[8:14], l2[14], l2[15:18]
        optional = _text(optional1 + "<" + l2[18:29])
        composite = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
        composite_check = l2[29]
        name_field = l3
    else:
        l1, l2 = lines
        number_field, number_check = l2[0:9], l2[9]
        nationality, birth, birth_check, sex = l2[10:13], l2[13:19], l2[19], l2[20]
        expiry, expiry_check = l2[21:27], l2[27]
        if fmt == "TD3":
            _verify(l2[28:42], l2[42], "personal number")
            optional = _text(l2[28:42])
            composite, composite_check = l2[0:10] + l2[13:20] + l2[21:43], l2[43]
        else:
            optional = _text(l2[28:35])
            composite, composite_check = l2[0:10] + l2[13:20] + l2[21:35], l2[35]
        if number_check == "<" and optional and fmt == "TD2":
            overflow = l2[28:35].split("<", 1)[0]
            number_field, number_check = number_field + overflow[:-1], overflow[-1]
        _verify(number_field, number_check, "document number")
        name_field = l1[5:]
    _verify(birth, birth_check, "birth date")
    _verify(expiry, expiry_check, "expiry date")
    _verify(composite, composite_check, "whole zone (composite)")
    birth_date = _date(birth, "birth date", future=False, today=today)
    expiry_date = _date(expiry, "expiry date", future=True, today=today)
    first, last = _names(name_field)
    issuer = l1[2:5].replace("<", "")
    personal_id = _swedish_personal_id(optional, birth_date, issuer, today)
    return ParsedDocument(
        kind="mrz",
        first_name=first,
        last_name=last,
        birth_date=birth_date,
        personal_id=personal_id,
        personal_number=optional,
        document_number=number_field.replace("<", "") or None,
        expiry_date=expiry_date,
        expired=expiry_date < today if expiry_date else None,
        nationality=nationality.replace("<", "") or None,
        extra={
            "mrz_format": fmt,
            "document_type": l1[0:2].replace("<", ""),
            "issuer": issuer,
            **({"sex": sex} if sex in "MFX" and sex != "<" else {}),
        },
    )


def _swedish_personal_id(
    optional: str | None, birth: dt.date | None, issuer: str, today: dt.date
) -> str | None:
    if issuer != "SWE" or not optional or birth is None:
        return None
    digits = optional.replace(" ", "")
    if len(digits) == 10 and digits.isdigit():
        digits = f"{birth.year // 100:02d}{digits}"
    try:
        pid = personnummer.parse(digits, today=today)
    except IdentityError:
        return None
    return pid.number if pid.birth_date == birth else None
