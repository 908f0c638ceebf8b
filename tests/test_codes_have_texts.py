"""The codes that cross boundaries are enums, and each member has its text in every language:
every lane notice on the kiosk, every kiosk screen's title, every audit action in the logs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from cashier_bridge import audit
from cashier_bridge.audit import AuditAction, action_text
from cashier_bridge.protocol import Notice
from kiosk import screens
from kiosk.i18n import LANGUAGES, catalog_path
from kiosk.screen_choice import TITLES, Screen

ROOT = Path(__file__).resolve().parents[1]


def translated(language: str) -> dict[str, str]:
    with catalog_path(language).open("rb") as fh:
        catalog = read_po(fh)
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}


def test_the_product_speaks_the_same_languages_everywhere() -> None:
    assert LANGUAGES == audit.LANGUAGES == ("sv", "en", "nl")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_notice_has_a_kiosk_text_in_every_language(language: str) -> None:
    catalog = translated(language)
    missing = [n.value for n in Notice if screens.NOTICES.get(n) not in catalog]
    assert not missing, f"{language}: no kiosk text for {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_screen_has_a_builder_and_a_title_in_every_language(language: str) -> None:
    assert set(screens.BUILDERS) == set(Screen)
    catalog = translated(language)
    missing = [s.value for s in Screen if TITLES.get(s) not in catalog]
    assert not missing, f"{language}: no title for {missing}"


@pytest.mark.parametrize("language", audit.LANGUAGES)
def test_every_audit_action_has_a_text_in_every_language(language: str) -> None:
    texts = audit.ACTION_TEXT[language]
    missing = [a.value for a in AuditAction if not texts.get(a)]
    assert not missing, f"{language}: no text for {missing}"
    assert len(set(texts.values())) == len(AuditAction), "two actions read the same"
    assert action_text("group_assign", language) == texts[AuditAction.group_assign]


def test_the_registry_writes_audit_actions_not_strings() -> None:
    # A new action written as a bare string would have no text anywhere: audit() and the
    # stores' _audit() take the enum, and no caller hands them a literal.
    literals = []
    for path in (ROOT / "cashier_bridge").rglob("*.py"):
        if "migrations" in path.parts:
            continue  # past migrations wrote the same values, and never change
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            # insert(audit_log).values(action=…), audit(conn, actor, action, …)
            action = next((k.value for k in node.keywords if k.arg == "action"), None) \
                if name == "values" else None
            if name in ("audit", "_audit") and len(node.args) >= 3:
                action = node.args[2]
            if isinstance(action, ast.Constant) and isinstance(action.value, str):
                literals.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not literals
