"""Everything around the desk's kiosk: the bridge (its own, or one it attaches to), the cables
that can be pulled, the cashier's register, the shopper's phone and the database outage.

All of it runs on the desk's asyncio loop (the one Kivy runs on), except the blocking parts —
starting a bridge, the phone's HTTP — which go to threads.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import urlsplit

from simulator.dbfault import DatabaseFaultError, DatabaseOutage
from simulator.netfault import NetworkFault
from simulator.processes import BridgeProcess
from simulator.register import ScriptedRegister
from simulator.scenarios import LANE, demo_csv

log = logging.getLogger("selfreg.desk")

# The desk's own bridge waits this long for the registry's write lock before it answers
# "unavailable" (a shop's bridge: 15 s).  A QA engineer trying the outage should not wait a
# shop's patience per tap; a recorded outage carries the setting so the replay does the same.
DESK_DB_BUSY_TIMEOUT_S = 3


class DeskError(RuntimeError):
    """Something the desk cannot do, said so that a QA engineer knows what to change."""


class DeskRig:
    def __init__(self, workdir: Path, *, attach: str | None = None,
                 kiosk_token: str | None = None, register_token: str | None = None,
                 lane: str = LANE) -> None:
        self.workdir = workdir
        self.lane = lane
        self.attach = attach
        self.bridge: BridgeProcess | None = None if attach else BridgeProcess(workdir)
        self.kiosk_token = kiosk_token
        self.register_token = register_token
        self.kiosk_link: NetworkFault | None = None
        self.register_link: NetworkFault | None = None
        self.register: ScriptedRegister | None = None
        self.outage: DatabaseOutage | None = None

    # --- life cycle -----------------------------------------------------------------------

    @property
    def bridge_url(self) -> str:
        if self.bridge is not None:
            return self.bridge.url
        assert self.attach is not None
        return self.attach

    @property
    def http_url(self) -> str:
        parts = urlsplit(self.bridge_url)
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        return f"{scheme}://{parts.netloc}"

    async def start(self) -> None:
        if self.bridge is not None:
            seeded = await asyncio.to_thread(self.bridge.cli, "import-csv", str(demo_csv()))
            if seeded.returncode != 0:
                raise DeskError(f"seeding the demo customers failed: {seeded.stderr.strip()}")
            # Paired like a shop's devices: the desk's bridge lets nothing else in.
            self.kiosk_token = await asyncio.to_thread(self.bridge.pair, self.lane, "kiosk")
            self.register_token = await asyncio.to_thread(self.bridge.pair, self.lane,
                                                          "register")
            await asyncio.to_thread(self.bridge.start, auth="required",
                                    env=self.bridge_settings_env())
        parts = urlsplit(self.bridge_url)
        if parts.scheme not in ("ws", "http") or not parts.hostname or not parts.port:
            raise DeskError(f"--bridge {self.bridge_url!r}: give ws://HOST:PORT (or http://), "
                            "with the port")
        # A cable per device that the faults panel can pull: the kiosk's and the register's.
        self.kiosk_link = NetworkFault(parts.hostname, parts.port)
        self.register_link = NetworkFault(parts.hostname, parts.port)
        await self.kiosk_link.start()
        await self.register_link.start()
        self.register = ScriptedRegister(self.register_link.url, self.lane,
                                         token=self.register_token)
        try:
            await self.register.start()
        except TimeoutError:
            raise DeskError(f"no bridge answers at {self.bridge_url} (or it refused the "
                            "register: pass --register-token)") from None

    @property
    def bridge_settings(self) -> dict[str, str | int | float | bool]:
        """The settings the desk gives its own bridge beyond the defaults."""
        return {"db_busy_timeout_s": DESK_DB_BUSY_TIMEOUT_S} if self.bridge is not None else {}

    def bridge_settings_env(self) -> dict[str, str]:
        return {f"SELFREG_{k.upper()}": str(v) for k, v in self.bridge_settings.items()}

    async def stop(self) -> None:
        self.database_back()
        if self.register is not None:
            await self.register.stop()
        for link in (self.kiosk_link, self.register_link):
            if link is not None:
                await link.close()
        if self.bridge is not None:
            await asyncio.to_thread(self.bridge.stop)

    @property
    def kiosk_url(self) -> str:
        assert self.kiosk_link is not None
        return self.kiosk_link.url

    # --- faults ---------------------------------------------------------------------------

    def links(self, device: str) -> list[NetworkFault]:
        chosen = {"kiosk": [self.kiosk_link], "register": [self.register_link],
                  "both": [self.kiosk_link, self.register_link]}[device]
        return [link for link in chosen if link is not None]

    def own_bridge(self) -> BridgeProcess:
        if self.bridge is None:
            raise DeskError("the desk is attached to a bridge it did not start: restart that "
                            "bridge (and its database) where it runs")
        return self.bridge

    @property
    def bridge_running(self) -> bool:
        proc = self.bridge.proc if self.bridge is not None else None
        return proc is not None and proc.poll() is None

    async def bridge_kill(self) -> None:
        await asyncio.to_thread(self.own_bridge().kill)

    async def bridge_start(self) -> None:
        bridge = self.own_bridge()
        if self.bridge_running:
            raise DeskError("the bridge is running: kill it first")
        await asyncio.to_thread(bridge.start, auth="required")

    @property
    def database_down(self) -> bool:
        return self.outage is not None and self.outage.down

    def database_outage(self) -> None:
        """The registry stops answering: another connection holds SQLite's write lock, as a
        backup or a stuck maintenance job would (simulator.dbfault, as the replay does).
        Every lane transition is a write, so the bridge waits out its busy timeout and tells
        the devices "unavailable"."""
        bridge = self.own_bridge()
        try:
            if self.outage is None:
                self.outage = DatabaseOutage(bridge.db_url)
            self.outage.start()
        except DatabaseFaultError as exc:
            raise DeskError(str(exc)) from None

    def database_back(self) -> None:
        if self.outage is not None:
            self.outage.stop()
