"""Parsers for every identifier a shopper can present: pure functions, no I/O.

Each identifier (``personnummer``, ``phone``, ``customer_code``) has its own module with
python-stdnum's API and contract: ``compact(number)`` only cleans and never raises for what the
number says; ``validate(number)`` returns the compact, canonical form or raises;
``is_valid(number)``; ``format(number)`` for a valid one (and ``parse`` returning a typed
result).  The documents (``vcard``, ``mecard``, ``aamva``, ``mrz``) are not numbers: each has
``looks_like(raw)`` and ``parse(raw)``.  Every parser raises only :class:`IdentityError` (or a
subclass) on bad input, and reads its input through :func:`clean.payload` first, so padding and
control characters a reader adds never reach a field.

>>> from cashier_bridge.identity.classify import classify
>>> classify("\\ufeff070-123 45 67\\x00").phone.value
'+46701234567'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cashier_bridge.identity.errors import (
    IdentityError,
    Incomplete,
    InterimNumber,
    InvalidChecksum,
    InvalidDate,
    InvalidFormat,
    InvalidLength,
    NoIdentity,
    Unreadable,
    Unrecognised,
)

__all__ = [
    "Classification",
    "IdentityError",
    "Incomplete",
    "InterimNumber",
    "InvalidChecksum",
    "InvalidDate",
    "InvalidFormat",
    "InvalidLength",
    "NoIdentity",
    "ParsedDocument",
    "Reading",
    "Unreadable",
    "Unrecognised",
]

if TYPE_CHECKING:
    from cashier_bridge.identity.classify import Classification, Reading
    from cashier_bridge.identity.document import ParsedDocument

# The classifier pulls in every document parser (phonenumbers, stdnum): loaded on first use, so
# that the kiosk, which only masks a personnummer, carries none of them (nor does its APK).
# (``classify`` the function is imported from its module: the package attribute of that name
# is the module once anything imports it.)
_LAZY = {"Classification": ".classify", "Reading": ".classify", "ParsedDocument": ".document"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
