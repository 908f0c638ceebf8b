"""A kiosk and a real bridge that lets in only paired devices (its default, on loopback too)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kiosk_harness import Kiosk

from simulator.processes import BridgeProcess

pytestmark = pytest.mark.kiosk


@pytest.fixture(scope="module")
def real_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    bridge = BridgeProcess(tmp_path_factory.mktemp("bridge"))
    bridge.start()  # the defaults: pairing required
    yield bridge
    bridge.stop()


def test_a_kiosk_without_a_token_tells_staff_what_to_run(
        display: str, real_bridge: BridgeProcess, tmp_path: Path) -> None:
    kiosk = Kiosk(display, real_bridge.url, tmp_path)
    try:
        probe = kiosk.wait(lambda p: p["screen"] == "offline" and any(
            "parkopplad" in text for text in p["texts"]), timeout=15,
            what="the screen saying it is not paired")
        assert "Skärmen är inte parkopplad med kassan" in probe["texts"]
        assert any("selfreg-bridge pair --lane lane-1 --role kiosk" in text
                   for text in probe["texts"])
        assert probe["online"] is False and set(probe["buttons"]) == {"lang"}
    finally:
        kiosk.close()
    log = (tmp_path / "kiosk.log").read_text(errors="replace")
    assert "not paired with lane lane-1" in log


def test_a_paired_kiosk_gets_its_lane(display: str, real_bridge: BridgeProcess,
                                      tmp_path: Path) -> None:
    kiosk = Kiosk(display, real_bridge.url, tmp_path, token=real_bridge.pair("lane-1", "kiosk"))
    try:
        # Connected: the idle screen of a kiosk its bridge welcomed (before the welcome the
        # idle screen shows too, offline).
        probe = kiosk.wait(lambda p: p["screen"] == "idle" and p["online"], timeout=15,
                           what="the idle screen, online")
        assert "parkopplad" not in " ".join(probe["texts"])
    finally:
        kiosk.close()
