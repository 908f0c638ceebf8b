"""Row ids read from a request (a path, a query, a form, a JSON body, inside a page cursor):
whole numbers from 1 to the databases' largest integer, written with the digits 0-9.

Why not ``int()`` or ``str.isdigit()``: isdigit says yes to "²", which int then refuses, and
both take other scripts' digits ("١٢"); a number past 2**63 - 1 overflows SQLite's INTEGER and
PostgreSQL's BIGINT.  Each of those was a 500 with a traceback.  Every id the bridge reads from
outside goes through :func:`parse_id` or the :data:`Id` type (FastAPI parameters and models),
so a bad one is refused where it is read, naming the parameter.
"""

from __future__ import annotations

import re
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

MAX_ID = 2**63 - 1  # BIGINT, and SQLite's INTEGER
_DIGITS = re.compile(r"[0-9]{1,19}")
ID_RULE = f"is a whole number from 1 to {MAX_ID}, written with the digits 0-9"


def parse_id(text: str | None) -> int | None:
    """The id ``text`` spells, or None.

    >>> parse_id("42"), parse_id("²"), parse_id("١٢"), parse_id(str(2**63)), parse_id("0")
    (42, None, None, None, None)
    >>> parse_id(" 7"), parse_id("+7"), parse_id("7.0"), parse_id(None), parse_id(str(2**63 - 1))
    (None, None, None, None, 9223372036854775807)
    """
    if text is None or not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def _strict(value: object) -> object:
    # Text (a path or a query) must be plain digits; a JSON number must be whole; either in
    # range.  One message for all of it (pydantic's own would say "less than or equal to …").
    if isinstance(value, str):
        value = parse_id(value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise PydanticCustomError("id", ID_RULE)
    return value


# The constraints first: the validator then runs before them, and the document still shows
# them as minimum and maximum.
Id = Annotated[int, Ge(1), Le(MAX_ID), BeforeValidator(_strict)]
