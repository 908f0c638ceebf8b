"""The folder a module sits in says its layer, and nothing imports upward (docs/decisions.md,
"The layout"): read from the source, inside functions too, so a shortcut taken in a hurry fails
here rather than in a review.

From the bottom: ``identity`` (pure parsers) → ``customers`` rules and field table, ``shop``
settings → ``registry``
(storage) → ``customers.service`` → ``lanes`` (the state machine and its hub) → ``web`` (API,
back office, console, phone page) → ``cli``.  The kiosk rides on the lane protocol and the
settings only; nothing of the product imports the simulator, the tests or the benchmarks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (relative imports resolved; ``from x import y`` counts as
    x and x.y, since y may be a module)."""
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


B = "cashier_bridge"
# (folder, what it must never import)
RULES: list[tuple[str, tuple[str, ...]]] = [
    (f"{B}/identity", (f"{B}.customers", f"{B}.registry", f"{B}.lanes", f"{B}.web", f"{B}.cli")),
    (f"{B}/registry", (f"{B}.customers.service", f"{B}.lanes", f"{B}.web", f"{B}.cli")),
    (f"{B}/customers", (f"{B}.lanes", f"{B}.web", f"{B}.cli")),
    # The shop's settings table: rules like the customers', stored by the registry.
    (f"{B}/shop", (f"{B}.registry", f"{B}.customers.service", f"{B}.lanes", f"{B}.web",
                   f"{B}.cli")),
    (f"{B}/lanes", (f"{B}.web", f"{B}.cli")),
    (f"{B}/web", (f"{B}.cli",)),
    # The phone page sits on the hub's interface (handed to it), never on the hub itself.
    (f"{B}/web/mobile", (f"{B}.lanes.hub", f"{B}.web.app", f"{B}.web.api", f"{B}.web.admin",
                         f"{B}.web.console")),
    ("kiosk", (f"{B}.registry", f"{B}.customers", f"{B}.lanes.hub", f"{B}.web", f"{B}.cli")),
    (B, ("simulator", "tests", "bench")),
    ("kiosk", ("simulator", "tests", "bench")),
]
CASES = [(path, forbidden) for folder, forbidden in RULES
         for path in sorted((ROOT / folder).rglob("*.py")) if "migrations" not in path.parts]


@pytest.mark.parametrize(("path", "forbidden"), CASES,
                         ids=[f"{p.relative_to(ROOT)}-{f[0]}" for p, f in CASES])
def test_nothing_imports_upward(path: Path, forbidden: tuple[str, ...]) -> None:
    wrong = sorted(m for m in imports(path) if within(m, forbidden))
    assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"


def test_the_reader_resolves_relative_imports() -> None:
    found = imports(ROOT / B / "web" / "mobile" / "routes.py")
    assert f"{B}.web.mobile.phone_view" in found and f"{B}.lanes.lane" in found
    assert any(within(m, ("simulator",)) for m in imports(ROOT / "simulator" / "cli.py"))


def test_phone_codes_need_nothing_but_the_key_file() -> None:
    ours = {m for m in imports(ROOT / B / "lanes" / "mobile_tokens.py") if within(m, (B,))}
    assert ours <= {B, f"{B}.keyfile"}, sorted(ours)
