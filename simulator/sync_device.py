"""A kiosk or register of a lane speaking the protocol over a plain (blocking) websocket: for
tools and browser tests that drive the phone page while playing the lane's devices."""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import ClientConnection, connect

from simulator.processes import BridgeProcess


class SyncDevice:
    """A device of ``lane`` on ``bridge``, paired with it (``token``, else the simulator's own
    device of that lane and role)."""

    def __init__(self, bridge: BridgeProcess, role: str, lane: str,
                 token: str | None = None) -> None:
        token = token or bridge.token(lane, role)
        self._connection = connect(f"{bridge.url}/ws/{role}")
        self.ws: ClientConnection = self._connection.__enter__()
        self.send(type="hello", role=role, lane=lane, token=token)
        self.next("welcome")

    def send(self, **message: Any) -> None:
        self.ws.send(json.dumps({"v": 1, **message}))

    def next(self, type_: str, timeout: float = 15.0, **match: Any) -> dict[str, Any]:
        """The next message of ``type_`` (with the given fields) this device receives."""
        while True:
            message = json.loads(self.ws.recv(timeout=timeout))
            if message["type"] == type_ and all(message.get(k) == v for k, v in match.items()):
                return message

    def close(self) -> None:
        self._connection.__exit__(None, None, None)
