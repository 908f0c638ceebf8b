"""The kiosk's websocket link to the cashier bridge: hello, states in, intents out, reconnects.

No Kivy here, so the link can be tested on its own.  Every frame from the bridge is parsed with
the shared protocol models and handed to ``on_message``; the link reports going on- and offline
through ``on_online``.  After a drop it reconnects with exponential backoff plus jitter, so a
shop full of kiosks does not hammer a restarting bridge in lockstep.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from cashier_bridge.protocol import (
    Hello,
    KioskMessage,
    Role,
    Welcome,
    dump,
    parse_kiosk_message,
)

log = logging.getLogger("selfreg.kiosk.link")

KIOSK_PATH = "/ws/kiosk"


def kiosk_ws_url(bridge_url: str) -> str:
    """The kiosk endpoint for a bridge given as ``ws://host:port`` (or http, or a full path)."""
    parts = urlsplit(bridge_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme or "ws")
    path = parts.path.rstrip("/")
    if not path.endswith(KIOSK_PATH):
        path += KIOSK_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


class Backoff:
    """Delays 0.2, 0.4, 0.8 … capped at 5 s, each stretched by up to ``jitter`` of itself."""

    def __init__(self, initial: float = 0.2, factor: float = 2.0, cap: float = 5.0,
                 jitter: float = 0.25, rand: Callable[[], float] = random.random) -> None:
        self.initial = initial
        self.factor = factor
        self.cap = cap
        self.jitter = jitter
        self._rand = rand
        self._base = initial

    def next(self) -> float:
        base = self._base
        self._base = min(self.cap, self._base * self.factor)
        return min(self.cap, base * (1.0 + self.jitter * self._rand()))

    def reset(self) -> None:
        self._base = self.initial


class BridgeLink:
    def __init__(self, bridge_url: str, lane: str, *,
                 on_message: Callable[[KioskMessage], None],
                 on_online: Callable[[bool], None],
                 backoff: Backoff | None = None,
                 token: str | None = None) -> None:
        self.url = kiosk_ws_url(bridge_url)
        self.lane = lane
        self.token = token
        self._on_message = on_message
        self._on_online = on_online
        self._backoff = backoff or Backoff()
        self._ws: ClientConnection | None = None
        self._stopping = False
        self.connects = 0

    @property
    def online(self) -> bool:
        return self._ws is not None

    async def run(self) -> None:
        """Stay connected until :meth:`stop`; never raises for network trouble."""
        while not self._stopping:
            try:
                async with connect(self.url, open_timeout=3, ping_interval=5,
                                   ping_timeout=5) as ws:
                    await ws.send(dump(Hello(role=Role.kiosk, lane=self.lane, token=self.token)))
                    self._ws = ws
                    self.connects += 1
                    self._on_online(True)
                    async for frame in ws:
                        self._handle(frame)
            except asyncio.CancelledError:
                raise
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI,
                    TimeoutError) as exc:
                log.info("bridge link down: %s", exc)
            finally:
                if self._ws is not None:
                    self._ws = None
                    self._on_online(False)
            if not self._stopping:
                await asyncio.sleep(self._backoff.next())

    def _handle(self, frame: str | bytes) -> None:
        try:
            message = parse_kiosk_message(frame)
        except ValidationError as exc:
            log.warning("ignoring a frame the kiosk does not understand: %s", exc)
            return
        if isinstance(message, Welcome):
            # Only a welcome means the bridge took the kiosk: one that refuses it (unpaired)
            # is asked again ever more slowly, not five times a second.
            self._backoff.reset()
        self._on_message(message)

    async def send(self, intent: BaseModel) -> bool:
        """Send one intent; False when offline (the shopper sees the offline screen anyway)."""
        ws = self._ws
        if ws is None:
            log.info("offline, dropped %s", intent.__class__.__name__)
            return False
        try:
            await ws.send(dump(intent))
        except ConnectionClosed:
            return False
        return True

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()
