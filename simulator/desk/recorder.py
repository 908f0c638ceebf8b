"""The desk's recording: every action becomes a scenario step, with what followed it as the
step's expectations, ready for ``simulator.scenario_file.save``.

No Kivy here: the recorder is given the kiosk's snapshots (``kiosk.probe`` dicts, each with its
number ``n`` and the monotonic time ``t`` it was shown) and the register's messages, and works
out the expectations only when the scenario is asked for.  A step's window is from its action to
the next action (or to "now" for the last step):

- the kiosk: the **last** screen shown in the window — what the QA engineer saw when they
  acted next — with its lines that stayed put while that screen showed (a countdown or the
  "starting the camera" line is left out), and no line holding a digit (timers, masked numbers);
- the register: the first event of each kind in the window, with the fields that identify it
  (never ids a new run assigns differently);
- personal data typed on the desk (digits on the numpad, names for a new member, the phone form)
  goes to ``[vars]`` and is named in ``absent`` wherever the kiosk did not show it, and in
  ``logs_absent`` on the last step, so the replay proves it stays off the screen and the logs.

Each step's ``timeout_s`` is at least the default and covers how long the product took during the
recording (half as long again), so a screen that came by itself (a timeout) is waited for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cashier_bridge.protocol import (
    CustomerConnected,
    Error,
    MemberPromptEvent,
    PromptKind,
    PromptWithdrawn,
    RegisterMessage,
    RegisterState,
)
from simulator.scenario_file import Flaws, Scenario, parse

DEFAULT_TIMEOUT_S = 15.0
MAX_TIMEOUT_S = 300.0
# Lines on every screen (the header): left out, they would only make every step longer.
HEADER_LINES = frozenset({"Kundklubben", "Customer club", "Klantenclub", "Svenska", "English",
                          "Nederlands"})
_DIGIT = re.compile(r"\d")
_KEY = re.compile(r"^key_(\d)$")
HELD_AS_USUAL = Flaws().values()  # the camera sliders' defaults: left out of a present step

Snapshot = dict[str, Any]


@dataclass
class Entry:
    """One recorded action and where the kiosk's and the register's histories stood before it."""

    action: dict[str, Any]
    kiosk_mark: int  # the number of the last snapshot shown before the action
    register_mark: int  # how many messages the register had received before it
    started: float  # monotonic time of the action
    expect: dict[str, Any] = field(default_factory=dict)  # added by the desk (the QR it read)
    slider: bool = False  # a present step made by moving a camera slider


class Recorder:
    """Collects the desk's actions; :meth:`scenario` turns them into a :class:`Scenario`."""

    def __init__(self, snapshots: Callable[[], Sequence[Snapshot]],
                 messages: Callable[[], Sequence[RegisterMessage]],
                 clock: Callable[[], float]) -> None:
        self._snapshots = snapshots
        self._messages = messages
        self._clock = clock
        self.entries: list[Entry] = []
        self.vars: dict[str, str] = {}
        self.personal: set[str] = set()  # the names in ``vars`` that hold personal data
        self.var_step: dict[str, int] = {}  # the step (index) each var was made for
        self.kiosk_settings: dict[str, str | int | float | bool] = {}
        # Bridge settings a replay needs to behave as the desk's bridge did (its busy timeout,
        # when the recording has a database outage).
        self.bridge_settings: dict[str, str | int | float | bool] = {}
        self.uses_camera = True  # the desk's kiosk always has the virtual camera

    # --- recording -------------------------------------------------------------------------

    def _marks(self) -> tuple[int, int]:
        shown = self._snapshots()
        return (int(shown[-1]["n"]) if shown else 0), len(self._messages())

    def record(self, do: str, **params: Any) -> Entry:
        """Call *before* carrying out the action, so that its effects fall after the marks."""
        kiosk, register = self._marks()
        entry = Entry({"do": do, **{k: v for k, v in params.items() if v is not None}},
                      kiosk, register, self._clock())
        self.entries.append(entry)
        return entry

    def record_tap(self, button: str) -> Entry:
        """A finger on a kiosk button; digits in a row on the numpad become one ``type`` step
        whose digits are kept in ``[vars]`` (they are a personal ID or a phone number)."""
        digit = _KEY.match(button)
        last = self.entries[-1] if self.entries else None
        if digit and last is not None and last.action["do"] == "type":
            name = last.action["digits"][1:-1]
            self.vars[name] += digit.group(1)
            return last
        if digit:
            name = self.new_var("typed", digit.group(1), personal=True)
            return self.record("type", digits=f"{{{name}}}")
        return self.record("tap", button=button)

    def record_present(self, item: str, flaws: dict[str, float], *, slider: bool = False
                       ) -> Entry:
        """Something held up to the camera, held as the sliders say (only what differs from
        the default is written).  A slider move is a ``present`` step of the same item held
        differently; moves in a row while the kiosk showed nothing new are one gesture, one
        step (a drag fires many values), so a move the kiosk answered starts a new step."""
        changed = {k: round(float(v), 2) for k, v in flaws.items()
                   if round(float(v), 2) != HELD_AS_USUAL.get(k)}
        last = self.entries[-1] if self.entries else None
        if slider and last is not None and last.slider and last.action.get("item") == item \
                and self._marks()[0] == last.kiosk_mark:
            last.action.pop("flaws", None)
            if changed:
                last.action["flaws"] = changed
            return last
        entry = self.record("present", item=item, flaws=changed or None)
        entry.slider = slider
        return entry

    def new_var(self, stem: str, value: str, *, personal: bool) -> str:
        """Keep ``value`` in ``[vars]`` under a fresh name from ``stem``; the name."""
        number = 1
        while f"{stem}_{number}" in self.vars:
            number += 1
        name = f"{stem}_{number}"
        self.vars[name] = value
        # Made just before its step is recorded: a step names the value only from there on.
        self.var_step[name] = len(self.entries)
        if personal:
            self.personal.add(name)
        return name

    def annotate(self, **expect: Any) -> None:
        """An expectation the desk knows better than the snapshots (e.g. the QR code it read
        off the screen belongs to the step that put it there)."""
        if self.entries:
            self.entries[-1].expect.update(expect)

    def clear(self) -> None:
        self.entries.clear()
        self.vars.clear()
        self.var_step.clear()
        self.personal.clear()

    # --- the scenario ----------------------------------------------------------------------

    def scenario(self, name: str, description: str = "", *,
                 logs: Sequence[str] = ()) -> Scenario:
        """The recording as a scenario; ``logs`` are the texts of the bridge's and the kiosk's
        logs, so that ``logs_absent`` names only what they really do not hold."""
        if not self.entries:
            raise ValueError("nothing recorded yet: act on the desk first")
        snapshots = list(self._snapshots())
        messages = list(self._messages())
        now_kiosk, now_register = self._marks()
        steps = []
        for index, entry in enumerate(self.entries):
            following = self.entries[index + 1] if index + 1 < len(self.entries) else None
            end_kiosk = following.kiosk_mark if following else now_kiosk
            end_register = following.register_mark if following else now_register
            shown = [s for s in snapshots if entry.kiosk_mark < int(s["n"]) <= end_kiosk]
            received = messages[entry.register_mark:end_register]
            steps.append(self._step(entry, shown, received, index))
        secrets = [f"{{{v}}}" for v in sorted(self.personal)
                   if not any(self.vars[v] in text for text in logs)]
        if secrets:
            steps[-1].setdefault("expect", {})["logs_absent"] = secrets
        data: dict[str, Any] = {"name": name, "description": description, "seed": "demo",
                                "kiosk": {"camera": "virtual"}, "vars": dict(self.vars),
                                "steps": steps}
        if self.kiosk_settings:
            data["kiosk"]["settings"] = dict(self.kiosk_settings)
        if self.bridge_settings and any(e.action["do"] in ("db_outage", "db_restore")
                                        for e in self.entries):
            data["bridge"] = {"settings": dict(self.bridge_settings)}
        return parse(data, f"recording {name}")

    def _step(self, entry: Entry, shown: list[Snapshot], received: list[RegisterMessage],
              index: int) -> dict[str, Any]:
        step = dict(entry.action)
        expect: dict[str, Any] = {}
        took = 0.0
        if shown:
            last = shown[-1]
            took = max(took, float(last.get("t", entry.started)) - entry.started)
            expect.update(self._screen(last, shown, index))
        events = self._events(received)
        if events:
            expect["register"] = events
        if "screen" in expect:  # a QR code is read off a screen: without one, nothing to read
            expect.update(entry.expect)
        if expect:
            step["expect"] = expect
        timeout = math.ceil(took * 1.5 + 5)
        if timeout > DEFAULT_TIMEOUT_S:
            step["timeout_s"] = min(MAX_TIMEOUT_S, float(timeout))
        return step

    def _screen(self, last: Snapshot, shown: list[Snapshot], index: int) -> dict[str, Any]:
        screen = last.get("screen")
        # The lines that stayed put while this screen showed last (its run of snapshots).
        run: list[Snapshot] = []
        for snapshot in reversed(shown):
            if snapshot.get("screen") != screen:
                break
            run.append(snapshot)
        steady = [t for t in last.get("texts", [])
                  if all(t in s.get("texts", []) for s in run)
                  and t not in HEADER_LINES and not _DIGIT.search(t)]
        expect: dict[str, Any] = {"screen": screen}
        if steady:
            expect["texts"] = list(dict.fromkeys(steady))
        if last.get("online") is False:
            expect["online"] = False
        camera = last.get("camera") or {}
        if screen == "scan" and camera.get("status") == "live":
            expect["camera"] = {"live": True}
        elif screen == "scan" and camera.get("status") == "failed":
            expect["camera"] = {"status": "failed"}
        texts = " | ".join(t for s in shown for t in s.get("texts", []))
        absent = [f"{{{v}}}" for v in sorted(self.personal)
                  if self.var_step.get(v, 0) <= index and self.vars[v]
                  and self.vars[v] not in texts]
        if absent:
            expect["absent"] = absent
        return expect

    @staticmethod
    def _events(received: list[RegisterMessage]) -> list[dict[str, Any]]:
        """The first event of each kind, in the order they came; for states the last phase
        reached (the replay looks for the first state in that phase)."""
        events: list[dict[str, Any]] = []
        seen: set[str] = set()
        for message in received:
            event = _event(message)
            if event is None or event["event"] in seen or event["event"] == "state":
                continue
            seen.add(event["event"])
            events.append(event)
        states = [m for m in received if isinstance(m, RegisterState)]
        if states:
            events.append({"event": "state", "phase": states[-1].phase.value})
        return events


def _event(message: RegisterMessage) -> dict[str, Any] | None:
    if isinstance(message, CustomerConnected):
        customer = message.customer
        event: dict[str, Any] = {"event": "customer_connected"}
        if not customer.is_new:  # a new member's code is the next free one in that run
            event["customer_code"] = customer.customer_code
        event.update(first_name=customer.first_name, is_new=customer.is_new)
        if customer.matched_on:
            event["matched_on"] = customer.matched_on
        return event
    if isinstance(message, MemberPromptEvent):
        prompt = message.prompt
        event = {"event": "member_prompt"}
        if prompt.kind is not PromptKind.new_member:
            event["kind"] = prompt.kind.value
        for key in ("source", "personal_id_masked", "document"):
            value = getattr(prompt, key, None)
            if value:
                event[key] = value if isinstance(value, str | bool | int) else str(value)
        return event
    if isinstance(message, PromptWithdrawn):
        return {"event": "prompt_withdrawn", "reason": message.reason}
    if isinstance(message, Error):
        return {"event": "error", "code": message.code.value}
    if isinstance(message, RegisterState):
        return {"event": "state"}
    return None
