"""How each customer value is read and checked: pure functions, each raising
:class:`InvalidCustomer` naming the field and the reason.  Every entry path (the kiosk, the API,
the back office, the console, a CSV file) reads a value through the same rule here, via
:mod:`.fields`."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Any

from cashier_bridge.identity import customer_code as customer_code_parser
from cashier_bridge.identity.errors import IdentityError


class InvalidCustomer(ValueError):
    """A customer field that cannot be stored as given; the message names field and reason."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class AccountStatus(StrEnum):
    """May the customer buy on account?  ``on_hold`` stops it for now (a late payment),
    ``closed`` for good; the balance stays either way."""

    active = "active"
    on_hold = "on_hold"
    closed = "closed"

    @property
    def label(self) -> str:
        return {"active": "active", "on_hold": "on hold", "closed": "closed"}[self.value]


# Deliberately loose: one @, no spaces, a dot in the domain.  Deliverability is the mail
# server's business; this only catches typing slips and swapped columns.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")

# Mail providers that ignore dots in the local part (and where "+tag" is an alias).
_DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

MAX_NAME = 100
MAX_NOTE = 2000
MAX_POSTAL_CODE = 16
MAX_ACCOUNT_LIMIT_MINOR = 10**11  # a billion kronor: beyond it a slip of the keyboard
MAX_LOYALTY_RATE_BP = 10_000  # 100 %


def email(raw: str) -> str:
    value = raw.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidCustomer("email", f"{raw.strip()!r} is not an email address")
    return value


def email_key(email: str) -> str:
    """The form two e-mail addresses share when they reach the same mailbox."""
    local, _, domain = email.strip().lower().rpartition("@")
    if not local:
        return email.strip().lower()
    local = local.split("+", 1)[0]
    if domain in _DOTLESS_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def customer_code(raw: str) -> str:
    try:
        return customer_code_parser.validate(raw)
    except IdentityError as err:
        raise InvalidCustomer("customer_code", str(err)) from None


def name(raw: str, field: str) -> str:
    value = " ".join(raw.split())
    if not value:
        raise InvalidCustomer(field, "is empty")
    if len(value) > MAX_NAME:
        raise InvalidCustomer(field, f"has more than {MAX_NAME} characters")
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


# Loose on purpose (shops deliver abroad): digits and letters with spaces or hyphens, as post
# offices write them ("111 51", "SW1A 1AA", "1012 AB"); catches a street or a phone typed in it.
_POSTAL = re.compile(r"^(?=.*[0-9])[A-Z0-9][A-Z0-9 -]{2,9}$")


def postal_code(value: str | None, field: str = "postal_code") -> str | None:
    """A postal code as the post writes it, upper-cased; raises InvalidCustomer.  The one rule
    for every path a postal code comes in by (kiosk, API, back office, CSV file).

    >>> postal_code(" 111  51 "), postal_code("sw1a 1aa"), postal_code("")
    ('111 51', 'SW1A 1AA', None)
    >>> postal_code("Storgatan 1")
    Traceback (most recent call last):
    ...
    cashier_bridge.customers.rules.InvalidCustomer: postal_code: 'STORGATAN 1' is not a postal \
code (digits and letters, like 111 51)
    """
    text = optional_text(value, field, MAX_POSTAL_CODE)
    if text is None:
        return None
    text = text.upper()
    if not _POSTAL.match(text):
        raise InvalidCustomer(field, f"{text!r} is not a postal code (digits and letters, "
                                     "like 111 51)")
    return text


def note(value: str | None, field: str = "note") -> str | None:
    """The shop's remark: kept as typed (line breaks too), trimmed; None when empty."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_NOTE:
        raise InvalidCustomer(field, f"has more than {MAX_NOTE} characters")
    return value or None


def account_status(value: Any, field: str = "account_status") -> AccountStatus:
    try:
        return AccountStatus(value)
    except ValueError:
        raise InvalidCustomer(field, "is one of " + ", ".join(
            s.value for s in AccountStatus)) from None


def bounded_int(value: Any, field: str, highest: int) -> int | None:
    """A whole number from 0 to ``highest``, or None (no limit / no rate set).

    >>> bounded_int(250, "loyalty_rate_bp", MAX_LOYALTY_RATE_BP), bounded_int(None, "x", 1)
    (250, None)
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidCustomer(field, "is a whole number")
    if value is not None and not 0 <= value <= highest:
        raise InvalidCustomer(field, f"is between 0 and {highest}")
    return value
