"""The shop's own customer/loyalty card numbers.

A shop configures the format: any string (default), or digits of a fixed length with an optional
prefix and an EAN-13 / Luhn check digit.  Codes are trimmed and upper-cased.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stdnum import ean, luhn
from stdnum.exceptions import ValidationError

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
    code = "".join(raw.split()).upper()
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


def validate(raw: str, fmt: CardFormat = ANY) -> str:
    return compact(raw, fmt)


def is_valid(raw: str, fmt: CardFormat = ANY) -> bool:
    try:
        compact(raw, fmt)
    except ValueError:
        return False
    return True


def format(raw: str, fmt: CardFormat = ANY) -> str:
    return compact(raw, fmt)
