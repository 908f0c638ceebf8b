"""The examples in the docstrings of modules outside the identity parsers run (those have
tests/identity/test_doctests.py).  Every module that shows an example is listed: a new one found
by grep and not listed fails the first test."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "cashier_bridge.web.admin.customers",
    "cashier_bridge.web.admin.warnings",
    "cashier_bridge.audit",
    "cashier_bridge.customers.rules",
    "cashier_bridge.shop.settings",
    "cashier_bridge.customers.service",
    "cashier_bridge.customers.lookup_limit",
    "cashier_bridge.keyfile",
    "cashier_bridge.web.http_headers",
    "cashier_bridge.ids",
    "cashier_bridge.money",
    "cashier_bridge.permissions",
    "cashier_bridge.lanes.presenting",
    "cashier_bridge.web.ratelimit",
    "cashier_bridge.registry.customer_admin",
    "cashier_bridge.registry.customer_rows",
    "cashier_bridge.registry.driver",
    "cashier_bridge.registry.lookups",
    "cashier_bridge.registry.personal_id_key",
    "cashier_bridge.registry.search",
    "cashier_bridge.registry.secret_hash",
    "cashier_bridge.throttle",
    "kiosk.masking",
]


def test_every_module_with_examples_is_listed() -> None:
    found = set()
    for package in ("cashier_bridge", "kiosk", "simulator"):
        for path in (ROOT / package).rglob("*.py"):
            if "identity" in path.parts or ">>> " not in path.read_text(encoding="utf-8"):
                continue
            found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert found == set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), report=True)
    assert result.attempted > 0, f"{name} shows no example"
    assert result.failed == 0, f"{result.failed} docstring example(s) in {name} failed"
