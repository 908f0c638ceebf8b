"""What the queue may see of a number the shopper is typing: enough to check it, not to steal it.

Like a card terminal's PIN, but the shopper must be able to check their input: a personnummer
shows its date part and hides the rest; a phone number shows its first three and last two
digits.  A press-and-hold "show" on the screen reveals the whole input to the shopper.

Once the digits are a whole personnummer they read exactly as everywhere else (the console, the
back office, the bridge's own ``masked_id``): :func:`cashier_bridge.identity.personnummer.mask`
owns that form, and while typing the display grows towards it (``19850312-**``).
"""

from __future__ import annotations

from cashier_bridge.identity import personnummer
from cashier_bridge.identity.masking import HIDDEN, mask_phone


def mask_typed(digits: str) -> str:
    """The typed input as the customer screen shows it.

    >>> mask_typed("198503121249")
    '19850312-****'
    >>> mask_typed("19850312124")
    '19850312-***'
    >>> mask_typed("8503121249") == personnummer.mask("8503121249")  # complete: one form
    True
    >>> mask_typed("8503121")
    '850312-*'
    >>> mask_typed("0701234567")
    '070*****67'
    >>> mask_typed("1001")  # a short card number is nothing personal
    '1001'
    """
    if digits.startswith(("0", "+")):
        return mask_phone(digits)
    twelve = digits.startswith(("19", "20"))
    # Ten digits starting 19 or 20 are most often twelve on their way, not a whole number.
    if (len(digits) == 12 or (len(digits) == 10 and not twelve)) \
            and personnummer.is_valid(digits):
        return personnummer.mask(digits)
    date = 8 if twelve else 6
    if len(digits) <= date:
        return digits
    return digits[:date] + "-" + HIDDEN * (len(digits) - date)
