"""Which web pages may open the bridge's websockets: the ``Origin`` check (pure).

A browser says in ``Origin`` which page opens a websocket, and it lets *any* page open one: a
page from anywhere that the cashier happens to open in the till's browser could otherwise talk
to ``ws://127.0.0.1:8765/ws/register`` and read the registry.  So a browser's connection is let
in only from the bridge's own pages:

- **names the operator gave**: ``public_url`` (also its default, the bridge's own address) and
  ``allowed_origins``;
- **the address the connection came in on**: a page whose origin is ``http://<IP>:<port>``
  with exactly the IP address and port this connection was made to can only have come from
  this bridge (nothing else listens there), so a console opened at the till's LAN address or
  at ``127.0.0.1`` works without configuration;
- ``localhost`` on that port when the connection came over loopback (the name is the
  machine's own, whatever DNS says).

Any other *name* is refused, even one that resolves to this machine: that is DNS rebinding (a
page on ``http://evil.example:8765`` whose name is made to resolve to ``127.0.0.1`` sends an
``Origin`` and a ``Host`` that agree), which is why the ``Host`` header is never the measure.
A connection without ``Origin`` is no browser; it proves itself with its device token.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Origin:
    """A web origin: scheme, host and port (the default port written out)."""

    scheme: str
    host: str  # lower case; an IP address in its canonical form, IPv6 without brackets
    port: int

    @classmethod
    def parse(cls, text: str) -> Origin | None:
        """The origin of an ``Origin`` header or of a URL; None for ``null``, schemes other
        than http(s), and anything unreadable."""
        try:
            parts = urlsplit(text.strip())
            port = parts.port
        except ValueError:  # a port that is no number, or out of range
            return None
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        if scheme not in DEFAULT_PORTS or not host or parts.username is not None:
            return None
        return cls(scheme, _canonical_host(host), port or DEFAULT_PORTS[scheme])

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def _canonical_host(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.lower()
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket reports IPv4 peers this way
    return address.compressed


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class OriginPolicy:
    named: frozenset[Origin]

    @classmethod
    def of(cls, urls: Iterable[str]) -> OriginPolicy:
        """The policy for the bridge whose own addresses are ``urls`` (public_url, then
        allowed_origins); a URL that is no http(s) origin is left out (config validates)."""
        return cls(frozenset(o for o in map(Origin.parse, urls) if o is not None))

    def allows(self, origin: str, *, local: tuple[str, int] | None, secure: bool) -> bool:
        """May a page of ``origin`` open a websocket that was made to ``local`` (the bridge's
        address and port as this connection reached it), over TLS if ``secure``?"""
        page = Origin.parse(origin)
        if page is None:
            return False
        if page in self.named:
            return True
        if local is None:
            return False
        address, port = _canonical_host(str(local[0])), int(local[1])
        if page.port != port or page.scheme != ("https" if secure else "http"):
            return False
        if page.host == "localhost":
            return _is_loopback(address)
        return page.host == address
