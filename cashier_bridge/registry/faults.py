"""What went wrong when the database did not do what was asked, in the protocol's words."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from cashier_bridge.protocol import ErrorCode

# SQLite says SQLITE_FULL; PostgreSQL raises SQLSTATE 53100 (disk_full) or 53200 (out of memory).
_FULL_SQLSTATES = {"53100"}
_FULL_MESSAGES = ("database or disk is full", "no space left on device", "could not extend file")


def registry_fault(exc: BaseException) -> ErrorCode | None:
    """``storage_full`` or ``unavailable`` for a database failure; None for anything else (a
    bug, which the caller reports as such)."""
    if not isinstance(exc, DBAPIError):
        return None
    original = exc.orig
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    text = str(original or exc).lower()
    if state in _FULL_SQLSTATES or any(m in text for m in _FULL_MESSAGES):
        return ErrorCode.storage_full
    return ErrorCode.unavailable


MESSAGES = {
    ErrorCode.storage_full: "the customer registry's disk is full, so nothing could be saved "
                            "and nothing was changed: the shop's IT must free space; then "
                            "try again",
    ErrorCode.unavailable: "the customer registry cannot be reached right now; nothing was "
                           "changed — try again in a moment",
}
