"""Ordered classification of what a shopper typed or presented.

An input can be several kinds at once (ten digits are a personnummer, a card number and maybe a
phone number).  ``classify`` never guesses: it returns every reading that parses, in the order the
registry should try them, plus the reasons the other readings were rejected, so that a shopper
who mistyped their personnummer is told so instead of "not found".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Literal

from . import customer_code, personnummer, phone
from .errors import IdentityError

Kind = Literal["personnummer", "samordningsnummer", "phone", "customer_code"]
Source = Literal["numpad", "scan", "mobile"]


@dataclass(frozen=True, slots=True)
class Reading:
    kind: Kind
    value: str  # normalised: 12-digit personal id, E.164 phone, or card code
    masked: str  # safe for the customer screen
    birth_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Classification:
    raw_length: int
    readings: tuple[Reading, ...] = ()
    rejected: tuple[IdentityError, ...] = field(default=())

    @property
    def personal_id(self) -> Reading | None:
        return next((r for r in self.readings if r.kind in ("personnummer", "samordningsnummer")),
                    None)

    @property
    def phone(self) -> Reading | None:
        return next((r for r in self.readings if r.kind == "phone"), None)

    @property
    def can_become_member(self) -> bool:
        """A new member needs something that identifies a person, not just a card number."""
        return self.personal_id is not None or self.phone is not None

    def best_rejection(self) -> IdentityError | None:
        """The rejection worth telling the shopper, when nothing identified them."""
        return self.rejected[0] if self.rejected else None


_PNR_SHAPED = re.compile(r"^(\d{6}|\d{8})[-+]?\d{4}$")


def classify(
    raw: str,
    source: Source = "numpad",
    *,
    region: str = "SE",
    card_format: customer_code.CardFormat = customer_code.ANY,
    today: dt.date | None = None,
) -> Classification:
    text = "".join(raw.split())
    readings: list[Reading] = []
    rejected: list[IdentityError] = []

    if _PNR_SHAPED.match(text):
        try:
            pid = personnummer.parse(text, today=today)
        except IdentityError as err:
            rejected.append(err)
        else:
            readings.append(Reading(pid.kind, pid.number, pid.masked, pid.birth_date))

    if text.startswith(("+", "0")) and len(re.sub(r"\D", "", text)) >= 7:
        try:
            e164 = phone.compact(text, region)
        except IdentityError as err:
            if not readings and not rejected:
                rejected.append(err)
        else:
            readings.append(Reading("phone", e164, phone.mask(e164)))

    try:
        code = customer_code.compact(text, card_format)
    except IdentityError as err:
        if not readings and not rejected:
            rejected.append(err)
    else:
        readings.append(Reading("customer_code", code, _mask_code(code)))

    return Classification(len(text), tuple(readings), tuple(rejected))


def _mask_code(code: str) -> str:
    return code if len(code) <= 4 else "*" * (len(code) - 4) + code[-4:]
