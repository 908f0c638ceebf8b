"""Refusals of the registry's administration stores that are neither about one field's value
(:class:`~.fields.InvalidCustomer`) nor a taken identifier (:class:`~.records.DuplicateCustomer`).
Callers map each to one answer (the REST API: 404 and 409)."""

from __future__ import annotations


class NotFound(LookupError):
    """No such (unerased) customer, group or token."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Conflict(Exception):
    """The request contradicts what is stored: an idempotency key reused with another body, a
    sale recorded with other data, a group name taken, the default group changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
