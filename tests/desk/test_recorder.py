"""The desk's recorder on its own: which actions become which steps, and what each step expects
from the kiosk snapshots and register messages that followed it."""

from __future__ import annotations

import tomllib
from typing import Any

from cashier_bridge.protocol import Phase, RegisterMessage, RegisterState, RegisterView
from simulator.desk.recorder import Recorder
from simulator.scenario_file import dumps, parse


class Feed:
    def __init__(self) -> None:
        self.shown: list[dict[str, Any]] = []
        self.received: list[RegisterMessage] = []
        self.now = 100.0

    def show(self, screen: str, *texts: str, after: float = 0.2) -> None:
        self.now += after
        self.shown.append({"n": len(self.shown) + 1, "t": self.now, "screen": screen,
                           "texts": list(texts), "online": True, "camera": None})

    def recorder(self) -> Recorder:
        return Recorder(lambda: self.shown, lambda: self.received, lambda: self.now)


def state(phase: Phase) -> RegisterState:
    return RegisterState(lane="lane-1", phase=phase, seq=1, view=RegisterView())


def test_digits_in_a_row_are_one_type_step_whose_number_is_a_var_kept_off_the_screen() -> None:
    feed = Feed()
    rec = feed.recorder()
    rec.record("start_sale")
    feed.received.append(state(Phase.choosing))
    feed.show("choose", "Kundklubben", "Hur vill du identifiera dig?")
    rec.record_tap("choose_numpad")
    feed.show("numpad", "Ange ID", "")
    for digit in "8503121249":
        rec.record_tap(f"key_{digit}")
        feed.show("numpad", "Ange ID", "•" * 4)
    rec.record_tap("key_ok")
    feed.show("searching", "Söker…")
    feed.show("welcome", "Välkommen, Anna!", "Koden gäller i 0:59", after=3.0)

    scenario = rec.scenario("typed")
    assert [s.do.value for s in scenario.steps] == ["start_sale", "tap", "type", "tap"]
    assert scenario.vars == {"typed_1": "8503121249"}
    typed = scenario.steps[2]
    assert typed.digits == "{typed_1}"  # type: ignore[union-attr]
    ok = scenario.steps[3].expect
    # The last screen, its steady lines; a line with digits (a timer) and the header left out.
    assert ok.screen == "welcome" and ok.texts == ["Välkommen, Anna!"]
    assert ok.absent == ["{typed_1}"]
    assert scenario.steps[0].expect.texts == ["Hur vill du identifiera dig?"]
    assert [e.event.value for e in scenario.steps[0].expect.events] == ["state"]
    # Written and read back, it is the same scenario.
    assert parse(tomllib.loads(dumps(scenario))) == scenario


def test_a_slow_screen_gets_a_timeout_that_covers_it_and_an_empty_recording_is_refused() -> None:
    feed = Feed()
    rec = feed.recorder()
    try:
        rec.scenario("empty")
    except ValueError as exc:
        assert "nothing recorded" in str(exc)
    else:
        raise AssertionError("an empty recording was saved")
    rec.record("start_sale")
    feed.show("choose", "Hur vill du identifiera dig?")
    feed.show("idle", "Hej! Är du medlem?", after=46.0)  # the screen timed out by itself
    step = rec.scenario("slow").steps[0]
    assert step.expect.screen == "idle"
    assert step.timeout_s >= 46.2 * 1.5


def test_a_slider_drag_is_one_present_step_and_a_move_the_kiosk_answered_starts_another() -> None:
    feed = Feed()
    rec = feed.recorder()
    rec.record_present("licence", {"distance": 1.0, "angle": 0.0})
    feed.show("ask_member", "Vill du bli medlem?")
    for distance in (1.4, 2.2, 2.95):  # one drag: the kiosk showed nothing new meanwhile
        rec.record_present("licence", {"distance": distance, "angle": 0.0}, slider=True)
    feed.show("scan", "Håll upp ditt kort")
    rec.record_present("licence", {"distance": 1.0, "angle": 20.0}, slider=True)
    steps = rec.scenario("sliders").steps
    assert [s.do.value for s in steps] == ["present", "present", "present"]
    first, dragged, tilted = (s.flaws for s in steps)  # type: ignore[union-attr]
    assert first is None  # held the default way: nothing written
    assert dragged is not None and dragged.distance == 2.95 and dragged.angle == 0.0
    assert tilted is not None and tilted.distance == 1.0 and tilted.angle == 20.0
    assert steps[1].expect.screen == "scan"


def test_a_recorded_outage_carries_the_desks_busy_timeout_and_a_session_without_one_not() -> None:
    feed = Feed()
    rec = feed.recorder()
    rec.bridge_settings["db_busy_timeout_s"] = 3
    rec.record("start_sale")
    assert rec.scenario("no-outage").bridge.settings == {}
    rec.record("db_outage")
    rec.record("db_restore")
    scenario = rec.scenario("outage")
    assert scenario.bridge.settings == {"db_busy_timeout_s": 3}
    assert [s.do.value for s in scenario.steps] == ["start_sale", "db_outage", "db_restore"]


def test_a_details_mismatch_prompt_is_recorded_as_one_and_a_member_prompt_as_before() -> None:
    from cashier_bridge.protocol import CustomerCard, MemberPrompt, MemberPromptEvent, PromptKind

    anna = CustomerCard(id=1, customer_code="1001", first_name="Anna", last_name="Andersson",
                        created_via="import", matched_on="personnummer")
    recorded = {}
    for kind in PromptKind:
        feed = Feed()
        rec = feed.recorder()
        rec.record("phone_send", first_name="Eva", last_name="Svensson", phone="0709998877",
                   personal_id="198503121249")
        feed.received.append(MemberPromptEvent(
            lane="lane-1", seq=3, sale_id="s1", prompt=MemberPrompt(
                prompt_id="p", kind=kind, source="mobile", possible_duplicates=(anna,))))
        feed.show("waiting", "Väntar på kassören")
        (step,) = rec.scenario("prompt").steps
        (event,) = step.expect.events
        recorded[kind] = event.model_dump(exclude_none=True)
    assert recorded[PromptKind.details_mismatch].get("kind") == "details_mismatch"
    assert "kind" not in recorded[PromptKind.new_member]  # recorded files stay as they were
