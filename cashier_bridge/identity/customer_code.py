"""The shop's own customer/loyalty card numbers.

A shop configures the format: any string (default), or digits of a fixed length with an optional
prefix and an EAN-13 / Luhn check digit.  Codes are trimmed and upper-cased.  The API is
python-stdnum's: :func:`compact` cleans, :func:`validate` checks against the shop's
:class:`CardFormat` and returns the compact code or raises, :func:`is_valid`, :func:`format`.

The codes selfreg gives new members (:func:`new_assigned`) are 11 digits: a first digit 1-9 and
nine random ones (from :mod:`secrets`), then a Luhn check digit.  A code is a bearer credential
at Skanna ID, so a member's code says nothing about anyone else's, and a typed or scanned code
of that length with a wrong digit is refused here, before any lookup (docs/decisions.md,
"Customer codes"). Eleven digits is neither a personnummer (10 or 12) nor, without a leading 0
or +, a phone number, and fits in an in-store EAN-13 (``2`` + 11 digits + its check digit).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

from stdnum import ean, luhn
from stdnum.exceptions import ValidationError

from cashier_bridge.identity.clean import payload
from cashier_bridge.identity.errors import (
    IdentityError,
    InvalidChecksum,
    InvalidFormat,
    InvalidLength,
    Unreadable,
)

CheckDigit = Literal["none", "ean13", "luhn"]


@dataclass(frozen=True, slots=True)
class CardFormat:
    prefix: str = ""
    length: int | None = None
    digits_only: bool = False
    check_digit: CheckDigit = "none"


ANY = CardFormat()

ASSIGNED_LENGTH = 11
_ASSIGNED_FIRST = 10 ** (ASSIGNED_LENGTH - 2)  # the smallest 10-digit body: no leading 0
_ASSIGNED_BODIES = 9 * _ASSIGNED_FIRST


def new_assigned() -> str:
    """A new member's code: random, 11 digits, the last a Luhn check digit.

    >>> code = new_assigned()
    >>> len(code), code[0] != "0", luhn.is_valid(code)
    (11, True, True)
    """
    body = str(_ASSIGNED_FIRST + secrets.randbelow(_ASSIGNED_BODIES))
    return body + luhn.calc_check_digit(body)


def is_assigned_shape(code: str) -> bool:
    """Whether ``code`` has the shape of the codes selfreg assigns, which must end in their
    check digit: 11 digits (with a leading 0 too, so that no single wrong digit gets past).

    >>> [is_assigned_shape(c) for c in ("12345678903", "500001", "01234567890")]
    [True, False, True]
    """
    return len(code) == ASSIGNED_LENGTH and code.isdigit()


def compact(number: str) -> str:
    r"""The code cleaned, python-stdnum style: no whitespace or reader padding, upper case.
    Never raises for what the code says.

    >>> compact(" ab 1001\x00\r\n"), compact("\x00")
    ('AB1001', '')
    """
    try:
        return _compact(number)
    except Unreadable:
        return ""


def _compact(number: str) -> str:
    # Whitespace anywhere is spacing, as printed on the card ("1234 5678"), not part of it.
    return "".join(payload(number, "customer_code").split()).upper()


def validate(number: str, card_format: CardFormat = ANY) -> str:
    """The compact code, or an IdentityError saying why it is not one of this shop's.

    >>> validate("4006381333931", CardFormat(length=13, check_digit="ean13"))
    '4006381333931'
    >>> validate("4006381333932", CardFormat(length=13, check_digit="ean13"))
    ... # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InvalidChecksum: the check digit does not match
    >>> validate("", CardFormat(digits_only=True))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InvalidLength: a customer code cannot be empty
    """
    code = _compact(number)  # nothing but padding: Unreadable, a misfired scan
    if not code:
        raise InvalidLength("a customer code cannot be empty", kind="customer_code")
    if len(code) > 64:
        raise InvalidLength("a customer code has at most 64 characters", kind="customer_code")
    if not code.isprintable():
        raise InvalidFormat("a customer code is printable text", kind="customer_code")
    if is_assigned_shape(code) and not luhn.is_valid(code):
        # One wrong digit of a member's code must find nobody, not the member next to it.
        raise InvalidChecksum("an 11-digit customer number ends in a check digit, and this "
                              "one's does not match", kind="customer_code")
    if card_format.length is not None and len(code) != card_format.length:
        raise InvalidLength(f"this shop's customer codes have {card_format.length} characters",
                            kind="customer_code")
    if (card_format.digits_only or card_format.check_digit != "none") and not code.isdigit():
        raise InvalidFormat("this shop's customer codes are digits only", kind="customer_code")
    if card_format.prefix and not code.startswith(card_format.prefix.upper()):
        raise InvalidFormat(f"this shop's customer codes start with {card_format.prefix}",
                            kind="customer_code")
    try:
        if card_format.check_digit == "ean13":
            ean.validate(code)
        elif card_format.check_digit == "luhn":
            luhn.validate(code)
    except ValidationError:
        raise InvalidChecksum("the check digit does not match", kind="customer_code") from None
    return code


def in_store_number(code: str) -> str | None:
    """The shop's own number inside an in-store EAN-13 (GS1 prefix 2: "for use within a
    company"), as loyalty cards print it: ``2`` + the number zero-padded + a check digit.

    >>> in_store_number("2000000010014")
    '1001'
    >>> in_store_number("4006381333931") is None  # a product's EAN: no customer number in it
    True
    """
    if len(code) != 13 or not code.isdigit() or code[0] != "2" or not ean.is_valid(code):
        return None
    inner = code[1:12].lstrip("0")
    if not inner or (is_assigned_shape(inner) and not luhn.is_valid(inner)):
        return None
    return inner


def is_valid(number: str, card_format: CardFormat = ANY) -> bool:
    """Whether ``number`` is a customer code in this shop's format.

    >>> digits = CardFormat(digits_only=True, prefix="10")
    >>> is_valid("1001", digits), is_valid("2001", digits), is_valid("10A1", digits)
    (True, False, False)
    """
    try:
        validate(number, card_format)
    except IdentityError:
        return False
    return True


def format(number: str) -> str:
    """The code as shown to the cashier: the compact form.

    >>> format("ab 1001")
    'AB1001'
    """
    return compact(number)
