"""The phone page in a real browser at a phone's size, against a running bridge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.mobile.conftest import (
    ANNA_PNR,
    PHONE,
    Device,
    fill,
    show_code,
    start_bridge,
    stop_bridge,
)


def test_known_customer_is_connected_and_gets_their_card(phone: Any,
                                                         lane: tuple[Device, Device]) -> None:
    kiosk, register = lane
    url = show_code(kiosk, register)
    phone.goto(url)
    expect(phone.locator("h1")).to_have_text("Via mobile")
    assert phone.locator("#personal_id").get_attribute("inputmode") == "numeric"
    assert phone.locator("#first_name").get_attribute("autocomplete") == "given-name"
    assert not phone.locator("#consent_marketing").is_checked()
    fill(phone, first="Anna", last="Andersson", phone="070-123 45 67", personal_id=ANNA_PNR)
    phone.locator("#consent_marketing").check()
    phone.tap("#send")
    event = register.next("customer_connected")
    assert event["customer"]["customer_code"] == "1001"
    assert kiosk.next("state", phase="connected")["view"]["first_name"] == "Anna"
    expect(phone.locator("#status")).to_contain_text("Welcome, Anna!")
    expect(phone.locator("#customer-code")).to_have_text("1001")
    expect(phone.locator("#card svg")).to_be_visible()


def test_new_member_confirmed_by_the_cashier_step_by_step(phone: Any,
                                                          lane: tuple[Device, Device]) -> None:
    kiosk, register = lane
    phone.goto(show_code(kiosk, register))
    fill(phone)
    phone.tap("#send")
    kiosk.next("state", phase="ask_member")
    expect(phone.locator("#status")).to_contain_text("Answer on the screen at the till")
    kiosk.send(type="member_answer", accept=True)
    prompt = register.next("member_prompt")["prompt"]
    assert (prompt["first_name"], prompt["last_name"], prompt["phone"]) == (
        "Nils", "Nilsson", "+46707654321")
    expect(phone.locator("#status")).to_contain_text("Please turn to the cashier")
    register.send(type="confirm_member", prompt_id=prompt["prompt_id"],
                  details={"first_name": "Nils", "last_name": "Nilsson"})
    code = register.next("customer_connected")["customer"]["customer_code"]
    expect(phone.locator("#status")).to_contain_text("Welcome as a member, Nils!")
    expect(phone.locator("#customer-code")).to_have_text(code)


def test_new_member_aborted_by_the_cashier(phone: Any, lane: tuple[Device, Device]) -> None:
    kiosk, register = lane
    phone.goto(show_code(kiosk, register))
    fill(phone, personal_id="199104170205", phone="070-765 43 22")  # nobody has these
    phone.locator("#member").check()  # "make me a member": straight to the cashier
    phone.tap("#send")
    prompt = register.next("member_prompt")["prompt"]
    expect(phone.locator("#status")).to_contain_text("Please turn to the cashier")
    register.send(type="abort_member", prompt_id=prompt["prompt_id"])
    kiosk.next("state", phase="choosing")
    expect(phone.locator("#status")).to_contain_text("The cashier did not create a membership")
    expect(phone.locator("#card")).to_have_count(0)


def test_a_reused_code_is_refused_on_a_second_phone(browser: Any, phone: Any,
                                                    lane: tuple[Device, Device]) -> None:
    kiosk, register = lane
    url = show_code(kiosk, register)
    phone.goto(url)
    fill(phone, personal_id="199104170304", phone="070-765 43 23")
    phone.tap("#send")
    kiosk.next("state", phase="ask_member")
    other = browser.new_context(**PHONE)
    try:
        second = other.new_page()
        response = second.goto(url)
        assert response is not None and response.status == 410
        expect(second.locator("#problem")).to_have_text("This code has already been used")
        expect(second.locator("#todo")).to_contain_text("Scan the new code on the screen")
    finally:
        other.close()
    kiosk.send(type="member_answer", accept=False)
    expect(phone.locator("#status")).to_contain_text("You chose not to become a member")


def test_an_invalid_personnummer_is_explained_next_to_the_field(
        phone: Any, lane: tuple[Device, Device]) -> None:
    kiosk, register = lane
    phone.goto(show_code(kiosk, register))
    fill(phone, first="Anna", last="Andersson", phone="070-123 45 67",
         personal_id="19850312-0184")
    phone.locator("#personal_id").blur()  # with JavaScript: checked as soon as it is left
    expect(phone.locator("#personal_id-err")).to_have_text(
        "The last digit does not match. Check the number.")
    phone.tap("#send")  # and by the bridge on sending: nothing typed is lost
    expect(phone.locator("#errors")).to_be_visible()
    expect(phone.locator("#personal_id-err")).to_have_text(
        "The last digit does not match. Check the number.")
    expect(phone.locator("#personal_id")).to_have_value("19850312-0184")
    expect(phone.locator("#personal_id")).to_have_attribute("aria-invalid", "true")
    phone.fill("#personal_id", ANNA_PNR)
    phone.tap("#send")
    assert register.next("customer_connected")["customer"]["customer_code"] == "1001"


def test_the_page_runs_its_own_script_and_no_other(phone: Any,
                                                   lane: tuple[Device, Device]) -> None:
    kiosk, register = lane
    phone.add_init_script("""window.refused = [];
        document.addEventListener("securitypolicyviolation",
                                  (e) => window.refused.push(e.violatedDirective));""")
    phone.goto(show_code(kiosk, register))
    fill(phone, personal_id="19850312-0184")
    phone.locator("#personal_id").blur()  # the page's own script checks the field
    expect(phone.locator("#personal_id-err")).to_have_text(
        "The last digit does not match. Check the number.")
    # A script slipped into the page (as an injection would) is refused, and only it.
    phone.evaluate("""() => { const s = document.createElement("script");
                             s.textContent = "window.injected = 1"; document.body.append(s); }""")
    phone.wait_for_function("() => window.refused.length > 0")
    assert phone.evaluate("() => window.refused") == ["script-src-elem"]
    assert phone.evaluate("() => window.injected === undefined")


def test_the_page_works_without_javascript(browser: Any, lane: tuple[Device, Device]) -> None:
    kiosk, register = lane
    context = browser.new_context(**PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(show_code(kiosk, register))
        fill(page, personal_id="199104170403", phone="070-765 43 24")
        page.tap("#send")
        kiosk.next("state", phase="ask_member")
        expect(page.locator("#status")).to_contain_text("Answer on the screen")
        kiosk.send(type="member_answer", accept=True)
        prompt = register.next("member_prompt")["prompt"]
        # The page refreshes itself (meta refresh) until the flow is over.
        expect(page.locator("#status")).to_contain_text("Please turn to the cashier")
        register.send(type="confirm_member", prompt_id=prompt["prompt_id"],
                      details={"first_name": "Nils", "last_name": "Nilsson"})
        expect(page.locator("#status")).to_contain_text("Welcome as a member, Nils!",
                                                        timeout=10_000)
    finally:
        context.close()


def test_an_expired_code_says_scan_the_new_one(browser: Any, tmp_path: Path) -> None:
    bridge = start_bridge(tmp_path / "short", SELFREG_MOBILE_TOKEN_S="1")
    try:
        kiosk, register = Device(bridge, "kiosk", "k"), Device(bridge, "register", "k")
        url = show_code(kiosk, register)
        context = browser.new_context(**PHONE)
        page = context.new_page()
        page.goto(url)
        fill(page)
        # The code lives one second: the page says so once it has run out (reloaded until then).
        expect(page.locator("#problem")).to_have_count(0)
        for _ in range(100):
            response = page.goto(url)
            if response is not None and response.status == 410:
                break
            page.wait_for_timeout(50)
        expect(page.locator("#problem")).to_have_text("This code has expired")
        expect(page.locator("#todo")).to_have_text("Scan the new code on the screen.")
        kiosk.send(type="renew_mobile")
        renewed = kiosk.next("state", phase="identifying")["view"]["mobile_url"]
        assert renewed != url
        response = page.goto(renewed)
        assert response is not None and response.status == 200
        context.close()
        kiosk.close()
        register.close()
    finally:
        stop_bridge(bridge)


@pytest.mark.parametrize("lang", ["sv", "en", "nl"])
def test_screenshots_in_every_language(phone: Any, lane: tuple[Device, Device], lang: str,
                                       tmp_path: Path) -> None:
    kiosk, register = lane
    phone.goto(show_code(kiosk, register) + f"?lang={lang}")
    expect(phone.locator("html")).to_have_attribute("lang", lang)
    shot = tmp_path / f"phone-form-{lang}.png"
    phone.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

