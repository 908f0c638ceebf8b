"""What the queue may see of a number the shopper is typing: enough to check it, not to steal it.

Like a card terminal's PIN, but the shopper must be able to check their input: a personnummer
shows its date part and hides the rest; a phone number shows its first three and last two
digits.  A press-and-hold "show" on the screen reveals the whole input to the shopper.
"""

from __future__ import annotations

DOT = "•"


def mask_typed(digits: str) -> str:
    """The typed input as the customer screen shows it.

    >>> mask_typed("198503121249")
    '19850312••••'
    >>> mask_typed("8503121249")
    '850312••••'
    >>> mask_typed("0701234567")
    '070•••••67'
    >>> mask_typed("1001")  # a short card number is nothing personal
    '1001'
    """
    if digits.startswith(("0", "+")):
        shown = 3
        tail = 2 if len(digits) >= 8 else 0
        hidden = max(0, len(digits) - shown - tail)
        return digits[:shown] + DOT * hidden + (digits[-tail:] if tail else "")
    date = 8 if digits.startswith(("19", "20")) else 6
    return digits[:date] + DOT * max(0, len(digits) - date)
