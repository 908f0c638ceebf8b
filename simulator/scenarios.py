"""Named end-to-end scenarios: bridge + kiosk (on a virtual screen) + scripted register.

Each scenario records *checks* — what a shopper would see on the customer screen, what the
cashier's POS would receive, what the registry holds — and passes only if every check held.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from stdnum import luhn

from cashier_bridge.protocol import (
    CustomerConnected,
    MemberDetails,
    MemberPromptEvent,
    PromptWithdrawn,
)

from .processes import BridgeProcess, KioskProcess, VirtualScreen
from .register import ScriptedRegister

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

    def present(self, item: str) -> None:
        """Hold ``item`` up to the kiosk's virtual camera (see simulator.virtual_camera)."""
        from .virtual_camera import present

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


def shows_no_personal_data(probe: dict[str, Any], *secrets: str) -> bool:
    text = screen_text(probe)
    return not any(s and s in text for s in secrets)


def logs_hold_no_personal_data(rig: Rig, *secrets: str) -> tuple[bool, str]:
    """Bridge and kiosk logs name lanes and customer ids, never the person."""
    for log in (rig.bridge.log_path, rig.kiosk.log_path):
        text = log.read_text(errors="replace") if log.exists() else ""
        leaked = [s for s in secrets if s and s in text]
        if leaked:
            return False, f"{log.name} contains {leaked}"
    return True, ""


# --- the scenarios --------------------------------------------------------------------------


async def _to_numpad(rig: Rig, run: Run) -> None:
    mark = rig.mark()
    await rig.register.start_sale()
    shown = await rig.kiosk_screen("choose", since=mark)
    run.check("sale start shows the three choices",
              {"choose_mobile", "choose_scan", "choose_numpad"} <= set(shown["buttons"]),
              shown.get("buttons"))
    mark = rig.mark()
    await rig.tap("choose_numpad")
    await rig.kiosk_screen("numpad", since=mark)


async def _register_new_member_until_cashier(rig: Rig, run: Run, pnr: str) -> str:
    await _to_numpad(rig, run)
    await rig.type_digits(pnr)
    mark = rig.mark()
    await rig.tap("key_ok")
    asked = await rig.kiosk_screen("ask_member", since=mark)
    masked = f"{pnr[:8]}-****"
    run.check("ask-member screen shows the masked personnummer", masked in screen_text(asked),
              screen_text(asked))
    run.check("ask-member screen never shows the whole number",
              shows_no_personal_data(asked, pnr, pnr[2:]), screen_text(asked))
    mark = rig.mark()
    await rig.tap("yes")
    await rig.kiosk_screen("waiting", since=mark)
    prompt = (await rig.register.wait_prompt(15, since=mark.register)).prompt
    run.check("register prompt carries masked id and birth date",
              prompt.personal_id_masked == masked
              and prompt.birth_date == f"{pnr[:4]}-{pnr[4:6]}-{pnr[6:8]}",
              prompt)
    return prompt.prompt_id


async def _end_sale(rig: Rig) -> dict[str, Any]:
    mark = rig.mark()
    await rig.register.end_sale()
    return await rig.kiosk_screen("idle", since=mark)


async def ange_id_known(rig: Rig, run: Run) -> None:
    anna = known_customer()
    pnr = re.sub(r"\D", "", anna["personal_id"])
    await _to_numpad(rig, run)
    await rig.type_digits(pnr)
    mark = rig.mark()
    await rig.tap("key_ok")
    welcome = await rig.kiosk_screen("welcome", since=mark)
    run.check("kiosk greets the shopper by first name",
              f"Välkommen, {anna['first_name']}!" in welcome["texts"], screen_text(welcome))
    run.check("kiosk shows no last name, phone or personnummer",
              shows_no_personal_data(welcome, anna["last_name"], pnr, pnr[-4:]),
              screen_text(welcome))
    event = await rig.register.wait_connected(15, since=mark.register)
    run.check("register receives customer connected with customer 1001",
              event.customer.customer_code == "1001"
              and event.customer.first_name == anna["first_name"]
              and event.customer.last_name == anna["last_name"], event.customer)
    run.check("register learns it matched on the personnummer",
              event.customer.matched_on == "personnummer", event.customer.matched_on)
    idle = await _end_sale(rig)
    run.check("after the sale nothing personal stays on the screen",
              shows_no_personal_data(idle, anna["first_name"], anna["last_name"]),
              screen_text(idle))
    run.check("the logs hold no personal data",
              *logs_hold_no_personal_data(rig, pnr, pnr[2:], anna["last_name"],
                                          event.customer.phone or ""))


async def ange_id_new_member(rig: Rig, run: Run) -> None:
    pnr = unknown_personnummer()
    before = rig.customers()
    prompt_id = await _register_new_member_until_cashier(rig, run, pnr)
    mark = rig.mark()
    await rig.register.confirm(prompt_id, MemberDetails(first_name="Berit", last_name="Berg",
                                                        email="berit.berg@example.se",
                                                        marketing_consent=True))
    event = await rig.register.wait_connected(15, since=mark.register)
    run.check("register receives the new member as connected",
              event.customer.is_new and event.customer.first_name == "Berit"
              and event.customer.personal_id_masked == f"{pnr[:8]}-****", event.customer)
    welcome = await rig.kiosk_screen("welcome", since=mark)
    run.check("kiosk welcomes the new member", "Välkommen, Berit!" in welcome["texts"],
              screen_text(welcome))
    run.check("exactly one customer was created", rig.customers() == before + 1,
              f"{before} -> {rig.customers()}")
    await _end_sale(rig)
    run.check("the logs hold no personal data",
              *logs_hold_no_personal_data(rig, pnr, pnr[2:], "Berg", "berit.berg@example.se"))
    run.facts["customer_code"] = event.customer.customer_code


async def ange_id_abort(rig: Rig, run: Run) -> None:
    before = rig.customers()
    prompt_id = await _register_new_member_until_cashier(rig, run, unknown_personnummer())
    mark = rig.mark()
    await rig.register.abort(prompt_id)
    back = await rig.kiosk_screen("choose", since=mark)
    run.check("after the cashier aborts, the kiosk offers the choices again",
              "choose_numpad" in back["buttons"], back.get("buttons"))
    run.check("no customer was created", rig.customers() == before,
              f"{before} -> {rig.customers()}")
    run.check("the register was never told a customer connected",
              not rig.register.events(CustomerConnected), rig.register.events(CustomerConnected))
    run.check("no protocol errors", not rig.register.errors, rig.register.errors)
    await _end_sale(rig)


async def bridge_restart(rig: Rig, run: Run) -> None:
    before = rig.customers()
    pnr = unknown_personnummer()
    prompt_id = await _register_new_member_until_cashier(rig, run, pnr)
    connections = rig.register.connects
    mark = rig.mark()
    rig.bridge.kill()
    offline = await rig.kiosk_screen("offline", since=mark, timeout=15)
    run.check("kiosk shows it is reconnecting, without personal data",
              shows_no_personal_data(offline, pnr, f"{pnr[:8]}-****"), screen_text(offline))
    mark = rig.mark()
    await asyncio.to_thread(rig.bridge.start, auth="required")
    resumed = await rig.kiosk_screen("waiting", since=mark, timeout=30)
    run.check("kiosk resumes waiting for the cashier, online again", resumed.get("online"),
              resumed)
    try:
        start = await rig.register.wait_connection(connections + 1, 30)
    except TimeoutError:
        run.check("register reconnected", False, f"still {rig.register.connects} connection(s)")
        return
    state = await rig.register.wait_phase("await_cashier", 30, since=start)
    run.check("register resumes with the same open prompt",
              state.view.prompt is not None and state.view.prompt.prompt_id == prompt_id,
              state.view.prompt)
    details = MemberDetails(first_name="Cecilia", last_name="Ek")
    mark = rig.mark()
    await rig.register.confirm(prompt_id, details)
    event = await rig.register.wait_connected(15, since=mark.register)
    await rig.register.confirm(prompt_id, details)  # a POS retrying after the outage
    welcome = await rig.kiosk_screen("welcome", since=mark)
    run.check("kiosk welcomes the new member after the restart",
              "Välkommen, Cecilia!" in welcome["texts"], screen_text(welcome))
    await rig.register.barrier()  # every answer to the retry has arrived
    connected = [m for m in rig.register.received[mark.register:]
                 if isinstance(m, CustomerConnected)]
    run.check("the register was told exactly once", len(connected) == 1, len(connected))
    run.check("exactly one customer was created", rig.customers() == before + 1,
              f"{before} -> {rig.customers()}")
    run.check("the prompt was not withdrawn", not rig.register.events(PromptWithdrawn),
              rig.register.events(PromptWithdrawn))
    run.check("the new member is the one the cashier confirmed",
              event.customer.first_name == "Cecilia" and event.customer.is_new, event.customer)
    await _end_sale(rig)
    run.facts["bridge_starts"] = rig.bridge.starts


async def _to_scan(rig: Rig, run: Run) -> dict[str, Any]:
    mark = rig.mark()
    await rig.register.start_sale()
    await rig.kiosk_screen("choose", since=mark)
    mark = rig.mark()
    await rig.tap("choose_scan")
    await rig.kiosk_screen("scan", since=mark)
    live = await asyncio.to_thread(
        rig.kiosk.wait_for, lambda p: (p.get("camera") or {}).get("live"), 20,
        "the camera picture", mark.kiosk)
    run.check("Skanna ID shows the live camera picture", live["screen"] == "scan", live)
    return live


async def _scan_new_member(rig: Rig, run: Run, item: str, first: str, last: str) -> None:
    before = rig.customers()
    await _to_scan(rig, run)
    mark = rig.mark()
    rig.present(item)
    asked = await rig.kiosk_screen("ask_member", since=mark, timeout=30)
    run.check("a document that matches nobody asks the shopper to become a member",
              asked["phase"] == "ask_member", asked)
    mark = rig.mark()
    rig.present("nothing")  # the shopper lowers the card
    await rig.tap("yes")
    await rig.kiosk_screen("waiting", since=mark)
    prompt = (await rig.register.wait_prompt(15, since=mark.register)).prompt
    run.check("the cashier's prompt carries the document's names",
              (prompt.first_name or "").casefold() == first.casefold()
              and (prompt.last_name or "").casefold() == last.casefold(), prompt)
    run.check("the prompt says the data came from a scan", prompt.source == "scan",
              prompt.source)
    mark = rig.mark()
    await rig.register.confirm(prompt.prompt_id, MemberDetails(
        first_name=first, last_name=last, email=prompt.email))
    event = await rig.register.wait_connected(15, since=mark.register)
    welcome = await rig.kiosk_screen("welcome", since=mark)
    run.check("the kiosk welcomes the new member by first name",
              f"Välkommen, {first}!" in welcome["texts"], screen_text(welcome))
    run.check("exactly one customer was created",
              event.customer.is_new and rig.customers() == before + 1,
              f"{before} -> {rig.customers()}")
    await _end_sale(rig)


async def skanna_card(rig: Rig, run: Run) -> None:
    anna = known_customer()
    await _to_scan(rig, run)
    mark = rig.mark()
    rig.present("card-code128:1001")
    welcome = await rig.kiosk_screen("welcome", since=mark, timeout=30)
    run.check("kiosk greets the card's holder by first name",
              f"Välkommen, {anna['first_name']}!" in welcome["texts"], screen_text(welcome))
    event = await rig.register.wait_connected(15, since=mark.register)
    run.check("register receives customer 1001, matched on the card",
              event.customer.customer_code == "1001"
              and event.customer.matched_on == "customer_code", event.customer)
    rig.present("nothing")
    await rig.register.barrier()
    connected = rig.register.events(CustomerConnected)
    run.check("one card held up gives one identification", len(connected) == 1, connected)
    await _end_sale(rig)
    run.check("the logs hold no personal data",
              *logs_hold_no_personal_data(rig, anna["last_name"], event.customer.phone or ""))


async def skanna_vcard_new(rig: Rig, run: Run) -> None:
    await _scan_new_member(rig, run, "vcard", "Sara", "Lind")


async def skanna_licence_new(rig: Rig, run: Run) -> None:
    await _scan_new_member(rig, run, "licence", "Maja", "Lindqvist")


def _scan_try_again_lines() -> set[str]:
    """What the kiosk may say (in Swedish) when a scanned code is no ID it can use."""
    from kiosk.i18n import gettext
    from kiosk.screens import NOTICES, SCAN_NOTICES

    codes = ("unrecognised", "unreadable", "no_identity", "incomplete", "invalid_format")
    return {gettext("sv", SCAN_NOTICES.get(c) or NOTICES[c]) for c in codes
            if c in SCAN_NOTICES or c in NOTICES}


async def skanna_unreadable(rig: Rig, run: Run) -> None:
    await _to_scan(rig, run)
    mark = rig.mark()
    rig.present("garbage")
    told = await asyncio.to_thread(
        rig.kiosk.wait_for, lambda p: p.get("screen") == "scan"
        and any(line in p.get("texts", []) for line in _scan_try_again_lines()), 30,
        "a try-again line", mark.kiosk)
    run.check("garbage held up gets a clear try-again on the scan screen",
              told["screen"] == "scan", screen_text(told))
    run.check("the camera keeps running so the shopper can hold up another code",
              (told.get("camera") or {}).get("status") == "live", told.get("camera"))
    await rig.register.barrier()
    sent = [m for m in rig.register.received[mark.register:]
            if isinstance(m, CustomerConnected | MemberPromptEvent)]
    run.check("nothing was sent to the register", not sent, sent)
    run.check("no protocol errors", not rig.register.errors, rig.register.errors)
    rig.present("nothing")
    await _end_sale(rig)


async def skanna_no_camera(rig: Rig, run: Run) -> None:
    mark = rig.mark()
    await rig.register.start_sale()
    await rig.kiosk_screen("choose", since=mark)
    mark = rig.mark()
    await rig.tap("choose_scan")
    shown = await asyncio.to_thread(
        rig.kiosk.wait_for, lambda p: p.get("screen") == "scan"
        and (p.get("camera") or {}).get("status") == "failed", 20, "the no-camera message",
        mark.kiosk)
    run.check("Skanna ID says there is no camera",
              any("kamera" in t.lower() for t in shown["texts"]), screen_text(shown))
    kiosk_log = rig.kiosk.log_path.read_text(errors="replace").lower()
    run.check("the kiosk's log says why, for the installer",
              "camera" in kiosk_log and ("none" in kiosk_log or "no camera" in kiosk_log),
              kiosk_log[-800:])
    run.check("and offers Ange ID instead", "enter_id" in shown["buttons"], shown["buttons"])
    mark = rig.mark()
    await rig.tap("enter_id")
    await rig.kiosk_screen("numpad", since=mark)
    anna = known_customer()
    await rig.type_digits(re.sub(r"\D", "", anna["personal_id"]))
    mark = rig.mark()
    await rig.tap("key_ok")
    welcome = await rig.kiosk_screen("welcome", since=mark)
    run.check("Ange ID still works", f"Välkommen, {anna['first_name']}!" in welcome["texts"],
              screen_text(welcome))
    await _end_sale(rig)


async def _to_mobile(rig: Rig, run: Run) -> str:
    """Via mobil chosen on the kiosk; the URL a phone reads off the screen."""
    from .phone import read_qr

    mark = rig.mark()
    await rig.register.start_sale()
    await rig.kiosk_screen("choose", since=mark)
    mark = rig.mark()
    await rig.tap("choose_mobile")
    shown = await rig.kiosk_screen("mobile", since=mark)
    urls = await asyncio.to_thread(read_qr, rig.screen.display)
    run.check("the kiosk shows one QR code, to this bridge's phone page",
              len(urls) == 1 and urls[0].startswith(rig.bridge.http_url + "/m/"), urls)
    run.check("the screen says how long the code lasts",
              any(t.startswith("Koden gäller i") for t in shown["texts"]), screen_text(shown))
    return urls[0] if urls else ""


async def via_mobil_known(rig: Rig, run: Run) -> None:
    from .phone import Phone

    anna = known_customer()
    pnr = re.sub(r"\D", "", anna["personal_id"])
    url = await _to_mobile(rig, run)
    phone = Phone()
    form = await asyncio.to_thread(phone.open, url)
    run.check("the phone page asks for the details", form.status == 200 and
              form.says("personnummer"), form.text[:300])
    mark = rig.mark()
    answer = await asyncio.to_thread(phone.send, anna["first_name"], anna["last_name"],
                                     anna["phone"], pnr)
    event = await rig.register.wait_connected(15, since=mark.register)
    run.check("the register hears that customer 1001 connected",
              event.customer.customer_code == "1001", event.customer)
    welcome = await rig.kiosk_screen("welcome", since=mark)
    run.check("the kiosk greets her by first name",
              f"Välkommen, {anna['first_name']}!" in welcome["texts"], screen_text(welcome))
    shown = answer if answer.says(anna["first_name"]) else \
        await asyncio.to_thread(phone.reload)
    run.check("the phone says she is connected", shown.says(anna["first_name"]), shown.text[:300])
    run.check("the kiosk never showed her personnummer or phone",
              shows_no_personal_data(welcome, pnr, anna["phone"]), screen_text(welcome))
    await _end_sale(rig)
    run.check("the logs hold no personal data",
              *logs_hold_no_personal_data(rig, pnr, pnr[2:], anna["last_name"]))


async def via_mobil_new_member(rig: Rig, run: Run) -> None:
    from .phone import Phone

    pnr = unknown_personnummer()
    before = rig.customers()
    url = await _to_mobile(rig, run)
    phone = Phone()
    await asyncio.to_thread(phone.open, url)
    mark = rig.mark()
    await asyncio.to_thread(phone.send, "Linnea", "Lund", "070-555 12 34", pnr, member=True)
    prompt = (await rig.register.wait_prompt(15, since=mark.register)).prompt
    run.check("the cashier's prompt carries what the shopper shared on the phone",
              (prompt.first_name, prompt.last_name, prompt.phone, prompt.personal_id_masked)
              == ("Linnea", "Lund", "+46705551234", f"{pnr[:8]}-****"), prompt)
    waiting = await rig.kiosk_screen("waiting", since=mark)
    run.check("having said yes on the phone, the shopper waits for the cashier",
              waiting["screen"] == "waiting", waiting)
    mark = rig.mark()
    await rig.register.confirm(prompt.prompt_id, MemberDetails(first_name="Linnea",
                                                               last_name="Lund"))
    event = await rig.register.wait_connected(15, since=mark.register)
    run.check("exactly one new customer", event.customer.is_new
              and rig.customers() == before + 1, f"{before} -> {rig.customers()}")
    await rig.kiosk_screen("welcome", since=mark)
    card = await asyncio.to_thread(phone.reload)
    run.check("the phone shows the member card with the customer code",
              card.says(event.customer.customer_code), card.text[:300])
    await _end_sale(rig)


async def via_mobil_expired(rig: Rig, run: Run) -> None:
    from .phone import Phone, read_qr

    old = await _to_mobile(rig, run)
    # The code lasts seconds in this scenario's bridge: the kiosk asks for a new one itself.
    renewed: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        renewed = [u for u in await asyncio.to_thread(read_qr, rig.screen.display) if u != old]
        if renewed:
            break
        await asyncio.sleep(0.5)
    run.check("the kiosk renews a code that ran out unused", len(renewed) == 1, renewed)
    phone = Phone()
    late = await asyncio.to_thread(phone.open, old)
    run.check("the old code gets a clear page saying what to do",
              late.status == 410 and late.says("Skanna koden som visas på skärmen"),
              (late.status, late.text[:300]))
    fresh = await asyncio.to_thread(phone.open, renewed[0]) if renewed else None
    run.check("the new code opens the form", fresh is not None and fresh.status == 200,
              fresh and fresh.status)
    await _end_sale(rig)


SCENARIOS: dict[str, Callable[[Rig, Run], Awaitable[None]]] = {
    "ange-id-known": ange_id_known,
    "ange-id-new-member": ange_id_new_member,
    "ange-id-abort": ange_id_abort,
    "bridge-restart": bridge_restart,
    "skanna-card": skanna_card,
    "skanna-vcard-new": skanna_vcard_new,
    "skanna-licence-new": skanna_licence_new,
    "skanna-unreadable": skanna_unreadable,
    "skanna-no-camera": skanna_no_camera,
    "via-mobil-known": via_mobil_known,
    "via-mobil-new-member": via_mobil_new_member,
    "via-mobil-expired": via_mobil_expired,
}
# Bridge settings a scenario needs beyond the defaults.
BRIDGE_ENV = {"via-mobil-expired": {"SELFREG_MOBILE_TOKEN_S": "4"}}
# Scenarios whose kiosk has the simulator's virtual camera (the others have none).
VIRTUAL_CAMERA = frozenset({"skanna-card", "skanna-vcard-new", "skanna-licence-new",
                            "skanna-unreadable"})


async def run_scenario(name: str, workdir: Path, *, size: tuple[int, int] = (1280, 800),
                       timeout: float = 180.0) -> dict[str, Any]:
    scenario = SCENARIOS[name]
    run = Run(name)
    started = time.monotonic()
    bridge = BridgeProcess(workdir)
    screen = VirtualScreen(*size)
    kiosk: KioskProcess | None = None
    register: ScriptedRegister | None = None
    try:
        seeded = await asyncio.to_thread(bridge.cli, "import-csv", str(demo_csv()))
        if seeded.returncode != 0:
            raise RuntimeError(f"demo data import failed: {seeded.stdout}{seeded.stderr}")
        # Devices paired as an installer would: the bridge lets in nothing else.
        kiosk_token = await asyncio.to_thread(bridge.pair, LANE, "kiosk")
        register_token = await asyncio.to_thread(bridge.pair, LANE, "register")
        await asyncio.to_thread(bridge.start, auth="required", env=BRIDGE_ENV.get(name, {}))
        display = await asyncio.to_thread(screen.start)
        control = workdir / "camera-control" if name in VIRTUAL_CAMERA else None
        camera = f"virtual:control={control},seed=7" if control else "none"
        kiosk = KioskProcess(workdir, bridge.url, LANE, display, size, token=kiosk_token,
                             camera=camera)
        await asyncio.to_thread(kiosk.start)
        register = ScriptedRegister(bridge.url, LANE, token=register_token)
        await register.start()
        await rig_idle(kiosk)
        rig = Rig(workdir, bridge, screen, kiosk, register, camera_control=control)
        await asyncio.wait_for(scenario(rig, run), timeout)
    except Exception as exc:  # a scenario that cannot finish is a failed scenario
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        if register is not None:
            await register.stop()
        if kiosk is not None:
            kiosk.stop()
        screen.stop()
        bridge.stop()
    return run.summary(time.monotonic() - started)


async def rig_idle(kiosk: KioskProcess) -> None:
    await asyncio.to_thread(kiosk.wait_screen, "idle", 30, since=0)
