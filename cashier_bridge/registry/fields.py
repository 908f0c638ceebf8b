"""Normal forms of the customer fields the registry stores and matches on."""

from __future__ import annotations

import re
import unicodedata

from ..identity import customer_code as customer_code_parser
from ..identity.errors import IdentityError


class InvalidCustomer(ValueError):
    """A customer field that cannot be stored as given; the message names field and reason."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


# Deliberately loose: one @, no spaces, a dot in the domain.  Deliverability is the mail
# server's business; this only catches typing slips and swapped columns.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


def email(raw: str) -> str:
    value = raw.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidCustomer("email", f"{raw.strip()!r} is not an email address")
    return value


def customer_code(raw: str) -> str:
    try:
        return customer_code_parser.validate(raw)
    except IdentityError as err:
        raise InvalidCustomer("customer_code", str(err)) from None


def name(raw: str, field: str) -> str:
    value = " ".join(raw.split())
    if not value:
        raise InvalidCustomer(field, "is empty")
    if len(value) > 100:
        raise InvalidCustomer(field, "has more than 100 characters")
    return value


# Letters that are not a base letter plus an accent in Unicode, folded as a shopper would type
# them on a keyboard without them.
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "ı": "i", "þ": "th",
                       "ð": "d"})


def search_key(text: str) -> str:
    """What name searches compare: casefolded, accents dropped, inner whitespace collapsed, so
    that "asa ostlund" finds "Åsa Östlund" (a cashier's keyboard may have no å).

    >>> search_key("  Åsa   Östlund-Bjørk ")
    'asa ostlund-bjork'
    """
    decomposed = unicodedata.normalize("NFKD", " ".join(text.split()).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_FOLD)


def optional_text(raw: str | None, field: str, max_length: int) -> str | None:
    if raw is None:
        return None
    value = " ".join(raw.split())
    if len(value) > max_length:
        raise InvalidCustomer(field, f"has more than {max_length} characters")
    return value or None
