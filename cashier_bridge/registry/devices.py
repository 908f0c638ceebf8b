"""Paired devices: a kiosk or register proves it belongs to a lane with a token.

``selfreg-bridge pair`` issues the token once (it is shown, never stored); the registry keeps its
SHA-256 so that a copy of the database does not let anyone impersonate a register.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from cashier_bridge.registry.schema import devices, sign_in_codes
from cashier_bridge.registry.secret_hash import stored_hash
from cashier_bridge.registry.timestamps import utcnow

ROLES = ("kiosk", "register")


@dataclass(frozen=True, slots=True)
class PairedDevice:
    id: int
    lane: str
    role: str
    label: str | None
    token: str  # shown to the installer once



def pair(engine: Engine, lane: str, role: str, label: str | None = None) -> PairedDevice:
    [device] = pair_many(engine, [(lane, role)], label)
    return device


def pair_many(engine: Engine, wanted: Iterable[tuple[str, str]], label: str | None = None
              ) -> list[PairedDevice]:
    """A device of each (lane, role), in one transaction (a bench's thousand lanes)."""
    wanted = list(wanted)
    for _, role in wanted:
        if role not in ROLES:
            raise ValueError(f"a device is a {' or a '.join(ROLES)}, not {role!r}")
    paired = []
    now = utcnow()
    with engine.begin() as conn:
        for lane, role in wanted:
            token = "sr_" + secrets.token_urlsafe(32)  # never starts with "-" (flags eat it)
            device_id = conn.execute(insert(devices).values(
                lane=lane, role=role, token_hash=stored_hash(token), label=label,
                created_at=now)).inserted_primary_key[0]
            paired.append(PairedDevice(int(device_id), lane, role, label, token))
    return paired


def allowed(engine: Engine, lane: str, role: str, token: str | None) -> bool:
    """True if ``token`` was issued for this lane and role and is not revoked."""
    if not token:
        return False
    with engine.connect() as conn:
        row = conn.execute(select(devices.c.lane, devices.c.role).where(
            devices.c.token_hash == stored_hash(token), devices.c.revoked_at.is_(None))).first()
    return row is not None and hmac.compare_digest(row.lane, lane) and row.role == role


def revoke(engine: Engine, lane: str, role: str | None = None) -> int:
    """Revoke every token of a lane (or of one role on it); returns how many."""
    condition = [devices.c.lane == lane, devices.c.revoked_at.is_(None)]
    if role is not None:
        condition.append(devices.c.role == role)
    with engine.begin() as conn:
        return conn.execute(update(devices).where(*condition).values(
            revoked_at=utcnow())).rowcount


# A sign-in code is typed or opened once, soon after `pair` printed it: short-lived, and long
# enough (≥ 100 bits) that guessing one within its life is hopeless.
SIGN_IN_TTL = dt.timedelta(hours=1)
# Crockford's base 32 without look-alikes: a cashier can read it aloud or type it.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_GROUPS = 5
_CODE_GROUP_LEN = 5


def _normal_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum()).replace("O", "0").replace(
        "I", "1").replace("L", "1")


def issue_sign_in(engine: Engine, lane: str, role: str, ttl: dt.timedelta = SIGN_IN_TTL) -> str:
    """A one-time code that signs a browser in as ``role`` of ``lane`` (the cashier console);
    only its hash is kept."""
    if role not in ROLES:
        raise ValueError(f"a device is a {' or a '.join(ROLES)}, not {role!r}")
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_GROUPS * _CODE_GROUP_LEN))
    with engine.begin() as conn:
        conn.execute(insert(sign_in_codes).values(
            code_hash=stored_hash(raw), lane=lane, role=role, expires_at=utcnow() + ttl))
    return "-".join(raw[i:i + _CODE_GROUP_LEN] for i in range(0, len(raw), _CODE_GROUP_LEN))


def redeem_sign_in(engine: Engine, code: str, label: str) -> PairedDevice | None:
    """Use a sign-in code: the browser becomes a paired device of its own (so it can be
    revoked like any register).  None when the code is unknown, used or expired."""
    now = utcnow()
    with engine.begin() as conn:
        # One UPDATE both checks and spends the code, so two tabs cannot both use it.
        row = conn.execute(
            update(sign_in_codes)
            .where(sign_in_codes.c.code_hash == stored_hash(_normal_code(code)),
                   sign_in_codes.c.used_at.is_(None), sign_in_codes.c.expires_at > now)
            .values(used_at=now)
            .returning(sign_in_codes.c.lane, sign_in_codes.c.role)).first()
        if row is None:
            return None
        token = "sr_" + secrets.token_urlsafe(32)
        device_id = conn.execute(insert(devices).values(
            lane=row.lane, role=row.role, token_hash=stored_hash(token), label=label,
            created_at=now)).inserted_primary_key[0]
    return PairedDevice(int(device_id), row.lane, row.role, label, token)


def revoke_token(engine: Engine, token: str) -> bool:
    """Revoke the one device holding ``token`` (a console browser signing out), leaving the
    lane's other devices paired."""
    with engine.begin() as conn:
        return bool(conn.execute(update(devices).where(
            devices.c.token_hash == stored_hash(token), devices.c.revoked_at.is_(None)).values(
            revoked_at=utcnow())).rowcount)


def revoked_since(engine: Engine, since: dt.datetime) -> set[str]:
    """Hashes of the device tokens revoked after ``since`` (for closing their connections)."""
    with engine.connect() as conn:
        return set(conn.execute(select(devices.c.token_hash).where(
            devices.c.revoked_at > since)).scalars())


def who(engine: Engine, token: str | None) -> tuple[str, str] | None:
    """The (lane, role) a live device token belongs to."""
    if not token:
        return None
    with engine.connect() as conn:
        row = conn.execute(select(devices.c.lane, devices.c.role).where(
            devices.c.token_hash == stored_hash(token), devices.c.revoked_at.is_(None))).first()
    return (row.lane, row.role) if row is not None else None


class DeviceStore:
    """Paired devices and console sign-in codes: the narrow store the server and CLI need."""

    def __init__(self, reader: Engine, writer: Engine) -> None:
        self._reader = reader
        self._writer = writer

    def pair(self, lane: str, role: str, label: str | None = None) -> PairedDevice:
        return pair(self._writer, lane, role, label)

    def pair_many(self, wanted: Iterable[tuple[str, str]], label: str | None = None
                  ) -> list[PairedDevice]:
        return pair_many(self._writer, wanted, label)

    def allowed(self, lane: str, role: str, token: str | None) -> bool:
        return allowed(self._reader, lane, role, token)

    def revoke(self, lane: str, role: str | None = None) -> int:
        return revoke(self._writer, lane, role)

    def revoke_token(self, token: str) -> bool:
        return revoke_token(self._writer, token)

    def issue_sign_in(self, lane: str, role: str, ttl: dt.timedelta = SIGN_IN_TTL) -> str:
        return issue_sign_in(self._writer, lane, role, ttl)

    def redeem_sign_in(self, code: str, label: str) -> PairedDevice | None:
        return redeem_sign_in(self._writer, code, label)

    def who(self, token: str | None) -> tuple[str, str] | None:
        return who(self._reader, token)

    def revoked_since(self, since: dt.datetime) -> set[str]:
        return revoked_since(self._reader, since)
