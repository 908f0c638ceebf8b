"""Via mobil's phone codes and their settings: unguessable, derived from a nonce with a key that
stays out of the database.

code = base64url(HMAC-SHA256(key, lane ␀ nonce)) — 256 bits, 43 characters.  The lane stores
the nonce (``secrets.token_urlsafe``, 192 bits) and the code's SHA-256; the key lives in the
bridge's configuration or a key file.  A leaked database therefore yields no live code, and every
bridge process that knows the key can show the code to its kiosk again.

Below both the lane hub (which mints codes and puts their addresses into kiosk states) and the
phone page (which recognises them): neither imports the other for them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cashier_bridge import keyfile

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
RECEIPT_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
KEY_FILE = "mobile-token.key"


@dataclass(frozen=True)
class MobileOptions:
    """Via mobil's settings as the lane hub needs them (the bridge builds them from its
    configuration: ``cashier_bridge.web.mobile.setup``)."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    public_url: str = "http://127.0.0.1:8765"
    token_s: float = 180.0
    on_choices: bool = False


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def derive(key: bytes, lane: str, nonce: str) -> str:
    digest = hmac.new(key, f"{lane}\0{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def key_id(key: bytes) -> str:
    """A short name for the key (not the key): a process can tell a code it cannot show."""
    return hashlib.sha256(b"selfreg-mobile-key-id\0" + key).hexdigest()[:12]


def well_formed(token: str) -> bool:
    return bool(TOKEN_RE.fullmatch(token))


def new_receipt() -> str:
    """The form's one-off id: the phone that sent it may follow the flow, and sending the same
    form twice is recognised as one submission."""
    return secrets.token_urlsafe(24)


def load_key(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, else the installation's key file (created on first use, readable
    by the bridge's user only).  Several processes starting at once agree on one file."""
    if configured:
        return configured.encode("utf-8")
    return keyfile.load_or_create(data_dir / KEY_FILE)
