"""docs/register-protocol.md says what a register integrator sees; these tests hold it to that.

The worked example session in the document is not prose: every marked JSON block is played
against a real bridge (in-process, real websockets, SQLite) in document order.  What a device
sends is sent as written; what the register receives must be exactly the next message it gets,
field for field.  Values that differ from run to run are written as placeholders (``"<name>"``):
the first occurrence takes the actual value, later ones must repeat it, and a message sent later
has it filled in.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from cashier_bridge.lanes import asyncapi
from cashier_bridge.protocol import ErrorCode, Phase, Role, parse_intent, parse_register_message
from cashier_bridge.registry import NewCustomer, Registry
from tests.bridge.test_bridge_server import ANNA_PHONE, ANNA_PNR, Bridge

DOC = Path(__file__).resolve().parents[2] / "docs" / "register-protocol.md"
MARK = re.compile(r"<!-- example: (?P<device>register|kiosk) (?P<action>sends|receives|reconnects)"
                  r" -->\n(?:```json\n(?P<body>.*?)\n```)?", re.S)
PLACEHOLDER = re.compile(r"^<([a-z_]+)>$")
# A safety bound for a message that never comes (the doc promised one): not a wait for timing.
RECEIVE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Step:
    device: str
    action: str
    message: dict[str, Any] | None
    line: int


def steps(text: str) -> list[Step]:
    found = []
    for m in MARK.finditer(text):
        body = m.group("body")
        if (body is None) != (m.group("action") == "reconnects"):
            raise AssertionError(f"line {text.count(chr(10), 0, m.start()) + 1}: a sends/"
                                 "receives mark needs a ```json block right after it")
        found.append(Step(m.group("device"), m.group("action"),
                          json.loads(body) if body is not None else None,
                          text.count("\n", 0, m.start()) + 1))
    return found


def match(expected: Any, actual: Any, bound: dict[str, Any], path: str = "") -> None:
    """``actual`` is ``expected`` with its placeholders standing for any (consistent) value."""
    if isinstance(expected, str) and (p := PLACEHOLDER.match(expected)):
        name = p.group(1)
        if name in bound:
            assert actual == bound[name], f"{path}: <{name}> was {bound[name]!r}, now {actual!r}"
        else:
            bound[name] = actual
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        assert expected.keys() == actual.keys(), (
            f"{path}: fields differ: the doc has {sorted(expected)}, the bridge sent "
            f"{sorted(actual)}")
        for key in expected:
            match(expected[key], actual[key], bound, f"{path}.{key}")
        return
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (
            f"{path}: expected {expected!r}, got {actual!r}")
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            match(e, a, bound, f"{path}[{i}]")
        return
    assert expected == actual and type(expected) is type(actual), (
        f"{path}: the doc says {expected!r}, the bridge sent {actual!r}")


def fill(message: Any, bound: dict[str, Any]) -> Any:
    if isinstance(message, str) and (p := PLACEHOLDER.match(message)):
        assert p.group(1) in bound, f"<{p.group(1)}> is sent before the bridge named it"
        return bound[p.group(1)]
    if isinstance(message, dict):
        return {k: fill(v, bound) for k, v in message.items()}
    if isinstance(message, list):
        return [fill(v, bound) for v in message]
    return message


class Kiosk:
    """The shopper's screen in the example: it sends what the doc says; what it is sent is
    gathered in the background (the register doc does not show it) and checked for errors."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            self.received.append(json.loads(frame))


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    url = f"sqlite:///{tmp_path / 'doc.db'}"
    registry = Registry.open(url)
    registry.customers.create_new("seed-anna", NewCustomer(
        first_name="Anna", last_name="Andersson", phone=ANNA_PHONE,
        personal_id_fingerprint=registry.fingerprint(ANNA_PNR),
        personal_id_masked="19850312-****", created_via="import", customer_code="1001"))
    registry.close()
    b = Bridge(url)
    await b.start()
    yield b
    await b.stop()


async def test_the_worked_example_session_is_what_the_bridge_does(bridge: Bridge) -> None:
    script = steps(DOC.read_text(encoding="utf-8"))
    assert sum(s.action == "receives" for s in script) >= 10, "the example session is missing"
    # The devices of the example were paired beforehand, as an installer pairs them.
    bound: dict[str, Any] = {"register_token": bridge.token("kassa-1", "register"),
                             "kiosk_token": bridge.token("kassa-1", "kiosk")}
    register: ClientConnection | None = None
    kiosk: Kiosk | None = None
    try:
        for step in script:
            where = f"{DOC.name} line {step.line} ({step.device} {step.action})"
            if step.device == "register" and step.action == "reconnects":
                assert register is not None, where
                await register.close()
                register = None
            elif step.action == "sends":
                sent = fill(step.message, bound)
                parse_intent(json.dumps(sent))  # the doc shows only messages that validate
                if step.device == "register":
                    register = register or await connect(f"{bridge.url}/ws/register")
                    await register.send(json.dumps(sent))
                else:
                    if kiosk is None:
                        kiosk = Kiosk(await connect(f"{bridge.url}/ws/kiosk"))
                    await kiosk.ws.send(json.dumps(sent))
            else:
                assert step.device == "register", f"{where}: only the register's are checked"
                assert register is not None, f"{where}: the register is not connected"
                frame = await asyncio.wait_for(register.recv(), RECEIVE_TIMEOUT_S)
                parse_register_message(frame)
                try:
                    match(step.message, json.loads(frame), bound)
                except AssertionError as exc:
                    raise AssertionError(f"{where}: {exc}\nthe bridge sent: {frame}") from None
        assert kiosk is not None
        assert [m for m in kiosk.received if m["type"] == "error"] == []
    finally:
        for ws in (register, kiosk.ws if kiosk else None):
            if ws is not None:
                await ws.close()
    # The example's end_sale recorded the sale against the new member it created.
    registry = bridge.app.state.registry
    sales = [(s.sale_id, s.register, s.total_minor, s.currency, s.ended_at is not None)
             for s in registry.sales.list(bound["customer_id"])]
    assert sales == [("S-1042", "kassa-1", 24900, "SEK", True)]


def _section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = text.index(f"\n{heading}\n")
    ends = [m.start() for m in re.finditer(rf"\n#{{1,{len(level)}}} ", text)
            if m.start() > start]
    return text[start:ends[0] if ends else len(text)]


@pytest.mark.parametrize(("part", "models"), [
    ("## Messages the register sends", asyncapi.sends(Role.register)),
    ("## Messages the register receives", asyncapi.receives(Role.register))])
def test_every_register_message_and_field_is_documented(part: str, models: list[type]) -> None:
    text = _section(DOC.read_text(encoding="utf-8"), part)
    for model in models:
        kind = model.model_fields["type"].default
        assert f"\n### `{kind}`\n" in text, f"{part} has no section ### `{kind}`"
        section = _section(text, f"### `{kind}`")
        fields = dict(model.model_fields)
        # The object a message carries (view, details, customer, prompt) is explained in
        # place, one level deep: a state's view.customer is the card customer_connected shows.
        for top in model.model_fields.values():
            for sub in getattr(top.annotation, "__args__", (top.annotation,)):
                fields.update(getattr(sub, "model_fields", {}))
        # v and type are every message's, explained once under "Frames".
        undocumented = [name for name in fields
                        if name not in ("v", "type") and f"`{name}`" not in section]
        assert not undocumented, f"### `{kind}` does not explain {undocumented}"


def test_every_error_code_and_phase_is_explained() -> None:
    text = DOC.read_text(encoding="utf-8")
    errors = _section(text, "## Errors")
    assert [c.value for c in ErrorCode if f"| `{c.value}` |" not in errors] == []
    phases = _section(text, "## The lane and its phases")
    assert [p.value for p in Phase if f"| `{p.value}` |" not in phases] == []


def test_the_regenerate_command_in_the_doc_is_the_real_one() -> None:
    assert asyncapi.REGENERATE in DOC.read_text(encoding="utf-8")
