"""Via mobil's settings turned into what the hub and the page need (reads the key file)."""

from __future__ import annotations

import socket

from cashier_bridge.config import Settings, data_dir
from cashier_bridge.lanes import mobile_tokens as tokens
from cashier_bridge.lanes.mobile_tokens import MobileOptions

ANY_ADDRESS = ("0.0.0.0", "::", "")


def public_url(settings: Settings) -> str:
    """Where phones reach the bridge: the setting, else this bridge's own address (with the
    machine's LAN address when it listens on every interface: a phone cannot use 0.0.0.0)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    scheme = "https" if settings.tls_cert and settings.tls_key else "http"
    host = _lan_address() if settings.host in ANY_ADDRESS else settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{settings.port}"


def mobile_options(settings: Settings) -> MobileOptions:
    return MobileOptions(key=tokens.load_key(settings.mobile_token_key, data_dir()),
                         public_url=public_url(settings), token_s=settings.mobile_token_s,
                         on_choices=settings.mobile_on_choices)


def _lan_address() -> str:
    # A UDP "connect" sends nothing; it only asks the kernel which address would be used.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            return str(s.getsockname()[0])
        except OSError:
            return socket.gethostname()
