"""Which screen the shopper sees: a pure function of the lane state the bridge sent.

The kiosk adds only three things of its own: whether the bridge is reachable, whether the
welcome moment is over (so the name leaves the screen), and nothing else.
"""

from __future__ import annotations

from enum import StrEnum

from cashier_bridge.protocol import KioskState, Method, Phase


class Screen(StrEnum):
    """The kiosk's screens; the names cross to the probe, the simulator's scenario files and
    the QA desk, so the values stay as they are."""

    idle = "idle"
    choose = "choose"
    numpad = "numpad"
    scan = "scan"
    mobile = "mobile"
    searching = "searching"
    not_found = "not_found"
    ask_member = "ask_member"
    waiting = "waiting"
    welcome = "welcome"
    thanks = "thanks"
    offline = "offline"
    leave_kiosk = "leave_kiosk"  # staff only: the exit PIN pad (kiosk mode on a till)


# Each screen's name for people (message ids of the kiosk's catalogs): the window's title, which
# is what a screen reader announces when the screen changes.
TITLES: dict[Screen, str] = {
    Screen.idle: "Customer club",
    Screen.choose: "How would you like to identify yourself?",
    Screen.numpad: "Enter ID",
    Screen.scan: "Scan ID",
    Screen.mobile: "Via mobile",
    Screen.searching: "Searching…",
    Screen.not_found: "We could not find you",
    Screen.ask_member: "Would you like to become a member?",
    Screen.waiting: "Waiting for the cashier",
    Screen.welcome: "Welcome!",
    Screen.thanks: "Thank you!",
    Screen.offline: "Out of order – please ask the cashier",
    Screen.leave_kiosk: "Staff: enter the PIN to close the customer screen",
}


def screen_for(state: KioskState | None, *, offline: bool = False,
               welcome_over: bool = False) -> Screen:
    if offline:
        return Screen.offline
    if state is None:
        return Screen.idle
    phase, view = state.phase, state.view
    if phase is Phase.choosing:
        return Screen.choose
    if phase is Phase.identifying:
        if view.method is Method.scan:
            # The scan screen stays while the bridge looks the code up: closing and reopening
            # the camera for a few milliseconds of searching would blank the picture.
            return Screen.scan
        if view.method is Method.mobile:
            return Screen.mobile  # says "searching" itself: the phone is where the shopper looks
        if view.busy:
            return Screen.searching
        return Screen.numpad
    if phase is Phase.not_found:
        return Screen.not_found
    if phase is Phase.ask_member:
        return Screen.ask_member
    if phase is Phase.await_cashier:
        return Screen.waiting
    if phase is Phase.connected:
        return Screen.thanks if welcome_over or not view.first_name else Screen.welcome
    return Screen.idle
