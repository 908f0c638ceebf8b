"""The bridge link on its own, without Kivy: backoff, hello, states in, intents out, reconnect."""

from __future__ import annotations

import asyncio

from websockets.asyncio.server import ServerConnection, serve

from cashier_bridge.protocol import (
    Cancel,
    Error,
    ErrorCode,
    Hello,
    KioskState,
    KioskView,
    Phase,
    Role,
    Welcome,
    dump,
    parse_intent,
)
from kiosk.link import Backoff, BridgeLink, kiosk_ws_url


def test_backoff_doubles_from_200_ms_to_a_5_s_cap_without_jitter() -> None:
    backoff = Backoff(rand=lambda: 0.0)
    assert [backoff.next() for _ in range(8)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]


def test_backoff_jitter_stretches_each_delay_but_never_past_the_cap() -> None:
    backoff = Backoff(rand=lambda: 1.0, jitter=0.25)
    delays = [backoff.next() for _ in range(7)]
    assert delays[:3] == [0.25, 0.5, 1.0]
    assert max(delays) == 5.0


def test_backoff_starts_over_after_a_successful_connect() -> None:
    backoff = Backoff(rand=lambda: 0.0)
    for _ in range(4):
        backoff.next()
    backoff.reset()
    assert backoff.next() == 0.2


def test_the_kiosk_endpoint_is_derived_from_the_bridge_address() -> None:
    assert kiosk_ws_url("ws://127.0.0.1:8765") == "ws://127.0.0.1:8765/ws/kiosk"
    assert kiosk_ws_url("http://bridge.local:80/") == "ws://bridge.local:80/ws/kiosk"
    assert kiosk_ws_url("wss://b.example/ws/kiosk") == "wss://b.example/ws/kiosk"


async def test_link_says_hello_delivers_states_sends_intents_and_reconnects() -> None:
    received: list[object] = []
    online: list[bool] = []
    intents: asyncio.Queue[object] = asyncio.Queue()
    states = iter([3, 4])

    async def handler(ws: ServerConnection) -> None:
        hello = parse_intent(await ws.recv())
        await intents.put(hello)
        await ws.send(dump(Welcome(role=Role.kiosk, lane="lane-7", server_version="t")))
        await ws.send(dump(KioskState(lane="lane-7", phase=Phase.choosing, seq=next(states),
                                      view=KioskView())))
        await ws.send("{not json")  # ignored, the link stays up
        async for frame in ws:
            await intents.put(parse_intent(frame))

    async def wait_for(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.01)

    server = await serve(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = BridgeLink(f"ws://127.0.0.1:{port}", "lane-7", on_message=received.append,
                      on_online=online.append, backoff=Backoff(initial=0.05, cap=0.2))
    task = asyncio.create_task(link.run())
    try:
        assert await asyncio.wait_for(intents.get(), 5) == Hello(role=Role.kiosk, lane="lane-7")
        await wait_for(lambda: any(isinstance(m, KioskState) for m in received))
        assert online == [True]
        assert await link.send(Cancel())
        assert await asyncio.wait_for(intents.get(), 5) == Cancel()

        server.close()
        await server.wait_closed()
        await wait_for(lambda: online == [True, False])
        assert not await link.send(Cancel())  # offline: dropped, not queued for later

        server = await serve(handler, "127.0.0.1", port)
        await wait_for(lambda: online == [True, False, True])
        await wait_for(lambda: [m.seq for m in received if isinstance(m, KioskState)] == [3, 4])
        assert link.connects == 2
    finally:
        await link.stop()
        task.cancel()
        server.close()


class RecordingBackoff(Backoff):
    def __init__(self) -> None:
        super().__init__(initial=0.01, cap=0.16, rand=lambda: 0.0)
        self.delays: list[float] = []

    def next(self) -> float:
        self.delays.append(super().next())
        return self.delays[-1]


async def test_a_bridge_that_refuses_the_kiosk_is_asked_again_ever_more_slowly() -> None:
    """Connecting is not being let in: an unpaired kiosk backs off to the cap instead of
    saying hello five times a second for as long as nobody pairs it."""
    refusals = 0

    async def refuse(ws: ServerConnection) -> None:
        nonlocal refusals
        await ws.recv()
        await ws.send(dump(Error(code=ErrorCode.unauthorized, message="not paired")))
        refusals += 1
        await ws.close(1008)

    server = await serve(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    backoff = RecordingBackoff()
    errors: list[object] = []
    link = BridgeLink(f"ws://127.0.0.1:{port}", "lane-7", on_message=errors.append,
                      on_online=lambda online: None, backoff=backoff)
    task = asyncio.create_task(link.run())
    try:
        async with asyncio.timeout(10):
            while len(backoff.delays) < 6:
                await asyncio.sleep(0.01)
    finally:
        await link.stop()
        task.cancel()
        server.close()
    assert backoff.delays[:6] == [0.01, 0.02, 0.04, 0.08, 0.16, 0.16]
    assert refusals >= 5 and all(isinstance(e, Error) for e in errors)
