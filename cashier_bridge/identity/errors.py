"""Errors of the identity parsers: one type, with a machine-readable code and a human reason."""

from __future__ import annotations


class IdentityError(ValueError):
    """Input that is not a valid identifier of the kind asked for.

    ``code`` is stable and machine-readable (the kiosk translates it); ``str(err)`` is for logs
    and support staff.

    >>> err = InvalidChecksum("the last digit does not match", kind="personnummer")
    >>> err.code, err.kind, str(err)
    ('invalid_checksum', 'personnummer', 'the last digit does not match')
    >>> isinstance(err, ValueError)
    True
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


class InterimNumber(IdentityError):
    """A well-formed Swedish interim number (reservnummer, a letter in place of a digit).

    Hospitals and universities issue these locally; they are not unique across issuers, so the
    registry must not match a person on one.  Kept apart from ``invalid_format`` so the kiosk can
    say "use your phone number instead" rather than "typo".
    """

    code = "interim_number"


class Incomplete(IdentityError):
    """A payload that starts like a known kind but was cut off (e.g. no END:VCARD)."""

    code = "incomplete"


class NoIdentity(IdentityError):
    """A well-formed document that carries nothing to identify a person by."""

    code = "no_identity"


class Unrecognised(IdentityError):
    """Input that is none of the kinds the bridge knows."""

    code = "unrecognised"


class Unreadable(IdentityError):
    """Input that held nothing but padding and control characters (a misfired scan)."""

    code = "unreadable"
