"""Phone numbers, stored as E.164 (phonenumbers); the default region comes from config."""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers

from .errors import IdentityError, InvalidFormat, InvalidLength


def parse(raw: str, region: str = "SE") -> phonenumbers.PhoneNumber:
    text = raw.strip()
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
    """E.164, e.g. ``+46701234567``."""
    return phonenumbers.format_number(parse(raw, region), phonenumbers.PhoneNumberFormat.E164)


def validate(raw: str, region: str = "SE") -> str:
    return compact(raw, region)


def is_valid(raw: str, region: str = "SE") -> bool:
    try:
        parse(raw, region)
    except IdentityError:
        return False
    return True


def compact_all(values: Iterable[str], region: str = "SE") -> tuple[str, ...]:
    """Every valid number among ``values`` as E.164, first occurrence first, no repeats."""
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
    """National format when the number is from ``region``, else international."""
    number = parse(raw, region)
    if phonenumbers.region_code_for_number(number) == region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def mask(e164: str) -> str:
    """Country code and last two digits only: ``+46 ******* 67``."""
    digits = [c for c in e164 if c.isdigit()]
    if len(digits) <= 4:
        return "*" * len(digits)
    return "+" + "".join(digits[:2]) + " " + "*" * (len(digits) - 4) + " " + "".join(digits[-2:])
