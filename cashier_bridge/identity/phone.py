"""Phone numbers, stored as E.164 (phonenumbers); the default region comes from config."""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers

from .clean import payload
from .errors import IdentityError, InvalidFormat, InvalidLength


def parse(raw: str, region: str = "SE") -> phonenumbers.PhoneNumber:
    r"""The number as phonenumbers reads it; national numbers are from ``region``.

    >>> parse("070-123 45 67\x00").national_number
    701234567
    """
    text = payload(raw, "phone")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidFormat(f"not a phone number: {exc}", kind="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidLength("not a valid phone number for its country", kind="phone")
    return number


def compact(raw: str, region: str = "SE") -> str:
    """E.164, e.g. ``+46701234567``.

    >>> compact("0046 70 123 45 67"), compact("(415) 555-2671", "US")
    ('+46701234567', '+14155552671')
    """
    return phonenumbers.format_number(parse(raw, region), phonenumbers.PhoneNumberFormat.E164)


def validate(raw: str, region: str = "SE") -> str:
    """``compact``, python-stdnum style: E.164 or an IdentityError.

    >>> validate("070-123")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InvalidLength: not a valid phone number for its country
    """
    return compact(raw, region)


def is_valid(raw: str, region: str = "SE") -> bool:
    """Whether ``raw`` is a valid phone number.

    >>> is_valid("070-123 45 67"), is_valid("12")
    (True, False)
    """
    try:
        parse(raw, region)
    except IdentityError:
        return False
    return True


def compact_all(values: Iterable[str], region: str = "SE") -> tuple[str, ...]:
    """Every valid number among ``values`` as E.164, first occurrence first, no repeats.

    >>> compact_all(["070-123 45 67", "not a number", "+46701234567", "08-123 456 78"])
    ('+46701234567', '+46812345678')
    """
    found: list[str] = []
    for value in values:
        try:
            e164 = compact(value, region)
        except IdentityError:
            continue
        if e164 not in found:
            found.append(e164)
    return tuple(found)


def format(raw: str, region: str = "SE") -> str:
    """National format when the number is from ``region``, else international.

    >>> format("+46701234567"), format("+14155552671")
    ('070-123 45 67', '+1 415-555-2671')
    """
    number = parse(raw, region)
    if phonenumbers.region_code_for_number(number) == region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def mask(e164: str) -> str:
    """Country code and last two digits only: what the customer screen may show.

    >>> mask("+46701234567")
    '+46 ******* 67'
    """
    digits = [c for c in e164 if c.isdigit()]
    if len(digits) <= 4:
        return "*" * len(digits)
    return "+" + "".join(digits[:2]) + " " + "*" * (len(digits) - 4) + " " + "".join(digits[-2:])
