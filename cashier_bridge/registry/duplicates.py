"""How the duplicate guard decides that two customers are probably the same person.

Exact identifiers (personal-ID fingerprint, E.164 phone, e-mail) are matched by the registry's
unique indexes. This module covers the near misses a cashier should see before creating a new
member: the same e-mail written with other case, dots or a ``+tag``; a name spelt a little
differently (Åsa/Asa, Eriksson/Ericsson, first and last name swapped).
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass

from cashier_bridge.customers.rules import email_key

NAME_SIMILARITY = 0.66  # Jon/Jan and Maria/Marie pass, Lars/Sara does not


__all__ = ["DuplicateProbe", "email_key", "fold", "name_similarity", "similar_names"]


@dataclass(frozen=True, slots=True)
class DuplicateProbe:
    """What is known about a would-be new member."""

    birth_date: object = None  # datetime.date
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None
    personal_id_fingerprint: str | None = None


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a name: 'Åsa-Lena Öberg' → 'asa lena oberg'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split())


def name_similarity(first_a: str | None, last_a: str | None, first_b: str, last_b: str) -> float:
    """How alike two names are, 0..1: the weaker of first-name and last-name likeness, so that
    siblings (same last name, other first name) do not look alike; swapped names count as equal.
    """
    fa, la, fb, lb = fold(first_a or ""), fold(last_a or ""), fold(first_b), fold(last_b)
    if not (fa or la):
        return 0.0

    def ratio(x: str, y: str) -> float:
        if not x or not y:
            return 0.0 if x or y else 1.0
        return difflib.SequenceMatcher(None, x, y).ratio()

    return max(min(ratio(fa, fb), ratio(la, lb)), min(ratio(fa, lb), ratio(la, fb)))


def similar_names(first_a: str | None, last_a: str | None, first_b: str, last_b: str) -> bool:
    return name_similarity(first_a, last_a, first_b, last_b) >= NAME_SIMILARITY
