"""The lane state machine, tested as pure functions: no sockets, no database."""

from __future__ import annotations

import pytest

from cashier_bridge.lanes import lane as m
from cashier_bridge.lanes.lane import (
    Candidate,
    CreateCustomer,
    Found,
    Lane,
    LinkSale,
    Lookup,
    MatchKey,
    ToRegister,
)
from cashier_bridge.protocol import (
    CustomerCard,
    CustomerConnected,
    MemberDetails,
    MemberPromptEvent,
    Method,
    Phase,
    PromptWithdrawn,
)

ANNA = CustomerCard(id=7, customer_code="1001", first_name="Anna", last_name="Andersson",
                    phone="+46701234567", personal_id_masked="19850312-****", created_via="import")
FOUND_ANNA = Found(customer=ANNA, agrees=True)
NEW_PERSON = Candidate(source=Method.numpad, kind="personnummer",
                       personal_id_fingerprint="f" * 64, personal_id_masked="19900101-****",
                       birth_date="1990-01-01", can_become_member=True)
CARD_ONLY = Candidate(source=Method.numpad, kind="customer_code", customer_code="4711",
                      can_become_member=False)
KEYS = (MatchKey(kind="personal_id_fingerprint", value="f" * 64, reading="personnummer"),)
DETAILS = MemberDetails(first_name="Berit", last_name="Berg", marketing_consent=True)


def at_numpad() -> Lane:
    lane, _ = m.start_sale(Lane(name="lane-1"), "sale-1")
    lane, _ = m.choose(lane, Method.numpad)
    return lane


def presented(candidate: Candidate = NEW_PERSON) -> Lane:
    lane, effects = m.present(at_numpad(), candidate, KEYS, "lookup-1")
    # Ange ID look-ups are audited with the lane (stored with the step).
    assert effects == [Lookup("lookup-1", KEYS, candidate),
                       m.AuditLookup(refused=False,
                                     fingerprint=candidate.personal_id_fingerprint)]
    return lane


def awaiting_cashier() -> Lane:
    lane, _ = m.lookup_done(presented(), "lookup-1", None)
    lane, _ = m.member_answer(lane, True, "prompt-1")
    return lane


def only(effects: list[m.Effect], kind: type) -> object:
    """The one effect of ``kind``; besides it there may be only the sale's link."""
    of_kind = [e for e in effects if isinstance(e, kind)]
    assert len(of_kind) == 1, effects
    assert all(isinstance(e, kind | LinkSale) for e in effects), effects
    return of_kind[0]


def test_a_new_lane_is_idle_and_a_sale_offers_the_choices() -> None:
    lane = Lane(name="lane-1")
    assert lane.phase is Phase.idle
    lane, effects = m.start_sale(lane, "sale-1")
    assert (lane.phase, lane.sale_id, effects) == (Phase.choosing, "sale-1", [])


def test_every_change_advances_seq_and_a_repeated_start_sale_changes_nothing() -> None:
    lane, _ = m.start_sale(Lane(name="l"), "s1")
    again, effects = m.start_sale(lane, "s1")
    assert again is lane and effects == []
    chosen, _ = m.choose(lane, Method.numpad)
    assert chosen.seq == lane.seq + 1


def test_known_customer_is_connected_and_the_register_is_told() -> None:
    lane, effects = m.lookup_done(presented(), "lookup-1", FOUND_ANNA)
    assert lane.phase is Phase.connected
    event = only(effects, ToRegister).message  # type: ignore[attr-defined]
    assert isinstance(event, CustomerConnected)
    assert (event.customer, event.sale_id, event.seq) == (ANNA, "sale-1", lane.seq)
    assert LinkSale("sale-1", ANNA.id) in effects  # the sale is the customer's


def test_connecting_with_no_open_sale_links_nothing() -> None:
    lane = presented().model_copy(update={"sale_id": None})
    _, effects = m.lookup_done(lane, "lookup-1", FOUND_ANNA)
    assert not [e for e in effects if isinstance(e, LinkSale)]


def test_kiosk_view_of_a_connected_customer_has_first_name_only() -> None:
    lane, _ = m.lookup_done(presented(), "lookup-1", FOUND_ANNA)
    view = m.kiosk_state(lane).view
    assert view.first_name == "Anna"
    dumped = m.kiosk_state(lane).model_dump_json()
    assert "Andersson" not in dumped and "+46701234567" not in dumped and "1001" not in dumped


def test_unknown_person_is_asked_to_become_member() -> None:
    lane, effects = m.lookup_done(presented(), "lookup-1", None)
    assert (lane.phase, effects) == (Phase.ask_member, [])
    assert m.kiosk_state(lane).view.masked_id == "19900101-****"


def test_unknown_card_number_is_not_found_not_a_member_offer() -> None:
    lane, _ = m.lookup_done(presented(CARD_ONLY), "lookup-1", None)
    assert lane.phase is Phase.not_found
    assert lane.notice == "not_found"


def test_not_found_says_why_when_another_reading_was_rejected() -> None:
    typo = CARD_ONLY.model_copy(update={"rejection": "invalid_checksum"})
    lane, _ = m.lookup_done(presented(typo), "lookup-1", None)
    assert (lane.phase, lane.notice) == (Phase.not_found, "invalid_checksum")


def test_a_late_lookup_result_for_an_abandoned_lookup_is_ignored() -> None:
    lane = presented()
    lane, _ = m.cancel(lane)
    after, effects = m.lookup_done(lane, "lookup-1", FOUND_ANNA)
    assert after is lane and effects == []


def test_yes_sends_the_register_a_member_prompt_with_what_is_known() -> None:
    lane, _ = m.lookup_done(presented(), "lookup-1", None)
    lane, effects = m.member_answer(lane, True, "prompt-1")
    assert lane.phase is Phase.await_cashier
    event = only(effects, ToRegister).message  # type: ignore[attr-defined]
    assert isinstance(event, MemberPromptEvent)
    assert event.prompt.prompt_id == "prompt-1"
    assert event.prompt.personal_id_masked == "19900101-****"
    assert event.prompt.birth_date == "1990-01-01"
    assert m.register_state(lane).view.prompt == event.prompt


def test_no_returns_to_the_choices() -> None:
    lane, _ = m.lookup_done(presented(), "lookup-1", None)
    lane, _ = m.member_answer(lane, False, "prompt-1")
    assert (lane.phase, lane.candidate, lane.notice) == (Phase.choosing, None, "member_declined")


def test_cashier_confirm_creates_once_then_connects() -> None:
    lane = awaiting_cashier()
    lane, effects = m.confirm_member(lane, "prompt-1", DETAILS)
    create = only(effects, CreateCustomer)
    assert create == CreateCustomer("prompt-1", NEW_PERSON, DETAILS)
    again, effects = m.confirm_member(lane, "prompt-1", DETAILS)
    assert again is lane and effects == []  # a double click creates nothing more
    berit = ANNA.model_copy(update={"id": 8, "first_name": "Berit", "is_new": True})
    lane, effects = m.customer_created(lane, "prompt-1", berit)
    assert lane.phase is Phase.connected
    assert only(effects, ToRegister).message.customer == berit  # type: ignore[attr-defined]
    retry, effects = m.confirm_member(lane, "prompt-1", DETAILS)
    assert retry is lane and effects == []


def test_cashier_abort_returns_the_kiosk_to_the_choices() -> None:
    lane, effects = m.abort_member(awaiting_cashier(), "prompt-1")
    assert (lane.phase, effects, lane.notice) == (Phase.choosing, [], "member_aborted")
    assert lane.sale_id == "sale-1"


def test_answering_an_old_prompt_is_refused_as_stale() -> None:
    with pytest.raises(m.StalePrompt):
        m.confirm_member(awaiting_cashier(), "prompt-0", DETAILS)
    with pytest.raises(m.StalePrompt):
        m.abort_member(awaiting_cashier(), "prompt-0")


def test_shopper_cancel_while_waiting_withdraws_the_prompt() -> None:
    lane, effects = m.cancel(awaiting_cashier())
    assert lane.phase is Phase.choosing
    event = only(effects, ToRegister).message  # type: ignore[attr-defined]
    assert isinstance(event, PromptWithdrawn)
    assert (event.prompt_id, event.reason) == ("prompt-1", "shopper_cancelled")


def test_intents_out_of_place_are_refused() -> None:
    idle = Lane(name="l")
    with pytest.raises(m.NotAllowed):
        m.choose(idle, Method.numpad)
    with pytest.raises(m.NotAllowed):
        m.member_answer(at_numpad(), True, "p")
    with pytest.raises(m.NotAllowed):
        m.present(presented(), NEW_PERSON, KEYS, "lookup-2")  # one lookup at a time


def test_end_sale_forgets_everything_personal() -> None:
    lane, _ = m.lookup_done(presented(), "lookup-1", FOUND_ANNA)
    lane, effects = m.end_sale(lane, "sale-1", 24900, "SEK")
    # Only when Ange ID was used stays (times, no numbers): ending a sale lifts no pause.
    assert lane == Lane(name="lane-1", seq=lane.seq, ange_id_tries=lane.ange_id_tries)
    assert all(isinstance(t, float) for t in lane.ange_id_tries)
    # What stays is the sale on the customer's account, for the books and their history.
    assert effects == [m.CloseSale("sale-1", ANNA.id, 24900, "SEK")]
    assert m.kiosk_state(lane).view.first_name is None


def test_end_sale_without_a_customer_records_nothing() -> None:
    lane, effects = m.end_sale(at_numpad(), "sale-1", 24900, "SEK")
    assert lane.phase is Phase.idle
    assert effects == []


def test_the_cashier_connects_a_customer_by_hand_whatever_the_screen_shows() -> None:
    for lane in (at_numpad(), presented(), awaiting_cashier()):
        nxt, effects = m.connect_by_hand(lane, ANNA)
        assert nxt.phase is Phase.connected
        assert nxt.customer is not None and nxt.customer.matched_on == "cashier"
        assert m.kiosk_state(nxt).view.first_name == ANNA.first_name
        told = [e.message for e in effects if isinstance(e, m.ToRegister)]
        assert isinstance(told[-1], CustomerConnected)
        assert m.LinkSale("sale-1", ANNA.id) in effects
        withdrawn = [t for t in told if isinstance(t, PromptWithdrawn)]
        if lane.phase is Phase.await_cashier:
            assert [w.reason for w in withdrawn] == ["connected_by_cashier"]
        else:
            assert withdrawn == []
        # A retry (or a second click) changes nothing.
        assert m.connect_by_hand(nxt, ANNA) == (nxt, [])


def test_connecting_by_hand_needs_a_sale_and_waits_for_a_creation() -> None:
    with pytest.raises(m.NotAllowed, match="start a sale"):
        m.connect_by_hand(Lane(name="lane-1"), ANNA)
    prompt = awaiting_cashier()
    creating, _ = m.confirm_member(prompt, prompt.prompt_id or "", DETAILS)
    with pytest.raises(m.NotAllowed, match="being created"):
        m.connect_by_hand(creating, ANNA)


def test_end_sale_while_the_cashier_is_prompted_withdraws_the_prompt() -> None:
    lane, effects = m.end_sale(awaiting_cashier())
    assert lane.phase is Phase.idle
    assert only(effects, ToRegister).message.reason == "sale_ended"  # type: ignore[attr-defined]


def test_screen_timeout_returns_to_choices_only_if_the_screen_did_not_change() -> None:
    lane, _ = m.lookup_done(presented(), "lookup-1", None)
    stale, effects = m.screen_timeout(lane, lane.seq - 1)
    assert stale is lane and effects == []
    lane, _ = m.screen_timeout(lane, lane.seq)
    assert (lane.phase, lane.candidate) == (Phase.choosing, None)


def test_screen_timeout_does_not_interrupt_the_cashier() -> None:
    lane = awaiting_cashier()
    after, _ = m.screen_timeout(lane, lane.seq)
    assert after is lane


def test_pending_effects_are_reissued_after_a_restart() -> None:
    lane = Lane.model_validate_json(presented().model_dump_json())
    assert m.pending_effects(lane) == [Lookup("lookup-1", KEYS, NEW_PERSON)]
    creating, _ = m.confirm_member(awaiting_cashier(), "prompt-1", DETAILS)
    restored = Lane.model_validate_json(creating.model_dump_json())
    assert m.pending_effects(restored) == [CreateCustomer("prompt-1", NEW_PERSON, DETAILS)]
    assert m.pending_effects(Lane(name="x")) == []


def test_a_new_sale_in_the_middle_resets_the_lane() -> None:
    lane, effects = m.start_sale(awaiting_cashier(), "sale-2")
    assert (lane.phase, lane.sale_id, lane.candidate) == (Phase.choosing, "sale-2", None)
    assert only(effects, ToRegister).message.reason == "new_sale"  # type: ignore[attr-defined]


def test_possible_duplicates_reach_the_cashier_and_can_be_connected() -> None:
    twin = ANNA.model_copy(update={"matched_on": "same_birth_date_similar_name"})
    lane, _ = m.lookup_done(presented(), "lookup-1", None, (twin,))
    assert "Andersson" not in m.kiosk_state(lane).model_dump_json()
    lane, effects = m.member_answer(lane, True, "prompt-1")
    prompt = only(effects, ToRegister).message.prompt  # type: ignore[attr-defined]
    assert prompt.possible_duplicates == (twin,)
    with pytest.raises(m.NotAllowed):
        m.connect_existing(lane, "prompt-1", 999)  # not offered: never connect a stranger
    lane, effects = m.connect_existing(lane, "prompt-1", ANNA.id)
    assert lane.phase is Phase.connected and lane.customer is not None
    event = only(effects, ToRegister).message  # type: ignore[attr-defined]
    assert (event.customer.id, event.customer.matched_on, event.customer.is_new) == (
        ANNA.id, "cashier", False)
    again, effects = m.connect_existing(lane, "prompt-1", ANNA.id)
    assert again is lane and effects == []


def test_a_failed_lookup_lets_the_shopper_try_again() -> None:
    lane, effects = m.lookup_failed(presented(), "lookup-1")
    assert (lane.phase, lane.lookup_id, lane.notice, effects) == (
        Phase.identifying, None, "unavailable", [])
    assert m.kiosk_state(lane).view.busy is False
    again, _ = m.present(lane, NEW_PERSON, KEYS, "lookup-2")  # a new try is accepted
    assert again.lookup_id == "lookup-2"


# --- Ange ID pauses after too many look-ups -----------------------------------------------


def _person(n: int) -> tuple[Candidate, tuple[MatchKey, ...]]:
    fp = f"{n:064x}"
    return (NEW_PERSON.model_copy(update={"personal_id_fingerprint": fp}),
            (MatchKey(kind="personal_id_fingerprint", value=fp, reading="personnummer"),))


def _typed(lane: Lane, n: int, now: float, limit: int = 5) -> tuple[Lane, list[m.Effect]]:
    """The shopper types the n-th number on the numpad and, once it was looked up, goes back
    to the numpad (as they would after "not found" or "no, thanks")."""
    candidate, keys = _person(n)
    lane, effects = m.present(lane, candidate, keys, f"lookup-{n}", now, ange_id_limit=limit)
    if lane.lookup_id is not None:
        lane, _ = m.lookup_done(lane, lane.lookup_id, None)
        lane, _ = m.cancel(lane)
        lane, _ = m.choose(lane, Method.numpad)
    return lane, effects


def test_ange_id_pauses_after_five_look_ups_in_a_minute_and_looks_nothing_up() -> None:
    lane = at_numpad()
    for n in range(5):
        lane, effects = _typed(lane, n, now=1000.0 + n)
        assert any(isinstance(e, Lookup) for e in effects)
        assert m.AuditLookup(refused=False, fingerprint=f"{n:064x}") in effects
    paused, effects = _typed(lane, 5, now=1010.0)
    assert not any(isinstance(e, Lookup) for e in effects)  # nothing is compared
    assert effects == [m.AuditLookup(refused=True, fingerprint=f"{5:064x}")]
    assert paused.phase is Phase.identifying and paused.notice is m.Notice.too_many_tries
    assert paused.candidate is None
    # The screen says how long: until the first look-up (at 1000 s) leaves the minute.
    view = m.kiosk_state(paused, now=1010.0).view
    assert view.notice == "too_many_tries" and view.retry_in_s == 50
    # Still paused a little later, with the wait counting down.
    again, effects = _typed(paused, 6, now=1030.0)
    assert not any(isinstance(e, Lookup) for e in effects)
    assert m.kiosk_state(again, now=1030.0).view.retry_in_s == 30


def test_the_pause_ends_when_the_oldest_look_up_leaves_the_minute() -> None:
    lane = at_numpad()
    for n in range(5):
        lane, _ = _typed(lane, n, now=1000.0 + n)
    lane, _ = _typed(lane, 5, now=1010.0)
    lane, effects = _typed(lane, 6, now=1060.5)
    assert any(isinstance(e, Lookup) for e in effects)
    assert lane.notice is None


def test_mistyped_numbers_and_scanned_cards_do_not_count_and_ending_the_sale_resets_nothing(
        ) -> None:
    lane = at_numpad()
    for _ in range(10):  # a check digit that does not match compares nothing
        lane, effects = m.present_rejected(lane, Method.numpad, m.Notice.invalid_checksum)
        assert effects == []
    for n in range(5):
        lane, _ = _typed(lane, n, now=2000.0 + n)
    card = CARD_ONLY.model_copy(update={"source": Method.scan})
    lane, effects = m.present(lane, card, KEYS, "scan-1", 2006.0)
    assert any(isinstance(e, Lookup) for e in effects)  # a card held up is not Ange ID
    lane, _ = m.lookup_done(lane, "scan-1", None)
    lane, _ = m.end_sale(lane)
    lane, _ = m.start_sale(lane, "sale-2")
    lane, _ = m.choose(lane, Method.numpad)
    lane, effects = _typed(lane, 9, now=2010.0)
    assert lane.notice is m.Notice.too_many_tries
    assert not any(isinstance(e, Lookup) for e in effects)


def test_the_budget_is_the_bridges_setting() -> None:
    lane = at_numpad()
    lane, _ = _typed(lane, 0, now=10.0, limit=1)
    lane, effects = _typed(lane, 1, now=11.0, limit=1)
    assert lane.notice is m.Notice.too_many_tries
    assert not any(isinstance(e, Lookup) for e in effects)
