"""Via mobil's layers, read from the source: the phone page (``cashier_bridge/mobile``) sits on top
of the lane hub and imports only downward; the hub and the pure lane code never import the page;
the phone codes (``mobile_tokens``) sit below both and need nothing of either."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cashier_bridge"

# The lane core: what the phone page calls and the kiosk and register ride on.
CORE = ("lane", "lane_hub", "lane_bus", "presenting", "protocol", "mobile_tokens")
# What sits above the phone page (the app that mounts it, other web faces) or beside it.
ABOVE_THE_PAGE = ("cashier_bridge.lane_hub", "cashier_bridge.server", "cashier_bridge.cli",
                  "cashier_bridge.api", "cashier_bridge.admin", "cashier_bridge.console")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (relative imports resolved; ``from x import y`` counts as
    x and x.y, since y may be a module), inside functions too."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_resolver_reads_relative_imports() -> None:
    found = imports(PACKAGE / "mobile" / "routes.py")
    assert "cashier_bridge.mobile.phone_view" in found and "cashier_bridge.lane" in found
    assert "cashier_bridge.mobile_tokens" in found


@pytest.mark.parametrize("core", CORE)
def test_the_lane_core_never_imports_the_phone_page(core: str) -> None:
    wrong = {m for m in imports(PACKAGE / f"{core}.py") if within(m, ("cashier_bridge.mobile",))}
    assert not wrong, f"cashier_bridge/{core}.py imports the phone page: {sorted(wrong)}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "mobile").glob("*.py")), ids=lambda p: p.name)
def test_the_phone_page_imports_only_downward(path: Path) -> None:
    wrong = {m for m in imports(path) if within(m, ABOVE_THE_PAGE)}
    assert not wrong, f"cashier_bridge/mobile/{path.name} imports upward: {sorted(wrong)}"


def test_phone_codes_need_nothing_of_the_hub_or_the_page() -> None:
    ours = {m for m in imports(PACKAGE / "mobile_tokens.py") if within(m, ("cashier_bridge",))}
    assert ours <= {"cashier_bridge", "cashier_bridge.keyfile"}, sorted(ours)
