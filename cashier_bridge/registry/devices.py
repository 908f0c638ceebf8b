"""Paired devices: a kiosk or register proves it belongs to a lane with a token.

``selfreg-bridge pair`` issues the token once (it is shown, never stored); the registry keeps its
SHA-256 so that a copy of the database does not let anyone impersonate a register.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from .schema import devices
from .timestamps import utcnow

ROLES = ("kiosk", "register")


@dataclass(frozen=True, slots=True)
class PairedDevice:
    id: int
    lane: str
    role: str
    label: str | None
    token: str  # shown to the installer once


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def pair(engine: Engine, lane: str, role: str, label: str | None = None) -> PairedDevice:
    if role not in ROLES:
        raise ValueError(f"a device is a {' or a '.join(ROLES)}, not {role!r}")
    token = "sr_" + secrets.token_urlsafe(32)  # never starts with "-", which flags would eat
    with engine.begin() as conn:
        device_id = conn.execute(insert(devices).values(
            lane=lane, role=role, token_hash=_hash(token), label=label,
            created_at=utcnow())).inserted_primary_key[0]
    return PairedDevice(int(device_id), lane, role, label, token)


def allowed(engine: Engine, lane: str, role: str, token: str | None) -> bool:
    """True if ``token`` was issued for this lane and role and is not revoked."""
    if not token:
        return False
    with engine.connect() as conn:
        row = conn.execute(select(devices.c.lane, devices.c.role).where(
            devices.c.token_hash == _hash(token), devices.c.revoked_at.is_(None))).first()
    return row is not None and hmac.compare_digest(row.lane, lane) and row.role == role


def revoke(engine: Engine, lane: str, role: str | None = None) -> int:
    """Revoke every token of a lane (or of one role on it); returns how many."""
    condition = [devices.c.lane == lane, devices.c.revoked_at.is_(None)]
    if role is not None:
        condition.append(devices.c.role == role)
    with engine.begin() as conn:
        return conn.execute(update(devices).where(*condition).values(
            revoked_at=utcnow())).rowcount
