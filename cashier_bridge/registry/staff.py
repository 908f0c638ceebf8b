"""Staff accounts of the back office (``/admin``): who they are, their role, their password (an
argon2 hash, never the password), their signed-in sessions, the lock-out after repeated failed
logins and the browsers ("known devices") they signed in with.

Failed logins are counted per client address and per username, known or not
(:mod:`.sign_in_failures`, rules in :mod:`cashier_bridge.throttle`): an unknown name costs the
same work (one argon2 verify, whatever was typed), gets the same answer and locks after the
same number of tries as a known one, so neither the answer, the time taken nor the lock-out
tells which usernames exist.  The right password from a browser the account signed in with
before gets in even while the account or the address is locked — the way in that someone who
locks out every admin cannot block — and lifts the account's lock.

Hashing and verifying passwords is slow on purpose: the web app calls the methods that do it
(:meth:`StaffStore.login`, :meth:`~StaffStore.check_current_password`, :meth:`~StaffStore.add`,
:meth:`~StaffStore.set_password`) on the passwords' own worker thread (``pools.passwords``);
:meth:`StaffStore.sign_in_gate` is the cheap check that comes first.

Every change is written to ``audit_log`` in the same transaction as the change itself, with who
made it (``staff:<username>``, or ``cli`` for the command line), what, and the account's values
before and after — never a password or a hash.

A session is a random token in the browser's cookie; the registry keeps its SHA-256, so a copy
of the database signs nobody in.  It ends after 30 minutes without a request or 12 hours after
sign-in, whichever comes first.  The clock is an attribute, so tests move time instead of
sleeping.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import ARGON2_VERSION
from sqlalchemy import (
    Connection,
    Engine,
    FromClause,
    Select,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from cashier_bridge.audit import AuditAction
from cashier_bridge.permissions import StaffRole
from cashier_bridge.registry import sign_in_failures as failures
from cashier_bridge.registry.schema import (
    audit_log,
    sign_in_failures,
    staff,
    staff_devices,
    staff_sessions,
)
from cashier_bridge.registry.secret_hash import stored_hash
from cashier_bridge.registry.timestamps import utcnow
from cashier_bridge.throttle import (
    USERNAME,
    Count,
    Scope,
    current,
    minutes_to_wait,
    remaining,
    seconds_to_wait,
)

# A browser stays a known device this long after its last sign-in (browsers keep a cookie at
# most 400 days).
DEVICE_LIFETIME = dt.timedelta(days=365)
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
MAX_DEVICE_TOKEN = 100
LOCKED = AuditAction.staff_locked
ADDRESS_UNLOCKED = AuditAction.address_unlocked


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
    token: str  # for the session cookie; only its hash is stored
    device: str  # for the known-device cookie; only its hash is stored


@dataclass(frozen=True, slots=True)
class LoginRefused:
    """Why a login failed, in words that do not say whether the username exists; ``wait`` is
    how long the account or the address is locked (None: a plain wrong password)."""

    message: str
    wait: dt.timedelta | None = None

    @property
    def locked_minutes(self) -> int | None:
        return minutes_to_wait(self.wait) if self.wait is not None else None

    @property
    def retry_after_s(self) -> int | None:
        return seconds_to_wait(self.wait) if self.wait is not None else None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: dt.datetime
    actor: str
    action: str
    detail: dict[str, Any] | None


WRONG_LOGIN = "Wrong username or password."


def _minutes(minutes: int) -> str:
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


def locked_message(minutes: int) -> str:
    return (f"Too many failed logins: this account is locked for {_minutes(minutes)}. "
            "From a browser you have signed in with before, your password still works; "
            "an admin can unlock it sooner.")


def throttled_message(minutes: int) -> str:
    return (f"Too many failed sign-ins from your address: try again in {_minutes(minutes)}. "
            "From a browser you have signed in with before, your password still works.")


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



# An account with its username's failure count (if any), as the staff pages show it.
_STAFF_FROM: FromClause = staff.outerjoin(sign_in_failures,
                                          sign_in_failures.c.staff_id == staff.c.id)
_STAFF_COLUMNS = (*staff.c, sign_in_failures.c.failures.label("failures"),
                  sign_in_failures.c.since.label("failures_since"),
                  sign_in_failures.c.locked_until.label("locked_until"))
_STAFF_SELECT: Select[Any] = select(*_STAFF_COLUMNS).select_from(_STAFF_FROM)


def _staff_from(row: Any, now: dt.datetime) -> Staff:
    count = (current(Count(row.failures, row.failures_since, row.locked_until), USERNAME, now)
             if row.failures is not None else Count())
    return Staff(id=row.id, username=row.username, display_name=row.display_name,
                 role=StaffRole(row.role), created_at=row.created_at,
                 disabled_at=row.disabled_at, failed_logins=count.failures,
                 locked_until=count.locked_until)


def _shown(account: Staff) -> dict[str, Any]:
    """What the audit log keeps of an account (no password, no hash)."""
    return {"username": account.username, "display_name": account.display_name,
            "role": account.role.value,
            "disabled": account.disabled_at is not None,
            "locked_until": account.locked_until.isoformat() if account.locked_until else None}


@dataclass(frozen=True, slots=True)
class _Gate:
    """What is known before any password is checked."""

    refused: LoginRefused | None
    row: Any  # the account's row, None for a name nobody has
    known_device: bool


class StaffStore:
    def __init__(self, reader: Engine, writer: Engine) -> None:
        self._reader = reader
        self._writer = writer
        # The current parameters (argon2-cffi's RFC 9106 defaults); a stored hash made with
        # other ones is replaced at the next successful login.
        self.hasher = PasswordHasher()
        self.clock: Callable[[], dt.datetime] = utcnow
        self._dummy_hash: tuple[PasswordHasher, str] | None = None
        # The cashier console's sign-in codes are counted per address here too.
        self.sign_ins = failures.SignInThrottle(reader, writer)

    # --- reading -------------------------------------------------------------------------------

    def get(self, username: str) -> Staff:
        with self._reader.connect() as conn:
            return self._get(conn, username)

    def list(self) -> list[Staff]:
        now = self.clock()
        with self._reader.connect() as conn:
            rows = conn.execute(_STAFF_SELECT.order_by(staff.c.username_key))
            return [_staff_from(r, now) for r in rows]

    def count(self) -> int:
        with self._reader.connect() as conn:
            return conn.execute(select(func.count()).select_from(staff)).scalar_one()

    def history(self, username: str, *, limit: int = 100) -> list[AuditRecord]:
        """The audit entries about this account, newest first."""
        with self._reader.connect() as conn:
            account = self._get(conn, username)
            rows = conn.execute(select(audit_log).where(audit_log.c.staff_id == account.id)
                                .order_by(audit_log.c.id.desc()).limit(limit))
            return [_record(r) for r in rows]

    def sign_in_alerts(self, *, limit: int = 20) -> list[AuditRecord]:
        """Addresses throttled and accounts locked after failed sign-ins, newest first: what
        the staff page warns about."""
        with self._reader.connect() as conn:
            rows = conn.execute(select(audit_log).where(audit_log.c.action.in_(
                (failures.THROTTLED, LOCKED))).order_by(audit_log.c.id.desc()).limit(limit))
            return [_record(r) for r in rows]

    # --- changing accounts ---------------------------------------------------------------------

    def add(self, username: str, password: str, role: StaffRole | str, *,
            display_name: str | None = None, actor: str = CLI_ACTOR) -> Staff:
        """A new account.  Hashes the password: slow on purpose (see the module's note)."""
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
            # Failures of this name from before it was anyone's are not the new account's.
            failures.clear(conn, Scope.username, username_key(name))
            staff_id = conn.execute(insert(staff).values(
                username=name, username_key=username_key(name), display_name=shown_name,
                role=role.value, password_hash=password_hash, created_at=self.clock(),
            )).inserted_primary_key[0]
            account = self._get_id(conn, int(staff_id))
            self._audit(conn, actor, AuditAction.staff_add, account, before=None,
                        after=_shown(account))
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
            self._audit(conn, actor, AuditAction.staff_role, after, before=_shown(before),
                        after=_shown(after))
        return after

    def set_password(self, username: str, password: str, *, actor: str = CLI_ACTOR,
                     keep_session: str | None = None) -> Staff:
        """A new password; every session of the account ends (but ``keep_session``, the token
        of the browser that changed its own password).  Hashes: slow on purpose."""
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
            self._audit(conn, actor, AuditAction.staff_password, account, before=None, after=None)
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
            self._audit(conn, actor, AuditAction.staff_disable, after, before=_shown(before),
                        after=_shown(after))
        return after

    def enable(self, username: str, *, actor: str = CLI_ACTOR) -> Staff:
        with self._writer.begin() as conn:
            before = self._get(conn, username)
            if before.disabled_at is None:
                return before
            conn.execute(update(staff).where(staff.c.id == before.id).values(disabled_at=None))
            after = self._get_id(conn, before.id)
            self._audit(conn, actor, AuditAction.staff_enable, after, before=_shown(before),
                        after=_shown(after))
        return after

    def unlock(self, username: str, *, actor: str = CLI_ACTOR) -> Staff:
        """Lift the account's lock and forget its failed logins."""
        with self._writer.begin() as conn:
            before = self._get(conn, username)
            if before.locked_until is None and before.failed_logins == 0:
                return before
            failures.clear(conn, Scope.username, username_key(before.username))
            after = self._get_id(conn, before.id)
            self._audit(conn, actor, AuditAction.staff_unlock, after, before=_shown(before),
                        after=_shown(after))
        return after

    def unlock_address(self, address: str, *, actor: str = CLI_ACTOR) -> bool:
        """Let a throttled client address sign in again at once (back office and console);
        False if it was not throttled."""
        now = self.clock()
        with self._writer.begin() as conn:
            waits = [remaining(failures.read(conn, scope, address, now), now)
                     for scope in (Scope.address, Scope.console)]
            for scope in (Scope.address, Scope.console):
                failures.clear(conn, scope, address)
            if not any(waits):
                return False
            conn.execute(insert(audit_log).values(
                at=now, actor=actor[:64], action=ADDRESS_UNLOCKED,
                detail=json.dumps({"address": address})))
        return True

    # --- signing in ----------------------------------------------------------------------------

    def sign_in_gate(self, username: str, address: str, device: str | None = None
                     ) -> LoginRefused | None:
        """Why this sign-in is refused before any password is checked (the address or the
        username is locked, and this browser is not a known device of the account), or None.
        Cheap: a flood is turned away here without hashing."""
        with self._reader.connect() as conn:
            return self._gate(conn, username_key(username), address, device,
                              self.clock()).refused

    def login(self, username: str, password: str, *, address: str = "unknown",
              device: str | None = None) -> SignedIn | LoginRefused:
        """A new session for the right password; otherwise why not.  Five wrong passwords for a
        username (known or not) lock it for 15 minutes, ten from one address lock the address;
        the right password from ``device``, a browser this account signed in with before, gets
        in regardless and lifts the account's lock.  Verifies one password (slow on purpose)."""
        now = self.clock()
        key = username_key(username)
        with self._reader.connect() as conn:
            gate = self._gate(conn, key, address, device, now)
        if gate.refused is not None:
            return gate.refused
        row = gate.row
        if not self._right_password(row, password):
            return self._failed(key, row, address, now)
        account = _staff_from(row, now)
        if account.disabled_at is not None:
            # Said only to someone who knows the password.
            return LoginRefused("This account is disabled; ask an admin.")
        values: dict[str, Any] = {}
        if self.hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = self.hasher.hash(password)
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = now + SESSION_LIFETIME
        with self._writer.begin() as conn:
            if values:
                conn.execute(update(staff).where(staff.c.id == account.id).values(**values))
            failures.clear(conn, Scope.username, key)
            if account.locked(now):  # only a known device gets this far while locked
                after = self._get_id(conn, account.id)
                self._audit(conn, account.actor, AuditAction.staff_unlock, after,
                            before=_shown(account), after=_shown(after),
                            reason="signed in from a known device")
            conn.execute(insert(staff_sessions).values(
                token_hash=stored_hash(token), staff_id=account.id, csrf_secret=csrf,
                created_at=now, last_seen_at=now, expires_at=expires))
            device_token = self._remember_device(conn, account.id, device, now)
            account = self._get_id(conn, account.id)
        return SignedIn(StaffSession(account, csrf, expires), token, device_token)

    def check_current_password(self, username: str, password: str, *,
                               address: str = "unknown") -> LoginRefused | None:
        """For "change my password": None if ``password`` is the account's; else why not.  A
        wrong one counts as a failed login (the same lock-out), and a locked account is refused
        whatever is typed.  Verifies one password (slow on purpose)."""
        now = self.clock()
        key = username_key(username)
        with self._reader.connect() as conn:
            row = conn.execute(_STAFF_SELECT.where(staff.c.username_key == key)).first()
            wait = remaining(failures.read(conn, Scope.username, key, now), now)
        if wait is not None:
            return LoginRefused(locked_message(minutes_to_wait(wait)), wait)
        if self._right_password(row, password):
            return None
        return self._failed(key, row, address, now)

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
                       staff_sessions.c.expires_at, *_STAFF_COLUMNS)
                .select_from(staff_sessions.join(_STAFF_FROM,
                                                 staff.c.id == staff_sessions.c.staff_id))
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
        return StaffSession(_staff_from(row, now), row.csrf_secret, row.expires_at)

    def logout(self, token: str | None) -> None:
        if not token:
            return
        with self._writer.begin() as conn:
            conn.execute(delete(staff_sessions).where(
                staff_sessions.c.token_hash == stored_hash(token)))

    # --- inside ------------------------------------------------------------------------------

    def _gate(self, conn: Connection, key: str, address: str, device: str | None,
              now: dt.datetime) -> _Gate:
        row = (conn.execute(_STAFF_SELECT.where(staff.c.username_key == key)).first()
               if 0 < len(key) <= MAX_USERNAME else None)
        known = row is not None and self._known_device(conn, row.id, device, now)
        if not known:
            # The username's count is read by its key whether or not an account has it, so
            # a name nobody has locks exactly as one that exists.
            wait = remaining(failures.read(conn, Scope.address, address, now), now)
            if wait is not None:
                return _Gate(LoginRefused(throttled_message(minutes_to_wait(wait)), wait),
                             row, known)
            wait = remaining(failures.read(conn, Scope.username, key, now), now)
            if wait is not None:
                return _Gate(LoginRefused(locked_message(minutes_to_wait(wait)), wait),
                             row, known)
        return _Gate(None, row, known)

    def _right_password(self, row: Any, password: str) -> bool:
        # Exactly one argon2 verify whoever is named and whatever was typed: a name nobody has
        # and a password too long to be anyone's are checked against a dummy hash, so neither
        # the answer nor the time taken says which usernames exist.
        usable = row is not None and len(password) <= MAX_PASSWORD
        checked = self._verify(row.password_hash if usable else self._dummy(),
                               password[:MAX_PASSWORD])
        return usable and checked

    def _failed(self, key: str, row: Any, address: str, now: dt.datetime) -> LoginRefused:
        with self._writer.begin() as conn:
            # Counted in the database, so two wrong guesses at once both count, and every
            # process of a chain sees them.
            address_before, address_after = failures.count_failure(
                conn, Scope.address, address, now)
            name_before, name_after = failures.count_failure(
                conn, Scope.username, key, now, staff_id=row.id if row is not None else None)
            if failures.newly_locked(address_before, address_after, now):
                failures.audit_throttled(conn, Scope.address, address, now)
            if row is not None and failures.newly_locked(name_before, name_after, now):
                before = _staff_from(row, now)
                after = self._get_id(conn, row.id)
                self._audit(conn, "system", LOCKED, after, before=_shown(before),
                            after=_shown(after), reason=f"{USERNAME.failures} failed logins")
        name_wait = remaining(name_after, now)
        if name_wait is not None:
            return LoginRefused(locked_message(minutes_to_wait(name_wait)), name_wait)
        address_wait = remaining(address_after, now)
        if address_wait is not None:
            return LoginRefused(throttled_message(minutes_to_wait(address_wait)), address_wait)
        return LoginRefused(WRONG_LOGIN)

    def _known_device(self, conn: Connection, staff_id: int, device: str | None,
                      now: dt.datetime) -> bool:
        if not device or len(device) > MAX_DEVICE_TOKEN:
            return False
        return conn.execute(select(staff_devices.c.staff_id).where(
            staff_devices.c.token_hash == stored_hash(device),
            staff_devices.c.staff_id == staff_id,
            staff_devices.c.last_used_at > now - DEVICE_LIFETIME)).first() is not None

    def _remember_device(self, conn: Connection, staff_id: int, device: str | None,
                         now: dt.datetime) -> str:
        """The known-device token for this browser's cookie: the one it sent if this bridge
        issued it (a browser several staff members use is known for each), else a new one."""
        token = None
        if device and len(device) <= MAX_DEVICE_TOKEN and conn.execute(
                select(staff_devices.c.staff_id).where(
                    staff_devices.c.token_hash == stored_hash(device))).first() is not None:
            token = device
        token = token or secrets.token_urlsafe(32)
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(staff_devices).values(
            token_hash=stored_hash(token), staff_id=staff_id, created_at=now, last_used_at=now)
        conn.execute(stmt.on_conflict_do_update(index_elements=["token_hash", "staff_id"],
                                                set_={"last_used_at": now}))
        conn.execute(delete(staff_devices).where(
            staff_devices.c.staff_id == staff_id,
            staff_devices.c.last_used_at <= now - DEVICE_LIFETIME))
        return token

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        """A hash of no password, with the hasher's parameters: checking a password against it
        costs what checking one against an account's hash costs.  Random salt and tag rather
        than a hash of something, so the first unknown name costs no more than the next."""
        hasher = self.hasher
        if self._dummy_hash is None or self._dummy_hash[0] is not hasher:
            def b64(n: int) -> str:
                return base64.b64encode(secrets.token_bytes(n)).decode("ascii").rstrip("=")

            self._dummy_hash = (hasher, (
                f"$argon2{hasher.type.name.lower()}$v={ARGON2_VERSION}"
                f"$m={hasher.memory_cost},t={hasher.time_cost},p={hasher.parallelism}"
                f"${b64(hasher.salt_len)}${b64(hasher.hash_len)}"))
        return self._dummy_hash[1]

    def _get(self, conn: Connection, username: str) -> Staff:
        row = conn.execute(_STAFF_SELECT.where(staff.c.username_key == username_key(username))
                           ).first()
        if row is None:
            raise UnknownStaff(f"there is no staff account {username.strip()!r}")
        return _staff_from(row, self.clock())

    def _get_id(self, conn: Connection, staff_id: int) -> Staff:
        return _staff_from(conn.execute(_STAFF_SELECT.where(staff.c.id == staff_id)).one(),
                           self.clock())

    def _keep_an_admin(self, conn: Connection, account: Staff, doing: str) -> None:
        # A locked admin does not count: whoever locked them out could otherwise leave the
        # shop with no admin able to sign in.
        now = self.clock()
        others = conn.execute(select(func.count()).select_from(_STAFF_FROM).where(
            staff.c.role == StaffRole.admin.value, staff.c.disabled_at.is_(None),
            staff.c.id != account.id,
            or_(sign_in_failures.c.locked_until.is_(None),
                sign_in_failures.c.locked_until <= now))).scalar_one()
        if others == 0:
            raise StaffError(f"cannot {doing}: nobody else is an admin who can sign in now (a "
                             "locked or disabled admin does not count), and without one nobody "
                             "could manage staff; make someone else an admin first, or unlock "
                             "them")

    def _audit(self, conn: Connection, actor: str, action: AuditAction, account: Staff, *,
               before: dict[str, Any] | None, after: dict[str, Any] | None,
               **extra: Any) -> None:
        detail = {"staff": account.username, "before": before, "after": after, **extra}
        conn.execute(insert(audit_log).values(
            at=self.clock(), actor=actor[:64], action=action, staff_id=account.id,
            detail=json.dumps(detail, ensure_ascii=False)))


def _record(row: Any) -> AuditRecord:
    return AuditRecord(row.at, row.actor, row.action,
                       json.loads(row.detail) if row.detail else None)


def _role(role: StaffRole | str) -> StaffRole:
    try:
        return StaffRole(role)
    except ValueError:
        raise StaffError(f"a role is one of {', '.join(r.value for r in StaffRole)}, "
                         f"not {role!r}") from None
