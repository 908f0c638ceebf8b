"""Money as the back office shows and reads it: amounts are integers in minor units (öre)
everywhere in the registry, the protocol and the API; people read and type kronor."""

from __future__ import annotations

import re


def kronor(minor: int | None, currency: str | None = "SEK") -> str:
    """Minor units as a Swedish reader writes the amount (no-break spaces inside).

    >>> kronor(124950).replace("\\u00a0", " "), kronor(-5).replace("\\u00a0", " ")
    ('1 249,50 kr', '−0,05 kr')
    >>> kronor(1000000, "EUR").replace("\\u00a0", " "), kronor(None)
    ('10 000,00 EUR', '—')
    """
    if minor is None:
        return "—"
    whole, cents = divmod(abs(minor), 100)
    grouped = f"{whole:,}".replace(",", "\u00a0")
    unit = "kr" if currency in (None, "SEK") else currency
    return f"{'−' if minor < 0 else ''}{grouped},{cents:02d}\u00a0{unit}"


def parse_kronor(text: str) -> int | None:
    """What was typed in a kronor field, in öre; None when empty.  Raises ValueError with
    the reason.

    >>> parse_kronor("5 000"), parse_kronor("1 249,5 kr"), parse_kronor("12.30"), parse_kronor(" ")
    (500000, 124950, 1230, None)
    """
    compact = re.sub(r"[\s\u00a0]|kr$|SEK$", "", text.strip(), flags=re.I)
    if not compact:
        return None
    found = re.fullmatch(r"(\d{1,12})(?:[,.](\d{1,2}))?", compact)
    if not found:
        raise ValueError(f"{text.strip()!r} is not an amount in kronor (like 5 000 or 249,50)")
    return int(found.group(1)) * 100 + int((found.group(2) or "0").ljust(2, "0"))
