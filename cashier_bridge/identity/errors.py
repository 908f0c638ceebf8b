"""Errors of the identity parsers: one type, with a machine-readable code and a human reason."""

from __future__ import annotations


class IdentityError(ValueError):
    """Input that is not a valid identifier of the kind asked for.

    ``code`` is stable and machine-readable (the kiosk translates it); ``str(err)`` is for logs
    and support staff.
    """

    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, kind: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.kind = kind


class InvalidLength(IdentityError):
    code = "invalid_length"


class InvalidFormat(IdentityError):
    code = "invalid_format"


class InvalidChecksum(IdentityError):
    code = "invalid_checksum"


class InvalidDate(IdentityError):
    code = "invalid_date"
