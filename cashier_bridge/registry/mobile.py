"""Via mobil's rows: which lane issued a phone code (by hash).

A phone code is never stored: only its SHA-256, mapped to the lane that issued it.  The lane's
own state decides whether the code is still good (open, used, expired, voided), so a stale row
here is harmless and is pruned after a day.  The consent texts the phone page shows are filed by
the consent store (:meth:`.consents.ConsentStore.remember_texts`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, delete, insert, select

from cashier_bridge.registry.schema import mobile_tokens
from cashier_bridge.registry.timestamps import utcnow

TOKEN_ROWS_KEEP = dt.timedelta(days=1)
SOURCE = "via_mobil"  # the consent log's source of the phone's answers (written by the lane hub)


class MobileTokenStore:
    """``registry.mobile_tokens``: the lane each phone code (by its hash) was issued by."""

    def __init__(self, reader: Engine, writer: Engine) -> None:
        self._reader = reader
        self._writer = writer

    def add(self, token_hash: str, lane: str) -> None:
        """File the hash of a code ``lane`` issues; rows older than a day go meanwhile."""
        now = utcnow()
        with self._writer.begin() as conn:
            conn.execute(insert(mobile_tokens).values(token_hash=token_hash, lane=lane,
                                                      created_at=now))
            # Pruned as codes are issued: a lane issues one every few minutes at most.
            conn.execute(delete(mobile_tokens).where(mobile_tokens.c.created_at
                                                     < now - TOKEN_ROWS_KEEP))

    def lane_of(self, token_hash: str) -> str | None:
        """The lane that issued the code with this hash, or None if none did."""
        with self._reader.connect() as conn:
            return conn.execute(select(mobile_tokens.c.lane).where(
                mobile_tokens.c.token_hash == token_hash)).scalar_one_or_none()
