"""Money and rates as people read and type them: the one formatter, with a locale argument.

Amounts are integers in minor units (öre) everywhere in the registry, the protocol and the API;
rates are basis points.  Every page that shows one (the back office, its GDPR export page, the
cashier console, the API's docs) formats it here, so "2,5 %" cannot read "2.5 %" one page on.
The numbers' shapes (grouping, decimal sign, where the currency goes) are CLDR's, through babel,
for each language the product speaks; a shop's pages use :data:`LOCALE`.  The console's script
gets :func:`pattern` and writes amounts by it, rather than keeping rules of its own.
"""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import (
    format_currency,
    format_percent,
    get_decimal_symbol,
    get_group_symbol,
    get_minus_sign_symbol,
)

LOCALES = ("sv", "en", "nl")  # the product's languages (kiosk, console texts)
LOCALE = "sv"  # the shop's: how its staff pages write amounts and rates
NONE = "—"  # no amount, no rate set


def money(minor: int | None, currency: str | None = "SEK", *, locale: str = LOCALE) -> str:
    """Minor units as a reader of ``locale`` writes the amount (no-break spaces inside).

    >>> money(124950).replace("\\u00a0", " "), money(-5).replace("\\u00a0", " ")
    ('1 249,50 kr', '−0,05 kr')
    >>> money(1000000, "EUR").replace("\\u00a0", " "), money(None)
    ('10 000,00 €', '—')
    >>> money(124950, locale="en"), money(124950, locale="nl").replace("\\u00a0", " ")
    ('SEK1,249.50', 'SEK 1.249,50')
    """
    if minor is None:
        return NONE
    text = format_currency(Decimal(abs(minor)).scaleb(-2), currency or "SEK", locale=locale,
                           currency_digits=False)
    # babel writes a hyphen-minus whatever the locale's own minus sign (CLDR sv: U+2212).
    return get_minus_sign_symbol(locale) + text if minor < 0 else text


def percent(bp: int | None, *, locale: str = LOCALE) -> str:
    """Basis points as per cent (250 is 2.5 per cent).

    >>> percent(250).replace("\\u00a0", " "), percent(1000).replace("\\u00a0", " ")
    ('2,5 %', '10 %')
    >>> percent(250, locale="en"), percent(250, locale="nl"), percent(None)
    ('2.5%', '2,5%', '—')
    """
    if bp is None:
        return NONE
    return format_percent(Decimal(bp).scaleb(-4), locale=locale, decimal_quantization=False)


def pattern(currency: str = "SEK", *, locale: str = LOCALE) -> dict[str, str]:
    """How :func:`money` writes an amount, in parts a page's script can apply (the console's
    ``money()``): what comes before and after the digits, the group and decimal signs.

    >>> {k: v.replace("\\u00a0", " ") for k, v in pattern().items()}
    {'prefix': '', 'suffix': ' kr', 'group': ' ', 'decimal': ',', 'minus': '−'}
    """
    sample = money(123456, currency, locale=locale)
    digits = re.search(r"\d.*\d", sample)
    assert digits is not None
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    if digits.group() != f"1{group}234{decimal}56":  # a locale grouping otherwise: say so
        raise ValueError(f"{locale} does not write amounts as groups of three")
    return {"prefix": sample[:digits.start()], "suffix": sample[digits.end():],
            "group": group, "decimal": decimal, "minus": get_minus_sign_symbol(locale)}


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


def parse_percent(text: str) -> int | None:
    """A typed rate in per cent as basis points; None when empty.  Raises ValueError.

    >>> parse_percent("2,5"), parse_percent("10 %"), parse_percent("")
    (250, 1000, None)
    """
    compact = re.sub(r"[\s\u00a0%]", "", text)
    if not compact:
        return None
    found = re.fullmatch(r"(\d{1,3})(?:[,.](\d{1,2}))?", compact)
    if not found:
        raise ValueError(f"{text.strip()!r} is not a rate in per cent (like 2,5)")
    return int(found.group(1)) * 100 + int((found.group(2) or "0").ljust(2, "0"))
