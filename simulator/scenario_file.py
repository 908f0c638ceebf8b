"""Scenario files: an end-to-end scenario as a TOML file QA can read, copy and record.

A scenario names what the rig needs (seed data, bridge and kiosk settings, the virtual camera)
and lists steps; each step does one thing (the cashier, the shopper's finger, a card held up, the
shopper's phone, a fault) and says what must follow: the kiosk screen, register events, totals,
the registry, the phone page, the logs.  ``simulator.replay`` runs it; the schema is documented in
docs/scenarios.md.  This module is pure (no Kivy, no camera) so that loading and checking a file
is cheap and testable.

Values may name ``{placeholders}``: the scenario's own ``[vars]``, or what the run had learned
when the step began —
``{prompt.FIELD}`` (the latest member prompt at the register), ``{connected.FIELD}`` (the latest
customer connected), ``{qr}`` (the QR code read last from the kiosk) and ``{qr_before}`` (the one
read before it).  They are checked when the file is loaded, so a typo fails before any process
starts.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cashier_bridge.config import Settings
from cashier_bridge.protocol import CustomerCard, MemberPrompt, Phase
from kiosk.screen_choice import Screen  # the kiosk's own, not a copy

SUFFIX = ".toml"


class ScenarioError(ValueError):
    """A scenario file that cannot be run; each problem names the step and the key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems) if len(problems) == 1
                         else f"{source}:\n" + "\n".join(f"  {p}" for p in problems))


# --- the vocabulary -----------------------------------------------------------------------------


class Seed(StrEnum):
    demo = "demo"  # the demo shop's 300 customers (cashier_bridge/data/demo_customers.csv)
    none = "none"  # an empty registry


class Camera(StrEnum):
    none = "none"  # Skanna ID says there is no camera
    virtual = "virtual"  # the simulator's virtual camera; `present` steps hold things up to it


class Action(StrEnum):
    start_sale = "start_sale"
    end_sale = "end_sale"
    confirm_member = "confirm_member"
    connect_existing = "connect_existing"
    abort_member = "abort_member"
    tap = "tap"
    type = "type"
    present = "present"
    phone_open = "phone_open"
    phone_send = "phone_send"
    phone_reload = "phone_reload"
    bridge_kill = "bridge_kill"
    bridge_start = "bridge_start"
    network_cut = "network_cut"
    network_restore = "network_restore"
    db_outage = "db_outage"
    db_restore = "db_restore"
    wait = "wait"


class CameraStatus(StrEnum):
    starting = "starting"
    live = "live"
    failed = "failed"


class Qr(StrEnum):
    phone_page = "phone_page"  # one QR code, leading to this bridge's phone page
    new_phone_page = "new_phone_page"  # the same, and not the code read before


class RegisterEvent(StrEnum):
    state = "state"
    customer_connected = "customer_connected"
    member_prompt = "member_prompt"
    prompt_withdrawn = "prompt_withdrawn"
    error = "error"


class Device(StrEnum):
    kiosk = "kiosk"
    register = "register"
    both = "both"


# What an expected register event may name, per event.  From the protocol's own models, so a new
# field there can be expected here without touching this list.
EVENT_FIELDS: dict[RegisterEvent, tuple[str, ...]] = {
    RegisterEvent.customer_connected: ("sale_id", *CustomerCard.model_fields),
    RegisterEvent.member_prompt: (
        "sale_id", *(f for f in MemberPrompt.model_fields if f != "possible_duplicates"),
        "duplicates"),  # the offered duplicates' customer codes, comma separated
    RegisterEvent.prompt_withdrawn: ("prompt_id", "reason"),
    RegisterEvent.state: ("phase", "sale_id", "method", "notice", "customer_code", "prompt_id"),
    RegisterEvent.error: ("code", "ref"),
}

# Things the virtual camera can be shown (simulator/virtual_camera.py), and whether the kind needs
# an argument after a colon.
ITEM_KINDS = {"card-ean13": True, "card-code128": True, "card-qr": True, "qr": True,
              "photo": True, "vcard": False, "mecard": False, "licence": False, "garbage": False,
              "nothing": False}

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)(?:\.([a-z][a-z0-9_]*))?\}")
RUNTIME_VALUES = {
    "prompt": EVENT_FIELDS[RegisterEvent.member_prompt],
    "connected": EVENT_FIELDS[RegisterEvent.customer_connected],
    "qr": (),
    "qr_before": (),
}

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
VarName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
EventValue = str | bool | int


class _Model(BaseModel):
    # A misspelt key must fail loudly: silently ignoring it would drop a check.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _regexes(values: list[str]) -> list[str]:
    for value in values:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
    return values


# --- what follows a step ------------------------------------------------------------------------


class CameraExpect(_Model):
    status: CameraStatus | None = None
    live: bool | None = None  # the picture is live (frames arriving)
    highlight: bool | None = None  # a code is outlined


class RegisterEventExpect(BaseModel):
    """One event the register receives after the step: ``event`` and any of its fields."""

    model_config = ConfigDict(extra="allow")
    event: RegisterEvent
    __pydantic_extra__: dict[str, EventValue]

    @model_validator(mode="after")
    def _fields_of_the_event(self) -> RegisterEventExpect:
        allowed = EVENT_FIELDS[self.event]
        unknown = [k for k in self.fields if k not in allowed]
        if unknown:
            raise ValueError(f"{', '.join(unknown)} is not a field of a {self.event} event "
                             f"(it has {', '.join(allowed)})")
        return self

    @property
    def fields(self) -> dict[str, EventValue]:
        return dict(self.__pydantic_extra__ or {})


class PhoneExpect(_Model):
    status: int | None = None  # the HTTP status of the page
    says: list[str] = []  # words the page shows (any case)
    not_says: list[str] = []


class Expect(_Model):
    # The kiosk: the first screen after the step that shows ``screen`` and meets every other
    # kiosk key; without ``screen`` the kiosk is not looked at.
    screen: Screen | None = None
    phase: Phase | None = None  # the lane phase the screen shows
    texts: list[str] = []  # each shown as a whole line
    texts_any: list[str] = []  # at least one of them shown as a whole line
    contains: list[str] = []  # each somewhere in the screen's text
    matches: list[str] = []  # each regular expression matches a line
    absent: list[str] = []  # none of them anywhere in the screen's text (personal data)
    buttons: list[str] = []  # each shown (and enabled)
    online: bool | None = None  # the kiosk hears the bridge
    camera: CameraExpect | None = None
    new_state: bool = False  # the screen shows a lane state newer than at the step's start
    qr: Qr | None = None
    # The register: each the first event of its kind (a state: of its phase) after the step.
    # (``register`` in the file; BaseModel has a ``register`` of its own.)
    events: list[RegisterEventExpect] = Field(default=[], alias="register")
    # How many events of each kind the register has received in the whole run, once it has
    # had every answer to what it sent.
    register_totals: dict[RegisterEvent, Annotated[int, Field(ge=0)]] = {}
    customers_created: Annotated[int, Field(ge=0)] | None = None  # since the scenario began
    phone: PhoneExpect | None = None
    logs_absent: list[str] = []  # in neither the bridge's nor the kiosk's log
    kiosk_log: list[str] = []  # regular expressions the kiosk's log matches
    bridge_log: list[str] = []

    _matches = field_validator("matches", "kiosk_log", "bridge_log")(_regexes)

    @model_validator(mode="after")
    def _screen_keys_need_a_screen(self) -> Expect:
        used = [k for k in SCREEN_KEYS if k != "screen" and k in self.model_fields_set]
        if used and self.screen is None:
            raise ValueError(f"{', '.join(used)} need screen: the screen they are looked for on")
        return self

    @property
    def kiosk(self) -> bool:
        return self.screen is not None


SCREEN_KEYS = ("screen", "phase", "texts", "texts_any", "contains", "matches", "absent", "buttons",
               "online", "camera", "new_state", "qr")


# --- the steps ----------------------------------------------------------------------------------


class _Step(_Model):
    do: Action  # each kind of step narrows it to its own action
    note: str = ""  # why the step is there, in the words of the check it makes
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 15.0  # per expectation waited for
    expect: Expect = Field(default_factory=Expect)

    def describe(self) -> str:
        """The action in a few words, for reports."""
        params = self.model_dump(exclude={"do", "note", "timeout_s", "expect"},
                                 exclude_defaults=True, mode="json")
        return " ".join([str(self.do), *(str(v) for v in params.values())])


class StartSale(_Step):
    do: Literal[Action.start_sale]
    sale_id: str | None = None  # default: sale-1, sale-2…


class EndSale(_Step):
    do: Literal[Action.end_sale]


class ConfirmMember(_Step):
    """The cashier confirms the latest member prompt (or ``prompt_id``) with these details."""

    do: Literal[Action.confirm_member]
    first_name: Annotated[str, Field(min_length=1)]
    last_name: Annotated[str, Field(min_length=1)]
    email: str | None = None
    phone: str | None = None
    marketing_consent: bool = False
    prompt_id: str | None = None


class ConnectExisting(_Step):
    """The cashier connects a customer the latest member prompt offered as a likely duplicate."""

    do: Literal[Action.connect_existing]
    customer_code: Annotated[str, Field(min_length=1)]
    prompt_id: str | None = None


class AbortMember(_Step):
    do: Literal[Action.abort_member]
    prompt_id: str | None = None


class Tap(_Step):
    do: Literal[Action.tap]
    button: Annotated[str, Field(min_length=1)]  # its probe id, e.g. choose_numpad, key_ok, yes


class TypeDigits(_Step):
    """Digits tapped one by one on the numpad, each waited for on the display."""

    do: Literal[Action.type]
    digits: Annotated[str, Field(pattern=r"^([0-9 -]|\{[a-z][a-z0-9_.]*\})+$")]


class Flaws(_Model):
    """How the item is held and lit (the QA desk's camera sliders; the virtual camera's
    ``Flaws``).  A key left out is the camera's default; the ranges are the sliders'."""

    distance: Annotated[float, Field(ge=0.5, le=3.0)] = 1.0  # 1: an arm's length; 2: twice as far
    angle: Annotated[float, Field(ge=0.0, le=60.0)] = 0.0  # degrees turned and tilted away
    blur: Annotated[float, Field(ge=0.0, le=4.0)] = 1.0  # scales motion blur and defocus
    glare: Annotated[float, Field(ge=0.0, le=3.0)] = 1.0  # scales the chance of a glare spot
    light: Annotated[float, Field(ge=0.2, le=2.0)] = 1.0  # 1: the shop's; below darker

    def values(self) -> dict[str, float]:
        return self.model_dump()


class Present(_Step):
    """Hold something up to the virtual camera (it stays there until the next ``present``),
    held as ``flaws`` says; every ``present`` says it whole, so a step without ``flaws`` is
    held the default way whatever the step before did."""

    do: Literal[Action.present]
    item: str
    flaws: Flaws | None = None

    @field_validator("item")
    @classmethod
    def _known_item(cls, item: str) -> str:
        kind, _, arg = item.partition(":")
        if kind not in ITEM_KINDS:
            raise ValueError(f"{kind!r} is not something the virtual camera can show "
                             f"({', '.join(ITEM_KINDS)})")
        if ITEM_KINDS[kind] and not arg:
            raise ValueError(f"{kind} needs what it holds after a colon, e.g. {kind}:1001")
        return item


class PhoneOpen(_Step):
    do: Literal[Action.phone_open]
    url: str = "{qr}"


class PhoneSend(_Step):
    """Fill in the phone page opened last and send it."""

    do: Literal[Action.phone_send]
    first_name: str
    last_name: str
    phone: str
    personal_id: str
    member: bool = False  # "make me a member"
    consents: list[str] = []  # marketing purposes ticked


class PhoneReload(_Step):
    do: Literal[Action.phone_reload]


class BridgeKill(_Step):
    """Pull the bridge's plug (SIGKILL): no clean shutdown."""

    do: Literal[Action.bridge_kill]


class BridgeStart(_Step):
    """Start the bridge again, on the same port and database."""

    do: Literal[Action.bridge_start]


class NetworkCut(_Step):
    """Drop every connection between the device and the bridge; new ones fail until restored."""

    do: Literal[Action.network_cut]
    device: Device = Device.both


class NetworkRestore(_Step):
    do: Literal[Action.network_restore]
    device: Device = Device.both


class DbOutage(_Step):
    """The registry stops answering writes: another connection holds SQLite's write lock (as a
    backup or a stuck job would).  The bridge waits its ``db_busy_timeout_s`` and then tells the
    devices "unavailable"."""

    do: Literal[Action.db_outage]


class DbRestore(_Step):
    """The lock is released: the registry answers again."""

    do: Literal[Action.db_restore]


class Wait(_Step):
    """Do nothing; wait for what the product does by itself (e.g. the kiosk renewing a code)."""

    do: Literal[Action.wait]

    @model_validator(mode="after")
    def _something_to_wait_for(self) -> Wait:
        if not self.expect.kiosk and not self.expect.events:
            raise ValueError("a wait step needs expect.screen or expect.register to wait for")
        return self


Step = Annotated[
    StartSale | EndSale | ConfirmMember | ConnectExisting | AbortMember | Tap | TypeDigits
    | Present | PhoneOpen | PhoneSend | PhoneReload | BridgeKill | BridgeStart | NetworkCut
    | NetworkRestore | DbOutage | DbRestore | Wait,
    Field(discriminator="do"),
]


# --- the scenario -------------------------------------------------------------------------------


def _known_settings(values: dict[str, Any]) -> dict[str, Any]:
    unknown = [k for k in values if k not in Settings.model_fields]
    if unknown:
        raise ValueError(f"unknown setting {', '.join(unknown)} (see README, Configuration)")
    return values


class BridgeSetup(_Model):
    # Bridge settings (README "Configuration"), given to it as SELFREG_<KEY>.
    settings: dict[str, str | int | float | bool] = {}

    _known = field_validator("settings")(_known_settings)


class KioskSetup(_Model):
    camera: Camera = Camera.none
    settings: dict[str, str | int | float | bool] = {}

    _known = field_validator("settings")(_known_settings)


class Scenario(_Model):
    name: Name
    description: str = ""
    seed: Seed = Seed.demo
    bridge: BridgeSetup = Field(default_factory=BridgeSetup)
    kiosk: KioskSetup = Field(default_factory=KioskSetup)
    vars: dict[VarName, str] = {}
    steps: Annotated[list[Step], Field(min_length=1)]

    @property
    def uses_network_faults(self) -> bool:
        return any(s.do in (Action.network_cut, Action.network_restore) for s in self.steps)

    def env(self, setup: BridgeSetup | KioskSetup) -> dict[str, str]:
        return {f"SELFREG_{k.upper()}": _setting(v) for k, v in setup.settings.items()}


def _setting(value: str | int | float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# --- reading and writing ------------------------------------------------------------------------


def builtin_dir() -> Path:
    return Path(str(resources.files("simulator") / "scenarios"))


def builtin() -> dict[str, Path]:
    """The scenarios that come with the simulator, by name."""
    return {p.stem: p for p in sorted(builtin_dir().glob(f"*{SUFFIX}"))}


def find(name_or_path: str) -> Path | None:
    """A built-in scenario by name, or a scenario file by path."""
    path = Path(name_or_path)
    if name_or_path.endswith(SUFFIX) or path.is_file():
        return path if path.is_file() else None
    return builtin().get(name_or_path)


def load(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), [f"not TOML: {exc}"]) from None
    return parse(data, str(path))


def parse(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, [_problem(e, data) for e in exc.errors(include_url=False)]
                            ) from None
    problems = list(_placeholder_problems(scenario))
    if problems:
        raise ScenarioError(source, problems)
    return scenario


def dumps(scenario: Scenario) -> str:
    data = scenario.model_dump(mode="json", exclude_defaults=True)
    data["steps"] = [_step_dict(s) for s in scenario.steps]
    ordered = {k: data[k] for k in ("name", "description", "seed", "bridge", "kiosk", "vars",
                                    "steps") if k in data}
    return tomli_w.dumps(ordered)


def save(scenario: Scenario, path: Path) -> None:
    path.write_text(dumps(scenario), encoding="utf-8")


def _step_dict(step: _Step) -> dict[str, Any]:
    data = step.model_dump(mode="json", exclude_defaults=True)
    data["do"] = str(step.do)  # required, so never left out as a default
    expect = step.expect.model_dump(mode="json", exclude_defaults=True, by_alias=True)
    # An event's fields are extras, written beside ``event`` as the file had them.
    expect.pop("register", None)
    if step.expect.events:
        expect["register"] = [{"event": str(e.event), **e.fields} for e in step.expect.events]
    if expect:
        data["expect"] = expect
    else:
        data.pop("expect", None)
    # The action first and its expectations last, as a person writes a step.
    head = ["do", *(k for k in data if k not in ("do", "note", "timeout_s", "expect"))]
    return {k: data[k] for k in [*head, "note", "timeout_s", "expect"] if k in data}


# --- clear errors -------------------------------------------------------------------------------

_MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown key",
}


def _problem(error: Any, data: dict[str, Any]) -> str:
    loc = list(error["loc"])
    where = ""
    if loc[:1] == ["steps"] and len(loc) > 1 and isinstance(loc[1], int):
        index = loc[1]
        raw = data.get("steps", [])
        step = raw[index] if isinstance(raw, list) and index < len(raw) else {}
        do = step.get("do") if isinstance(step, dict) else None
        where = f"step {index + 1}" + (f" ({do})" if isinstance(do, str) else "")
        loc = loc[2:]
        if loc and isinstance(do, str) and loc[0] == do:  # the union's tag, not a key
            loc = loc[1:]
    key = ".".join(str(p) for p in loc)
    kind = error["type"]
    if kind == "union_tag_invalid":
        message = (f"do: {error['input'].get('do')!r} is not an action "
                   f"({', '.join(a.value for a in Action)})")
    elif kind == "union_tag_not_found":
        message = f"do: required (one of {', '.join(a.value for a in Action)})"
    else:
        text = _MESSAGES.get(kind, error["msg"]).removeprefix("Value error, ")
        message = f"{key}: {text}" if key else text
    return f"{where}: {message}" if where else message


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}.{i}")


# Regular expressions are taken as written: ``{`` there is the regex's own.
_NO_PLACEHOLDERS = ("expect.matches", "expect.kiosk_log", "expect.bridge_log")


def _placeholder_problems(scenario: Scenario) -> Iterator[str]:
    for reserved in set(scenario.vars) & set(RUNTIME_VALUES):
        yield f"vars.{reserved}: the name is taken by a value the run learns"
    for number, step in enumerate(scenario.steps, 1):
        for path, text in _strings(_step_dict(step), ""):
            if path.startswith(_NO_PLACEHOLDERS):
                continue
            for found in PLACEHOLDER.finditer(text):
                problem = placeholder_problem(found.group(1), found.group(2), scenario.vars)
                if problem:
                    yield f"step {number} ({step.do}): {path}: {found.group(0)} {problem}"


def placeholder_problem(root: str, field: str | None, variables: dict[str, str]) -> str | None:
    """Why ``{root.field}`` names nothing, or None."""
    if field is None and root in variables:
        return None
    if root not in RUNTIME_VALUES:
        known = [*variables, *RUNTIME_VALUES]
        return f"names nothing (known: {', '.join(known)})"
    fields = RUNTIME_VALUES[root]
    if fields and field not in fields:
        return f"needs one of the fields {', '.join(fields)}"
    if not fields and field is not None:
        return f"has no fields ({{{root}}})"
    return None
