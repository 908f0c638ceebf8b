"""A scripted cashier register: the POS side of a lane, over the real websocket protocol.

It keeps every message it received, reconnects (with backoff) when the bridge goes away and
resumes from the state the bridge sends, the way a real POS integration is expected to.

Waiting is by event, never by "the latest state": a caller takes a :meth:`mark` before its action
and waits for the first matching message received after that mark, so a state left over from
before the action (or from before a reconnect) can never satisfy the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from cashier_bridge.protocol import (
    AbortMember,
    ConfirmMember,
    ConnectExisting,
    CustomerConnected,
    EndSale,
    Error,
    Hello,
    MemberDetails,
    MemberPromptEvent,
    Ping,
    Pong,
    RegisterMessage,
    RegisterState,
    Role,
    StartSale,
    dump,
    parse_register_message,
)

Predicate = Callable[[RegisterMessage], bool]


class ScriptedRegister:
    def __init__(self, bridge_url: str, lane: str, token: str | None = None) -> None:
        self.url = bridge_url.rstrip("/") + "/ws/register"
        self.lane = lane
        self.token = token
        self.received: list[RegisterMessage] = []
        self.connects = 0
        # Where in ``received`` each connection's messages begin (index 0: the first connection).
        self.connection_starts: list[int] = []
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._sale_ids = itertools.count(1)

    # --- connection ---------------------------------------------------------------------------

    async def start(self, timeout: float = 10.0) -> None:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._connected.wait(), timeout)
        await self.wait_for(lambda m: isinstance(m, RegisterState), timeout, since=0)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                async with connect(self.url, open_timeout=3) as ws:
                    self._ws = ws
                    await ws.send(dump(Hello(role=Role.register, lane=self.lane,
                                             token=self.token)))
                    async with self._changed:
                        self.connects += 1
                        self.connection_starts.append(len(self.received))
                        self._changed.notify_all()
                    self._connected.set()
                    delay = 0.1
                    async for frame in ws:
                        await self._record(parse_register_message(frame))
            # A handshake cut off half-way (a cable pulled while connecting) is one more
            # attempt that failed, like a refused connection.
            except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake,
                    TimeoutError):
                pass
            self._ws = None
            self._connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _record(self, message: RegisterMessage) -> None:
        async with self._changed:
            self.received.append(message)
            self._changed.notify_all()

    async def _send(self, message: Any, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)
        assert self._ws is not None
        await self._ws.send(dump(message))

    # --- what a cashier does ------------------------------------------------------------------

    async def start_sale(self, sale_id: str | None = None) -> str:
        sale_id = sale_id or f"sale-{next(self._sale_ids)}"
        await self._send(StartSale(sale_id=sale_id))
        return sale_id

    async def end_sale(self, sale_id: str | None = None) -> None:
        await self._send(EndSale(sale_id=sale_id))

    async def confirm(self, prompt_id: str, details: MemberDetails) -> None:
        await self._send(ConfirmMember(prompt_id=prompt_id, details=details))

    async def connect_existing(self, prompt_id: str, customer_id: int) -> None:
        await self._send(ConnectExisting(prompt_id=prompt_id, customer_id=customer_id))

    async def abort(self, prompt_id: str) -> None:
        await self._send(AbortMember(prompt_id=prompt_id))

    async def barrier(self, timeout: float = 10.0) -> None:
        """Return once the bridge has answered everything sent before: it handles one device's
        frames in order, so its pong comes after every reply to what preceded the ping."""
        mark = self.mark()
        await self._send(Ping())
        await self.wait_for(lambda m: isinstance(m, Pong), timeout, since=mark)

    # --- what a test or QA looks at -----------------------------------------------------------

    @property
    def state(self) -> RegisterState | None:
        return next((m for m in reversed(self.received) if isinstance(m, RegisterState)), None)

    def events(self, kind: type) -> list[Any]:
        return [m for m in self.received if isinstance(m, kind)]

    @property
    def errors(self) -> list[Error]:
        return self.events(Error)

    def mark(self) -> int:
        """A point in the message history; wait ``since`` it for what a later action causes."""
        return len(self.received)

    async def wait_for(self, predicate: Predicate, timeout: float = 10.0, *,
                       since: int) -> RegisterMessage:
        """The first message received at or after index ``since`` that matches."""

        async def scan() -> RegisterMessage:
            index = since
            async with self._changed:
                while True:
                    for message in self.received[index:]:
                        if predicate(message):
                            return message
                    index = len(self.received)
                    await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout)

    async def wait_connection(self, number: int, timeout: float = 10.0) -> int:
        """Wait until connection ``number`` (1 = the first) is up; where its messages begin."""

        async def opened() -> int:
            async with self._changed:
                await self._changed.wait_for(lambda: self.connects >= number)
                return self.connection_starts[number - 1]

        return await asyncio.wait_for(opened(), timeout)

    async def wait_phase(self, phase: str, timeout: float = 10.0, *,
                         since: int) -> RegisterState:
        message = await self.wait_for(
            lambda m: isinstance(m, RegisterState) and m.phase == phase, timeout, since=since)
        assert isinstance(message, RegisterState)
        return message

    async def wait_prompt(self, timeout: float = 10.0, *, since: int) -> MemberPromptEvent:
        message = await self.wait_for(lambda m: isinstance(m, MemberPromptEvent), timeout,
                                      since=since)
        assert isinstance(message, MemberPromptEvent)
        return message

    async def wait_connected(self, timeout: float = 10.0, *,
                             since: int) -> CustomerConnected:
        message = await self.wait_for(lambda m: isinstance(m, CustomerConnected), timeout,
                                      since=since)
        assert isinstance(message, CustomerConnected)
        return message
