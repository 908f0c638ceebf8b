"""``selfreg-sim demo``: the whole product on one machine.

Starts the bridge on its default SQLite database (seeded with the demo customers the first time),
opens the kiosk window and the cashier console (or prints its sign-in link), and lets you play
the cashier from the console or from this terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import webbrowser
from pathlib import Path

from cashier_bridge.config import Settings, data_dir, load_settings
from cashier_bridge.protocol import (
    CustomerConnected,
    Error,
    MemberDetails,
    MemberPromptEvent,
    PromptKind,
    PromptWithdrawn,
    RegisterState,
)
from cashier_bridge.registry import Registry
from cashier_bridge.web.mobile.setup import public_url
from simulator.processes import BridgeProcess, ProcessFailed, VirtualScreen
from simulator.register import ScriptedRegister
from simulator.scenarios import demo_csv

HELP = """Register commands:
  s  start a sale (the customer screen offers Via mobil / Skanna ID / Ange ID)
  c  confirm the new member the shopper asked for (you type first and last name)
  a  abort the new-member prompt
  k ID  connect the existing customer ID the prompt suggests instead
  e  end the sale
  p ITEM  hold ITEM up to the kiosk's virtual camera (Skanna ID): card-code128:1001,
          card-qr:1001, card-ean13:1001, vcard, mecard, licence, garbage, nothing
  q  quit
Try Ange ID with Anna's personnummer or phone from the demo data (customer 1001), or press
Skanna ID and hold up her card (p card-qr:1001) or a licence nobody has (p licence)."""


def _describe(message: object) -> str | None:
    if isinstance(message, CustomerConnected):
        c = message.customer
        new = " (NEW MEMBER)" if c.is_new else ""
        return (f"** customer connected{new}: {c.customer_code} {c.first_name} {c.last_name}"
                f" phone {c.phone or '-'} id {c.personal_id_masked or '-'}"
                f" matched on {c.matched_on or '-'}")
    if isinstance(message, MemberPromptEvent) and \
            message.prompt.kind is PromptKind.details_mismatch:
        p = message.prompt
        lines = [f"** details don't match the member on file: the phone sent id "
                 f"{p.personal_id_masked or '-'}, phone {p.phone or '-'}, name "
                 f"{p.first_name or '-'} {p.last_name or ''} — check their ID, a to abort"]
        lines += [f"   on file ({d.matched_on}): {d.id} {d.customer_code} {d.first_name} "
                  f"{d.last_name} phone {d.phone or '-'} — k {d.id} to connect them"
                  for d in p.possible_duplicates]
        return "\n".join(lines)
    if isinstance(message, MemberPromptEvent):
        p = message.prompt
        lines = [f"** shopper wants to become a member: id {p.personal_id_masked or '-'}, born "
                 f"{p.birth_date or '-'}, phone {p.phone or '-'}, name "
                 f"{p.first_name or '-'} {p.last_name or ''} — c to confirm, a to abort"]
        lines += [f"   possibly already a customer ({d.matched_on}): {d.id} {d.customer_code} "
                  f"{d.first_name} {d.last_name} — k {d.id} to connect instead"
                  for d in p.possible_duplicates]
        return "\n".join(lines)
    if isinstance(message, PromptWithdrawn):
        return f"** member prompt withdrawn ({message.reason})"
    if isinstance(message, RegisterState):
        return f"   lane is {message.phase.value}"
    if isinstance(message, Error):
        return f"!! {message.code.value}: {message.message}"
    return None


async def _echo(register: ScriptedRegister) -> None:
    seen = 0
    while True:
        await register.wait_for(lambda m: True, timeout=3600, since=seen)
        for message in register.received[seen:]:
            line = _describe(message)
            if line:
                print(line, flush=True)
        seen = len(register.received)


async def _console(register: ScriptedRegister, camera_control: Path | None = None) -> None:
    print(HELP, flush=True)
    while True:
        command = (await asyncio.to_thread(input, "register> ")).strip().lower()
        if command in ("q", "quit", "exit"):
            return
        if command == "s":
            print(f"   sale {await register.start_sale()} started")
        elif command == "e":
            await register.end_sale()
        elif command.startswith("p"):
            _present(camera_control, command[1:].strip())
        elif command.startswith("k "):
            state = register.state
            prompt = state.view.prompt if state else None
            if prompt is None or not command[2:].strip().isdigit():
                print("   no member prompt is open, or no customer id given")
                continue
            await register.connect_existing(prompt.prompt_id, int(command[2:]))
        elif command in ("c", "a"):
            state = register.state
            prompt = state.view.prompt if state else None
            if prompt is None:
                print("   no member prompt is open")
                continue
            if command == "a":
                await register.abort(prompt.prompt_id)
                continue
            first = (await asyncio.to_thread(input, "first name: ")).strip()
            last = (await asyncio.to_thread(input, "last name: ")).strip()
            if not first or not last:
                print("   first and last name are needed")
                continue
            await register.confirm(prompt.prompt_id, MemberDetails(first_name=first,
                                                                   last_name=last))
        elif command:
            print(HELP)


async def _demo(settings: Settings) -> int:
    work = data_dir()
    work.mkdir(parents=True, exist_ok=True)
    bridge = BridgeProcess(work, settings.db_url, host=settings.host)
    bridge.port = settings.port
    if await asyncio.to_thread(_customers, settings.db_url) == 0:
        seeded = await asyncio.to_thread(bridge.cli, "import-csv", str(demo_csv()))
        print("demo customers:", seeded.stdout.strip() or seeded.stderr.strip())
    try:
        await asyncio.to_thread(bridge.start)
    except ProcessFailed as exc:
        print(f"the bridge did not start (is port {settings.port} in use?): {exc}")
        return 1
    print(f"bridge running on {bridge.url} (database {settings.db_url}); log {bridge.log_path}")
    # Only paired devices get in, on loopback too: the demo pairs its kiosk and register as an
    # installer would (the lane's earlier pairings, an earlier demo's, are revoked).
    kiosk_token, register_token = await asyncio.to_thread(_pair_demo_devices, settings.db_url,
                                                          settings.lane)
    print(f"the kiosk and this register are paired with lane {settings.lane} "
          f"(selfreg-bridge pair --lane {settings.lane} pairs real ones)")
    phone_url = bridge.http_url if settings.host.startswith("127.") else public_url(settings)
    print(f"Via mobil: the kiosk's QR code leads to {phone_url}/m/… "
          + ("(this machine only: for a phone on your network run SELFREG_HOST=0.0.0.0 "
             "./demo.sh)" if settings.host.startswith("127.") else "(phones on your network)"))
    console_url = await asyncio.to_thread(_console_link, settings.db_url, settings.lane,
                                          phone_url)
    print(f"Cashier console (a one-time sign-in link, valid for an hour): {console_url}")
    demo_admin = await asyncio.to_thread(_demo_admin, settings.db_url)
    print(f"Back office: {phone_url}/admin"
          + (f" — sign in as {DEMO_ADMIN} with password {demo_admin!r} (made for this demo; "
             "staff add makes real accounts)" if demo_admin else ""))
    if os.environ.get("DISPLAY"):  # a desktop: the cashier's screen is this browser
        _open_in_browser(console_url)
    screen: VirtualScreen | None = None
    display = os.environ.get("DISPLAY")
    if not display:
        screen = VirtualScreen(1280, 800)
        display = await asyncio.to_thread(screen.start)
        print(f"no screen here: the kiosk runs on virtual screen {display}")
    camera, control = choose_camera(settings, work)
    print("Skanna ID uses " + ("the virtual camera: hold things up to it with p ITEM"
                               if control else f"camera {camera}"))
    kiosk = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "--bridge", bridge.url, "--lane", settings.lane],
        # The token in the environment, not on the command line, where `ps` shows it to anyone.
        env={**os.environ, "DISPLAY": display, "SELFREG_CAMERA": camera,
             "SELFREG_DEVICE_TOKEN": kiosk_token},
        stdout=(work / "kiosk.log").open("ab"), stderr=subprocess.STDOUT)
    register = ScriptedRegister(bridge.url, settings.lane, token=register_token)
    try:
        await register.start()
        echo = asyncio.create_task(_echo(register))
        await _console(register, control)
        echo.cancel()
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        await register.stop()
        kiosk.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            kiosk.wait(10)
        bridge.stop()
        if screen:
            screen.stop()
    return 0


def choose_camera(settings: Settings, work: Path, webcam: Path = Path("/dev/video0")
                  ) -> tuple[str, Path | None]:
    """The machine's webcam when it has one (and none was configured); else the simulator's
    virtual camera, steered from this terminal through a control file."""
    if os.environ.get("SELFREG_CAMERA") or settings.camera not in ("", "auto", "0"):
        return settings.camera, None
    if settings.camera == "0" and webcam.exists():
        return "0", None
    control = work / "camera-control"
    return f"virtual:control={control}", control


def _present(control: Path | None, item: str) -> None:
    from simulator.virtual_camera import present

    if control is None:
        print("   the kiosk uses a real camera: hold the card up to it")
        return
    try:
        present(control, item or "nothing")
    except ValueError as exc:
        print(f"   {exc}")
        return
    print(f"   holding up {item or 'nothing'}")


DEMO_ADMIN = "demo-admin"


def _demo_admin(db_url: str) -> str | None:
    """The first time, an admin for the demo's back office; its password (None later: an
    account exists, and its password was shown when it was made)."""
    registry = Registry.open(db_url)
    try:
        if registry.staff.count():
            return None
        password = secrets.token_urlsafe(9)
        registry.staff.add(DEMO_ADMIN, password, "admin", display_name="Demo admin")
        return password
    finally:
        registry.close()


def _pair_demo_devices(db_url: str, lane: str) -> tuple[str, str]:
    """Tokens for the demo's kiosk and register of ``lane``."""
    registry = Registry.open(db_url)
    try:
        registry.devices.revoke(lane)
        return (registry.devices.pair(lane, "kiosk", label="demo").token,
                registry.devices.pair(lane, "register", label="demo").token)
    finally:
        registry.close()


def _console_link(db_url: str, lane: str, base_url: str) -> str:
    """A sign-in link that makes a browser this lane's register (the cashier console)."""
    registry = Registry.open(db_url)
    try:
        code = registry.devices.issue_sign_in(lane, "register")
    finally:
        registry.close()
    return f"{base_url}/console/sign-in?code={code}"


def _open_in_browser(url: str) -> None:
    """Open ``url`` in a desktop browser; never in a text browser, which would take over the
    terminal the register is played from."""
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return
    if isinstance(browser, webbrowser.GenericBrowser) and not isinstance(
            browser, webbrowser.BackgroundBrowser):
        return
    browser.open(url)


def _customers(db_url: str) -> int:
    registry = Registry.open(db_url)
    try:
        return registry.customers.count()
    finally:
        registry.close()


def run() -> int:
    settings = load_settings()
    return asyncio.run(_demo(settings))
