"""Safety nets of the customer screen: screen timeouts and a bridge that goes away."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest
from kiosk_harness import FakeBridge, Kiosk

from cashier_bridge.protocol import Method, Phase, ScreenTimeout

pytestmark = pytest.mark.kiosk

TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def quick_kiosk(display: str, bridge: FakeBridge, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Kiosk]:
    app = Kiosk(display, bridge.url, Path(tmp_path_factory.mktemp("quick")),
                screen_timeout_s=TIMEOUT_S, welcome_s=30)
    app.wait_screen("idle")
    yield app
    app.close()


@pytest.mark.parametrize(("phase", "view", "screen"), [
    (Phase.identifying, {"method": Method.numpad}, "numpad"),
    (Phase.not_found, {"notice": "not_found"}, "not_found"),
    (Phase.ask_member, {"masked_id": "19850312-****"}, "ask_member"),
])
def test_an_untouched_screen_asks_the_bridge_to_time_out_with_its_seq(
        bridge: FakeBridge, quick_kiosk: Kiosk, phase: Phase, view: dict, screen: str) -> None:
    state = bridge.set_state(phase, **view)
    quick_kiosk.wait_screen(screen, seq=state.seq)
    bridge.drain()
    assert bridge.next_intent(timeout=TIMEOUT_S + 3) == ScreenTimeout(seq=state.seq)


def test_a_touch_restarts_the_screen_timeout(bridge: FakeBridge, quick_kiosk: Kiosk) -> None:
    state = bridge.set_state(Phase.identifying, method=Method.numpad)
    quick_kiosk.wait_screen("numpad", seq=state.seq)
    bridge.drain()
    quick_kiosk.click("key_5")
    quick_kiosk.wait(lambda p: "5" in p["texts"][3:4], what="the digit 5 typed")
    bridge.drain()  # a timeout that raced the click
    quick_kiosk.click("key_6")
    with pytest.raises(queue.Empty):  # the timer can only fire a full timeout after the touch
        bridge.next_intent(timeout=TIMEOUT_S * 0.6)
    assert bridge.next_intent(timeout=TIMEOUT_S + 3) == ScreenTimeout(seq=state.seq)


@pytest.mark.parametrize(("phase", "view", "screen"), [
    (Phase.choosing, {}, "choose"),
    (Phase.connected, {"first_name": "Anna"}, "welcome"),
    (Phase.await_cashier, {}, "waiting"),
])
def test_screens_where_the_shopper_is_not_expected_to_act_do_not_time_out(
        bridge: FakeBridge, quick_kiosk: Kiosk, phase: Phase, view: dict, screen: str) -> None:
    state = bridge.set_state(phase, **view)
    quick_kiosk.wait_screen(screen, seq=state.seq)
    bridge.drain()
    with pytest.raises(queue.Empty):
        bridge.next_intent(timeout=TIMEOUT_S * 2)


def test_the_offline_screen_shows_when_the_bridge_goes_away_and_the_lane_resumes_after(
        bridge: FakeBridge, quick_kiosk: Kiosk) -> None:
    state = bridge.set_state(Phase.connected, first_name="Anna")
    probe = quick_kiosk.wait_screen("welcome", seq=state.seq)
    assert probe["online"] is True
    hellos = len(bridge.hellos)

    bridge.stop()
    probe = quick_kiosk.wait_screen("offline", timeout=5)
    assert probe["online"] is False
    assert "Ur funktion – fråga kassören" in probe["texts"]
    assert "Ansluter igen…" in probe["texts"]
    assert not any("Anna" in t for t in probe["texts"])
    assert set(probe["buttons"]) == {"lang"}

    bridge.state = bridge.state.model_copy(update={"phase": Phase.ask_member, "seq": 99})
    bridge.start()  # same port: the kiosk finds it again on its own
    probe = quick_kiosk.wait_screen("ask_member", seq=99, timeout=10)
    assert probe["online"] is True
    assert len(bridge.hellos) == hellos + 1
    assert bridge.hellos[-1].lane == "lane-1"
