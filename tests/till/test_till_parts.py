"""The kiosk-on-a-till parts one by one: the monitor list as the real X server gives it, the choice
of monitor, the window placement and its physical sizes, the screen keeper against a real X
server, the exit PIN's rules, and the settings a till's TOML file gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from till_harness import MONITOR_H, MONITOR_W, screen_saver, x_tool

from cashier_bridge.config import Settings
from kiosk.exit_pin import MAX_TRIES, PAUSE_S, ExitPin, Outcome
from kiosk.platform import Displays, Monitor, ScreenKeeper
from kiosk.platform.linux import (
    DisplayError,
    XrandrDisplays,
    XsetScreenKeeper,
    parse_listmonitors,
    parse_xset_q,
)
from kiosk.window import (
    UnknownMonitor,
    choose_monitor,
    placement,
    smallest_target_mm,
    smallest_text_mm,
)

LEFT = Monitor("left", 0, 0, 0, MONITOR_W, MONITOR_H, 344, 194)
RIGHT = Monitor("right", 1, MONITOR_W, 0, MONITOR_W, MONITOR_H, 344, 194)


def test_the_monitors_are_read_from_the_x_server_as_xrandr_lists_them(till_display: str) -> None:
    displays = XrandrDisplays(till_display)
    assert isinstance(displays, Displays)
    assert displays.monitors() == [LEFT, RIGHT]


def test_a_real_tills_monitor_list_is_read_with_primary_and_negative_positions() -> None:
    text = ("Monitors: 2\n"
            " 0: +*eDP-1 1920/344x1080/193+0+0  eDP-1\n"
            " 1: +HDMI-2 1024/222x600/125-1024+0  HDMI-2\n")
    assert parse_listmonitors(text) == [
        Monitor("eDP-1", 0, 0, 0, 1920, 1080, 344, 193, primary=True),
        Monitor("HDMI-2", 1, -1024, 0, 1024, 600, 222, 125),
    ]


def test_no_x_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(DisplayError, match="DISPLAY is not set"):
        XrandrDisplays().monitors()
    with pytest.raises(DisplayError, match="on display :1234"):
        XrandrDisplays(":1234").monitors()  # no server there


@pytest.mark.parametrize("wanted", ["right", "1"])
def test_a_monitor_is_chosen_by_name_or_by_index(wanted: str) -> None:
    assert choose_monitor([LEFT, RIGHT], wanted) == RIGHT


def test_a_name_wins_over_an_index() -> None:
    named_0 = Monitor("0", 1, MONITOR_W, 0, MONITOR_W, MONITOR_H)
    assert choose_monitor([LEFT, named_0], "0") == named_0


@pytest.mark.parametrize("wanted", ["HDMI-9", "2", ""])
def test_an_unknown_monitor_names_the_ones_there_are(wanted: str) -> None:
    with pytest.raises(UnknownMonitor) as caught:
        choose_monitor([LEFT, RIGHT], wanted)
    message = str(caught.value)
    assert f"there is no monitor {wanted!r}" in message
    assert "0: left 1920x1080+0+0, 344×194 mm" in message
    assert "1: right 1920x1080+1920+0, 344×194 mm" in message


def test_fullscreen_on_a_monitor_is_exactly_that_monitor() -> None:
    where = placement((1280, 800), fullscreen=True, monitor=RIGHT)
    assert (where.left, where.top, where.width, where.height) == (1920, 0, 1920, 1080)
    assert where.kiosk
    assert where.dpi == pytest.approx(1920 / (344 / 25.4))  # ≈ 141.8 on a 15.6" FHD panel


def test_a_window_on_a_monitor_starts_at_its_corner_and_fits_in_it() -> None:
    small = Monitor("HDMI-2", 1, 1920, 0, 1024, 600, 222, 125)
    where = placement((1280, 800), monitor=small)
    assert (where.left, where.top, where.width, where.height) == (1920, 0, 1024, 600)
    assert not where.kiosk


def test_touch_targets_are_measured_in_millimetres_on_the_monitor() -> None:
    # The smallest kiosk buttons are 56 design pixels: at 1.35 px each on a 15.6" FHD panel
    # (0.179 mm a pixel) that is 13.5 mm; on a 7" 1024×600 panel at 0.75, 6.1 mm.
    assert smallest_target_mm([(300, 76), (76, 76)], RIGHT) == pytest.approx(13.6, abs=0.1)
    seven_inch = Monitor("DSI-1", 0, 0, 0, 1024, 600, 154, 90)
    assert smallest_target_mm([(42, 42)], seven_inch) == pytest.approx(6.3, abs=0.1)
    assert smallest_target_mm([(42, 42)], Monitor("x", 0, 0, 0, 1024, 600)) is None


def test_text_is_measured_in_millimetres_on_the_monitor() -> None:
    # The smallest kiosk text is 22 design pixels: 5.3 mm on the 15.6" panel, 2.5 mm on a 7".
    assert smallest_text_mm([40.5, 29.7, 35.1], RIGHT) == pytest.approx(5.3, abs=0.1)
    seven_inch = Monitor("DSI-1", 0, 0, 0, 1024, 600, 154, 90)
    assert smallest_text_mm([16.5], seven_inch) == pytest.approx(2.5, abs=0.1)
    assert smallest_text_mm([], RIGHT) is None


def test_the_screen_keeper_turns_blanking_off_and_gives_the_settings_back(
        till_display: str) -> None:
    x_tool(till_display, "xset", "s", "120", "120", "s", "blank")
    keeper = XsetScreenKeeper(till_display)
    assert isinstance(keeper, ScreenKeeper)
    keeper.keep_on()
    assert screen_saver(till_display) == {"timeout": 0, "blanking": False}
    keeper.release()
    assert screen_saver(till_display) == {"timeout": 120, "blanking": True}
    keeper.release()  # twice is harmless
    assert screen_saver(till_display) == {"timeout": 120, "blanking": True}


def test_dpms_is_restored_as_it_was_on_a_server_that_has_it() -> None:
    commands: list[list[str]] = []
    xset_q = ("Screen Saver:\n  prefer blanking:  yes    allow exposures:  yes\n"
              "  timeout:  600    cycle:  600\nDPMS (Energy Star):\n  Standby: 600    "
              "Suspend: 600    Off: 600\n  DPMS is Enabled\n  Monitor is On\n")

    def run(command: object) -> str:
        commands.append(list(command))  # type: ignore[call-overload]
        return xset_q if list(command) == ["xset", "q"] else ""  # type: ignore[call-overload]

    keeper = XsetScreenKeeper(run=run)
    keeper.keep_on()
    keeper.release()
    assert commands == [["xset", "q"], ["xset", "s", "off", "-dpms", "s", "noblank"],
                        ["xset", "s", "600", "600", "s", "blank", "+dpms"]]
    assert parse_xset_q(xset_q).dpms is True


def test_a_screen_keeper_that_cannot_reach_x_lets_the_kiosk_run() -> None:
    keeper = XsetScreenKeeper(":1234")  # no server: a warning, not a crash
    keeper.keep_on()
    keeper.release()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _type(pad: ExitPin, digits: str) -> Outcome:
    for d in digits:
        pad.press(d)
    return pad.submit()


def test_the_exit_pin_pauses_after_three_wrong_and_the_pause_ends() -> None:
    clock = Clock()
    pad = ExitPin("4711", clock)
    assert _type(pad, "0000") is Outcome.wrong and pad.tries_left == MAX_TRIES - 1
    assert _type(pad, "4712") is Outcome.wrong and pad.tries_left == 1
    assert _type(pad, "1147") is Outcome.paused
    assert pad.paused_for() == PAUSE_S == 60
    clock.now += 59.5
    assert _type(pad, "4711") is Outcome.paused  # not even the right one during the pause
    clock.now += 1
    assert pad.paused_for() == 0
    assert _type(pad, "4711") is Outcome.leave


def test_closing_the_pad_does_not_forget_wrong_pins() -> None:
    pad = ExitPin("4711", Clock())
    _type(pad, "1")
    _type(pad, "2")
    pad.reset_view()
    assert pad.tries_left == 1 and pad.last is None
    assert _type(pad, "3") is Outcome.paused


def test_the_pad_keys_edit_what_is_typed() -> None:
    pad = ExitPin("471100", Clock())
    for key in ("4", "7", "9", "back", "1", "1", "0", "0", "0", "back"):
        pad.press(key)
    assert pad.digits == "471100"
    pad.press("clear")
    assert pad.digits == "" and pad.submit() is Outcome.empty and pad.tries_left == MAX_TRIES


def test_the_till_settings_come_from_its_toml_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "selfreg.toml"
    config.write_text('kiosk_display = 1\nkiosk_fullscreen = true\nkiosk_exit_pin = "0471"\n')
    monkeypatch.setenv("SELFREG_CONFIG", str(config))
    settings = Settings()
    assert (settings.kiosk_display, settings.kiosk_fullscreen, settings.kiosk_exit_pin) == \
        ("1", True, "0471")
    assert Settings.model_fields["kiosk_exit_pin"].default is None  # no PIN: no way out


@pytest.mark.parametrize(("line", "says"), [
    ("kiosk_exit_pin = 471", "write the PIN in quotes"),
    ('kiosk_exit_pin = "47a1"', "should match pattern"),
    ('kiosk_exit_pin = "471"', "should match pattern"),
])
def test_a_bad_exit_pin_is_refused_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 line: str, says: str) -> None:
    config = tmp_path / "selfreg.toml"
    config.write_text(line + "\n")
    monkeypatch.setenv("SELFREG_CONFIG", str(config))
    with pytest.raises(ValidationError, match=says):
        Settings()
