"""Staff accounts of the back office (``/admin``): who they are, their role, their password (an
argon2 hash, never the password), their signed-in sessions, and the lock-out after repeated
failed logins.

Every change is written to ``audit_log`` in the same transaction as the change itself, with who
made it (``staff:<username>``, or ``cli`` for the command line), what, and the account's values
before and after — never a password or a hash.

A session is a random token in the browser's cookie; the registry keeps its SHA-256, so a copy
of the database signs nobody in.  It ends after 30 minutes without a request or 12 hours after
sign-in, whichever comes first.  The clock is an attribute, so tests move time instead of
sleeping.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from ..permissions import StaffRole
from .schema import audit_log, staff, staff_sessions
from .secret_hash import stored_hash
from .timestamps import utcnow

MAX_FAILED_LOGINS = 5
LOCK_DURATION = dt.timedelta(minutes=15)
IDLE_TIMEOUT = dt.timedelta(minutes=30)
SESSION_LIFETIME = dt.timedelta(hours=12)
# last_seen_at is written at most this often: a page view need not be a write every time, and
# the idle timeout is 30 minutes, so a minute's slack is nothing.
SEEN_GRANULARITY = dt.timedelta(minutes=1)
MIN_PASSWORD = 10
# argon2 hashes whatever it is given; a megabyte "password" would be a cheap way to load the box.
MAX_PASSWORD = 256
MAX_USERNAME = 48  # "staff:" + username fits the audit log's 64-character actor
CLI_ACTOR = "cli"


class StaffError(ValueError):
    """A refused staff change, with the reason a person reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownStaff(StaffError):
    pass


class UsernameTaken(StaffError):
    pass


@dataclass(frozen=True, slots=True)
class Staff:
    id: int
    username: str
    display_name: str
    role: StaffRole
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    failed_logins: int
    locked_until: dt.datetime | None

    @property
    def actor(self) -> str:
        """Who this is in the audit log."""
        return f"staff:{self.username}"

    def locked(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True, slots=True)
class StaffSession:
    """A signed-in browser: who, and the secret every form it posts must carry."""

    staff: Staff
    csrf: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class SignedIn:
    session: StaffSession
    token: str  # for the cookie; only its hash is stored


@dataclass(frozen=True, slots=True)
class LoginRefused:
    """Why a login failed, in words that do not say whether the username exists."""

    message: str
    locked_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: dt.datetime
    actor: str
    action: str
    detail: dict[str, Any] | None


WRONG_LOGIN = "Wrong username or password."


def locked_message(minutes: int) -> str:
    unit = "minute" if minutes == 1 else "minutes"
    return (f"Too many failed logins: this account is locked for {minutes} {unit}. "
            "An admin can unlock it sooner.")


def username_key(username: str) -> str:
    return username.strip().casefold()


def check_username(username: str) -> str:
    """The username as stored, or StaffError saying what is wrong with it."""
    name = username.strip()
    if not name:
        raise StaffError("a username is needed")
    if len(username_key(name)) > MAX_USERNAME:  # casefolded: "ß" is stored as "ss"
        raise StaffError(f"a username has at most {MAX_USERNAME} characters")
    bad = sorted({c for c in name if not (c.isalnum() or c in "._-")})
    if bad:
        raise StaffError("a username may hold letters, digits, '.', '_' and '-' only, not "
                         + " ".join(repr(c) for c in bad))
    return name


def check_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise StaffError(f"a password has at most {MAX_PASSWORD} characters")
    if password.strip().casefold() == username.strip().casefold():
        raise StaffError("the password must not be the username")



def _staff_from(row: Any) -> Staff:
    return Staff(id=row.id, username=row.username, display_name=row.display_name,
                 role=StaffRole(row.role), created_at=row.created_at,
                 disabled_at=row.disabled_at, failed_logins=row.failed_logins,
                 locked_until=row.locked_until)


def _shown(account: Staff) -> dict[str, Any]:
    """What the audit log keeps of an account (no password, no hash)."""
    return {"username": account.username, "display_name": account.display_name,
            "role": account.role.value,
            "disabled": account.disabled_at is not None,
            "locked_until": account.locked_until.isoformat() if account.locked_until else None}


class StaffStore:
    def __init__(self, reader: Engine, writer: Engine) -> None:
        self._reader = reader
        self._writer = writer
        # The current parameters (argon2-cffi's RFC 9106 defaults); a stored hash made with
        # other ones is replaced at the next successful login.
        self.hasher = PasswordHasher()
        self.clock: Callable[[], dt.datetime] = utcnow
        self._dummy_hash: str | None = None

    # --- reading -------------------------------------------------------------------------------

    def get(self, username: str) -> Staff:
        with self._reader.connect() as conn:
            return self._get(conn, username)

    def list(self) -> list[Staff]:
        with self._reader.connect() as conn:
            rows = conn.execute(select(staff).order_by(staff.c.username_key))
            return [_staff_from(r) for r in rows]

    def count(self) -> int:
        with self._reader.connect() as conn:
            return conn.execute(select(func.count()).select_from(staff)).scalar_one()

    def history(self, username: str, *, limit: int = 100) -> list[AuditRecord]:
        """The audit entries about this account, newest first."""
        with self._reader.connect() as conn:
            account = self._get(conn, username)
            rows = conn.execute(select(audit_log).where(audit_log.c.staff_id == account.id)
                                .order_by(audit_log.c.id.desc()).limit(limit))
            return [AuditRecord(r.at, r.actor, r.action,
                                json.loads(r.detail) if r.detail else None) for r in rows]

    # --- changing accounts ---------------------------------------------------------------------

    def add(self, username: str, password: str, role: StaffRole | str, *,
            display_name: str | None = None, actor: str = CLI_ACTOR) -> Staff:
        name = check_username(username)
        check_password(password, name)
        role = _role(role)
        shown_name = " ".join((display_name or name).split())
        if len(shown_name) > 100:
            raise StaffError("a display name has at most 100 characters")
        password_hash = self.hasher.hash(password)  # slow on purpose: outside the transaction
        with self._writer.begin() as conn:
            if conn.execute(select(staff.c.id).where(staff.c.username_key == username_key(name))
                            ).first() is not None:
                raise UsernameTaken(f"there is already a staff account {name!r} "
                                    "(usernames ignore case)")
            staff_id = conn.execute(insert(staff).values(
                username=name, username_key=username_key(name), display_name=shown_name,
                role=role.value, password_hash=password_hash, created_at=self.clock(),
            )).inserted_primary_key[0]
            account = self._get_id(conn, int(staff_id))
            self._audit(conn, actor, "staff_add", account, before=None, after=_shown(account))
        return account

    def set_role(self, username: str, role: StaffRole | str, *, actor: str = CLI_ACTOR) -> Staff:
        role = _role(role)
        with self._writer.begin() as conn:
            before = self._get(conn, username)
            if before.role is role:
                return before
            if before.role is StaffRole.admin:
                self._keep_an_admin(conn, before, f"make {before.username} a {role.value}")
            conn.execute(update(staff).where(staff.c.id == before.id).values(role=role.value))
            after = self._get_id(conn, before.id)
            self._audit(conn, actor, "staff_role", after, before=_shown(before),
                        after=_shown(after))
        return after

    def set_password(self, username: str, password: str, *, actor: str = CLI_ACTOR,
                     keep_session: str | None = None) -> Staff:
        """A new password; every session of the account ends (but ``keep_session``, the token
        of the browser that changed its own password)."""
        account = self.get(username)
        check_password(password, account.username)
        password_hash = self.hasher.hash(password)
        with self._writer.begin() as conn:
            account = self._get(conn, username)
            conn.execute(update(staff).where(staff.c.id == account.id).values(
                password_hash=password_hash))
            ended = delete(staff_sessions).where(staff_sessions.c.staff_id == account.id)
            if keep_session is not None:
                ended = ended.where(staff_sessions.c.token_hash != stored_hash(keep_session))
            conn.execute(ended)
            # Before and after are the same account: the entry says the password changed, never
            # what it was or became.
            self._audit(conn, actor, "staff_password", account, before=None, after=None)
        return account

    def disable(self, username: str, *, actor: str = CLI_ACTOR) -> Staff:
        with self._writer.begin() as conn:
            before = self._get(conn, username)
            if before.disabled_at is not None:
                return before
            if actor == before.actor:
                raise StaffError("you cannot disable your own account; another admin can")
            if before.role is StaffRole.admin:
                self._keep_an_admin(conn, before, f"disable {before.username}")
            conn.execute(update(staff).where(staff.c.id == before.id).values(
                disabled_at=self.clock()))
            conn.execute(delete(staff_sessions).where(staff_sessions.c.staff_id == before.id))
            after = self._get_id(conn, before.id)
            self._audit(conn, actor, "staff_disable", after, before=_shown(before),
                        after=_shown(after))
        return after

    def enable(self, username: str, *, actor: str = CLI_ACTOR) -> Staff:
        with self._writer.begin() as conn:
            before = self._get(conn, username)
            if before.disabled_at is None:
                return before
            conn.execute(update(staff).where(staff.c.id == before.id).values(disabled_at=None))
            after = self._get_id(conn, before.id)
            self._audit(conn, actor, "staff_enable", after, before=_shown(before),
                        after=_shown(after))
        return after

    def unlock(self, username: str, *, actor: str = CLI_ACTOR) -> Staff:
        with self._writer.begin() as conn:
            before = self._get(conn, username)
            if before.locked_until is None and before.failed_logins == 0:
                return before
            conn.execute(update(staff).where(staff.c.id == before.id).values(
                locked_until=None, failed_logins=0))
            after = self._get_id(conn, before.id)
            self._audit(conn, actor, "staff_unlock", after, before=_shown(before),
                        after=_shown(after))
        return after

    # --- signing in ----------------------------------------------------------------------------

    def login(self, username: str, password: str) -> SignedIn | LoginRefused:
        """A new session for the right password; otherwise why not.  Five wrong passwords in a
        row lock the account for 15 minutes (an admin may unlock it sooner)."""
        now = self.clock()
        key = username_key(username)
        with self._reader.connect() as conn:
            row = conn.execute(select(staff).where(staff.c.username_key == key)).first() \
                if 0 < len(key) <= MAX_USERNAME else None
        if row is None:
            # As slow as a wrong password, so timing does not tell which usernames exist.
            self._verify(self._dummy(), password)
            return LoginRefused(WRONG_LOGIN)
        account = _staff_from(row)
        if account.locked(now):
            assert account.locked_until is not None
            return _locked(account.locked_until - now)
        if len(password) > MAX_PASSWORD or not self._verify(row.password_hash, password):
            return self._failed(account, now)
        if account.disabled_at is not None:
            # Said only to someone who knows the password.
            return LoginRefused("This account is disabled; ask an admin.")
        values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
        if self.hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = self.hasher.hash(password)
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = now + SESSION_LIFETIME
        with self._writer.begin() as conn:
            conn.execute(update(staff).where(staff.c.id == account.id).values(**values))
            conn.execute(insert(staff_sessions).values(
                token_hash=stored_hash(token), staff_id=account.id, csrf_secret=csrf,
                created_at=now, last_seen_at=now, expires_at=expires))
            account = self._get_id(conn, account.id)
        return SignedIn(StaffSession(account, csrf, expires), token)

    def session(self, token: str | None) -> StaffSession | None:
        """The live session a cookie's token belongs to (its staff member as they are now), or
        None: unknown, idle for 30 minutes, older than 12 hours, or the account disabled."""
        if not token or len(token) > 200:
            return None
        now = self.clock()
        token_hash = stored_hash(token)
        with self._reader.connect() as conn:
            row = conn.execute(
                select(staff_sessions.c.csrf_secret, staff_sessions.c.last_seen_at,
                       staff_sessions.c.expires_at, *staff.c)
                .join(staff, staff.c.id == staff_sessions.c.staff_id)
                .where(staff_sessions.c.token_hash == token_hash)).first()
        if row is None:
            return None
        if (row.expires_at <= now or row.last_seen_at + IDLE_TIMEOUT <= now
                or row.disabled_at is not None):
            with self._writer.begin() as conn:
                conn.execute(delete(staff_sessions).where(
                    staff_sessions.c.token_hash == token_hash))
            return None
        if now - row.last_seen_at >= SEEN_GRANULARITY:
            with self._writer.begin() as conn:
                conn.execute(update(staff_sessions).where(
                    staff_sessions.c.token_hash == token_hash).values(last_seen_at=now))
        return StaffSession(_staff_from(row), row.csrf_secret, row.expires_at)

    def logout(self, token: str | None) -> None:
        if not token:
            return
        with self._writer.begin() as conn:
            conn.execute(delete(staff_sessions).where(
                staff_sessions.c.token_hash == stored_hash(token)))

    def verify_password(self, username: str, password: str) -> bool:
        """For "change my password": is this the account's current password?"""
        with self._reader.connect() as conn:
            row = conn.execute(select(staff.c.password_hash).where(
                staff.c.username_key == username_key(username))).first()
        return (row is not None and len(password) <= MAX_PASSWORD
                and self._verify(row.password_hash, password))

    # --- inside ------------------------------------------------------------------------------

    def _failed(self, account: Staff, now: dt.datetime) -> LoginRefused:
        with self._writer.begin() as conn:
            # Counted in the database, so two wrong guesses at once both count.
            failures = conn.execute(
                update(staff).where(staff.c.id == account.id)
                .values(failed_logins=staff.c.failed_logins + 1)
                .returning(staff.c.failed_logins)).scalar_one()
            if failures < MAX_FAILED_LOGINS:
                return LoginRefused(WRONG_LOGIN)
            conn.execute(update(staff).where(staff.c.id == account.id).values(
                locked_until=now + LOCK_DURATION, failed_logins=0))
            after = self._get_id(conn, account.id)
            self._audit(conn, "system", "staff_locked", after, before=_shown(account),
                        after=_shown(after), reason=f"{MAX_FAILED_LOGINS} failed logins")
        return _locked(LOCK_DURATION)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    def _get(self, conn: Connection, username: str) -> Staff:
        row = conn.execute(select(staff).where(staff.c.username_key == username_key(username))
                           ).first()
        if row is None:
            raise UnknownStaff(f"there is no staff account {username.strip()!r}")
        return _staff_from(row)

    def _get_id(self, conn: Connection, staff_id: int) -> Staff:
        return _staff_from(conn.execute(select(staff).where(staff.c.id == staff_id)).one())

    def _keep_an_admin(self, conn: Connection, account: Staff, doing: str) -> None:
        others = conn.execute(select(func.count()).select_from(staff).where(
            staff.c.role == StaffRole.admin.value, staff.c.disabled_at.is_(None),
            staff.c.id != account.id)).scalar_one()
        if others == 0:
            raise StaffError(f"cannot {doing}: nobody else is an admin, and without one nobody "
                             "could manage staff; make someone else an admin first")

    def _audit(self, conn: Connection, actor: str, action: str, account: Staff, *,
               before: dict[str, Any] | None, after: dict[str, Any] | None,
               **extra: Any) -> None:
        detail = {"staff": account.username, "before": before, "after": after, **extra}
        conn.execute(insert(audit_log).values(
            at=self.clock(), actor=actor[:64], action=action, staff_id=account.id,
            detail=json.dumps(detail, ensure_ascii=False)))


def _role(role: StaffRole | str) -> StaffRole:
    try:
        return StaffRole(role)
    except ValueError:
        raise StaffError(f"a role is one of {', '.join(r.value for r in StaffRole)}, "
                         f"not {role!r}") from None


def _locked(remaining: dt.timedelta) -> LoginRefused:
    minutes = max(1, -(-int(remaining.total_seconds()) // 60))  # rounded up: never "0 minutes"
    return LoginRefused(locked_message(minutes), locked_minutes=minutes)
