"""How the registry stores a secret it hands out once (device tokens, API tokens, staff
sessions, sign-in codes): its SHA-256, never the secret, so a copy of the database lets no one
in.  Said once, so the rule cannot drift between them."""

from __future__ import annotations

import hashlib


def stored_hash(secret: str) -> str:
    """
    >>> stored_hash("sr_example")[:16]
    'c96691d866838888'
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
