"""Phone numbers, stored as E.164 (phonenumbers); the default region comes from config.

The API is python-stdnum's: :func:`compact` cleans, :func:`validate` returns E.164 or raises,
:func:`is_valid`, :func:`format`; :func:`parse` gives phonenumbers' object, :func:`mask` what a
screen may show.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers

from cashier_bridge.identity.clean import payload
from cashier_bridge.identity.errors import IdentityError, InvalidFormat, InvalidLength, Unreadable
from cashier_bridge.identity.masking import mask_phone

# How people space and group a number; none of it is part of it.
_SEPARATORS = re.compile(r"[\s\-().\u2010-\u2015/]+")


def compact(number: str) -> str:
    r"""The number cleaned, python-stdnum style: reader junk, spaces and punctuation dropped,
    a leading ``00`` written ``+``.  Never raises for what the number says.

    >>> compact("\ufeff0046 70-123 45 67\x00"), compact("(08) 123 456"), compact("\x00")
    ('+46701234567', '08123456', '')
    """
    try:
        text = payload(number, "phone")
    except Unreadable:
        return ""
    text = _SEPARATORS.sub("", text)
    return "+" + text[2:] if text.startswith("00") else text


def parse(number: str, region: str = "SE") -> phonenumbers.PhoneNumber:
    r"""The number as phonenumbers reads it; national numbers are from ``region``.

    >>> parse("070-123 45 67\x00").national_number
    701234567
    """
    text = payload(number, "phone")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidFormat(f"not a phone number: {exc}", kind="phone") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidLength("not a valid phone number for its country", kind="phone")
    return parsed


def validate(number: str, region: str = "SE") -> str:
    """E.164, e.g. ``+46701234567``, or an IdentityError saying why not.

    >>> validate("0046 70 123 45 67"), validate("(415) 555-2671", "US")
    ('+46701234567', '+14155552671')
    >>> validate("070-123")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InvalidLength: not a valid phone number for its country
    """
    return phonenumbers.format_number(parse(number, region),
                                      phonenumbers.PhoneNumberFormat.E164)


def is_valid(number: str, region: str = "SE") -> bool:
    """Whether ``number`` is a valid phone number.

    >>> is_valid("070-123 45 67"), is_valid("12")
    (True, False)
    """
    try:
        parse(number, region)
    except IdentityError:
        return False
    return True


def validate_all(numbers: Iterable[str], region: str = "SE") -> tuple[str, ...]:
    """Every valid number among ``numbers`` as E.164, first occurrence first, no repeats.

    >>> validate_all(["070-123 45 67", "not a number", "+46701234567", "08-123 456 78"])
    ('+46701234567', '+46812345678')
    """
    found: list[str] = []
    for number in numbers:
        try:
            e164 = validate(number, region)
        except IdentityError:
            continue
        if e164 not in found:
            found.append(e164)
    return tuple(found)


def format(number: str, region: str = "SE") -> str:
    """National format when the number is from ``region``, else international; raises
    IdentityError for a number that is not valid.

    >>> format("+46701234567"), format("+14155552671")
    ('070-123 45 67', '+1 415-555-2671')
    """
    parsed = parse(number, region)
    if phonenumbers.region_code_for_number(parsed) == region:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def mask(number: str) -> str:
    """What a screen may show of an E.164 number: the one masked form (:mod:`.masking`).

    >>> mask("+46701234567")
    '+46*******67'
    """
    return mask_phone(number)
