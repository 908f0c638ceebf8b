"""Replaying a scenario file on the rig: every step's action, then every expectation it states.

Each expectation is waited for as an event after the step's mark — a kiosk snapshot after it, a
register message after it — never by sleeping.  A step whose expectations do not hold fails with
a diff of what was expected against what the product did, and the replay stops there: later
steps would only be measuring the first difference again.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from cashier_bridge.protocol import (
    CustomerConnected,
    Error,
    MemberDetails,
    MemberPromptEvent,
    PromptWithdrawn,
    RegisterMessage,
    RegisterState,
)
from simulator.dbfault import DatabaseOutage
from simulator.processes import ProcessFailed
from simulator.scenario_file import (
    PLACEHOLDER,
    Action,
    Camera,
    Device,
    Expect,
    PhoneExpect,
    Qr,
    RegisterEvent,
    RegisterEventExpect,
    Scenario,
    Seed,
    placeholder_problem,
)
from simulator.scenarios import Mark, Rig, Run, demo_csv, screen_text, started_rig

EVENT_TYPES: dict[RegisterEvent, type] = {
    RegisterEvent.state: RegisterState,
    RegisterEvent.customer_connected: CustomerConnected,
    RegisterEvent.member_prompt: MemberPromptEvent,
    RegisterEvent.prompt_withdrawn: PromptWithdrawn,
    RegisterEvent.error: Error,
}


class Seen(NamedTuple):
    """One kiosk snapshot held against a step's kiosk expectations."""

    wanted: list[str]  # the expectations, one line each
    shown: list[str]  # the same lines where they held, what was shown where not
    codes: list[str]  # the QR codes read off the screen (only when asked for)
    leaked: bool  # the expected screen showed something ``absent`` names


class StepError(RuntimeError):
    """A step that cannot be carried out as written (e.g. no prompt to confirm yet)."""


async def replay(scenario: Scenario, workdir: Path, *, size: tuple[int, int] = (1280, 800),
                 timeout: float | None = None, source: Path | None = None) -> dict[str, Any]:
    """Run ``scenario`` end to end on a rig of its own; the run's summary.  ``timeout`` bounds
    the steps; by default a minute more than their own timeouts add up to, at least 180 s."""
    if timeout is None:
        timeout = max(180.0, 60.0 + sum(s.timeout_s for s in scenario.steps))
    run = Run(scenario.name)
    started = time.monotonic()
    player: Player | None = None
    try:
        seed_csv = demo_csv() if scenario.seed == Seed.demo else None
        async with started_rig(
                workdir, size=size, seed_csv=seed_csv, bridge_env=scenario.env(scenario.bridge),
                kiosk_env=scenario.env(scenario.kiosk),
                virtual_camera=scenario.kiosk.camera == Camera.virtual,
                network_links=scenario.uses_network_faults) as rig:
            player = Player(scenario, rig, run, customers_at_start=rig.customers())
            try:
                await asyncio.wait_for(player.play(), timeout)
            except TimeoutError as exc:
                raise StepError(f"the scenario did not finish within {timeout:g} s") from exc
            finally:
                # A scenario that ends (or fails) during an outage must not leave the lock
                # held while the rig shuts the bridge down.
                player.outage.stop()
    except Exception as exc:  # a scenario that cannot finish is a failed scenario
        where = player.where() if player is not None and player.current else ""
        run.error = f"{where}{type(exc).__name__}: {exc}"
    summary = run.summary(time.monotonic() - started)
    summary.update(steps=len(scenario.steps), steps_passed=player.passed if player else 0)
    if source is not None:
        summary["file"] = str(source)
    if player is not None:
        summary.update(player.facts())
    return summary


@dataclass
class Player:
    scenario: Scenario
    rig: Rig
    run: Run
    customers_at_start: int
    passed: int = 0
    current: int = 0  # the step being played, from 1
    qr_codes: list[str] = field(default_factory=list)  # every QR code read off the kiosk
    # How far the register's messages and the QR codes read count for placeholders: what the
    # run knew when the step began, so that a message arriving meanwhile cannot change what a
    # step compares with.
    known: tuple[int, int] = (0, 0)
    phone: Any = None  # simulator.phone.Phone, once a phone step has run
    page: Any = None  # the page the phone shows
    outage: DatabaseOutage = field(init=False)

    def __post_init__(self) -> None:
        self.outage = DatabaseOutage(self.rig.bridge.db_url)

    async def play(self) -> None:
        for number, step in enumerate(self.scenario.steps, 1):
            self.current = number
            mark = self.rig.mark()
            self.known = (mark.register, len(self.qr_codes))
            seq = self._kiosk_seq(mark)
            await self._act(step)
            if not await self._expect(step, mark, seq):
                return  # the diff is in the run; what follows would only echo it
            self.passed = number

    def where(self) -> str:
        step = self.scenario.steps[self.current - 1]
        return f"step {self.current} ({step.describe()}): "

    def facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"bridge_starts": self.rig.bridge.starts}
        connected = self.rig.register.events(CustomerConnected)
        if connected:
            facts["customer_code"] = connected[-1].customer.customer_code
        return facts

    # --- placeholders ------------------------------------------------------------------------

    def resolve(self, text: str) -> str:
        return PLACEHOLDER.sub(lambda m: self._value(m.group(1), m.group(2)), text)

    def _value(self, root: str, name: str | None) -> str:
        problem = placeholder_problem(root, name, self.scenario.vars)
        if problem:
            raise StepError(f"{{{root}{'.' + name if name else ''}}} {problem}")
        if name is None and root in self.scenario.vars:
            return self.scenario.vars[root]
        messages, codes = self.known
        if root in ("qr", "qr_before"):
            read = self.qr_codes[:codes]
            index = -1 if root == "qr" else -2
            if len(read) < -index:
                raise StepError(f"{{{root}}} is not known yet: "
                                f"{len(read)} QR code(s) read so far")
            return read[index]
        kind = CustomerConnected if root == "connected" else MemberPromptEvent
        received = [m for m in self.rig.register.received[:messages] if isinstance(m, kind)]
        if not received:
            raise StepError(f"{{{root}.{name}}} is not known yet: the register has had no "
                            f"{'customer_connected' if root == 'connected' else 'member_prompt'}")
        value = event_fields(received[-1]).get(name or "")
        return "" if value is None else str(value)

    # --- actions -----------------------------------------------------------------------------

    async def _act(self, step: Any) -> None:
        rig, do = self.rig, step.do
        if do == Action.start_sale:
            await rig.register.start_sale(step.sale_id)
        elif do == Action.end_sale:
            await rig.register.end_sale()
        elif do == Action.confirm_member:
            await rig.register.confirm(self._prompt_id(step.prompt_id), MemberDetails(
                first_name=self.resolve(step.first_name), last_name=self.resolve(step.last_name),
                email=self._optional(step.email), phone=self._optional(step.phone),
                marketing_consent=step.marketing_consent))
        elif do == Action.connect_existing:
            await self._connect_existing(step)
        elif do == Action.abort_member:
            await rig.register.abort(self._prompt_id(step.prompt_id))
        elif do == Action.tap:
            await rig.tap(self.resolve(step.button))
        elif do == Action.type:
            await rig.type_digits(self.resolve(step.digits))
        elif do == Action.present:
            if rig.camera_control is None:
                raise StepError('the kiosk has no virtual camera: set kiosk.camera = "virtual"')
            from simulator.virtual_camera import present

            present(rig.camera_control, self.resolve(step.item),
                    step.flaws.values() if step.flaws is not None else None)
        elif do in (Action.phone_open, Action.phone_send, Action.phone_reload):
            await asyncio.to_thread(self._phone_act, step)
        elif do == Action.bridge_kill:
            rig.bridge.kill()
        elif do == Action.bridge_start:
            await asyncio.to_thread(rig.bridge.start, auth="required")
        elif do in (Action.network_cut, Action.network_restore):
            for link in self._links(step.device):
                if do == Action.network_cut:
                    link.cut()
                else:
                    link.restore()
        elif do == Action.db_outage:
            self.outage.start()
        elif do == Action.db_restore:
            self.outage.stop()
        # Action.wait does nothing: the step is there for what happens by itself.

    def _optional(self, value: str | None) -> str | None:
        return None if value is None else self.resolve(value) or None

    def _latest_prompt(self) -> MemberPromptEvent:
        prompts = self.rig.register.events(MemberPromptEvent)
        if not prompts:
            raise StepError("the register has had no member prompt to answer")
        return prompts[-1]

    def _prompt_id(self, explicit: str | None) -> str:
        return self.resolve(explicit) if explicit else self._latest_prompt().prompt.prompt_id

    async def _connect_existing(self, step: Any) -> None:
        prompt = self._latest_prompt().prompt
        code = self.resolve(step.customer_code)
        offered = {c.customer_code: c.id for c in prompt.possible_duplicates}
        if code not in offered:
            raise StepError(f"customer {code} was not offered in the prompt "
                            f"(offered: {', '.join(offered) or 'nobody'})")
        await self.rig.register.connect_existing(self._prompt_id(step.prompt_id), offered[code])

    def _phone_act(self, step: Any) -> None:
        from simulator.phone import Phone

        if step.do == Action.phone_open:
            self.phone = self.phone or Phone()
            self.page = self.phone.open(self.resolve(step.url))
            return
        if self.phone is None:
            raise StepError("no phone page is open: a phone_open step comes first")
        if step.do == Action.phone_send:
            self.page = self.phone.send(
                self.resolve(step.first_name), self.resolve(step.last_name),
                self.resolve(step.phone), self.resolve(step.personal_id), member=step.member,
                consents=tuple(step.consents))
        else:
            self.page = self.phone.reload()

    def _links(self, device: Device) -> list[Any]:
        links = {Device.kiosk: [self.rig.kiosk_link], Device.register: [self.rig.register_link],
                 Device.both: [self.rig.kiosk_link, self.rig.register_link]}[device]
        return [link for link in links if link is not None]

    # --- expectations ------------------------------------------------------------------------

    async def _expect(self, step: Any, mark: Mark, seq: int | None) -> bool:
        expect: Expect = step.expect
        ok = True
        if expect.kiosk:
            ok &= await self._expect_screen(step, mark, seq)
        for event in expect.events:
            if ok:
                ok = await self._expect_event(step, event, mark)
        if ok and expect.register_totals:
            ok &= await self._expect_totals(step)
        if ok and expect.customers_created is not None:
            created = self.rig.customers() - self.customers_at_start
            ok &= self._check(step, "customers", f"customers created: {expect.customers_created}",
                              f"customers created: {created}")
        if ok and expect.phone is not None:
            ok &= await asyncio.to_thread(self._expect_phone, step, expect.phone)
        if ok and (expect.logs_absent or expect.kiosk_log or expect.bridge_log):
            ok &= self._expect_logs(step)
        return ok

    def _check(self, step: Any, what: str, expected: str | list[str],
               actual: str | list[str], context: str = "") -> bool:
        """One check of the run: ``expected`` and ``actual`` rendered the same way, line for
        line where they agree, so that the diff shows only what differs."""
        expected = [expected] if isinstance(expected, str) else expected
        actual = [actual] if isinstance(actual, str) else actual
        ok = expected == actual
        name = f"{self.where()}{what}"
        detail = ""
        if not ok:
            detail = "\n".join([step.note] if step.note else [])
            detail += "\n" + render_diff(expected, actual)
            if context:
                detail += "\n" + context
        self.run.check(name.rstrip(": "), ok, detail.strip("\n"))
        return ok

    # The kiosk.

    async def _expect_screen(self, step: Any, mark: Mark, seq: int | None) -> bool:
        expect: Expect = step.expect
        compared: dict[int, Seen] = {}
        closest: list[dict[str, Any]] = []

        def meets(snapshot: dict[str, Any]) -> bool:
            number = int(snapshot.get("n", 0))
            if number not in compared:
                compared[number] = self._compare_screen(expect, snapshot, seq)
            if snapshot.get("screen") == expect.screen or not closest \
                    or closest[-1].get("screen") != expect.screen:
                closest[:] = [snapshot]
            seen = compared[number]
            # Personal data shown even once on the screen waited for is a failure at once,
            # whatever that screen shows later.
            return seen.wanted == seen.shown or seen.leaked

        try:
            snapshot = await asyncio.to_thread(
                self.rig.kiosk.wait_for, meets, step.timeout_s, f"screen {expect.screen}",
                mark.kiosk)
        except ProcessFailed:
            if self.rig.kiosk.proc is not None and self.rig.kiosk.proc.poll() is not None:
                raise  # the kiosk died: that is the error, not a difference
            if not closest:
                return self._check(step, "kiosk screen", f"screen: {expect.screen}",
                                   f"screen: (no new screen within {step.timeout_s:g} s)")
            snapshot = closest[-1]
        seen = compared[int(snapshot.get("n", 0))]
        if seen.wanted == seen.shown:
            self.qr_codes.extend(seen.codes)
            return self._check(step, "kiosk screen", seen.wanted, seen.shown)
        return self._check(step, "kiosk screen", seen.wanted, seen.shown,
                           f"the kiosk showed: {screen_text(snapshot) or '(no text)'}")

    def _compare_screen(self, expect: Expect, snap: dict[str, Any], seq: int | None) -> Seen:
        texts: list[str] = list(snap.get("texts", []))
        joined = screen_text(snap)
        camera = snap.get("camera") or {}
        wanted: list[str] = [f"screen: {expect.screen}"]
        shown: list[str] = [f"screen: {snap.get('screen')}"]

        def line(label: str, holds: bool, otherwise: str) -> None:
            wanted.append(label)
            shown.append(label if holds else otherwise)

        if expect.phase is not None:
            line(f"phase: {expect.phase}", snap.get("phase") == expect.phase,
                 f"phase: {snap.get('phase')}")
        for text in map(self.resolve, expect.texts):
            near = difflib.get_close_matches(text, texts, n=1, cutoff=0.5)
            line(f"text: {text}", text in texts, f"text: {near[0] if near else '(not shown)'}")
        if expect.texts_any:
            options = [self.resolve(t) for t in expect.texts_any]
            line(f"one of: {' / '.join(options)}", any(t in texts for t in options),
                 "one of: (none shown)")
        for part in map(self.resolve, expect.contains):
            line(f"contains: {part}", part in joined, f"contains: (no {part!r} on screen)")
        for pattern in expect.matches:
            line(f"matches: /{pattern}/", any(re.search(pattern, t) for t in texts),
                 f"matches: (no line matches /{pattern}/)")
        leaked = False
        for secret in (s for s in map(self.resolve, expect.absent) if s):
            holder = next((t for t in texts if secret in t), "")
            leaked |= bool(holder) and snap.get("screen") == expect.screen
            line(f"absent: {secret}", not holder, f"absent: {secret} — shown in {holder!r}")
        for button in map(self.resolve, expect.buttons):
            line(f"button: {button}", button in snap.get("buttons", {}),
                 f"button: (no {button!r})")
        if expect.online is not None:
            line(f"online: {_json(expect.online)}", snap.get("online") == expect.online,
                 f"online: {_json(snap.get('online'))}")
        if expect.camera is not None:
            for key, value in expect.camera.model_dump(exclude_none=True, mode="json").items():
                line(f"camera {key}: {_json(value)}", camera.get(key) == value,
                     f"camera {key}: {_json(camera.get(key))}")
        if expect.new_state:
            now = snap.get("seq")
            line(f"lane state: newer than seq {seq}",
                 now is not None and (seq is None or now > seq), f"lane state: seq {now}")
        codes: list[str] = []
        if expect.qr is not None and wanted == shown:
            # Reading the screen is the slow part: only for a snapshot that is right otherwise.
            from simulator.phone import read_qr

            codes = read_qr(self.rig.screen.display)
            line(f"qr: {self._qr_wanted(expect.qr)}", self._qr_holds(expect.qr, codes),
                 f"qr: {codes or '(none read)'}")
        return Seen(wanted, shown, codes, leaked)

    def _qr_wanted(self, qr: Qr) -> str:
        page = f"one code to {self.rig.bridge.http_url}/m/…"
        return page if qr == Qr.phone_page else f"{page}, not {self.qr_codes[-1:] or 'none'}"

    def _qr_holds(self, qr: Qr, codes: list[str]) -> bool:
        if len(codes) != 1 or not codes[0].startswith(self.rig.bridge.http_url + "/m/"):
            return False
        return qr == Qr.phone_page or codes[0] not in self.qr_codes[-1:]

    def _kiosk_seq(self, mark: Mark) -> int | None:
        """The lane state the kiosk showed at ``mark``."""
        shown = self.rig.kiosk.history(mark.kiosk - 1) if mark.kiosk else []
        return shown[0].get("seq") if shown else None

    # The register.

    async def _expect_event(self, step: Any, event: RegisterEventExpect, mark: Mark) -> bool:
        kind = EVENT_TYPES[event.event]
        phase = event.fields.get("phase") if event.event == RegisterEvent.state else None
        wanted = [f"event: {event.event}"] + [
            f"{key}: {_json(self._resolved(value))}" for key, value in event.fields.items()]
        try:
            message = await self.rig.register.wait_for(
                lambda m: isinstance(m, kind) and (phase is None or m.phase == phase),
                step.timeout_s, since=mark.register)
        except TimeoutError:
            got = [type(m).__name__ for m in self.rig.register.received[mark.register:]]
            missing = (f"event: (no {event.event}{f' in phase {phase}' if phase else ''} "
                       f"within {step.timeout_s:g} s)")
            return self._check(step, f"register {event.event}", wanted, [missing, *wanted[1:]],
                               f"the register received: {', '.join(got) or 'nothing'}")
        actual = event_fields(message)
        shown = [wanted[0]]
        for (key, value), line in zip(event.fields.items(), wanted[1:], strict=True):
            holds = _same(self._resolved(value), actual.get(key))
            shown.append(line if holds else f"{key}: {_json(actual.get(key))}")
        return self._check(step, f"register {event.event}", wanted, shown)

    def _resolved(self, value: Any) -> Any:
        return self.resolve(value) if isinstance(value, str) else value

    async def _expect_totals(self, step: Any) -> bool:
        await self.rig.register.barrier()  # every answer to what it sent has arrived
        wanted, shown = [], []
        for event, count in step.expect.register_totals.items():
            kind = EVENT_TYPES[event]
            actual = sum(1 for m in self.rig.register.received if isinstance(m, kind))
            wanted.append(f"{event}: {count}")
            shown.append(f"{event}: {actual}")
        return self._check(step, "register totals", wanted, shown)

    # The phone.

    def _expect_phone(self, step: Any, expect: PhoneExpect) -> bool:
        if self.page is None:
            raise StepError("no phone page to look at: a phone_open step comes first")
        wanted, shown = self._compare_page(expect, self.page)
        if wanted != shown and self.phone is not None:
            # The page follows the flow as it goes; a shopper who looks again sees it now.
            self.page = self.phone.reload()
            wanted, shown = self._compare_page(expect, self.page)
        return self._check(step, "phone page", wanted, shown,
                           f"the phone showed ({self.page.status}): {self.page.text[:400]}")

    def _compare_page(self, expect: PhoneExpect, page: Any) -> tuple[list[str], list[str]]:
        wanted: list[str] = []
        shown: list[str] = []
        if expect.status is not None:
            wanted.append(f"status: {expect.status}")
            shown.append(f"status: {page.status}")
        for words in map(self.resolve, expect.says):
            wanted.append(f"says: {words}")
            shown.append(f"says: {words}" if page.says(words) else f"says: (no {words!r})")
        for words in map(self.resolve, expect.not_says):
            wanted.append(f"not says: {words}")
            shown.append(f"not says: {words}" if not page.says(words) else
                         f"not says: {words} — on the page")
        return wanted, shown

    # The logs.

    def _expect_logs(self, step: Any) -> bool:
        expect: Expect = step.expect
        logs = {"bridge.log": self.rig.bridge.log_path, "kiosk.log": self.rig.kiosk.log_path}
        text = {name: p.read_text(errors="replace") if p.exists() else ""
                for name, p in logs.items()}
        wanted, shown = [], []
        for secret in (s for s in map(self.resolve, expect.logs_absent) if s):
            for name in logs:
                wanted.append(f"{name} without {secret}")
                shown.append(wanted[-1] if secret not in text[name] else
                             f"{name} contains {secret}")
        for name, patterns in (("kiosk.log", expect.kiosk_log),
                               ("bridge.log", expect.bridge_log)):
            for pattern in patterns:
                wanted.append(f"{name} matches /{pattern}/")
                shown.append(wanted[-1] if re.search(pattern, text[name]) else
                             f"{name} has no line matching /{pattern}/")
        return self._check(step, "logs", wanted, shown)


def event_fields(message: RegisterMessage) -> dict[str, Any]:
    """What an expectation may name in a register message (scenario_file.EVENT_FIELDS)."""
    if isinstance(message, CustomerConnected):
        return {"sale_id": message.sale_id, **message.customer.model_dump(mode="json")}
    if isinstance(message, MemberPromptEvent):
        prompt = message.prompt
        return {"sale_id": message.sale_id,
                **prompt.model_dump(mode="json", exclude={"possible_duplicates"}),
                "duplicates": ",".join(c.customer_code for c in prompt.possible_duplicates)}
    if isinstance(message, PromptWithdrawn):
        return {"prompt_id": message.prompt_id, "reason": message.reason}
    if isinstance(message, RegisterState):
        view = message.view
        return {"phase": message.phase.value, "sale_id": view.sale_id,
                "method": view.method and view.method.value,
                "notice": view.notice and view.notice.value,
                "customer_code": view.customer and view.customer.customer_code,
                "prompt_id": view.prompt and view.prompt.prompt_id}
    if isinstance(message, Error):
        return {"code": message.code.value, "ref": message.ref}
    return {}


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if expected == "":  # the file's way of saying "not there"
        return actual in (None, "")
    return expected == actual or (isinstance(expected, str) and expected == str(actual))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_diff(expected: list[str], actual: list[str]) -> str:
    """``expected`` against ``actual`` as a unified diff, every line kept for context."""
    lines = difflib.unified_diff(expected, actual, "expected", "actual", lineterm="",
                                 n=max(len(expected), len(actual)))
    return "\n".join(line for line in lines if not line.startswith("@@"))
