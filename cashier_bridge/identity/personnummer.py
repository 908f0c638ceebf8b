"""Swedish personnummer and samordningsnummer (coordination number).

Accepts 10 or 12 digits with or without ``-``/``+`` (``+`` marks someone aged 100 or more);
normalises to 12 digits ``YYYYMMDDNNNC``.  Samordningsnummer carry day + 60.  The Luhn check is
python-stdnum's, and so is the API: :func:`compact` cleans, :func:`validate` returns the 12 digits
or raises, :func:`is_valid`, :func:`format`; :func:`parse` adds the birth date, :func:`mask` the
one masked form.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from stdnum import luhn
from stdnum.exceptions import ValidationError

from cashier_bridge.identity.clean import payload
from cashier_bridge.identity.errors import (
    IdentityError,
    InterimNumber,
    InvalidChecksum,
    InvalidDate,
    InvalidFormat,
    InvalidLength,
    Unreadable,
)

_SHAPE = re.compile(r"^(\d{2})?(\d{6})([-+]?)(\d{4})$", re.ASCII)
# Interim numbers (reservnummer) put one of these letters where the first serial digit goes;
# for the Luhn check the letter counts as 1.
# The - between the date and the last four (a run of them, so that compact is idempotent).
_SEPARATOR = re.compile(r"^(.*?)-+(.{4})$", re.DOTALL)
_INTERIM = re.compile(r"^(\d{2})?(\d{6})-?([TRSUWXJKLMN])(\d{3})$", re.ASCII)


@dataclass(frozen=True, slots=True)
class PersonalId:
    number: str  # 12 digits
    # None only for a samordningsnummer issued with an unknown birth month or day (00).
    birth_date: dt.date | None
    coordination: bool  # samordningsnummer

    @property
    def kind(self) -> str:
        return "samordningsnummer" if self.coordination else "personnummer"

    @property
    def masked(self) -> str:
        return mask(self.number)


def compact(number: str) -> str:
    r"""The number cleaned, python-stdnum style: reader junk and the ``-`` before the last four
    digits dropped, upper case.  Never raises for what the number says, and does not resolve
    the century (that needs a valid date: :func:`validate`), so a ``+`` stays.

    >>> compact("\ufeff19850312-1249\r\n"), compact("850312-1249"), compact("090527+1474")
    ('198503121249', '8503121249', '090527+1474')
    >>> compact("not a number"), compact("\x00\x00")
    ('NOT A NUMBER', '')
    """
    return _SEPARATOR.sub(r"\1\2", _clean(number))


def validate(number: str, *, today: dt.date | None = None) -> str:
    """The 12 digits ``YYYYMMDDNNNC`` (century resolved), or an IdentityError saying why not.

    >>> validate("850312-1249", today=dt.date(2025, 6, 1))
    '198503121249'
    >>> validate("19850312-1248")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InvalidChecksum: the last digit does not match (Luhn check failed)
    """
    return parse(number, today=today).number


def is_valid(number: str, *, today: dt.date | None = None) -> bool:
    """Whether ``number`` is a valid personnummer or samordningsnummer.

    >>> is_valid("198503121249"), is_valid("198503121248"), is_valid("")
    (True, False, False)
    """
    try:
        parse(number, today=today)
    except IdentityError:
        return False
    return True


def format(number: str, *, today: dt.date | None = None) -> str:
    """``YYYYMMDD-NNNN``; raises IdentityError for a number that is not valid.

    >>> format("8503121249", today=dt.date(2025, 6, 1))
    '19850312-1249'
    """
    twelve = validate(number, today=today)
    return f"{twelve[:8]}-{twelve[8:]}"


def mask(number: str) -> str:
    """``YYYYMMDD-****``: the one masked form, wherever a personnummer is shown (the kiosk,
    the console, the back office) or kept (``personal_id_masked``).

    >>> mask("198503121249"), mask("850312-1249")
    ('19850312-****', '19850312-****')
    """
    twelve = number if len(number) == 12 and number.isdigit() else validate(number)
    return f"{twelve[:8]}-****"


def _clean(number: str) -> str:
    try:
        return payload(number, "personnummer").upper()
    except Unreadable:
        return ""


def parse(number: str, *, today: dt.date | None = None) -> PersonalId:
    r"""The number, its birth date and whether it is a samordningsnummer.

    >>> parse("\ufeff19850312-1249\r\n", today=dt.date(2025, 6, 1))
    PersonalId(number='198503121249', birth_date=datetime.date(1985, 3, 12), coordination=False)
    >>> parse("701063-2391", today=dt.date(2025, 6, 1)).kind
    'samordningsnummer'
    """
    # Only the ends are trimmed: "090527 1474" is a typo or two numbers, not one personnummer
    # (a tab or line break inside reads as a space); NULs and other padding are dropped.
    text = payload(number, "personnummer").upper()
    interim = _INTERIM.match(text)
    if interim:
        yymmdd, letter, serial = interim.group(2), interim.group(3), interim.group(4)
        if not luhn.is_valid(yymmdd + "1" + serial):
            raise InvalidChecksum(
                "the last digit of this interim number does not match", kind="personnummer"
            )
        raise InterimNumber(
            f"an interim number ({letter} in the serial) is not a personal identity number",
            kind="personnummer",
        )
    if re.search(r"[^\d\s+-]", text, flags=re.ASCII):
        raise InvalidFormat("a personnummer has only digits and - or +", kind="personnummer")
    digits = re.sub(r"\D", "", text, flags=re.ASCII)
    if len(digits) not in (10, 12):
        raise InvalidLength(
            f"a personnummer has 10 or 12 digits, this has {len(digits)}", kind="personnummer"
        )
    match = _SHAPE.match(text)
    if not match:
        raise InvalidFormat(
            "a personnummer is 10 or 12 digits with an optional - or + before the last four",
            kind="personnummer",
        )
    century, yymmdd, sep, tail = match.groups()
    try:
        luhn.validate(yymmdd + tail)
    except ValidationError:
        raise InvalidChecksum(
            "the last digit does not match (Luhn check failed)", kind="personnummer"
        ) from None
    if tail[:3] == "000":
        raise InvalidFormat("the birth number 000 is never issued", kind="personnummer")
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    coordination = day >= 60
    if coordination:
        day -= 60
    today = today or dt.date.today()
    yy = int(yymmdd[:2])
    if century is not None:
        year = int(century) * 100 + yy
    else:
        year = _resolve_century(yy, month, day, plus=sep == "+", today=today)
    if coordination and month <= 12 and day <= 31 and not _is_date(year, month, day):
        # Skatteverket issues samordningsnummer with 00 for a birth month or day it does not
        # know, and its own test numbers include days such as 31 April: valid, no birth date.
        return PersonalId(number=f"{year:04d}{yymmdd[2:]}{tail}", birth_date=None,
                          coordination=True)
    try:
        birth = dt.date(year, month, day)
    except ValueError:
        raise InvalidDate(
            f"{year:04d}-{month:02d}-{day:02d} is not a calendar date", kind="personnummer"
        ) from None
    if birth > today:
        raise InvalidDate(f"birth date {birth.isoformat()} is in the future", kind="personnummer")
    return PersonalId(number=f"{year:04d}{yymmdd[2:]}{tail}", birth_date=birth,
                      coordination=coordination)


def _resolve_century(yy: int, month: int, day: int, *, plus: bool, today: dt.date) -> int:
    month, day = max(month, 1), max(day, 1)
    """The most recent year ending in ``yy`` whose birthday is not after today (``+``: 100 more)."""
    year = (today.year // 100) * 100 + yy
    if (year, month, day) > (today.year, today.month, today.day):
        year -= 100
    if plus:
        year -= 100
    return year


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True
