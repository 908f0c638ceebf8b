"""The near-miss rules of the duplicate guard, as a cashier would judge them."""

from __future__ import annotations

import pytest

from cashier_bridge.registry.duplicates import email_key, fold, similar_names


@pytest.mark.parametrize(("a", "b"), [
    ("Anna.Andersson@Gmail.com", "annaandersson@gmail.com"),
    ("anna.andersson+kvitto@gmail.com", "anna.andersson@googlemail.com"),
    ("Berit.Berg@Example.se", "berit.berg@example.se"),
    ("berit.berg+shop@example.se", "berit.berg@example.se"),
])
def test_same_mailbox_written_differently(a: str, b: str) -> None:
    assert email_key(a) == email_key(b)


def test_dots_matter_where_the_provider_says_they_do() -> None:
    assert email_key("b.erg@example.se") != email_key("berg@example.se")


@pytest.mark.parametrize(("a", "b"), [
    (("Åsa", "Öberg"), ("Asa", "Oberg")),
    (("Erik", "Eriksson"), ("Erik", "Ericsson")),
    (("Anna", "Andersson"), ("Andersson", "Anna")),
    (("Maria", "Karlsson"), ("Marie", "Carlsson")),
    (("ANNA", "ANDERSSON"), ("Anna", "Andersson")),
    (("Anna-Lena", "Ek"), ("Anna Lena", "Ek")),
])
def test_similar_names(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert similar_names(*a, *b)


@pytest.mark.parametrize(("a", "b"), [
    (("Lars", "Nilsson"), ("Sara", "Nilsson")),  # siblings
    (("Anna", "Andersson"), ("Anders", "Andersson")),
    (("Anna", "Andersson"), ("Anna", "Lind")),
    ((None, None), ("Anna", "Andersson")),
])
def test_different_people(a: tuple[str | None, str | None], b: tuple[str, str]) -> None:
    assert not similar_names(*a, *b)


def test_fold_removes_case_accents_and_punctuation() -> None:
    assert fold("Åsa-Lena  Öberg") == "asa lena oberg"
