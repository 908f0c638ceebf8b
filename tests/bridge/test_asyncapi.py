"""The committed AsyncAPI document is what the models say, is well-formed AsyncAPI 3, covers
every message, and its examples are messages the bridge accepts (or sends)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cashier_bridge import cli
from cashier_bridge.lanes import asyncapi
from cashier_bridge.protocol import (
    REGISTER_INTENTS,
    ErrorCode,
    Phase,
    Role,
    parse_intent,
    parse_kiosk_message,
    parse_register_message,
)

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / asyncapi.DEFAULT_OUT


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(COMMITTED.read_text(encoding="utf-8"))


def test_the_committed_document_is_what_the_models_say() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == asyncapi.render(), (
        f"{asyncapi.DEFAULT_OUT} is out of date with cashier_bridge/protocol.py: run "
        f"`{asyncapi.REGENERATE}` and commit it")


def test_the_cli_writes_the_same_document(tmp_path: Path) -> None:
    out = tmp_path / "protocol.json"
    assert cli.main(["asyncapi", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref}: only local references are used"
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def test_the_document_is_well_formed_asyncapi_3(doc: dict[str, Any]) -> None:
    # No package on PyPI ships the official AsyncAPI 3.0.0 JSON Schema, so the rules of the
    # specification that a reader relies on are checked here.
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] and doc["info"]["version"] == "1"
    assert set(doc) <= {"asyncapi", "id", "info", "servers", "defaultContentType", "channels",
                        "operations", "components"}
    for name, server in doc["servers"].items():
        assert {"host", "protocol"} <= set(server), name
        assert server["protocol"] in {"ws", "wss"}, name
        assert "/" not in server["host"], f"{name}: host is host[:port] only"
        for variable in server.get("variables", {}):
            assert f"{{{variable}}}" in server["host"], f"{name}: unused variable {variable}"
    assert {c["address"] for c in doc["channels"].values()} == {"/ws/register", "/ws/kiosk"}
    for ref in _refs(doc):  # every reference anywhere resolves
        _resolve(doc, ref)
    for op_id, operation in doc["operations"].items():
        assert operation["action"] in {"send", "receive"}, op_id
        channel_ref = operation["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/"), op_id
        # AsyncAPI 3: an operation's messages are the messages of its own channel.
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/"), op_id
        if "reply" in operation:
            for message in operation["reply"]["messages"]:
                assert message["$ref"].startswith(
                    operation["reply"]["channel"]["$ref"] + "/messages/"), op_id
    for key, message in doc["components"]["messages"].items():
        assert message["payload"]["$ref"].startswith("#/components/schemas/"), key
    schemas = doc["components"]["schemas"]
    assert all("$defs" not in s for s in schemas.values()), "nested $defs were not collected"


def _messages(doc: dict[str, Any], role: str, action: str) -> dict[str, dict[str, Any]]:
    """type -> message object, for the operations of ``role`` with ``action``."""
    found = {}
    for operation in doc["operations"].values():
        if operation["channel"]["$ref"] == f"#/channels/{role}" and \
                operation["action"] == action:
            for message in operation["messages"]:
                resolved = _resolve(doc, _resolve(doc, message["$ref"])["$ref"])
                found[resolved["name"]] = resolved
    return found


def test_every_register_message_is_in_the_document(doc: dict[str, Any]) -> None:
    sent = _messages(doc, "register", "receive")  # the bridge receives what a register sends
    assert set(sent) == REGISTER_INTENTS | {"hello", "ping"}
    received = _messages(doc, "register", "send")
    assert set(received) == {"welcome", "state", "customer_connected", "member_prompt",
                             "prompt_withdrawn", "error", "pong"}
    assert {received[t]["title"] for t in received} == {
        m.__name__ for m in asyncapi.receives(Role.register)}
    assert received["state"]["title"] == "RegisterState"
    assert _messages(doc, "kiosk", "send")["state"]["title"] == "KioskState"


def test_enums_carry_their_values_and_meanings(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert schemas["Phase"]["enum"] == [p.value for p in Phase]
    assert schemas["ErrorCode"]["enum"] == [c.value for c in ErrorCode]
    assert "await_cashier" in schemas["Phase"]["description"]
    for name in ("Notice", "Method", "Role"):
        assert schemas[name]["enum"], name
    end_sale = schemas["EndSale"]["properties"]
    assert "minor units" in end_sale["total_minor"]["description"]
    assert "ISO 4217" in end_sale["currency"]["description"]


PARSERS = {("register", "receive"): parse_intent, ("kiosk", "receive"): parse_intent,
           ("register", "send"): parse_register_message, ("kiosk", "send"): parse_kiosk_message}


@pytest.mark.parametrize(("role", "action"), list(PARSERS))
def test_every_example_is_a_real_message(doc: dict[str, Any], role: str, action: str) -> None:
    for kind, message in _messages(doc, role, action).items():
        assert message.get("examples"), f"{role} {kind} has no example (asyncapi.EXAMPLES)"
        for example in message["examples"]:
            parsed = PARSERS[role, action](json.dumps(example["payload"]))
            assert parsed.type == kind, f"{example['name']} is a {parsed.type}"
            if kind == "hello":
                assert parsed.role.value == role, example["name"]
