"""Leaving kiosk mode: the exit PIN pad's rules, apart from any screen.

A few wrong PINs and the pad pauses: a shopper poking at the hidden corner cannot find four
digits by trying.  The count survives closing and reopening the pad, and only the right PIN
(or the pause running out) resets it.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable
from enum import Enum

MAX_TRIES = 3  # wrong PINs in a row before the pad pauses
PAUSE_S = 60.0
MAX_DIGITS = 12


class Outcome(Enum):
    leave = "leave"
    wrong = "wrong"
    paused = "paused"
    empty = "empty"


class ExitPin:
    def __init__(self, pin: str, clock: Callable[[], float] = time.monotonic) -> None:
        if not (pin.isdigit() and 4 <= len(pin) <= MAX_DIGITS):
            raise ValueError("the exit PIN is 4 to 12 digits")
        self._pin = pin.encode()
        self._clock = clock
        self.digits = ""
        self.wrong = 0  # wrong PINs since the last pause or the right one
        self._paused_until = 0.0
        self.last: Outcome | None = None  # what the last submit came to, for the pad to say

    def paused_for(self) -> int:
        """Whole seconds until PINs are taken again (0: now)."""
        return max(0, math.ceil(self._paused_until - self._clock()))

    @property
    def tries_left(self) -> int:
        return MAX_TRIES - self.wrong

    def press(self, key: str) -> None:
        if key == "back":
            self.digits = self.digits[:-1]
        elif key == "clear":
            self.digits = ""
        elif key.isdigit() and len(key) == 1 and len(self.digits) < MAX_DIGITS:
            self.digits += key

    def submit(self) -> Outcome:
        typed, self.digits = self.digits, ""
        if self.paused_for():
            self.last = Outcome.paused
        elif not typed:
            self.last = Outcome.empty
        elif hmac.compare_digest(typed.encode(), self._pin):
            self.wrong = 0
            self.last = Outcome.leave
        else:
            self.wrong += 1
            self.last = Outcome.wrong
            if self.wrong >= MAX_TRIES:
                self.wrong = 0
                self._paused_until = self._clock() + PAUSE_S
                self.last = Outcome.paused
        return self.last

    def reset_view(self) -> None:
        """The pad closes: typed digits and the last message go (the count of wrong PINs and
        any pause stay)."""
        self.digits = ""
        self.last = None
