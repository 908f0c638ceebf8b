"""Keys kept in a file of their own, readable by the bridge's user only (mode 0600).

Some secrets must never sit in the database, so that a copied database (a backup, a stolen
file, a ``pg_dump``) is useless without them: the key phone codes are derived with and the key
personnummer fingerprints are made with.  Each lives in a small file holding 64 hexadecimal
characters (32 random bytes), or is given in the configuration instead.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

import structlog

KEY_BYTES = 32
HEX_CHARS = 2 * KEY_BYTES
_PRIVATE = 0o600

log = structlog.get_logger("selfreg.keys")


class KeyFileError(Exception):
    """A key file that exists but holds no key: the message says which file and what is wrong."""


def read(path: Path) -> bytes | None:
    """The key in ``path``, or None if there is no such file.  A file others may read is
    tightened to 0600 first (and the change logged once)."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        return None
    _tighten(path)
    return from_hex(text, str(path))


def from_hex(text: str, where: str) -> bytes:
    r"""A key written as hexadecimal characters (what a key file holds).

    >>> from_hex("00" * 32, "x") == bytes(32)
    True
    >>> from_hex("abc", "SELFREG_X")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    KeyFileError: SELFREG_X holds 3 characters; a key is 64 hexadecimal characters
    """
    text = text.strip()
    if len(text) != HEX_CHARS:
        raise KeyFileError(f"{where} holds {len(text)} characters; a key is {HEX_CHARS} "
                           "hexadecimal characters")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise KeyFileError(f"{where} holds characters other than 0-9 and a-f; a key is "
                           f"{HEX_CHARS} hexadecimal characters") from None


def create(path: Path, key: bytes | None = None) -> tuple[bytes, bool]:
    """Write ``key`` (default: a new random one) to ``path`` unless the file exists, mode 0600
    from the start and flushed to disk; returns the key now in the file and whether this call
    wrote it.  Several processes creating the same file at once agree on one key."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = (key if key is not None else secrets.token_bytes(KEY_BYTES)).hex()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE)
    except FileExistsError:  # another process won the race; its key is the key
        return from_hex(_read_when_written(path), str(path)), False
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())
    _sync_directory(path.parent)
    return bytes.fromhex(text), True


def load_or_create(path: Path) -> bytes:
    """The key in ``path``, created on first use."""
    key = read(path)
    if key is not None:
        return key
    return create(path)[0]


def _read_when_written(path: Path) -> str:
    # The winner of the race may not have written its 64 characters yet.
    for _ in range(1000):
        text = path.read_text(encoding="ascii", errors="replace").strip()
        if len(text) == HEX_CHARS:
            return text
    raise KeyFileError(f"{path} holds no key")


def _tighten(path: Path) -> None:
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(_PRIVATE)
            log.warning("key_file_mode_tightened", file=str(path), was=oct(mode), now="0o600")


def _sync_directory(directory: Path) -> None:
    """The new file's name reaches the disk too: a power cut must not lose a key whose
    registry has already forgotten it."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
