"""Backing up a shop's SQLite registry, and restoring it (``selfreg-bridge backup`` / ``restore``).

A backup is taken with SQLite's online backup API (``sqlite3.Connection.backup``) in one step:
it reads a consistent snapshot in a single read transaction while the lanes go on registering
(in WAL mode writers do not wait for readers).  A stepped copy would start over every time a lane
writes, and might never finish at a busy till.  The copy is made in a hidden file beside the
target, checked (``PRAGMA quick_check``), turned into one self-contained file (no ``-wal``),
flushed to disk and only then renamed into place: a backup file is whole or absent, never half.
It holds personal data, so it is created 0600 in a 0700 directory.

The personnummer key (``personal-id.key``) is not in a backup, on purpose: a lost backup must
not be turnable back into personnummer.  A restore onto a new till needs a copy of it, kept
apart from the backups (the README says how).

A chain's PostgreSQL registry is backed up with PostgreSQL's own tools; :func:`pg_advice` says
how.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import fcntl
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url

from cashier_bridge.registry.live import live
from cashier_bridge.registry.migrate import alembic_config
from cashier_bridge.registry.schema import customers

PREFIX = "selfreg-"
SUFFIX = ".db"
_PRIVATE_FILE = 0o600
_PRIVATE_DIRECTORY = 0o700
# In WAL mode every connection to a database holds a shared lock on this byte of its -shm file
# (SQLite's "DMS" lock, https://sqlite.org/walformat.html): whoever can lock it exclusively is
# the only one with the database open.
_DMS_LOCK_BYTE = 128


class BackupError(Exception):
    """Refused, with what to do instead; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a backup file holds."""

    path: Path
    revision: str | None  # its schema's alembic revision
    customers: int  # live customers (not erased, not merged away)
    size: int


@dataclass(frozen=True, slots=True)
class Restored:
    snapshot: Snapshot
    database: Path
    kept: Path | None  # the database it replaced, kept as a copy


def sqlite_file(db_url: str, action: str) -> Path:
    """The SQLite file of ``db_url``; a PostgreSQL registry is refused with pg_dump's advice."""
    url = make_url(db_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        raise BackupError(pg_advice(db_url, action))
    if backend != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError(f"cannot {action} the registry {_shown(db_url)}: only a SQLite file "
                          "registry (sqlite:///PATH) is backed up by selfreg itself")
    return Path(url.database).expanduser()


def pg_advice(db_url: str, action: str) -> str:
    """What to run instead for a chain's PostgreSQL registry."""
    libpq = (make_url(db_url).set(drivername="postgresql")._replace(password=None)
             .render_as_string())
    return (f"the registry is PostgreSQL ({libpq}); to {action} it use PostgreSQL's own tools, "
            "which copy a consistent snapshot while the bridges run:\n"
            f"  back up:  pg_dump --format=custom --file=selfreg-$(date -u +%Y%m%dT%H%M%SZ).dump "
            f"'{libpq}'\n"
            "  restore (bridges stopped, into an empty database):  pg_restore --no-owner "
            f"--dbname='{libpq}' FILE.dump\n"
            "(the password from PGPASSWORD or ~/.pgpass, not on the command line). The "
            "personnummer key is not in the database: keep a copy of it apart from the dumps.")


def backup(db_url: str, target: Path) -> Snapshot:
    """Copy the registry to ``target`` (replaced whole if it exists) while it is in use."""
    source = sqlite_file(db_url, "back up")
    if not source.is_file() or source.stat().st_size == 0:
        raise BackupError(f"no registry at {source} to back up (is --db or SELFREG_DATA_DIR "
                          "the bridge's?)")
    target = target.expanduser().absolute()
    if target.resolve() == source.resolve():
        raise BackupError(f"{target} is the registry itself; write the backup elsewhere")
    owner = source.stat()
    _private_directory(target.parent, owner)
    with _partial(target) as partial:
        src = sqlite3.connect(source, timeout=60)
        try:
            _copy(src, partial)
        finally:
            src.close()
        snapshot = inspect(partial)
        _owned_like(partial, owner)
        _commit(partial, target)
    return Snapshot(target, snapshot.revision, snapshot.customers, target.stat().st_size)


def backup_rotating(db_url: str, directory: Path, keep: int,
                    now: dt.datetime | None = None) -> tuple[Snapshot, list[Path]]:
    """A new ``selfreg-<UTC time>.db`` in ``directory``; then only the newest ``keep`` of those
    stay (the others are removed, and returned).  Other files there are left alone."""
    if keep < 1:
        raise BackupError("--keep must be at least 1")
    directory = directory.expanduser().absolute()
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    target = directory / f"{PREFIX}{stamp}{SUFFIX}"
    n = 1
    while target.exists():  # two in one second: keep both
        n += 1
        target = directory / f"{PREFIX}{stamp}-{n}{SUFFIX}"
    snapshot = backup(db_url, target)
    ours = sorted(p for p in directory.glob(f"{PREFIX}*{SUFFIX}") if p.is_file())
    removed = ours[:-keep]
    for old in removed:
        old.unlink(missing_ok=True)
    return snapshot, removed


def inspect(path: Path) -> Snapshot:
    """What a backup file holds, read-only; a file that is not a sound selfreg registry is
    refused with what is wrong with it."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{path} cannot be opened as a SQLite database: {exc}") from exc
    try:
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} is not a SQLite database ({exc})") from exc
        if check != "ok":
            raise BackupError(f"{path} is damaged (SQLite's check says: {check}); take "
                              "another backup")
        try:
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            count = conn.execute(_COUNT_LIVE).fetchone()[0]
        except sqlite3.Error as exc:
            raise BackupError(f"{path} is a SQLite database but not a selfreg registry "
                              f"({exc})") from exc
    finally:
        conn.close()
    return Snapshot(path, revision[0] if revision else None, int(count), path.stat().st_size)


def refuse_newer_schema(snapshot: Snapshot) -> None:
    """A backup whose schema this version does not know came from a newer selfreg: opening it
    here would run old code against tables it does not understand."""
    script = ScriptDirectory.from_config(alembic_config())
    known = {revision.revision for revision in script.walk_revisions()}
    if snapshot.revision is not None and snapshot.revision not in known:
        raise BackupError(
            f"{snapshot.path} was made by a newer selfreg: its schema is at revision "
            f"{snapshot.revision}, which this version does not know (its newest is "
            f"{script.get_current_head()}). Nothing was restored. Install the selfreg version "
            "the backup was made with (or a newer one) and restore with that.")


def in_use(database: Path) -> bool:
    """Whether some process (a running bridge) has the SQLite registry open."""
    try:
        fd = os.open(f"{database}-shm", os.O_RDWR)
    except FileNotFoundError:
        return False  # the last connection to close removes it
    except PermissionError:
        return True  # another user's: assume the worst
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _DMS_LOCK_BYTE)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return True
        raise
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _DMS_LOCK_BYTE)
        return False
    finally:
        os.close(fd)


def restore(backup_file: Path, db_url: str, now: dt.datetime | None = None) -> Restored:
    """Put the backup in the registry's place, keeping the database it replaces as
    ``<name>.before-restore-<UTC time>``.  Refused (nothing changed) for a backup from a newer
    schema, a damaged file, or a registry some process has open."""
    database = sqlite_file(db_url, "restore")
    snapshot = inspect(backup_file.expanduser())
    refuse_newer_schema(snapshot)
    database = database.absolute()
    if in_use(database):
        raise BackupError(f"the registry {database} is open in another program — the bridge "
                          "is running. Stop it first (sudo systemctl stop selfreg-bridge; the "
                          "kiosks show 'out of order' meanwhile), restore, then start it again. "
                          "Nothing was restored.")
    _private_directory(database.parent)
    # Run with sudo, the files must still be the bridge's: the owner of its directory.
    owner = database.parent.stat()
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    kept: Path | None = None
    with _partial(database) as partial:
        src = sqlite3.connect(f"{snapshot.path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            _copy(src, partial)
        finally:
            src.close()
        if database.is_file() and database.stat().st_size > 0:
            kept = database.with_name(f"{database.name}.before-restore-{stamp}")
            _create_private(kept)
            old = sqlite3.connect(database, timeout=60)  # its -wal is read in too
            try:
                _copy(old, kept)
            finally:
                old.close()
            _owned_like(kept, owner)
            _fsync(kept)
        # A -wal left by the old database must never be replayed onto the restored one.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        _owned_like(partial, owner)
        _commit(partial, database)
    return Restored(Snapshot(database, snapshot.revision, snapshot.customers,
                             database.stat().st_size), database, kept)


_COUNT_LIVE = str(select(func.count()).select_from(customers).where(live())
                  .compile(dialect=sqlite_dialect.dialect(),
                           compile_kwargs={"literal_binds": True}))


def _copy(source: sqlite3.Connection, target: Path) -> None:
    """SQLite's online backup of ``source`` into the (private, empty) file ``target``, left as
    one file in rollback-journal mode."""
    dst = sqlite3.connect(target)
    try:
        source.backup(dst)  # pages=-1: one step, one consistent snapshot
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()


@contextlib.contextmanager
def _partial(target: Path) -> Iterator[Path]:
    """A private, empty file beside ``target`` to build it in; removed if building fails."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    _create_private(partial)
    try:
        yield partial
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)


def _commit(partial: Path, target: Path) -> None:
    """Flush ``partial`` to disk and rename it to ``target``: whole or absent after a power
    cut."""
    _fsync(partial)
    os.replace(partial, target)
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_private(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE))


def _private_directory(directory: Path, owner: os.stat_result | None = None) -> None:
    if not directory.exists():
        directory.mkdir(mode=_PRIVATE_DIRECTORY, parents=True)
        if owner is not None:
            _owned_like(directory, owner)


def _owned_like(path: Path, owner: os.stat_result) -> None:
    """Root (``sudo selfreg-bridge …``) gives what it writes to the registry's owner, so the
    bridge and its nightly backup can still read, rotate and replace it."""
    if os.geteuid() == 0 and (owner.st_uid, owner.st_gid) != (0, 0):
        os.chown(path, owner.st_uid, owner.st_gid)


def _shown(db_url: str) -> str:
    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


# --- the commands -------------------------------------------------------------------------------

def add_parsers(sub: Any, db_flag: Callable[[argparse.ArgumentParser], None]) -> None:
    back = sub.add_parser(
        "backup", help="copy the SQLite registry to a file while the bridge runs (a chain's "
                       "PostgreSQL: it says which pg_dump to run)")
    back.add_argument("file", nargs="?", help="the backup file to write (replaced whole)")
    back.add_argument("--dir", type=Path, help="write selfreg-<UTC time>.db in this directory "
                                               "instead, and rotate (see --keep)")
    back.add_argument("--keep", type=int, default=14,
                      help="with --dir: how many backups stay there (default 14)")
    db_flag(back)
    rest = sub.add_parser(
        "restore", help="put a backup in the registry's place (the bridge stopped); the "
                        "database it replaces is kept as a copy")
    rest.add_argument("file", type=Path, help="a file written by 'selfreg-bridge backup'")
    db_flag(rest)


def run(settings: Any, args: argparse.Namespace) -> int:
    try:
        if args.command == "backup":
            return _run_backup(settings, args)
        return _run_restore(settings, args)
    except BackupError as exc:
        print(f"selfreg-bridge {args.command}: {exc}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as exc:  # a full disk, a directory it may not write
        outcome = ("no backup was written" if args.command == "backup"
                   else "nothing was restored; the registry is as it was")
        print(f"selfreg-bridge {args.command}: {type(exc).__name__}: {exc}; {outcome}",
              file=sys.stderr)
        return 1


def _run_backup(settings: Any, args: argparse.Namespace) -> int:
    if (args.file is None) == (args.dir is None):
        raise BackupError("name a backup FILE, or --dir DIR (with --keep N) for rotating ones")
    removed: list[Path] = []
    if args.dir is not None:
        snapshot, removed = backup_rotating(settings.db_url, args.dir, args.keep)
    else:
        snapshot = backup(settings.db_url, Path(args.file))
    print(f"backed up {snapshot.customers} customers (schema {snapshot.revision}) to "
          f"{snapshot.path} ({snapshot.size // 1024} KiB)")
    if removed:
        print(f"removed {len(removed)} older backup(s), keeping the newest {args.keep}")
    print(f"The personnummer key is not in the backup: keep a copy of "
          f"{_key_file(settings)} apart from it (a restore on a new till needs it).",
          file=sys.stderr)
    return 0


def _run_restore(settings: Any, args: argparse.Namespace) -> int:
    from cashier_bridge.registry import Registry
    from cashier_bridge.registry.personal_id_key import PersonalIdKeyError

    restored = restore(args.file, settings.db_url)
    print(f"restored {restored.snapshot.customers} customers from {args.file} into "
          f"{restored.database}")
    if restored.kept is not None:
        print(f"the database it replaced is kept as {restored.kept}")
    try:  # brings an older backup's schema up to this version and checks the key
        Registry.open(settings.db_url, busy_timeout_s=settings.db_busy_timeout_s,
                      personal_id_key=settings.personal_id_key).close()
    except PersonalIdKeyError as exc:
        print(f"but the bridge will not start with it yet: {exc}", file=sys.stderr)
        return 1
    print("start the bridge again: sudo systemctl start selfreg-bridge")
    return 0


def _key_file(settings: Any) -> str:
    from cashier_bridge.registry import personal_id_key as keys

    place = keys.default_place(settings.db_url, settings.personal_id_key)
    return "the key in your configuration" if place.configured else str(place.file)
