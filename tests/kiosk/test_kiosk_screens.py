"""The customer screen as a shopper meets it: a real kiosk process on Xvfb, a fake bridge,
clicks through xdotool, and what is on screen read back from the kiosk's probe."""

from __future__ import annotations

from typing import Any

import pytest
from kiosk_harness import FakeBridge, Kiosk

from cashier_bridge.protocol import Choose, MemberAnswer, Method, Phase, SubmitId

pytestmark = pytest.mark.kiosk

MASKED = "19850312-****"


def show(bridge: FakeBridge, kiosk: Kiosk, phase: Phase, screen: str, **view: Any
         ) -> dict[str, Any]:
    state = bridge.set_state(phase, **view)
    return kiosk.wait_screen(screen, seq=state.seq)


def fresh(bridge: FakeBridge, kiosk: Kiosk) -> None:
    """Back to idle (and so Swedish), with no intents left over."""
    show(bridge, kiosk, Phase.choosing, "choose")
    show(bridge, kiosk, Phase.idle, "idle")
    bridge.drain()


# (phase, view, screen, a Swedish text, the English text in the same place)
SCREENS = [
    (Phase.idle, {}, "idle", "Hej! Är du medlem?", "Hi! Are you a member?"),
    (Phase.choosing, {}, "choose", "Hur vill du identifiera dig?",
     "How would you like to identify yourself?"),
    (Phase.identifying, {"method": Method.numpad}, "numpad",
     "Ange personnummer, telefon- eller kundnummer",
     "Enter your personal ID, phone or customer number"),
    (Phase.identifying, {"method": Method.mobile, "mobile_url": "https://shop.example/m/abc",
                         "mobile_expires_in_s": 180}, "mobile",
     "Skanna koden med telefonens kamera och fyll i dina uppgifter i telefonen.",
     "Scan the code with your phone's camera and fill in your details on your phone."),
    (Phase.identifying, {"method": Method.scan}, "scan", "Kameran är inte tillgänglig",
     "The camera is not available"),  # this kiosk has no camera (camera = "none")
    (Phase.identifying, {"method": Method.numpad, "busy": True}, "searching", "Söker…",
     "Searching…"),
    (Phase.not_found, {"method": Method.numpad, "masked_id": MASKED, "notice": "not_found"},
     "not_found", "Vi hittade dig inte", "We could not find you"),
    (Phase.ask_member, {"masked_id": MASKED}, "ask_member", "Vill du bli medlem?",
     "Would you like to become a member?"),
    (Phase.await_cashier, {"masked_id": MASKED}, "waiting", "Väntar på kassören",
     "Waiting for the cashier"),
    (Phase.connected, {"first_name": "Anna"}, "welcome", "Välkommen, Anna!", "Welcome, Anna!"),
]


@pytest.mark.parametrize(("phase", "view", "screen", "swedish", "english"), SCREENS,
                         ids=[f"{s[2]}-{s[1].get('method', '')}" for s in SCREENS])
def test_each_phase_shows_its_screen_in_swedish_and_the_toggle_switches_to_english(
        bridge: FakeBridge, kiosk: Kiosk, phase: Phase, view: dict[str, Any], screen: str,
        swedish: str, english: str) -> None:
    fresh(bridge, kiosk)
    probe = show(bridge, kiosk, phase, screen, **view)
    assert probe["language"] == "sv"
    assert swedish in probe["texts"]
    assert "lang" in probe["buttons"]
    assert "English" in probe["texts"]  # the toggle names the language it switches to
    for x, y in probe["buttons"].values():
        assert 0 <= x < 1280 and 0 <= y < 800

    kiosk.click("lang")
    probe = kiosk.wait_screen(screen, language="en")
    assert english in probe["texts"]
    assert swedish not in probe["texts"] or swedish == english


def test_the_language_returns_to_swedish_when_the_lane_goes_idle(
        bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    show(bridge, kiosk, Phase.choosing, "choose")
    kiosk.click("lang")
    kiosk.wait_screen("choose", language="en")
    kiosk.click("lang")
    probe = kiosk.wait_screen("choose", language="nl")
    assert "Hoe wil je je identificeren?" in probe["texts"]
    probe = show(bridge, kiosk, Phase.idle, "idle")
    assert probe["language"] == "sv"
    assert "Hej! Är du medlem?" in probe["texts"]


def test_choosing_enter_id_sends_choose_numpad(bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    probe = show(bridge, kiosk, Phase.choosing, "choose")
    assert {"choose_mobile", "choose_scan", "choose_numpad"} <= probe["buttons"].keys()
    methods = ["Via mobil", "Skanna ID", "Ange ID"]
    assert [t for t in probe["texts"] if t in methods] == methods
    kiosk.click("choose_numpad")
    assert bridge.next_intent() == Choose(method=Method.numpad)
    kiosk.click("choose_scan")
    assert bridge.next_intent() == Choose(method=Method.scan)


def test_the_numpad_builds_digits_with_clear_and_back_and_submits_them(
        bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    probe = show(bridge, kiosk, Phase.identifying, "numpad", method=Method.numpad)
    assert {f"key_{d}" for d in "0123456789"} | {"key_clear", "key_back", "key_ok",
                                                 "cancel"} <= probe["buttons"].keys()
    for key in "123":
        kiosk.click(f"key_{key}")
    kiosk.wait(lambda p: "123" in p["texts"], what="display 123")
    kiosk.click("key_clear")
    kiosk.wait(lambda p: "ÅÅÅÅMMDD-XXXX eller 07X-XXX XX XX" in p["texts"], what="empty display")
    for key in "19850":
        kiosk.click(f"key_{key}")
    kiosk.wait(lambda p: "19850" in p["texts"], what="display 19850")
    kiosk.click("key_back")
    kiosk.wait(lambda p: "1985" in p["texts"], what="display 1985 after back")
    for key in "03121234":
        kiosk.click(f"key_{key}")
    kiosk.wait(lambda p: "19850312-****" in p["texts"], what="all digits, the last four masked")
    kiosk.click("key_ok")
    assert bridge.next_intent(skip=("screen_timeout",)) == SubmitId(digits="198503121234")


@pytest.mark.parametrize(("code", "swedish"), [
    ("invalid_checksum", "Kontrollsiffran stämmer inte – kontrollera numret"),
    ("invalid_date", "Datumet finns inte – kontrollera numret"),
    ("invalid_length", "Numret har för få eller för många siffror"),
    ("invalid_format", "Vi kunde inte läsa numret – försök igen"),
])
def test_a_rejected_number_gets_a_specific_friendly_line(
        bridge: FakeBridge, kiosk: Kiosk, code: str, swedish: str) -> None:
    fresh(bridge, kiosk)
    probe = show(bridge, kiosk, Phase.identifying, "numpad", method=Method.numpad, notice=code)
    assert swedish in probe["texts"]
    assert code not in " ".join(probe["texts"])


def test_welcome_shows_the_first_name_only_and_then_forgets_it(
        bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    probe = show(bridge, kiosk, Phase.connected, "welcome", first_name="Anna")
    assert "Välkommen, Anna!" in probe["texts"]
    probe = kiosk.wait_screen("thanks", timeout=5)  # welcome_s is 1.5 s for this kiosk
    assert "Tack!" in probe["texts"]
    assert not any("Anna" in t for t in probe["texts"])


def test_ask_member_shows_the_masked_id_and_sends_the_answer(
        bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    probe = show(bridge, kiosk, Phase.ask_member, "ask_member", masked_id=MASKED)
    assert MASKED in probe["texts"]
    assert [t for t in probe["texts"] if t in ("Ja", "Nej")] == ["Nej", "Ja"]
    kiosk.click("yes")
    assert bridge.next_intent(skip=("screen_timeout",)) == MemberAnswer(accept=True)
    kiosk.click("no")
    assert bridge.next_intent(skip=("screen_timeout",)) == MemberAnswer(accept=False)


@pytest.mark.parametrize(("phase", "view", "screen"), [
    (Phase.identifying, {"method": Method.numpad}, "numpad"),
    (Phase.identifying, {"method": Method.mobile, "mobile_url": "https://shop.example/m/abc",
                         "mobile_expires_in_s": 180}, "mobile"),
    (Phase.not_found, {"notice": "not_found"}, "not_found"),
    (Phase.await_cashier, {}, "waiting"),
])
def test_back_and_cancel_send_cancel(bridge: FakeBridge, kiosk: Kiosk, phase: Phase,
                                     view: dict[str, Any], screen: str) -> None:
    fresh(bridge, kiosk)
    show(bridge, kiosk, phase, screen, **view)
    kiosk.click("cancel")
    assert bridge.next_intent(skip=("screen_timeout",)).type == "cancel"


def test_not_found_retry_goes_back_to_the_numpad(bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    show(bridge, kiosk, Phase.not_found, "not_found", notice="not_found")
    kiosk.click("retry")
    assert bridge.next_intent(skip=("screen_timeout",)) == Choose(method=Method.numpad)


def test_while_the_cashier_creates_the_member_there_is_nothing_to_cancel(
        bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    probe = show(bridge, kiosk, Phase.await_cashier, "waiting", busy=True)
    assert "cancel" not in probe["buttons"]


def test_a_phone_whose_details_do_not_match_is_asked_to_the_till_and_told_nothing_else(
        bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    probe = show(bridge, kiosk, Phase.await_cashier, "waiting", method=Method.mobile,
                 notice="ask_cashier")
    assert "Vänd dig till kassören – hen hjälper dig vidare." in probe["texts"]
    assert not any("medlemskap" in t for t in probe["texts"])  # nobody asked to join
    assert "cancel" in probe["buttons"]


@pytest.mark.parametrize(("notice", "swedish"), [
    ("member_declined", "Inga problem – du kan bli medlem en annan gång."),
    ("member_aborted", "Medlemskapet skapades inte. Du kan försöka igen."),
])
def test_back_at_the_choices_a_short_line_says_what_happened(
        bridge: FakeBridge, kiosk: Kiosk, notice: str, swedish: str) -> None:
    fresh(bridge, kiosk)
    probe = show(bridge, kiosk, Phase.choosing, "choose", notice=notice)
    assert swedish in probe["texts"]


def test_an_error_from_the_bridge_leaves_the_screen_as_it_is(
        bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    before = show(bridge, kiosk, Phase.choosing, "choose")
    bridge.send_error()
    bridge.set_state(Phase.choosing, seq=before["seq"])  # a marker that the error was handled
    probe = kiosk.wait_screen("choose", seq=before["seq"])
    assert probe["texts"] == before["texts"]


def test_typed_digits_leave_the_screen_with_the_numpad(bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    show(bridge, kiosk, Phase.identifying, "numpad", method=Method.numpad)
    for key in "1985":
        kiosk.click(f"key_{key}")
    kiosk.wait(lambda p: "1985" in p["texts"], what="digits typed")
    show(bridge, kiosk, Phase.choosing, "choose")
    probe = show(bridge, kiosk, Phase.identifying, "numpad", method=Method.numpad)
    assert "1985" not in probe["texts"]


def test_with_no_camera_skanna_id_says_so_and_ange_id_still_works(
        bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    probe = show(bridge, kiosk, Phase.identifying, "scan", method=Method.scan)
    assert "Kameran är inte tillgänglig" in probe["texts"]
    assert "Ange ditt ID i stället, eller be kassören om hjälp." in probe["texts"]
    assert probe["camera"]["status"] == "failed" and not probe["camera"]["live"]
    kiosk.click("enter_id")
    assert bridge.next_intent(skip=("screen_timeout",)) == Choose(method=Method.numpad)
    probe = show(bridge, kiosk, Phase.identifying, "numpad", method=Method.numpad)
    assert probe["camera"] is None  # nothing holds a camera off the scan screen
    for key in "1001":
        kiosk.click(f"key_{key}")
    kiosk.wait(lambda p: "1001" in p["texts"], what="digits typed")
    kiosk.click("key_ok")
    assert bridge.next_intent(skip=("screen_timeout",)) == SubmitId(digits="1001")


def test_registry_trouble_asks_the_shopper_to_try_again_in_a_moment(
        bridge: FakeBridge, kiosk: Kiosk) -> None:
    from cashier_bridge.protocol import ErrorCode
    from kiosk.i18n import gettext
    from kiosk.screens import NOTICES

    one_moment = gettext("sv", NOTICES["unavailable"])
    fresh(bridge, kiosk)
    before = show(bridge, kiosk, Phase.identifying, "numpad", method=Method.numpad)
    assert one_moment not in before["texts"]
    bridge.send_error(ErrorCode.unavailable)  # the bridge could not reach its database
    shown = kiosk.wait(lambda p: one_moment in p["texts"], what="the one-moment line")
    assert shown["screen"] == "numpad"  # the shopper stays where they were and can retry
    show(bridge, kiosk, Phase.identifying, "numpad", method=Method.numpad)
    assert one_moment not in kiosk.wait_screen("numpad", seq=bridge.state.seq)["texts"]


def test_a_typed_personnummer_is_masked_and_shows_while_show_is_held(
        bridge: FakeBridge, kiosk: Kiosk) -> None:
    import os
    import subprocess

    fresh(bridge, kiosk)
    show(bridge, kiosk, Phase.identifying, "numpad", method=Method.numpad)
    for key in "198503121249":
        kiosk.click(f"key_{key}")
    typed = kiosk.wait(lambda p: "19850312-****" in p["texts"], what="the masked number")
    assert not any("1249" in t for t in typed["texts"])  # the queue cannot read it
    x, y = typed["buttons"]["key_show"]
    env = dict(os.environ, DISPLAY=kiosk.display)
    subprocess.run(["xdotool", "mousemove", str(x), str(y), "mousedown", "1"], env=env,
                   check=True, timeout=10)
    held = kiosk.wait(lambda p: "198503121249" in p["texts"], what="the number while held")
    assert held["screen"] == "numpad"
    subprocess.run(["xdotool", "mouseup", "1"], env=env, check=True, timeout=10)
    kiosk.wait(lambda p: "19850312-****" in p["texts"], what="the number masked again")
    kiosk.click("key_ok")
    assert bridge.next_intent(skip=("screen_timeout",)) == SubmitId(digits="198503121249")


def test_a_typed_phone_number_shows_only_its_ends(bridge: FakeBridge, kiosk: Kiosk) -> None:
    fresh(bridge, kiosk)
    show(bridge, kiosk, Phase.identifying, "numpad", method=Method.numpad)
    for key in "0701234567":
        kiosk.click(f"key_{key}")
    kiosk.wait(lambda p: "070*****67" in p["texts"], what="the masked phone number")
