"""systemd's service notification protocol (sd_notify(3)), for the bridge and the kiosk.

A unit with ``Type=notify`` waits for ``READY=1`` before it counts the service as started, and
one with ``WatchdogSec=`` restarts the service when no ``WATCHDOG=1`` has come for that long.
Each message is one datagram of ``KEY=value`` lines sent to the Unix socket named by
``$NOTIFY_SOCKET`` (a path, or ``@name`` for Linux's abstract namespace).  systemd calls the
protocol itself the stable interface and its man page gives a standalone implementation to copy
rather than linking libsystemd; this is that implementation (docs/decisions.md says why no
library).

Outside systemd (no ``$NOTIFY_SOCKET``: a developer's shell, the tests, ``./demo.sh``) every
call does nothing, so the programs call it unconditionally.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
from collections.abc import Mapping

log = logging.getLogger("selfreg.systemd")


class Notifier:
    """Where this process tells systemd about itself; :meth:`from_environment` reads it."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self._address = _socket_address(address)
        # sd_watchdog_enabled(3): pings are expected every WATCHDOG_USEC; send twice as often.
        self.watchdog_interval_s = (watchdog_usec / 2_000_000
                                    if self._address is not None and watchdog_usec else None)
        self._socket: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None,
                         pid: int | None = None) -> Notifier:
        """``$NOTIFY_SOCKET``, and the watchdog when ``$WATCHDOG_USEC`` is set and
        ``$WATCHDOG_PID`` (if set) is this process: a child that inherited the variables is not
        the one systemd watches."""
        env = os.environ if environ is None else environ
        usec: int | None = None
        raw_usec, raw_pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        this_pid = os.getpid() if pid is None else pid
        # ASCII digits only: str.isdigit() also says yes to "²", which int() refuses.
        if (re.fullmatch(r"[0-9]{1,18}", raw_usec) and int(raw_usec) > 0
                and (not raw_pid or raw_pid == str(this_pid))):
            usec = int(raw_usec)
        return cls(env.get("NOTIFY_SOCKET"), usec)

    @property
    def enabled(self) -> bool:
        """Whether a service manager listens (the process runs under a ``Type=notify`` unit)."""
        return self._address is not None

    def notify(self, *lines: str) -> bool:
        """Send ``KEY=value`` lines as one message; False when nobody listens or the send
        failed (a notification is never worth stopping the service for: it is logged once)."""
        if self._address is None:
            return False
        message = "\n".join(line.replace("\n", " ") for line in lines).encode()
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                # Never wait on the service manager from an event loop: a full queue is a
                # failed ping (the next one comes soon), not a stalled bridge.
                self._socket.setblocking(False)
            self._socket.sendto(message, self._address)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("systemd_notify_failed: %s (%s)", type(exc).__name__, exc.strerror)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def ping_forever(self) -> None:
        """``WATCHDOG=1`` every half watchdog period, from the event loop this runs on: while
        that loop is blocked no ping is sent, and systemd restarts the service."""
        if self.watchdog_interval_s is None:
            return
        while True:
            self.watchdog()
            await asyncio.sleep(self.watchdog_interval_s)


def _socket_address(address: str | None) -> str | None:
    """The address to send to: a path as it is, ``@name`` as ``\\0name`` (abstract).  Other
    forms (``vsock:``, used by virtual machines) are not for a till: ignored with a note."""
    if not address:
        return None
    if address.startswith("/"):
        return address
    if address.startswith("@") and len(address) > 1:
        return "\0" + address[1:]
    log.warning("NOTIFY_SOCKET %r is not a Unix socket address; not notifying systemd",
                address[:60])
    return None

