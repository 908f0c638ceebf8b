"""Parsers for every identifier a shopper can present: pure functions, no I/O.

Each identifier (``personnummer``, ``phone``, ``customer_code``) has its own module with
python-stdnum's API and contract: ``compact(number)`` only cleans and never raises for what the
number says; ``validate(number)`` returns the compact, canonical form or raises;
``is_valid(number)``; ``format(number)`` for a valid one (and ``parse`` returning a typed
result).  The documents (``vcard``, ``mecard``, ``aamva``, ``mrz``) are not numbers: each has
``looks_like(raw)`` and ``parse(raw)``.  Every parser raises only :class:`IdentityError` (or a
subclass) on bad input, and reads its input through :func:`clean.payload` first, so padding and
control characters a reader adds never reach a field.

>>> from cashier_bridge.identity import classify
>>> classify("\\ufeff070-123 45 67\\x00").phone.value
'+46701234567'
"""

from .classify import Classification, Reading, classify
from .document import ParsedDocument
from .errors import (
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
    "classify",
]
