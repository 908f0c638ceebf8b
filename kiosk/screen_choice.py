"""Which screen the shopper sees: a pure function of the lane state the bridge sent.

The kiosk adds only three things of its own: whether the bridge is reachable, whether the
welcome moment is over (so the name leaves the screen), and nothing else.
"""

from __future__ import annotations

from cashier_bridge.protocol import KioskState, Method, Phase

SCREENS = ("idle", "choose", "numpad", "scan", "mobile", "searching", "not_found",
           "ask_member", "waiting", "welcome", "thanks", "offline")


def screen_for(state: KioskState | None, *, offline: bool = False,
               welcome_over: bool = False) -> str:
    if offline:
        return "offline"
    if state is None:
        return "idle"
    phase, view = state.phase, state.view
    if phase is Phase.choosing:
        return "choose"
    if phase is Phase.identifying:
        if view.method is Method.scan:
            # The scan screen stays while the bridge looks the code up: closing and reopening
            # the camera for a few milliseconds of searching would blank the picture.
            return "scan"
        if view.method is Method.mobile:
            return "mobile"  # says "searching" itself: the phone is where the shopper looks
        if view.busy:
            return "searching"
        return "numpad"
    if phase is Phase.not_found:
        return "not_found"
    if phase is Phase.ask_member:
        return "ask_member"
    if phase is Phase.await_cashier:
        return "waiting"
    if phase is Phase.connected:
        return "thanks" if welcome_over or not view.first_name else "welcome"
    return "idle"
