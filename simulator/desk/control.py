"""The desk's control socket, for the tests: ``selfreg-sim desk --control PATH``.

A Unix socket taking one JSON object per line, ``{"do": ACTION, ...arguments}``, answered by one
JSON line: ``{"ok": true, "result": ..., "status": {...}}`` or ``{"ok": false, "error": "..."}``.
Each action is the coroutine the panel's button calls (``DeskApp.act_<ACTION>``), run on the
desk's loop — the Kivy thread — so a test presses the same buttons a QA engineer does.  Taps on
the customer screen are not sent here: the tests touch the window with real pointer input.

Besides the actions: ``status`` (what the kiosk shows, how many steps are recorded) and
``wait_screen`` (``screen``, ``since``, ``timeout``, optionally ``online``): the first snapshot
of that screen after snapshot number ``since`` — the tests wait for events, never sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from simulator.desk.app import DeskApp
from simulator.desk.rig import DeskError

ACTIONS = ("start_sale", "end_sale", "confirm", "abort", "connect_existing", "present",
           "flaws", "tap", "phone_open", "phone_send", "network", "bridge_kill",
           "bridge_start", "bridge_restart", "database", "language", "size", "save", "clear")


async def serve(app: DeskApp, path: Path) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                answer = await _answer(app, line)
                writer.write(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
                await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(handle, path=str(path))
    print(json.dumps({"control": str(path)}), flush=True)  # the tests start talking now
    async with server:
        await server.serve_forever()


async def _answer(app: DeskApp, line: bytes) -> dict[str, Any]:
    try:
        command = json.loads(line)
        do = command.pop("do")
    except (ValueError, KeyError, AttributeError, TypeError):
        return {"ok": False, "error": 'send {"do": ACTION, ...} as one JSON line'}
    try:
        if do == "status":
            result: Any = None
        elif do == "wait_screen":
            screen = command["screen"]
            online = command.get("online")  # optionally: and the kiosk hears (or not) the bridge
            result = await app.wait_screen(lambda s: s.get("screen") == screen and (
                                               online is None or s.get("online") is online),
                                           since=int(command.get("since", 0)),
                                           timeout=float(command.get("timeout", 30)))
        elif do in ACTIONS:
            result = await getattr(app, f"act_{do}")(**command)
        else:
            return {"ok": False, "error": f"unknown action {do!r} ({', '.join(ACTIONS)})"}
    except (DeskError, ValueError, TypeError, KeyError) as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                "status": app.status_report()}
    except TimeoutError:
        return {"ok": False, "error": f"{do}: timed out", "status": app.status_report()}
    return {"ok": True, "result": result, "status": app.status_report()}
