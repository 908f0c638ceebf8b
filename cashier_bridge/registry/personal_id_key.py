"""The key personnummer fingerprints are made with, kept outside the database.

A personnummer is a date and four digits: with the key, every fingerprint in a copied database
could be turned back into its number by trying the ~1,000 numbers of each birth date.  So the
key lives in a file of its own (``personal-id.key``, mode 0600) or in the configuration
(``personal_id_key`` / ``SELFREG_PERSONAL_ID_KEY``), and the database keeps only a *check
value*, ``HMAC(key, "selfreg personal-id key check")``, from which no fingerprint can be made.
A bridge started with another key, or none, refuses to start and says what to copy or set,
instead of making fingerprints that match nobody.

Registries made before migration 0015 kept the key in the ``installation`` table; the first
bridge to open one moves it out (writes the key file, then forgets the row).

:func:`decide` is the rule (pure); :func:`establish` reads and writes the database and the file.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import structlog
from sqlalchemy import Engine, delete, insert, select, text
from sqlalchemy.engine import make_url

from cashier_bridge import keyfile
from cashier_bridge.audit import AuditAction
from cashier_bridge.config import data_dir, load_settings
from cashier_bridge.registry.schema import customers, installation
from cashier_bridge.registry.writes import audit

KEY_FILE = "personal-id.key"
ENVIRONMENT = "SELFREG_PERSONAL_ID_KEY"
CHECK_ROW = "personal_id_key_check"
# Where registries before migration 0015 kept the key itself.
LEGACY_ROW = "secret"
CHECK_MESSAGE = b"selfreg personal-id key check"
# Bridges of a chain starting at once decide about the key one at a time.
_PG_KEY_LOCK = 0x5E1F_4BE7

log = structlog.get_logger("selfreg.registry")


class PersonalIdKeyError(Exception):
    """The bridge cannot use this registry's personnummer key; the message says what to do."""


def check_value(key: bytes) -> str:
    """What the database keeps to recognise its key: useless for making fingerprints.

    >>> check_value(bytes(32))[:16]
    '8bd5135f9e37f5be'
    """
    return hmac.new(key, CHECK_MESSAGE, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyPlace:
    """Where this bridge looks for the key: the configured one first, else the file."""

    configured: str | None
    directory: Path

    @property
    def file(self) -> Path:
        return self.directory / KEY_FILE


def default_place(url: str, configured: str | None = None) -> KeyPlace:
    """The configured key (``personal_id_key``, ``SELFREG_PERSONAL_ID_KEY``), and the key file
    beside a SQLite registry — every program opening that file finds the same key whatever
    user's data directory it runs with — or in the data directory for PostgreSQL."""
    if configured is None:
        configured = load_settings().personal_id_key
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        directory = Path(parsed.database).expanduser().resolve().parent
    else:
        directory = data_dir()
    return KeyPlace(configured or None, directory)


class Action(Enum):
    USE = "use"  # the key matches the stored check value
    INITIALISE = "initialise"  # a new registry: store the check value of this key
    CREATE_AND_INITIALISE = "create_and_initialise"  # ... of a new key, written to the file
    MOVE_OUT = "move_out"  # an old registry: write its key to the file, forget the row
    FORGET_LEGACY = "forget_legacy"  # the key is outside already (file or configuration)
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    key: bytes | None = None
    reason: str = ""


def decide(place: KeyPlace, *, legacy: str | None, check: str | None,
           configured: bytes | None, file_key: bytes | None) -> Decision:
    """What to do with the key, given the rows found and the keys this bridge has."""
    where = f"{ENVIRONMENT} (personal_id_key)" if configured is not None else str(place.file)
    have = configured if configured is not None else file_key
    if legacy is not None:
        try:
            own = keyfile.from_hex(legacy, "the installation table's secret")
        except keyfile.KeyFileError as exc:
            return Decision(Action.REFUSE, reason=f"{exc}: this registry's personnummer key "
                            "is damaged")
        if check is not None and check != check_value(own):
            return Decision(Action.REFUSE, reason="the installation table's secret does not "
                            "match its check value: it is not this registry's personnummer key")
        if have is None:
            return Decision(Action.MOVE_OUT, own)
        if hmac.compare_digest(have, own):
            return Decision(Action.FORGET_LEGACY, own)
        if configured is not None:
            return Decision(Action.REFUSE, reason=(
                f"{where} is not this registry's personnummer key. The registry still holds "
                f"its own key, which the bridge moves to {place.file} when started without "
                f"{ENVIRONMENT}: unset it and start again"))
        return Decision(Action.REFUSE, reason=(
            f"{place.file} holds another registry's personnummer key, and this registry still "
            "holds its own. Move that file aside (keep it: the other registry needs it) and "
            f"start again: the bridge then writes this registry's key to {place.file}"))
    if check is None:
        if have is not None:
            return Decision(Action.INITIALISE, have)
        return Decision(Action.CREATE_AND_INITIALISE)
    if have is None:
        return Decision(Action.REFUSE, reason=(
            "this registry's personnummer fingerprints were made with a key kept outside the "
            f"database, and this bridge has none. Copy the file {KEY_FILE} of the bridge that "
            f"made the registry (or its backup) to {place.file} (mode 0600), or set "
            f"{ENVIRONMENT} to its contents. If the key is lost for good, "
            "'selfreg-bridge personal-id-key lost' lets the bridge start without it"))
    if not hmac.compare_digest(check_value(have), check):
        return Decision(Action.REFUSE, reason=(
            f"{where} is not the key this registry's personnummer fingerprints were made with: "
            "with it, no personnummer would match anybody. Use the key file of the bridge that "
            f"made the registry (or its backup), copied to {place.file} or given as "
            f"{ENVIRONMENT}"))
    return Decision(Action.USE, have)


def establish(writer: Engine, place: KeyPlace) -> bytes:
    """The registry's key: checked against the database, created for a new registry, moved
    out of an old one.  ``writer`` takes SQLite's write lock with its transactions.  Raises
    :class:`PersonalIdKeyError` with what to do."""
    try:
        configured = (keyfile.from_hex(place.configured, ENVIRONMENT)
                      if place.configured else None)
    except keyfile.KeyFileError as exc:
        raise PersonalIdKeyError(str(exc)) from None
    with writer.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_KEY_LOCK})
        # Read under the lock: another process may have just moved the key to the file.
        try:
            file_key = keyfile.read(place.file) if configured is None else None
        except keyfile.KeyFileError as exc:
            raise PersonalIdKeyError(str(exc)) from None
        rows = dict(conn.execute(select(installation.c.key, installation.c.value).where(
            installation.c.key.in_((LEGACY_ROW, CHECK_ROW)))).all())
        decision = decide(place, legacy=rows.get(LEGACY_ROW), check=rows.get(CHECK_ROW),
                          configured=configured, file_key=file_key)
        if decision.action is Action.REFUSE:
            raise PersonalIdKeyError(decision.reason)
        key = decision.key
        written = False
        if decision.action is Action.CREATE_AND_INITIALISE:
            key, written = keyfile.create(place.file)
        elif decision.action is Action.MOVE_OUT:
            assert key is not None
            # Written (and flushed) before the row goes: a crash in between leaves the key in
            # both places, never in neither.
            in_file, written = keyfile.create(place.file, key)
            if not hmac.compare_digest(in_file, key):
                raise PersonalIdKeyError(f"{place.file} appeared, with another key, while the "
                                         "bridge was moving this registry's key there: move "
                                         "it aside and start the bridge again")
        assert key is not None
        if decision.action in (Action.MOVE_OUT, Action.FORGET_LEGACY):
            conn.execute(delete(installation).where(installation.c.key == LEGACY_ROW))
        if CHECK_ROW not in rows:
            conn.execute(insert(installation).values(key=CHECK_ROW, value=check_value(key)))
    if decision.action in (Action.MOVE_OUT, Action.FORGET_LEGACY):
        log.warning("personal_id_key_moved_out_of_database",
                    key_file=str(place.file) if configured is None else None,
                    configured=configured is not None,
                    advice="back the key up apart from the database")
    elif written:
        log.info("personal_id_key_created", key_file=str(place.file))
    return key


def copy_advice(source: KeyPlace, target: KeyPlace) -> str:
    """What to do with the key after ``copy-registry``: the rows went, the key did not."""
    if source.configured:
        how = f"Give every bridge that opens the copy the same {ENVIRONMENT} as this one"
    elif source.file == target.file:
        return (f"The copy is beside the registry and uses the same personnummer key, "
                f"{source.file}.")
    elif target.directory == data_dir():
        how = (f"Copy {source.file} (mode 0600) into the data directory of every bridge that "
               f"opens the copy (here {target.file}), or set {ENVIRONMENT} to its contents "
               "there")
    else:
        how = (f"Copy {source.file} to {target.file} (mode 0600), or set {ENVIRONMENT} to its "
               "contents for every program that opens the copy")
    return ("The personnummer key was not copied: it never leaves its file. " + how +
            ". Without it the copy refuses to start, and with another key no personnummer "
            "would match.")


def forget_lost_key(writer: Engine, place: KeyPlace, *, actor: str = "cli") -> int:
    """After the key is lost for good: every stored fingerprint is cleared (they can never be
    matched again, and a stale one would make its customer look like somebody else), the
    masked form and birth date stay, and the next start makes a new key.  Refused while this
    bridge has the registry's key.  Returns how many fingerprints were cleared."""
    with writer.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_KEY_LOCK})
        rows = dict(conn.execute(select(installation.c.key, installation.c.value).where(
            installation.c.key.in_((LEGACY_ROW, CHECK_ROW)))).all())
        try:
            configured = (keyfile.from_hex(place.configured, ENVIRONMENT)
                          if place.configured else None)
            file_key = keyfile.read(place.file) if configured is None else None
        except keyfile.KeyFileError:
            configured = file_key = None
        decision = decide(place, legacy=rows.get(LEGACY_ROW), check=rows.get(CHECK_ROW),
                          configured=configured, file_key=file_key)
        if decision.action is not Action.REFUSE:
            raise PersonalIdKeyError("this bridge has the registry's personnummer key (or the "
                                     "registry still holds it): nothing is lost, nothing "
                                     "was changed")
        cleared = conn.execute(customers.update().where(
            customers.c.personal_id_fingerprint.is_not(None))
            .values(personal_id_fingerprint=None)).rowcount
        conn.execute(delete(installation).where(installation.c.key.in_((LEGACY_ROW,
                                                                          CHECK_ROW))))
        audit(conn, actor, AuditAction.personal_id_key_lost, None,
              {"fingerprints_cleared": cleared})
    log.warning("personal_id_key_lost", fingerprints_cleared=cleared)
    return cleared
