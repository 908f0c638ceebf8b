"""Fixtures for the install tests: a copy of the checkout, a till root (see deploy_harness)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_harness import Till, copy_checkout


@pytest.fixture(scope="session")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_checkout(tmp_path_factory.mktemp("checkout"))


@pytest.fixture
def till(tmp_path: Path) -> Iterator[Till]:
    root = tmp_path / "till"
    root.mkdir()
    yield Till(root)


@pytest.fixture(scope="session")
def installed(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> Till:
    """A till with bridge and kiosk installed once, for the tests that only look at it."""
    till = Till(tmp_path_factory.mktemp("installed"))
    result = till.install(checkout, "--lane", "kassa-1")
    till.output = result.stdout  # type: ignore[attr-defined]
    return till
