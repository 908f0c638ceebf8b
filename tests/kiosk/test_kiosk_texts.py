"""Which screen each lane state means, and catalogs that cover every text the kiosk shows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from cashier_bridge.protocol import KioskState, KioskView, Method, Phase
from kiosk import screens
from kiosk.i18n import LANGUAGES, catalog_path, gettext, next_language
from kiosk.screen_choice import screen_for

KIOSK_DIR = Path(screens.__file__).parent


def state(phase: Phase, **view: object) -> KioskState:
    return KioskState(lane="l", phase=phase, seq=1, view=KioskView(**view))


@pytest.mark.parametrize(("kiosk_state", "screen"), [
    (None, "idle"),
    (state(Phase.idle), "idle"),
    (state(Phase.choosing), "choose"),
    (state(Phase.identifying, method=Method.numpad), "numpad"),
    (state(Phase.identifying, method=Method.mobile), "mobile"),
    (state(Phase.identifying, method=Method.mobile, busy=True, mobile_submitted=True),
     "mobile"),  # the phone is where the shopper looks
    (state(Phase.identifying, method=Method.scan), "scan"),
    (state(Phase.identifying, method=Method.scan, busy=True), "scan"),  # the camera stays on
    (state(Phase.identifying, method=Method.scan, notice="unreadable"), "scan"),
    (state(Phase.identifying, method=Method.numpad, busy=True), "searching"),
    (state(Phase.not_found), "not_found"),
    (state(Phase.ask_member), "ask_member"),
    (state(Phase.await_cashier), "waiting"),
    (state(Phase.connected, first_name="Anna"), "welcome"),
    (state(Phase.connected), "thanks"),
])
def test_each_lane_state_has_its_screen(kiosk_state: KioskState | None, screen: str) -> None:
    assert screen_for(kiosk_state) == screen


def test_offline_wins_over_any_state_and_the_welcome_ends() -> None:
    anna = state(Phase.connected, first_name="Anna")
    assert screen_for(anna, offline=True) == "offline"
    assert screen_for(anna, welcome_over=True) == "thanks"


def _msgids_in_source() -> set[str]:
    """Every string literal passed to m.t(...) or gettext(...) and every notice text."""
    found: set[str] = (set(screens.NOTICES.values()) | set(screens.SCAN_NOTICES.values())
                       | {screens.GENERIC_NOTICE})
    for path in KIOSK_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            args = [a for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value,
                                                                                     str)]
            if name == "t" and args:
                found.add(args[0].value)
            if name == "gettext" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                found.add(node.args[1].value)
    # The choice cards pass their texts through a loop variable.
    found |= {"Via mobile", "Scan a QR code with your phone", "Scan ID",
              "Member card, driving licence or ID card", "Enter ID",
              "Personal ID, phone or customer number"}
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_on_screen_is_translated(language: str) -> None:
    with catalog_path(language).open("rb") as fh:
        catalog = read_po(fh)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = _msgids_in_source() - translated
    assert not missing, f"{language} lacks {sorted(missing)}"


@pytest.mark.parametrize(("language", "says"), [
    ("sv", "Vänd dig till kassören – hen hjälper dig vidare."),
    ("en", "Please turn to the cashier – they will help you finish."),
    ("nl", "Ga naar de kassamedewerker – die helpt je verder."),
])
def test_a_phone_whose_details_do_not_match_is_sent_to_the_cashier_in_every_language(
        language: str, says: str) -> None:
    view = KioskView(notice="ask_cashier")
    assert screens.ScreenModel(language, view).notice() == says
    assert screen_for(KioskState(lane="l", phase=Phase.await_cashier, seq=1, view=view)) == \
        "waiting"


def test_swedish_characters_survive_the_catalog() -> None:
    assert gettext("sv", "Welcome, {name}!", name="Åsa") == "Välkommen, Åsa!"
    assert gettext("sv", "YYYYMMDD-XXXX or 07X-XXX XX XX").startswith("ÅÅÅÅMMDD")


def test_the_toggle_cycles_through_every_language() -> None:
    assert [next_language(x) for x in ("sv", "en", "nl")] == ["en", "nl", "sv"]


@pytest.mark.parametrize(("language", "says"), [
    ("sv", "För många försök på kort tid – vänta 42 sekunder eller fråga kassören."),
    ("en", "Too many tries in a short time – please wait 42 seconds, or ask the cashier."),
    ("nl", "Te veel pogingen in korte tijd – wacht 42 seconden of vraag het de "
           "kassamedewerker."),
])
def test_a_paused_ange_id_says_how_long_to_wait_in_every_language(language: str,
                                                                   says: str) -> None:
    view = KioskView(method=Method.numpad, notice="too_many_tries", retry_in_s=42)
    assert screens.ScreenModel(language, view).notice() == says
    assert screen_for(KioskState(lane="l", phase=Phase.identifying, seq=1, view=view)) == \
        "numpad"
