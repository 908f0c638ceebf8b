"""Via mobil's rows: which lane issued a phone code (by hash), and the consent texts shown.

A phone code is never stored: only its SHA-256, mapped to the lane that issued it.  The lane's
own state decides whether the code is still good (open, used, expired, voided), so a stale row
here is harmless and is pruned after a day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from cashier_bridge.registry.schema import consent_texts, consents, mobile_tokens
from cashier_bridge.registry.timestamps import utcnow

TOKEN_ROWS_KEEP = dt.timedelta(days=1)
SOURCE = "via_mobil"  # the consent log's source of the phone's answers (written by the lane hub)


@dataclass(frozen=True, slots=True)
class ConsentText:
    version: str
    purpose: str
    language: str
    text: str


def add_token(engine: Engine, token_hash: str, lane: str) -> None:
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(insert(mobile_tokens).values(token_hash=token_hash, lane=lane,
                                                  created_at=now))
        # Pruned as codes are issued: a lane issues one every few minutes at most.
        conn.execute(delete(mobile_tokens).where(mobile_tokens.c.created_at
                                                 < now - TOKEN_ROWS_KEEP))


def token_lane(engine: Engine, token_hash: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(mobile_tokens.c.lane)
                            .where(mobile_tokens.c.token_hash == token_hash)).scalar_one_or_none()


def remember_texts(engine: Engine, texts: Sequence[ConsentText]) -> None:
    """Keep every consent text that is shown, under its version (first time only)."""
    now = utcnow()
    with engine.begin() as conn:
        for t in texts:
            stmt = _insert(conn, consent_texts).values(
                version=t.version, purpose=t.purpose, language=t.language, text=t.text,
                first_shown_at=now)
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["version"]))


def consent_log(engine: Engine, customer_id: int) -> list[dict[str, object]]:
    """The customer's consent log, oldest first (for tests, GDPR export and support)."""
    with engine.connect() as conn:
        rows = conn.execute(select(consents).where(consents.c.customer_id == customer_id)
                            .order_by(consents.c.id))
        return [dict(row._mapping) for row in rows]


def _insert(conn: Connection, table: object):  # type: ignore[no-untyped-def]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)  # type: ignore[arg-type]
