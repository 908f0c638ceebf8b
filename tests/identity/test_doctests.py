"""The examples in the identity modules' docstrings run, and every module has some.

Equivalent to ``python -m pytest --doctest-modules cashier_bridge/identity``, but part of the
normal test run without changing how pytest collects everything else.
"""

import doctest
import importlib
import pkgutil

import pytest

import cashier_bridge.identity

MODULES = sorted(
    ["cashier_bridge.identity"]
    + [f"cashier_bridge.identity.{m.name}"
       for m in pkgutil.iter_modules(cashier_bridge.identity.__path__)]
)


def test_every_parser_module_is_covered() -> None:
    for kind in ("personnummer", "phone", "customer_code", "vcard", "mecard", "aamva", "mrz",
                 "classify", "document", "clean"):
        assert f"cashier_bridge.identity.{kind}" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    # import_module, not attribute access: the package's ``classify`` is the function.
    module = importlib.import_module(name)
    result = doctest.testmod(module, report=True)
    assert result.attempted > 0, f"{name} shows no example of its use"
    assert result.failed == 0, f"{result.failed} docstring example(s) in {name} failed"
