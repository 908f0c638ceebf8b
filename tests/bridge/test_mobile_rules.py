"""Via mobil's pure rules: phone codes on the lane, the phone's submission, what the phone and the
kiosk are shown."""

from __future__ import annotations

import json

import pytest

from cashier_bridge.lanes import lane as machine
from cashier_bridge.lanes import mobile_tokens as tokens
from cashier_bridge.lanes import presenting
from cashier_bridge.lanes.lane import (
    Candidate,
    Found,
    Lane,
    MobileLink,
    MobileProblem,
    MobileRefused,
    PhoneLink,
    PhoneOutcome,
)
from cashier_bridge.protocol import (
    CustomerCard,
    MemberDetails,
    MemberPromptEvent,
    Method,
    Notice,
    Phase,
    PromptKind,
)
from cashier_bridge.web.mobile import form
from cashier_bridge.web.mobile.consent import offers, version
from cashier_bridge.web.mobile.phone_view import Stage, resolve
from cashier_bridge.web.mobile.texts import negotiate

KEY = b"k" * 32
NOW = 1_000_000.0
PNR = "198503120183"


def link(nonce: str = "n1", expires: float = NOW + 180) -> tuple[MobileLink, str]:
    token = tokens.derive(KEY, "lane-1", nonce)
    return MobileLink(nonce=nonce, key_id=tokens.key_id(KEY), token_hash=tokens.token_hash(token),
                      sale_id=None, expires_at=expires), token


def showing_code(expires: float = NOW + 180) -> tuple[Lane, str]:
    lane, _ = machine.start_sale(Lane(name="lane-1"), "s1")
    code, token = link(expires=expires)
    lane, _ = machine.choose(lane, Method.mobile, code, NOW)
    return lane, token


def submit(lane: Lane, token: str, receipt: str = "r" * 20, *, member: bool = False,
           now: float = NOW) -> machine.Step:
    data = {"first_name": "Nils", "last_name": "Nilsson", "phone": "070-765 43 21",
            "personal_id": PNR, "receipt": receipt, "consent_marketing": "on"}
    data["member"] = "on" if member else ""
    f = form.read(data, ["marketing", "profiling"])
    submission = form.submission(f, token, {"marketing": "v-a", "profiling": "v-b"})
    return presenting.phone_submit(lane, submission, lookup_id="L1",
                                   fingerprint=tokens.token_hash,  # any one-way function
                                   now=now)


def test_a_code_is_long_random_and_derived_from_the_nonce_with_the_key() -> None:
    a, b = tokens.derive(KEY, "lane-1", tokens.new_nonce()), tokens.derive(KEY, "lane-1",
                                                                           tokens.new_nonce())
    assert a != b and tokens.well_formed(a) and len(a) == 43  # 256 bits
    assert tokens.derive(b"other key", "lane-1", "n") != tokens.derive(KEY, "lane-1", "n")
    assert tokens.derive(KEY, "lane-2", "n") != tokens.derive(KEY, "lane-1", "n")


def test_the_lane_keeps_no_live_code_and_the_kiosk_state_only_a_placeholder() -> None:
    lane, token = showing_code()
    assert token not in lane.model_dump_json()
    state = machine.kiosk_state(lane, NOW + 30)
    assert token not in state.model_dump_json()
    assert state.view.mobile_url == machine.mobile_placeholder(lane.mobile)  # type: ignore
    assert state.view.mobile_expires_in_s == 150
    assert state.view.times_out is False  # the shopper is busy on the phone
    assert lane.mobile and lane.mobile.sale_id == "s1"  # bound to the sale


def test_choosing_mobile_again_keeps_a_live_code_and_renewal_replaces_only_a_dead_one() -> None:
    lane, _ = showing_code()
    fresh, _ = link("n2")
    again, _ = machine.choose(lane, Method.mobile, fresh, NOW + 10)
    assert again.mobile and again.mobile.nonce == "n1"
    same, effects = machine.renew_mobile(lane, fresh, NOW + 10)
    assert same is lane and effects == []
    renewed, _ = machine.renew_mobile(lane, fresh, NOW + 181)
    assert renewed.mobile and renewed.mobile.nonce == "n2" and renewed.mobile.sale_id == "s1"


def test_renewal_is_refused_where_no_code_is_shown() -> None:
    lane, _ = machine.start_sale(Lane(name="lane-1"), "s1")
    with pytest.raises(machine.NotAllowed):
        machine.renew_mobile(lane, link()[0], NOW)
    offered, _ = machine.renew_mobile(lane, link()[0], NOW, on_choices=True)
    assert offered.phase is Phase.choosing and offered.mobile is not None


@pytest.mark.parametrize("void", ["numpad", "end_sale", "new_sale", "cancel"])
def test_another_method_or_the_end_of_the_sale_voids_the_code(void: str) -> None:
    lane, token = showing_code()
    if void == "numpad":
        lane, _ = machine.choose(lane, Method.numpad)
    elif void == "end_sale":
        lane, _ = machine.end_sale(lane)
        lane, _ = machine.start_sale(lane, "s2")
    elif void == "new_sale":
        lane, _ = machine.start_sale(lane, "s2")
    else:
        lane, _ = machine.cancel(lane)
    assert lane.mobile is None
    with pytest.raises(MobileRefused) as refused:
        submit(lane, token)
    assert refused.value.problem is MobileProblem.replaced


def test_an_expired_code_is_refused() -> None:
    lane, token = showing_code()
    with pytest.raises(MobileRefused) as refused:
        submit(lane, token, now=NOW + 181)
    assert refused.value.problem is MobileProblem.expired


def test_a_submission_uses_the_code_up_a_double_submit_changes_nothing_a_second_phone_is_refused(
) -> None:
    lane, token = showing_code()
    after, effects = submit(lane, token)
    assert after.phase is Phase.identifying and after.mobile is None and after.lookup_id == "L1"
    assert [type(e) for e in effects] == [machine.Lookup]
    assert [k.kind for k in effects[0].keys] == ["personal_id_fingerprint", "phone"]
    assert PNR not in after.model_dump_json()  # only the fingerprint and the masked form
    again, effects = submit(after, token)
    assert again is after and effects == []
    with pytest.raises(MobileRefused) as refused:
        submit(after, token, receipt="s" * 20)
    assert refused.value.problem is MobileProblem.used
    kiosk = machine.kiosk_state(after, NOW)
    assert kiosk.view.mobile_submitted and kiosk.view.mobile_url is None


def card(is_new: bool = False) -> CustomerCard:
    return CustomerCard(id=7, customer_code="500001", first_name="Nils", last_name="Nilsson",
                        created_via="mobile", is_new=is_new)


def test_a_known_customer_is_connected_and_the_phone_consents_are_recorded() -> None:
    lane, token = showing_code()
    lane, _ = submit(lane, token)
    lane, effects = machine.lookup_done(lane, "L1", Found(customer=card(), agrees=True), (),
                                        "P1")
    assert lane.phase is Phase.connected and lane.phone
    assert lane.phone.outcome is PhoneOutcome.connected
    assert lane.phone.link is PhoneLink.matched
    record = [e for e in effects if isinstance(e, machine.RecordConsents)]
    assert record and record[0].customer_id == 7
    # The ticked box only: "profiling" was not ticked, which is no answer at all.
    assert {(c.purpose, c.granted, c.version) for c in record[0].consents} == {
        ("marketing", True, "v-a")}
    assert machine.pending_effects(lane) == record  # carried out again after a crash
    done, _ = machine.consents_recorded(lane, tokens.token_hash(token))
    assert machine.pending_effects(done) == []
    view = resolve(done, tokens.token_hash(token), tokens.token_hash("r" * 20), NOW)
    assert (view.stage, view.first_name, view.customer_code) == (Stage.welcome, "Nils", "500001")


def test_a_phone_that_said_make_me_a_member_goes_straight_to_the_cashier() -> None:
    lane, token = showing_code()
    lane, _ = submit(lane, token, member=True)
    lane, effects = machine.lookup_done(lane, "L1", None, (), "P1")
    assert lane.phase is Phase.await_cashier and lane.prompt_id == "P1"
    prompt = next(e.message for e in effects if isinstance(e, machine.ToRegister))
    assert isinstance(prompt, MemberPromptEvent)
    assert (prompt.prompt.first_name, prompt.prompt.phone, prompt.prompt.source) == (
        "Nils", "+46707654321", "mobile")


def test_without_the_tick_the_kiosk_asks_and_the_phone_follows_to_the_cashiers_abort() -> None:
    lane, token = showing_code()
    lane, _ = submit(lane, token)
    th, rh = tokens.token_hash(token), tokens.token_hash("r" * 20)
    assert resolve(lane, th, rh, NOW).stage is Stage.checking
    lane, _ = machine.lookup_done(lane, "L1", None, (), "P1")
    assert lane.phase is Phase.ask_member
    assert resolve(lane, th, rh, NOW).stage is Stage.answer_on_screen
    lane, _ = machine.member_answer(lane, True, "P1")
    assert resolve(lane, th, rh, NOW).stage is Stage.with_cashier
    lane, _ = machine.abort_member(lane, "P1")
    assert resolve(lane, th, rh, NOW).stage is Stage.member_aborted
    assert resolve(lane, th, None, NOW).problem is MobileProblem.used  # not this phone


def test_the_phone_view_of_codes() -> None:
    lane, token = showing_code()
    th = tokens.token_hash(token)
    assert resolve(lane, th, None, NOW).stage is Stage.form
    assert resolve(lane, th, None, NOW + 200).problem is MobileProblem.expired
    assert resolve(lane, "0" * 64, None, NOW).problem is MobileProblem.replaced
    assert resolve(None, th, None, NOW).problem is MobileProblem.unknown


@pytest.mark.parametrize(("field", "value", "code"), [
    ("personal_id", "198503120184", "invalid_checksum"),
    ("personal_id", "19850312", "invalid_length"),
    ("personal_id", "198513120181", "invalid_date"),  # Luhn right, month 13
    ("phone", "070-123", "invalid_length"),
    ("first_name", "   ", "required"),
    ("last_name", "x" * 101, "too_long"),
])
def test_form_fields_are_checked_by_the_bridges_parsers(field: str, value: str, code: str
                                                        ) -> None:
    assert form.check(field, value) == code


def test_consent_versions_follow_the_text() -> None:
    texts = {"marketing": {"sv": "Ja tack", "en": "Yes please"}}
    (en,) = offers(texts, "en")
    (nl,) = offers(texts, "nl")  # no Dutch text: the Swedish one, with its own version
    assert nl.language == "sv" and nl.version != en.version
    assert version("marketing", "en", "Yes please!") != en.version
    assert en.version == version("marketing", "en", "Yes please") and len(en.version) <= 32


def test_language_by_choice_then_cookie_then_phone() -> None:
    assert negotiate(None, None, "nl-NL,nl;q=0.9,en;q=0.8") == "nl"
    assert negotiate(None, "en", "nl") == "en"
    assert negotiate("sv", "en", "nl") == "sv"
    assert negotiate(None, None, "de-DE") == "sv"


def test_kiosk_state_json_has_the_new_fields_only_as_optional() -> None:
    plain = json.loads(machine.kiosk_state(Lane(name="x")).model_dump_json())["view"]
    assert plain["mobile_url"] is None and plain["mobile_submitted"] is False


# --- a personnummer is no secret: the rest of the form must match (issue 16) ------------------


def anna() -> CustomerCard:
    return CustomerCard(id=9, customer_code="1001", first_name="Anna", last_name="Andersson",
                        phone="+46701234567", personal_id_masked="19850312-****",
                        created_via="import", matched_on="personnummer")


def mismatched() -> tuple[Lane, str, list[machine.Effect]]:
    """A phone sent Anna's personnummer with other names; the lookup found her."""
    lane, token = showing_code()
    lane, _ = submit(lane, token)
    lane, effects = machine.lookup_done(lane, "L1", Found(customer=anna(), agrees=False), (),
                                        "P1")
    return lane, token, effects


def test_a_phone_whose_details_do_not_match_goes_to_the_cashier_and_sees_nothing() -> None:
    lane, token, effects = mismatched()
    assert lane.phase is Phase.await_cashier and lane.customer is None
    assert not any(isinstance(e, machine.LinkSale | machine.RecordConsents) for e in effects)
    (told,) = [e.message for e in effects if isinstance(e, machine.ToRegister)]
    assert isinstance(told, MemberPromptEvent) and told.prompt.kind is PromptKind.details_mismatch
    assert (told.prompt.first_name, told.prompt.phone) == ("Nils", "+46707654321")  # typed
    assert [c.customer_code for c in told.prompt.possible_duplicates] == ["1001"]  # on file
    kiosk = machine.kiosk_state(lane, NOW)
    assert kiosk.view.notice is Notice.ask_cashier and kiosk.view.first_name is None
    assert "Anna" not in kiosk.model_dump_json()
    th, rh = tokens.token_hash(token), tokens.token_hash("r" * 20)
    view = resolve(lane, th, rh, NOW)
    assert view.stage is Stage.with_cashier  # as for a shopper waiting to become a member
    assert (view.first_name, view.customer_code) == (None, None)
    assert machine.pending_effects(lane) == []


def test_the_cashier_may_connect_the_member_on_file_but_the_phone_still_learns_nothing() -> None:
    lane, token, _ = mismatched()
    with pytest.raises(machine.NotAllowed, match="do not match"):
        machine.confirm_member(lane, "P1", MemberDetails(first_name="Nils", last_name="Nilsson"))
    lane, effects = machine.connect_existing(lane, "P1", 9)
    assert lane.phase is Phase.connected and lane.customer and lane.customer.id == 9
    assert lane.phone and lane.phone.link is PhoneLink.by_cashier
    assert not any(isinstance(e, machine.RecordConsents) for e in effects)
    assert machine.pending_effects(lane) == []  # the phone's ticked box is not hers
    view = resolve(lane, tokens.token_hash(token), tokens.token_hash("r" * 20), NOW)
    assert (view.stage, view.first_name, view.customer_code) == (Stage.at_till, None, None)


def test_an_aborted_mismatch_sends_the_shopper_back_to_the_choices_with_nothing_said() -> None:
    lane, token, _ = mismatched()
    lane, _ = machine.abort_member(lane, "P1")
    assert lane.phase is Phase.choosing and lane.notice is None
    assert lane.prompt_kind is PromptKind.new_member  # the next prompt starts afresh
    view = resolve(lane, tokens.token_hash(token), tokens.token_hash("r" * 20), NOW)
    assert view.stage is Stage.cancelled


def test_a_mismatch_without_a_prompt_id_is_refused_rather_than_connected() -> None:
    lane, token = showing_code()
    lane, _ = submit(lane, token)
    with pytest.raises(machine.NotAllowed):
        machine.lookup_done(lane, "L1", Found(customer=anna(), agrees=False))


def test_a_new_member_made_from_the_phone_gets_the_card_and_their_ticked_box() -> None:
    lane, token = showing_code()
    lane, _ = submit(lane, token, member=True)
    lane, _ = machine.lookup_done(lane, "L1", None, (), "P1")
    lane, _ = machine.confirm_member(lane, "P1", MemberDetails(first_name="Nils",
                                                               last_name="Nilsson"))
    lane, effects = machine.customer_created(lane, "P1", card(is_new=True))
    assert lane.phone and lane.phone.link is PhoneLink.new_member
    (record,) = [e for e in effects if isinstance(e, machine.RecordConsents)]
    assert [(c.purpose, c.granted) for c in record.consents] == [("marketing", True)]
    view = resolve(lane, tokens.token_hash(token), tokens.token_hash("r" * 20), NOW)
    assert (view.stage, view.first_name, view.is_new) == (Stage.welcome, "Nils", True)


def test_someone_who_registered_the_same_personnummer_meanwhile_is_not_shown_to_the_phone(
) -> None:
    lane, token = showing_code()
    lane, _ = submit(lane, token, member=True)
    lane, _ = machine.lookup_done(lane, "L1", None, (), "P1")
    lane, _ = machine.confirm_member(lane, "P1", MemberDetails(first_name="Nils",
                                                               last_name="Nilsson"))
    lane, effects = machine.customer_created(lane, "P1", anna(), made_here=False)
    assert lane.phase is Phase.connected
    assert not any(isinstance(e, machine.RecordConsents) for e in effects)
    view = resolve(lane, tokens.token_hash(token), tokens.token_hash("r" * 20), NOW)
    assert (view.stage, view.first_name) == (Stage.at_till, None)


def test_a_customer_the_cashier_connects_after_a_match_is_neither_shown_nor_consented_for(
) -> None:
    lane, token = showing_code()
    lane, _ = submit(lane, token)
    lane, _ = machine.lookup_done(lane, "L1", Found(customer=card(), agrees=True), (), "P1")
    # The cashier picks someone else for the sale before the phone's consents were written.
    lane, _ = machine.connect_by_hand(lane, anna())
    view = resolve(lane, tokens.token_hash(token), tokens.token_hash("r" * 20), NOW)
    assert (view.stage, view.first_name, view.customer_code) == (Stage.at_till, None, None)
    (record,) = machine.pending_effects(lane)
    assert isinstance(record, machine.RecordConsents) and record.customer_id == 7  # not Anna


def test_a_session_saved_before_links_were_recorded_shows_the_phone_nothing() -> None:
    lane, token = showing_code()
    lane, _ = submit(lane, token)
    lane, _ = machine.lookup_done(lane, "L1", Found(customer=card(), agrees=True), (), "P1")
    assert lane.phone is not None
    old = lane.model_copy(update={"phone": lane.phone.model_copy(update={"link": None})})
    view = resolve(old, tokens.token_hash(token), tokens.token_hash("r" * 20), NOW)
    assert (view.stage, view.customer_code) == (Stage.at_till, None)


def test_unticked_boxes_are_no_answer_at_all() -> None:
    data = {"first_name": "Nils", "last_name": "Nilsson", "phone": "070-765 43 21",
            "personal_id": PNR, "receipt": "r" * 20, "consent_profiling": "on"}
    f = form.read(data, ["marketing", "profiling"])
    assert form.consent_choices(f, {"marketing": "v-a", "profiling": "v-b"}) == (
        machine.ConsentChoice(purpose="profiling", granted=True, version="v-b"),)


def test_refusals_in_a_saved_session_are_never_written() -> None:
    lane, token = showing_code()
    lane, _ = submit(lane, token)
    assert lane.phone is not None
    refused = machine.ConsentChoice(purpose="profiling", granted=False, version="v-b")
    lane = lane.model_copy(update={"phone": lane.phone.model_copy(update={
        "consents": (*lane.phone.consents, refused)})})
    _, effects = machine.lookup_done(lane, "L1", Found(customer=card(), agrees=True))
    (record,) = [e for e in effects if isinstance(e, machine.RecordConsents)]
    assert all(c.granted for c in record.consents)


@pytest.mark.parametrize(("typed", "on_file", "same"), [
    ("Åsa", "Åsa", True), ("asa", "Åsa", True), ("ÖSTLUND", "östlund", True),
    ("  Anna   Karin ", "Anna Karin", True), ("anna-karin", "Anna-Karin", True),
    ("Anna Karin", "Anna-Karin", True), ("Bjorn", "Bjørn", True),
    ("Anna", "Anna-Karin", False), ("Åsa", "Åse", False), ("Eva", "Anna", False),
    ("", "Anna", False),
])
def test_names_match_ignoring_case_accents_and_spacing_only(typed: str, on_file: str,
                                                            same: bool) -> None:
    assert presenting.same_name(typed, on_file) is same


@pytest.mark.parametrize(("first", "last", "phone", "on_file_phone", "agrees"), [
    ("anna", "ANDERSSON", "+46701234567", "+46701234567", True),
    ("Anna", "Andersson", "+46709999999", None, True),  # no phone on file to compare
    ("Anna", "Andersson", "+46709999999", "+46701234567", False),
    ("Eva", "Andersson", "+46701234567", "+46701234567", False),
    ("Anna", "Svensson", "+46701234567", "+46701234567", False),
])
def test_a_phone_agrees_with_the_customer_on_file_only_by_names_and_phone(
        first: str, last: str, phone: str, on_file_phone: str | None, agrees: bool) -> None:
    candidate = Candidate(source=Method.mobile, kind="personnummer", first_name=first,
                          last_name=last, phone=phone, can_become_member=True)
    customer = anna().model_copy(update={"phone": on_file_phone})
    assert presenting.agrees(candidate, customer) is agrees
    # A typed number or a card at the till is identification enough, as it always was.
    typed = candidate.model_copy(update={"source": Method.numpad})
    assert presenting.agrees(typed, customer) is True
