"""The cashier console in a real browser at a till's size, against a running bridge that admits
only paired devices, with a simulated kiosk on the same lane."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from cashier_bridge.registry import Registry
from cashier_bridge.web.cookies import DEVICE_COOKIE
from tests.console.conftest import (
    ABORTED_PNR,
    ANNA_PNR,
    BRITT_TWIN_PNR,
    NILS_PNR,
    TILL,
    Till,
    sign_in_code,
    start_bridge,
    stop_bridge,
)


def start_sale(till: Till) -> str:
    page = till.page
    page.click("#start-sale")
    expect(page.locator("#phase")).to_have_text("Sale open — the shopper is choosing")
    till.kiosk.next("state", phase="choosing")
    return str(page.locator("#sale-id").inner_text())


def shopper_asks_to_join(till: Till, pnr: str) -> None:
    """Ange ID on the kiosk: a personnummer nobody has, and yes to becoming a member."""
    kiosk = till.kiosk
    kiosk.send(type="choose", method="numpad")
    kiosk.next("state", phase="identifying")
    kiosk.send(type="submit_id", digits=pnr)
    kiosk.next("state", phase="ask_member")
    expect(till.page.locator("#phase")).to_have_text(
        "The shopper is asked whether to become a member")
    kiosk.send(type="member_answer", accept=True)
    kiosk.next("state", phase="await_cashier")
    expect(till.page.locator("#phase")).to_have_text(
        "Member prompt — the shopper wants to become a member")


def test_the_printed_link_signs_the_browser_in_without_showing_the_token(
        bridge: Any, browser: Any, till: Till) -> None:
    page = till.page
    expect(page).to_have_url(f"{bridge.http_url}/console")  # the code has left the address bar
    expect(page.locator("#lane-name")).to_have_text(f"Lane {till.lane}")
    cookie = next(c for c in till.context.cookies() if c["name"] == DEVICE_COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert cookie["value"] not in page.content()
    assert page.evaluate("document.cookie") == ""  # the page's scripts cannot read it

    # The code was spent: another browser gets the reason and keeps what was typed.
    other = browser.new_context(**TILL)
    try:
        intruder = other.new_page()
        intruder.goto(f"{bridge.http_url}/console/sign-in?code={till.code}")
        expect(intruder.locator("#code-err")).to_contain_text(
            "This code is unknown, already used or older than an hour")
        expect(intruder.locator("#code")).to_have_value(till.code)
        intruder.goto(f"{bridge.http_url}/console")  # no cookie: back to signing in
        expect(intruder.locator("h1")).to_have_text("Sign in this browser as a register")
        # A code typed by hand, in lower case with spaces, works as printed.
        code = sign_in_code(bridge, till.lane)
        intruder.fill("#code", code.lower().replace("-", " "))
        intruder.click("#sign-in-button")
        expect(intruder.locator("#connection")).to_have_text("live")
        signed_in = next(c for c in other.cookies() if c["name"] == DEVICE_COOKIE)["value"]
        assert intruder.request.get(f"{bridge.http_url}/api/v1/groups").status == 200
        intruder.click("#sign-out")
        expect(intruder.locator("#signed-out")).to_have_text("This browser is signed out.")
        # Signing out revoked that browser's device: its old cookie no longer opens the API.
        stale = intruder.request.get(f"{bridge.http_url}/api/v1/groups",
                                     headers={"Cookie": f"{DEVICE_COOKIE}={signed_in}"})
        assert stale.status == 401
        intruder.goto(f"{bridge.http_url}/console")
        expect(intruder.locator("h1")).to_have_text("Sign in this browser as a register")
    finally:
        other.close()
    log = bridge.log_path.read_text(errors="replace")
    assert till.code not in log and code not in log and cookie["value"] not in log


def test_the_demo_prints_a_link_that_opens_the_console(bridge: Any, browser: Any) -> None:
    from simulator.demo import _console_link

    url = _console_link(bridge.db_url, "demo-lane", bridge.http_url)
    context = browser.new_context(**TILL)
    try:
        page = context.new_page()
        page.goto(url)
        expect(page.locator("#lane-name")).to_have_text("Lane demo-lane")
        expect(page.locator("#connection")).to_have_text("live")
    finally:
        context.close()


def test_ange_id_prompt_the_cashier_creates_the_member_and_both_screens_show_them(
        till: Till) -> None:
    page, kiosk = till.page, till.kiosk
    start_sale(till)
    pnr = NILS_PNR
    shopper_asks_to_join(till, pnr)
    prompt = page.locator("#prompt")
    expect(prompt.locator("dd[data-field=personal_id_masked]")).to_have_text("19910417-****")
    expect(prompt.locator("dd[data-field=birth_date]")).to_have_text("1991-04-17")
    expect(prompt.locator("dd[data-field=source]")).to_have_text("Ange ID")
    assert pnr not in page.content()  # the cashier sees the personnummer masked only

    page.click("#create-member")
    dialog = page.locator("#customer-form-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#form-pid")).to_have_text("19910417-****")
    # The bridge's checks, with the reason next to the field; nothing typed is lost.
    page.fill("#f-first_name", "Nils")
    page.click("#form-save")
    expect(page.locator("#f-last_name-err")).to_have_text("is empty")
    expect(page.locator("#f-last_name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-first_name")).to_have_value("Nils")
    page.fill("#f-last_name", "Nilsson")
    page.fill("#f-phone", "070-12")
    page.click("#form-save")
    expect(page.locator("#f-phone-err")).to_have_text("not a valid phone number for its country")
    expect(page.locator("#f-last_name-err")).to_be_hidden()
    expect(page.locator("#f-phone")).to_have_value("070-12")
    page.fill("#f-phone", "070-765 43 21")
    page.fill("#f-email", "nils@example.se")
    page.click("#form-save")

    connected = kiosk.next("state", phase="connected")
    assert connected["view"]["first_name"] == "Nils"
    expect(dialog).to_be_hidden()
    expect(page.locator("#phase")).to_have_text("Customer connected")
    expect(page.locator("#customer-name")).to_have_text("Nils Nilsson")
    expect(page.locator("#customer-new")).to_have_text("new member")
    expect(page.locator("#customer-pid")).to_have_text("19910417-****")
    expect(page.locator("#customer-phone")).to_have_text("+46707654321")
    expect(page.locator("#customer-group")).to_have_text("All customers")
    expect(page.locator("#balance-account")).to_have_text("0,00 kr")
    expect(page.locator("#balance-loyalty")).to_have_text("0,00 kr")
    expect(page.locator("#balance-store-credit")).to_have_text("0,00 kr")
    code = page.locator("#customer-code").inner_text()
    assert code

    # Ending the sale records it against the member: sale id, register, total, time.
    sale_id = page.locator("#sale-id").inner_text()
    page.fill("#total", "1 249,5")
    page.click("#end-sale")
    expect(page.locator("#phase")).to_have_text("No sale open")
    expect(page.locator("#status")).to_have_text(
        f"Sale {sale_id} ended: 1 249,50 kr recorded for Nils Nilsson ({code}).")
    kiosk.next("state", phase="idle")
    customer_id = connected_customer_id(till, code)
    sales = page.request.get(
        f"{till.bridge.http_url}/api/v1/customers/{customer_id}/sales").json()
    (sale,) = [s for s in sales["items"] if s["sale_id"] == sale_id]
    assert sale["total_minor"] == 124950 and sale["register"] == till.lane


def connected_customer_id(till: Till, code: str) -> int:
    """The customer's id, asked of the API as the console asks it (with its cookie)."""
    found = till.page.request.get(
        f"{till.bridge.http_url}/api/v1/customers?q={code}&limit=1").json()["items"]
    assert found and found[0]["customer_code"] == code
    return int(found[0]["id"])


def test_a_bad_total_is_explained_and_kept(till: Till) -> None:
    page = till.page
    start_sale(till)
    page.fill("#total", "12,345")
    page.click("#end-sale")
    expect(page.locator("#total-err")).to_have_text("Type the total in kronor, e.g. 249,50.")
    expect(page.locator("#total")).to_have_value("12,345")
    expect(page.locator("#phase")).to_have_text("Sale open — the shopper is choosing")


def test_search_as_you_type_and_connect_by_hand_with_the_keyboard(till: Till) -> None:
    page, kiosk = till.page, till.kiosk
    start_sale(till)
    kiosk.send(type="choose", method="numpad")  # the shopper is busy on the screen meanwhile
    kiosk.next("state", phase="identifying")
    search = page.locator("#search")
    results = page.locator("#results [role=option] .name")
    search.type("ann sv")
    expect(results).to_have_text(["Anna Svensson"])
    search.fill("orjan a")  # accents and case ignored
    expect(results).to_have_text(["Örjan Åström"])
    search.fill("070-987 65 43")  # a phone number in any format finds its owner
    expect(results).to_have_text(["Anna Svensson"])
    search.fill("+46 70 98")
    expect(results).to_have_text(["Anna Svensson"])
    search.fill("ann")
    expect(results).to_have_text(["Anna Andersson", "Anna Svensson"], ignore_case=False)
    search.press("ArrowDown")
    search.press("ArrowDown")
    expect(page.locator("#results [aria-selected=true] .name")).to_have_text("Anna Svensson")
    search.press("ArrowUp")
    search.press("ArrowDown")
    search.press("Enter")

    connected = kiosk.next("state", phase="connected")
    assert connected["view"]["first_name"] == "Anna"
    expect(page.locator("#customer-name")).to_have_text("Anna Svensson")
    expect(page.locator("#customer-code")).to_have_text("1002")
    expect(page.locator("#customer-matched")).to_have_text("the cashier")
    expect(page.locator("#customer-email")).to_have_text("anna.svensson@example.se")
    expect(search).to_have_value("")


def test_add_what_was_typed_as_a_new_customer(till: Till) -> None:
    page, kiosk = till.page, till.kiosk
    start_sale(till)
    page.locator("#search").type("Zelda Zorn")
    expect(page.locator("#no-results")).to_have_text("No customer matches.")
    expect(page.locator("#add-new")).to_have_text("Add ‘Zelda Zorn’ as a new customer")
    page.locator("#search").press("Enter")
    expect(page.locator("#customer-form-dialog")).to_be_visible()
    expect(page.locator("#f-first_name")).to_have_value("Zelda")
    expect(page.locator("#f-last_name")).to_have_value("Zorn")
    page.keyboard.press("Escape")  # Esc closes the form
    expect(page.locator("#customer-form-dialog")).to_be_hidden()
    page.click("#add-new")
    # A phone someone already has is refused next to the field, naming who has it.
    page.fill("#f-phone", "070 123 45 67")
    page.fill("#f-email", "zelda@example.se")
    page.click("#form-save")
    expect(page.locator("#f-phone-err")).to_be_visible()
    expect(page.locator("#f-email")).to_have_value("zelda@example.se")
    page.fill("#f-phone", "070 444 55 66")
    page.select_option("#f-group_id", label="All customers")
    page.click("#form-save")
    assert kiosk.next("state", phase="connected")["view"]["first_name"] == "Zelda"
    expect(page.locator("#customer-name")).to_have_text("Zelda Zorn")
    expect(page.locator("#customer-phone")).to_have_text("+46704445566")


def test_the_bridge_says_why_when_a_customer_is_picked_with_no_sale_open(till: Till) -> None:
    page = till.page
    page.locator("#search").type("1001")
    expect(page.locator("#results [role=option] .name")).to_have_text(["Anna Andersson"])
    page.locator("#results [role=option]").first.click()
    expect(page.locator("#status")).to_contain_text("start a sale first")
    expect(page.locator("#status")).to_have_class("status alert")
    expect(page.locator("#phase")).to_have_text("No sale open")


def test_abort_returns_the_shopper_to_the_choices(till: Till) -> None:
    page, kiosk = till.page, till.kiosk
    start_sale(till)
    shopper_asks_to_join(till, ABORTED_PNR)
    page.click("#abort-member")
    assert kiosk.next("state", phase="choosing")["view"]["notice"] == "member_aborted"
    expect(page.locator("#phase")).to_have_text("Sale open — the shopper is choosing")
    expect(page.locator("#prompt")).to_be_hidden()


def test_a_possible_duplicate_is_offered_and_connected(till: Till) -> None:
    page, kiosk = till.page, till.kiosk
    start_sale(till)
    shopper_asks_to_join(till, BRITT_TWIN_PNR)
    duplicate = page.locator("#duplicates li")
    expect(duplicate).to_have_count(1)
    expect(duplicate).to_contain_text("Britt Berg · 1004")
    expect(duplicate.locator(".why")).to_have_text("same birth date, no personnummer on file")
    duplicate.get_by_role("button", name="Connect this one").click()
    assert kiosk.next("state", phase="connected")["view"]["first_name"] == "Britt"
    expect(page.locator("#customer-name")).to_have_text("Britt Berg")
    expect(page.locator("#customer-code")).to_have_text("1004")
    expect(page.locator("#customer-new")).to_be_hidden()


def test_the_console_reconnects_after_a_bridge_restart_and_shows_the_same_state(
        browser: Any, tmp_path: Path) -> None:
    bridge = start_bridge(tmp_path / "restart")
    till = None
    try:
        till = Till(bridge, browser)
        page = till.page
        start_sale(till)
        page.locator("#search").type("1003")
        page.locator("#results [role=option]").first.click()
        expect(page.locator("#customer-name")).to_have_text("Örjan Åström")
        sale_id = page.locator("#sale-id").inner_text()

        bridge.stop()
        expect(page.locator("#connection")).to_have_text("reconnecting…")
        bridge.start(auth="required")  # the same SQLite file, the same port
        expect(page.locator("#connection")).to_have_text("live")
        expect(page.locator("#phase")).to_have_text("Customer connected")
        expect(page.locator("#customer-name")).to_have_text("Örjan Åström")
        expect(page.locator("#sale-id")).to_have_text(sale_id)
        # And it is the register again, not a picture of one: the sale can be ended.
        page.click("#end-sale")
        expect(page.locator("#phase")).to_have_text("No sale open")

        # Unpaired meanwhile: the page stops knocking and says what to do.
        bridge.stop()
        expect(page.locator("#connection")).to_have_text("reconnecting…")
        registry = Registry.open(bridge.db_url)
        try:
            assert registry.devices.revoke(till.lane, "register") == 1
        finally:
            registry.close()
        bridge.start(auth="required")
        expect(page.locator("#connection")).to_have_text(
            "This browser is no longer a paired register: sign in again.")
        page.reload()
        expect(page.locator("h1")).to_have_text("Sign in this browser as a register")
    finally:
        if till is not None:
            till.context.close()
            till.kiosk.ws.close()  # its bridge was restarted under it
        stop_bridge(bridge)


def phone_sends(till: Till, **fields: str) -> None:
    """Via mobil: the shopper's phone opens the kiosk's code and sends the form."""
    till.kiosk.send(type="choose", method="mobile")
    url = till.kiosk.next("state", phase="identifying")["view"]["mobile_url"]
    with httpx.Client(headers={"Accept-Language": "en"}) as phone:
        form = phone.get(url)
        receipt = re.search(r'name="receipt" value="([^"]+)"', form.text)
        assert receipt, form.text
        sent = phone.post(url, data={"receipt": receipt.group(1), **fields})
        assert sent.status_code == 303


def test_a_phone_that_names_a_member_with_other_details_is_shown_beside_her(
        till: Till) -> None:
    page, kiosk = till.page, till.kiosk
    start_sale(till)
    phone_sends(till, first_name="Eva", last_name="Svensson", phone="070-999 88 77",
                personal_id=ANNA_PNR)
    assert kiosk.next("state", phase="await_cashier")["view"]["notice"] == "ask_cashier"
    expect(page.locator("#phase")).to_have_text(
        "Details don't match the member on file — check the shopper's ID")
    expect(page.locator("#prompt-title")).to_have_text("Details don't match the member on file")
    expect(page.locator("#prompt-lead")).to_contain_text("Check the shopper's ID")
    typed, on_file = page.locator("#prompt-fields"), page.locator("#on-file-fields")
    expect(typed.locator("dd[data-field=first_name]")).to_have_text("Eva")
    expect(typed.locator("dd[data-field=phone]")).to_have_text("+46709998877")
    expect(typed.locator("dd[data-field=source]")).to_have_text("Via mobil")
    expect(on_file.locator("dd[data-field=first_name]")).to_have_text("Anna")
    expect(on_file.locator("dd[data-field=last_name]")).to_have_text("Andersson")
    expect(on_file.locator("dd[data-field=customer_code]")).to_have_text("1001")
    expect(on_file.locator("dd[data-field=matched_on]")).to_have_text("personnummer")
    # Side by side, and only what the cashier may do: connect her after checking ID, or abort.
    typed_box, on_file_box = (page.locator("#shared").bounding_box(),
                              page.locator("#on-file").bounding_box())
    assert typed_box and on_file_box and on_file_box["x"] > typed_box["x"]
    expect(page.locator("#create-member")).to_be_hidden()
    expect(page.locator("#duplicates-part")).to_be_hidden()
    expect(page.locator("#abort-member")).to_be_visible()
    page.click("#connect-on-file")
    assert kiosk.next("state", phase="connected")["view"]["first_name"] == "Anna"
    expect(page.locator("#customer-name")).to_have_text("Anna Andersson")
    expect(page.locator("#customer-matched")).to_have_text("the cashier")


def test_after_an_aborted_mismatch_a_new_member_prompt_offers_create_again(till: Till) -> None:
    page, kiosk = till.page, till.kiosk
    start_sale(till)
    phone_sends(till, first_name="Eva", last_name="Svensson", phone="070-999 88 77",
                personal_id=ANNA_PNR)
    expect(page.locator("#connect-on-file")).to_be_visible()
    page.click("#abort-member")
    assert kiosk.next("state", phase="choosing")["view"]["notice"] is None
    shopper_asks_to_join(till, ABORTED_PNR)  # nobody has it, whatever ran before
    expect(page.locator("#prompt-title")).to_have_text("New member")
    expect(page.locator("#create-member")).to_be_visible()
    expect(page.locator("#connect-on-file")).to_be_hidden()
    expect(page.locator("#on-file")).to_be_hidden()
    expect(page.locator("#prompt-lead")).to_be_hidden()
