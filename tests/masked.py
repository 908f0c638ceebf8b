"""The numbers behind a masked personnummer (``19850312-****``), as someone trying them all
would write them: every serial of that birth date with its check digit."""

from __future__ import annotations

from collections.abc import Iterator


def candidates(birth: str = "19850312") -> Iterator[str]:
    """Every valid 12-digit personnummer born on ``birth`` (YYYYMMDD): serials 001 to 999."""
    for serial in range(1, 1000):
        body = f"{birth[2:]}{serial:03d}"
        total = 0
        for i, digit in enumerate(body):
            product = int(digit) * (2 if i % 2 == 0 else 1)
            total += product // 10 + product % 10
        yield f"{birth}{serial:03d}{(10 - total % 10) % 10}"


def numbers(count: int, birth: str = "19850312", *, but: str | None = None) -> list[str]:
    """The first ``count`` candidates, leaving out ``but``."""
    out: list[str] = []
    for number in candidates(birth):
        if number != but:
            out.append(number)
        if len(out) == count:
            return out
    raise ValueError("not that many")
