"""Every identifier module has python-stdnum's API, with its contract: ``compact(number)`` only
cleans (it never raises for what the number says), ``validate(number)`` returns the compact form
or raises an IdentityError, ``is_valid`` says which, ``format`` shows a valid one; the same
parameter name everywhere."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashier_bridge.identity import customer_code, personnummer, phone
from cashier_bridge.identity.errors import IdentityError
from identity.conftest import TODAY

MODULES = (personnummer, phone, customer_code)
TEXT = st.builds(lambda p, t: p + t,
                 st.sampled_from(["", "19", "85", "070", "+46", "0046", "1001", " \ufeff"]),
                 st.text(max_size=40))


def validate_of(module: ModuleType) -> Callable[[str], str]:
    if module is personnummer:
        return lambda number: personnummer.validate(number, today=TODAY)
    return module.validate


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_the_same_functions_with_the_same_parameter_name(module: ModuleType) -> None:
    for name in ("compact", "validate", "is_valid", "format"):
        parameters = list(inspect.signature(getattr(module, name)).parameters)
        assert parameters[0] == "number", (module.__name__, name, parameters)


@pytest.mark.parametrize(("module", "bad", "cleaned"), [
    (personnummer, " 19850312-1248\x00", "198503121248"),  # wrong check digit
    (phone, "070-123", "070123"),  # too short
    (customer_code, "1234567890 1", "12345678901"),  # an assigned-shape code, bad check digit
], ids=("personnummer", "phone", "customer_code"))
def test_compact_cleans_what_validate_refuses(module: ModuleType, bad: str,
                                              cleaned: str) -> None:
    assert module.compact(bad) == cleaned
    assert not module.is_valid(bad)
    with pytest.raises(IdentityError):
        validate_of(module)(bad)


@pytest.mark.parametrize(("module", "typed", "valid", "shown"), [
    (personnummer, "850312-1249", "198503121249", "19850312-1249"),
    (phone, "0046 70-123 45 67", "+46701234567", "070-123 45 67"),
    (customer_code, " ab 1001 ", "AB1001", "AB1001"),
], ids=("personnummer", "phone", "customer_code"))
def test_validate_returns_the_compact_form_and_format_shows_it(
        module: ModuleType, typed: str, valid: str, shown: str) -> None:
    assert validate_of(module)(typed) == valid
    assert module.compact(valid) == valid  # already compact
    assert validate_of(module)(module.compact(typed)) == valid
    assert module.format(valid) == shown


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_compact_never_raises_and_validate_agrees_with_is_valid(text: str) -> None:
    for module in MODULES:
        cleaned = module.compact(text)
        assert module.compact(cleaned) == cleaned
        try:
            value = validate_of(module)(text)
        except IdentityError:
            valid = False
        else:
            valid = True
            assert module.compact(value) == value
        if module is personnummer:
            assert personnummer.is_valid(text, today=TODAY) is valid
        else:
            assert module.is_valid(text) is valid
