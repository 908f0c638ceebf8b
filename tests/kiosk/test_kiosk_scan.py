"""Skanna ID on the real kiosk: a virtual camera (steered through its control file, as the
simulator does) shows cards to the kiosk; the scan intents reach the fake bridge, and the lane's
answers are shown beside the live picture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kiosk_harness import FakeBridge, Kiosk

from cashier_bridge.protocol import Method, Phase, Scan
from simulator.virtual_camera import DEFAULT_AAMVA, present

pytestmark = pytest.mark.kiosk


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("camera") / "camera"
    present(path, "nothing")
    return path


@pytest.fixture(scope="module")
def scan_kiosk(display: str, bridge: FakeBridge, control: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kiosk]:
    app = Kiosk(display, bridge.url, Path(tmp_path_factory.mktemp("kiosk")),
                camera=f"virtual:control={control},seed=3")
    app.wait_screen("idle")
    yield app
    app.close()


def open_scan(bridge: FakeBridge, kiosk: Kiosk, control: Path, **view: Any) -> dict[str, Any]:
    present(control, "nothing")
    bridge.set_state(Phase.choosing)
    kiosk.wait_screen("choose")
    state = bridge.set_state(Phase.identifying, method=Method.scan, **view)
    kiosk.wait_screen("scan", seq=state.seq)
    probe = kiosk.wait(lambda p: p["camera"] is not None and p["camera"]["live"],
                       what="the live picture")
    bridge.drain()
    return probe


def frames_shown(kiosk: Kiosk) -> int:
    probe = kiosk.read()
    return probe["camera"]["frames"] if probe and probe["camera"] else 0


def test_the_scan_screen_shows_the_live_picture_and_what_to_do(
        bridge: FakeBridge, scan_kiosk: Kiosk, control: Path) -> None:
    probe = open_scan(bridge, scan_kiosk, control)
    assert probe["camera"]["status"] == "live"
    assert not probe["camera"]["highlight"]
    assert "Skanna ID" in probe["texts"]
    assert "Håll kortet, körkortet eller telefonen stilla i ramen" in probe["texts"]
    assert {"enter_id", "cancel"} <= probe["buttons"].keys()


def test_a_known_card_held_up_is_sent_once_and_outlined(
        bridge: FakeBridge, scan_kiosk: Kiosk, control: Path) -> None:
    open_scan(bridge, scan_kiosk, control)
    present(control, "card-code128:1001")
    assert bridge.next_intent(skip=("screen_timeout",)) == Scan(text="1001",
                                                                  symbology="Code128")
    scan_kiosk.wait(lambda p: p["camera"]["highlight"], what="the outline on the card")
    # Held up for another 45 frames, the card is not sent again; the next card is.
    held_until = frames_shown(scan_kiosk) + 45
    scan_kiosk.wait(lambda p: p["camera"]["frames"] >= held_until, timeout=20,
                    what="45 more frames of the same card")
    present(control, "card-qr:1002")
    assert bridge.next_intent(skip=("screen_timeout",)) == Scan(text="1002",
                                                                  symbology="QRCode")


def test_a_licence_reaches_the_bridge_with_its_separators(
        bridge: FakeBridge, scan_kiosk: Kiosk, control: Path) -> None:
    open_scan(bridge, scan_kiosk, control)
    present(control, "licence")
    intent = bridge.next_intent(timeout=15, skip=("screen_timeout",))
    assert intent == Scan(text=DEFAULT_AAMVA, symbology="PDF417")


@pytest.mark.parametrize(("view", "swedish"), [
    ({"busy": True}, "Söker…"),
    ({"notice": "unreadable"}, "Vi kunde inte läsa det – försök igen"),
    ({"notice": "no_identity"}, "Kortet saknar namn eller kontaktuppgifter som vi kan använda"),
    ({"notice": "invalid_length"},
     "Koden är inget medlemskort eller ID vi kan använda – prova en annan"),
])
def test_the_lanes_answer_is_shown_beside_the_picture(
        bridge: FakeBridge, scan_kiosk: Kiosk, control: Path, view: dict[str, Any],
        swedish: str) -> None:
    open_scan(bridge, scan_kiosk, control)
    state = bridge.set_state(Phase.identifying, method=Method.scan, **view)
    probe = scan_kiosk.wait_screen("scan", seq=state.seq)
    assert swedish in probe["texts"]
    assert probe["camera"]["live"]  # the camera stayed on through the answer


def test_an_unknown_card_can_be_tried_again_with_the_camera(
        bridge: FakeBridge, scan_kiosk: Kiosk, control: Path) -> None:
    open_scan(bridge, scan_kiosk, control)
    state = bridge.set_state(Phase.not_found, method=Method.scan, notice="not_found")
    probe = scan_kiosk.wait_screen("not_found", seq=state.seq)
    assert "Vi hittade inte kortet – prova ett annat eller ange ditt ID" in probe["texts"]
    assert probe["camera"] is None  # the camera is released off the scan screen
    scan_kiosk.click("retry")
    assert bridge.next_intent(skip=("screen_timeout",)).method is Method.scan


def test_leaving_the_scan_screen_releases_the_camera(
        bridge: FakeBridge, scan_kiosk: Kiosk, control: Path) -> None:
    open_scan(bridge, scan_kiosk, control)
    scan_kiosk.click("cancel")
    assert bridge.next_intent(skip=("screen_timeout",)).type == "cancel"
    state = bridge.set_state(Phase.choosing)
    probe = scan_kiosk.wait_screen("choose", seq=state.seq)
    assert probe["camera"] is None
    present(control, "card-code128:1001")  # a card shown now is not read: the camera is off
    state = bridge.set_state(Phase.choosing)
    scan_kiosk.wait_screen("choose", seq=state.seq)
    assert [i for i in bridge.drain() if i.type == "scan"] == []
