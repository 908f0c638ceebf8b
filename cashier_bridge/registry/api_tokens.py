"""API tokens: who may call the REST API, and with which scope.

A token is shown once when it is created; the registry keeps its SHA-256, so a copy of the
database lets nobody call the API.  ``last_used_at`` is written at most once a minute per token:
often enough to tell an operator which tokens are alive, rarely enough that reading does not
become a write on every request.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Engine, insert, or_, select, update

from cashier_bridge.registry.problems import NotFound
from cashier_bridge.registry.schema import api_tokens
from cashier_bridge.registry.secret_hash import stored_hash
from cashier_bridge.registry.timestamps import utcnow

TOKEN_PREFIX = "sra_"
LAST_USED_GRANULARITY = dt.timedelta(minutes=1)


class Scope(StrEnum):
    """What a caller may do; each scope includes the ones before it."""

    read = "read"
    write = "write"
    admin = "admin"

    def covers(self, needed: Scope) -> bool:
        order = list(Scope)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: written as ``actor`` in the audit log."""

    actor: str
    scope: Scope


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: int
    name: str
    scope: Scope
    token: str  # shown once, never stored


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    scope: Scope
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None



def actor_of(token_id: int, name: str) -> str:
    return f"token:{token_id}:{name}"[:64]


class ApiTokenStore:
    def __init__(self, reader: Engine, writer: Engine) -> None:
        self._reader = reader
        self._writer = writer

    def create(self, name: str, scope: Scope | str) -> IssuedToken:
        name = " ".join(name.split())
        if not name or len(name) > 100:
            raise ValueError("a token's name has 1 to 100 characters")
        scope = Scope(scope)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._writer.begin() as conn:
            token_id = conn.execute(insert(api_tokens).values(
                name=name, scope=scope.value, token_hash=stored_hash(token), created_at=utcnow())
            ).inserted_primary_key[0]
        return IssuedToken(int(token_id), name, scope, token)

    def list(self) -> list[TokenInfo]:
        with self._reader.connect() as conn:
            rows = conn.execute(select(api_tokens).order_by(api_tokens.c.id))
            return [TokenInfo(r.id, r.name, Scope(r.scope), r.created_at, r.last_used_at,
                              r.revoked_at) for r in rows]

    def revoke(self, token_id: int) -> None:
        """Raises NotFound if there is no such token; revoking twice keeps the first time."""
        with self._writer.begin() as conn:
            found = conn.execute(select(api_tokens.c.revoked_at)
                                 .where(api_tokens.c.id == token_id)).first()
            if found is None:
                raise NotFound(f"there is no API token with id {token_id}")
            if found.revoked_at is None:
                conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                             .values(revoked_at=utcnow()))

    def check(self, token: str | None) -> Principal | None:
        """The caller a live token belongs to, or None."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = stored_hash(token)
        with self._reader.connect() as conn:
            row = conn.execute(select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.scope,
                                      api_tokens.c.last_used_at)
                               .where(api_tokens.c.token_hash == digest,
                                      api_tokens.c.revoked_at.is_(None))).first()
        if row is None:
            return None
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_GRANULARITY:
            with self._writer.begin() as conn:
                # The condition again: of two requests in the same minute, one writes.
                conn.execute(update(api_tokens).where(
                    api_tokens.c.id == row.id,
                    or_(api_tokens.c.last_used_at.is_(None),
                        api_tokens.c.last_used_at < now - LAST_USED_GRANULARITY))
                    .values(last_used_at=now))
        return Principal(actor_of(row.id, row.name), Scope(row.scope))
