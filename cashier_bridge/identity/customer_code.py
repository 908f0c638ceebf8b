"""The shop's own customer/loyalty card numbers.

A shop configures the format: any string (default), or digits of a fixed length with an optional
prefix and an EAN-13 / Luhn check digit.  Codes are trimmed and upper-cased.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stdnum import ean, luhn
from stdnum.exceptions import ValidationError

from .clean import payload
from .errors import InvalidChecksum, InvalidFormat, InvalidLength

CheckDigit = Literal["none", "ean13", "luhn"]


@dataclass(frozen=True, slots=True)
class CardFormat:
    prefix: str = ""
    length: int | None = None
    digits_only: bool = False
    check_digit: CheckDigit = "none"


ANY = CardFormat()


def compact(raw: str, fmt: CardFormat = ANY) -> str:
    r"""The code as the registry keeps it: no whitespace or padding, upper case.

    >>> compact(" ab 1001\x00\r\n")
    'AB1001'
    >>> compact("4006381333931", CardFormat(length=13, check_digit="ean13"))
    '4006381333931'
    >>> compact("4006381333932", CardFormat(length=13, check_digit="ean13"))
    ... # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InvalidChecksum: the check digit does not match
    """
    # Whitespace anywhere is spacing, as printed on the card ("1234 5678"), not part of it.
    code = "".join(payload(raw, "customer_code").split()).upper()
    if not code:
        raise InvalidLength("a customer code cannot be empty", kind="customer_code")
    if len(code) > 64:
        raise InvalidLength("a customer code has at most 64 characters", kind="customer_code")
    if not code.isprintable():
        raise InvalidFormat("a customer code is printable text", kind="customer_code")
    if fmt.length is not None and len(code) != fmt.length:
        raise InvalidLength(
            f"this shop's customer codes have {fmt.length} characters", kind="customer_code"
        )
    if (fmt.digits_only or fmt.check_digit != "none") and not code.isdigit():
        raise InvalidFormat("this shop's customer codes are digits only", kind="customer_code")
    if fmt.prefix and not code.startswith(fmt.prefix.upper()):
        raise InvalidFormat(
            f"this shop's customer codes start with {fmt.prefix}", kind="customer_code"
        )
    try:
        if fmt.check_digit == "ean13":
            ean.validate(code)
        elif fmt.check_digit == "luhn":
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
    return code[1:12].lstrip("0") or None


def validate(raw: str, fmt: CardFormat = ANY) -> str:
    """``compact``, python-stdnum style: the code or an IdentityError.

    >>> validate("", CardFormat(digits_only=True))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InvalidLength: a customer code cannot be empty
    """
    return compact(raw, fmt)


def is_valid(raw: str, fmt: CardFormat = ANY) -> bool:
    """Whether ``raw`` is a customer code in this shop's format.

    >>> digits = CardFormat(digits_only=True, prefix="10")
    >>> is_valid("1001", digits), is_valid("2001", digits), is_valid("10A1", digits)
    (True, False, False)
    """
    try:
        compact(raw, fmt)
    except ValueError:
        return False
    return True


def format(raw: str, fmt: CardFormat = ANY) -> str:
    """The code as shown to the cashier: the compact form.

    >>> format("ab 1001")
    'AB1001'
    """
    return compact(raw, fmt)
