"""Search as you type: which readings of what the cashier typed become prefix searches.

A pure rule (``plan``) and the queries it becomes (``run``).  Every reading is a range over one
index read in index order, so a common prefix costs ``limit`` rows, never every match.

>>> p = plan("ann sv")
>>> p.name_splits
((('ann',), ('sv',)),)
>>> plan("070-123 45").phone_prefix
'+467012345'
>>> plan("+46 (0)70-123").phone_prefix
'+4670123'
>>> plan("Anna.S@").email_prefix
'anna.s@'
>>> plan("a").phone_prefix is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
from sqlalchemy import ColumnElement, Connection, Select, and_

from cashier_bridge.registry import fields
from cashier_bridge.registry.live import live as visible
from cashier_bridge.registry.schema import customers

_HIGHEST_CHAR = "\U0010ffff"
# Fewer digits than this are no phone number yet: "07" would list a register's every customer.
MIN_PHONE_DIGITS = 3
_PHONE_PUNCTUATION = re.compile(r"[\s\-().\/]")
_PHONE = re.compile(r"^(\+|00)?\d+$")


@dataclass(frozen=True)
class SearchPlan:
    code: str | None  # an exact customer code comes first
    code_prefix: str | None
    phone_prefix: str | None  # E.164 prefix
    email_prefix: str | None
    # Ways to read the words as (first-name words, last-name words); either side may be empty.
    name_splits: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
    phrase: str | None  # all the words: the start of a first or a last name ("anna maria")


def plan(text: str, region: str = "SE") -> SearchPlan:
    words = tuple(w for w in fields.search_key(text).split(" ") if w)
    raw = " ".join(text.split())
    compact = raw.replace(" ", "")
    code = compact.upper() if compact and len(words) == 1 else None
    return SearchPlan(
        code=code,
        code_prefix=code,
        phone_prefix=_phone_prefix(raw, region),
        email_prefix=compact.lower() if len(words) == 1 else None,
        name_splits=tuple((words[:k], words[k:]) for k in range(1, len(words))),
        phrase=" ".join(words) or None,
    )


def _phone_prefix(raw: str, region: str) -> str | None:
    """The start of an E.164 number that what was typed can be: "070 12" is "+467012"."""
    # "+46 (0)70…": the bracketed trunk 0 is written for callers at home, never dialled from +.
    compact = _PHONE_PUNCTUATION.sub("", raw.replace("(0)", ""))
    if not _PHONE.match(compact):
        return None
    digits = compact.lstrip("+")
    if compact.startswith("00"):
        digits = compact[2:]
    elif compact.startswith("0"):
        # A national number: the trunk 0 becomes the region's country code.
        digits = f"{phonenumbers.country_code_for_region(region)}{compact[1:]}"
    if len(compact.lstrip("+")) < MIN_PHONE_DIGITS:
        return None
    return "+" + digits


def queries(p: SearchPlan, base: Select[Any], limit: int, dialect: str) -> list[Select[Any]]:
    """The queries of a plan, best reading first."""
    c = customers.c
    live = visible()

    def by_bytes(column: Any) -> Any:
        return column.collate("C") if dialect == "postgresql" else column

    def range_of(column: Any, text: str) -> ColumnElement[bool]:
        return and_(column >= text, column < text + _HIGHEST_CHAR)

    out: list[Select[Any]] = []
    if p.code:
        out.append(base.where(c.customer_code == p.code, live))
    if p.phone_prefix:
        phone = by_bytes(c.phone)
        out.append(base.where(range_of(phone, p.phone_prefix), live).order_by(phone).limit(limit))
    first, last = c.first_name_key, c.last_name_key
    if p.phrase:
        for major, minor in ((last, first), (first, last)):
            out.append(base.where(range_of(major, p.phrase), live)
                       .order_by(major, minor, c.id).limit(limit))
    for first_words, last_words in p.name_splits:
        f, la = " ".join(first_words), " ".join(last_words)
        for major, major_text, minor, minor_text in ((first, f, last, la), (last, f, first, la)):
            # "svensson anna" reads as last name first, too.
            out.append(base.where(range_of(major, major_text), range_of(minor, minor_text), live)
                       .order_by(major, minor, c.id).limit(limit))
    if p.code_prefix:
        code = by_bytes(c.customer_code)
        out.append(base.where(range_of(code, p.code_prefix), live).order_by(code).limit(limit))
    if p.email_prefix:
        email = by_bytes(c.email)
        out.append(base.where(range_of(email, p.email_prefix), live).order_by(email).limit(limit))
    return out


def run(conn: Connection, p: SearchPlan, base: Select[Any], limit: int) -> list[Any]:
    """Rows of the plan's readings in order, each customer once, at most ``limit``."""
    found: dict[int, Any] = {}
    for query in queries(p, base, limit, conn.dialect.name):
        for row in conn.execute(query):
            found.setdefault(row.id, row)
        if len(found) >= limit:
            break
    return list(found.values())[:limit]
