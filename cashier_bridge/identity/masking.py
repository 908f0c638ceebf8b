"""The one masked form of a phone number, wherever one is shown: the kiosk while the shopper
types it, the candidate's ``masked_id`` the kiosk and console show, and anything else that names
a number it may not show whole.  No phonenumbers here: the kiosk imports this (and carries none
of phonenumbers' metadata, see :mod:`cashier_bridge.identity`).
"""

from __future__ import annotations

HIDDEN = "*"  # the one masking character of the product (personnummer.mask too)


def mask_phone(number: str) -> str:
    """The first three characters (``070``, ``+46``) and the last two digits; the rest hidden.
    A number being typed grows towards that form: below eight characters only its start shows.

    >>> mask_phone("+46701234567"), mask_phone("0701234567")
    ('+46*******67', '070*****67')
    >>> mask_phone("070123")
    '070***'
    """
    shown = 3
    tail = 2 if len(number) >= 8 else 0
    hidden = max(0, len(number) - shown - tail)
    return number[:shown] + HIDDEN * hidden + (number[-tail:] if tail else "")
