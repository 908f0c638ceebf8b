"""The rig end-to-end scenarios run on: bridge + kiosk (on a virtual screen) + scripted register,
with marks to wait for what an action causes, and the demo shop's data.

A run records *checks* — what a shopper would see on the customer screen, what the cashier's POS
would receive, what the registry holds — and passes only if every check held.  The scenarios
themselves are files (simulator/scenarios/*.toml, run by simulator.replay).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from stdnum import luhn

from simulator.netfault import NetworkFault
from simulator.processes import BridgeProcess, KioskProcess, VirtualScreen
from simulator.register import ScriptedRegister

LANE = "lane-1"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Run:
    scenario: str
    checks: list[Check] = field(default_factory=list)
    error: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: object = "") -> bool:
        self.checks.append(Check(name, bool(ok), "" if ok else str(detail)))
        return bool(ok)

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.ok for c in self.checks)

    def summary(self, duration_s: float) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "ok": self.ok,
            "checks": len(self.checks),
            "failed": [f"{c.name}: {c.detail}" for c in self.checks if not c.ok],
            "error": self.error,
            "duration_s": round(duration_s, 2),
            **self.facts,
        }


@dataclass(frozen=True)
class Mark:
    """A moment in the scenario: what kiosk and register had shown and received by then."""

    kiosk: int
    register: int


@dataclass
class Rig:
    workdir: Path
    bridge: BridgeProcess
    screen: VirtualScreen
    kiosk: KioskProcess
    register: ScriptedRegister
    camera_control: Path | None = None
    # Relays between each device and the bridge, when the scenario pulls cables.
    kiosk_link: NetworkFault | None = None
    register_link: NetworkFault | None = None

    def present(self, item: str) -> None:
        """Hold ``item`` up to the kiosk's virtual camera (see simulator.virtual_camera)."""
        from simulator.virtual_camera import present

        assert self.camera_control is not None, "this scenario's kiosk has no virtual camera"
        present(self.camera_control, item)

    def mark(self) -> Mark:
        """Take one before an action; then wait ``since`` it for what the action causes."""
        return Mark(kiosk=self.kiosk.mark(), register=self.register.mark())

    async def kiosk_screen(self, screen: str, *, since: Mark,
                           timeout: float = 15.0) -> dict[str, Any]:
        """The first time the kiosk showed ``screen`` after ``since``."""
        return await asyncio.to_thread(self.kiosk.wait_screen, screen, timeout,
                                       since=since.kiosk)

    async def tap(self, button: str) -> None:
        await asyncio.to_thread(self.kiosk.tap, button)

    async def type_digits(self, digits: str) -> None:
        await asyncio.to_thread(self.kiosk.type_digits, digits)

    def customers(self) -> int:
        health = self.bridge.health()
        return int(health["customers"]) if health else -1


# --- the shop's data ------------------------------------------------------------------------


def demo_csv() -> Path:
    return Path(str(resources.files("cashier_bridge") / "data" / "demo_customers.csv"))


def demo_rows() -> list[dict[str, str]]:
    text = demo_csv().read_text(encoding="utf-8-sig")
    dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;")
    return list(csv.DictReader(text.splitlines(), dialect=dialect))


def known_customer() -> dict[str, str]:
    """The demo shop's customer 1001 (Anna), who identifies with her personnummer."""
    return next(r for r in demo_rows() if r["customer_code"].strip() == "1001")


def unknown_personnummer() -> str:
    """A valid personnummer that belongs to nobody in the demo data."""
    taken = {re.sub(r"\D", "", r.get("personal_id", "")) for r in demo_rows()}
    day = dt.date(1991, 4, 17)
    for serial in range(100, 1000):
        body = f"{day:%y%m%d}{serial:03d}"
        number = f"{day:%Y%m%d}{serial:03d}{luhn.calc_check_digit(body)}"
        if number not in taken:
            return number
    raise RuntimeError("no free personnummer")


def screen_text(probe: dict[str, Any]) -> str:
    return " | ".join(probe.get("texts", []))


# --- starting the rig ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def started_rig(workdir: Path, *, size: tuple[int, int] = (1280, 800),
                      seed_csv: Path | None = None, bridge_env: dict[str, str] | None = None,
                      kiosk_env: dict[str, str] | None = None, virtual_camera: bool = False,
                      network_links: bool = False) -> AsyncIterator[Rig]:
    """Bridge, virtual screen, kiosk and register, started and paired as an installer would,
    with the kiosk on its idle screen; all stopped again on the way out."""
    bridge = BridgeProcess(workdir)
    screen = VirtualScreen(*size)
    kiosk: KioskProcess | None = None
    register: ScriptedRegister | None = None
    links: list[NetworkFault] = []
    try:
        if seed_csv is not None:
            seeded = await asyncio.to_thread(bridge.cli, "import-csv", str(seed_csv))
            if seeded.returncode != 0:
                raise RuntimeError(f"seed data import failed: {seeded.stdout}{seeded.stderr}")
        # Devices paired as an installer would: the bridge lets in nothing else.
        kiosk_token = await asyncio.to_thread(bridge.pair, LANE, "kiosk")
        register_token = await asyncio.to_thread(bridge.pair, LANE, "register")
        await asyncio.to_thread(bridge.start, auth="required", env=bridge_env or {})
        if network_links:  # a cable per device that a scenario can pull
            for _ in range(2):
                link = NetworkFault("127.0.0.1", bridge.port)
                await link.start()
                links.append(link)
        kiosk_url, register_url = (link.url for link in links) if links else \
            (bridge.url, bridge.url)
        display = await asyncio.to_thread(screen.start)
        control = workdir / "camera-control" if virtual_camera else None
        camera = f"virtual:control={control},seed=7" if control else "none"
        kiosk = KioskProcess(workdir, kiosk_url, LANE, display, size, token=kiosk_token,
                             camera=camera, env=kiosk_env)
        await asyncio.to_thread(kiosk.start)
        register = ScriptedRegister(register_url, LANE, token=register_token)
        await register.start()
        await rig_idle(kiosk)
        yield Rig(workdir, bridge, screen, kiosk, register, camera_control=control,
                  kiosk_link=links[0] if links else None,
                  register_link=links[1] if links else None)
    finally:
        if register is not None:
            await register.stop()
        if kiosk is not None:
            kiosk.stop()
        for link in links:
            await link.close()
        screen.stop()
        bridge.stop()


async def rig_idle(kiosk: KioskProcess) -> None:
    await asyncio.to_thread(kiosk.wait_screen, "idle", 30, since=0)
