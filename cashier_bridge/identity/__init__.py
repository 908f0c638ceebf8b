"""Parsers for every identifier a shopper can present: pure functions, no I/O.

Each kind has its own module with the same small API as python-stdnum: ``compact``,
``validate``, ``is_valid``, ``format`` (and ``parse`` returning a typed result).  Every parser
raises only :class:`IdentityError` (or a subclass) on bad input.
"""

from .classify import Classification, Reading, classify
from .errors import IdentityError, InvalidChecksum, InvalidDate, InvalidFormat, InvalidLength

__all__ = [
    "Classification",
    "IdentityError",
    "InvalidChecksum",
    "InvalidDate",
    "InvalidFormat",
    "InvalidLength",
    "Reading",
    "classify",
]
