"""The device protocol as an AsyncAPI 3.0.0 document, generated from the pydantic models.

The document is what a POS vendor's integrator reads next to ``docs/register-protocol.md``; it is
committed as ``docs/register-protocol.asyncapi.json`` and a test fails when the models change and
it was not regenerated::

    selfreg-bridge asyncapi --out docs/register-protocol.asyncapi.json
    python -m cashier_bridge.lanes.asyncapi --out docs/register-protocol.asyncapi.json

Everything comes from :mod:`cashier_bridge.protocol`: which messages each role sends is read from
the ``Intent`` union and the ``REGISTER_INTENTS``/``KIOSK_INTENTS`` sets, what it receives from
the ``RegisterMessage``/``KioskMessage`` unions, and every description from the models'
docstrings and ``Field(description=…)``.  A message added there shows up here by itself; only its
example (``EXAMPLES``) is written by hand.

The document describes the *bridge*: a ``receive`` operation is a message a device sends to the
bridge, a ``send`` operation one the bridge sends to the device.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from cashier_bridge import protocol
from cashier_bridge.protocol import KIOSK_INTENTS, MAX_FRAME_BYTES, REGISTER_INTENTS, VERSION, Role

DEFAULT_OUT = "docs/register-protocol.asyncapi.json"
REGENERATE = f"selfreg-bridge asyncapi --out {DEFAULT_OUT}"

# Intents either role may send; the server answers them before looking at the role.
COMMON_INTENTS = frozenset({"hello", "ping"})

SCHEMA_REF = "#/components/schemas/{model}"

# One example per message, keyed by (role, message type).  Plain JSON, not model instances, so
# that the tests can check them against the parsers the bridge really uses.  The names and
# numbers are the ones of the worked example in docs/register-protocol.md.
_ANNA: dict[str, Any] = {
    "id": 1, "customer_code": "1001", "first_name": "Anna", "last_name": "Andersson",
    "phone": "+46701234567", "email": None, "personal_id_masked": "19850312-****",
    "created_via": "import", "is_new": False, "matched_on": "personnummer"}
_PROMPT: dict[str, Any] = {
    "prompt_id": "9f2c4e7a1b3d4c5e8f6a7b8c9d0e1f2a", "personal_id_masked": "19910417-****",
    "birth_date": "1991-04-17", "phone": None, "first_name": None, "last_name": None,
    "email": None, "address": None, "document": None, "document_number": None,
    "document_expired": None, "source": "numpad", "possible_duplicates": []}
_REGISTER_EXAMPLES: dict[str, dict[str, Any]] = {
    "hello": {"v": 1, "type": "hello", "role": "register", "lane": "kassa-1",
              "token": "sr_Xq3…(the token printed by selfreg-bridge pair)"},
    "start_sale": {"v": 1, "type": "start_sale", "sale_id": "S-1042"},
    "end_sale": {"v": 1, "type": "end_sale", "sale_id": "S-1042", "total_minor": 24900,
                 "currency": "SEK"},
    "confirm_member": {"v": 1, "type": "confirm_member", "prompt_id": _PROMPT["prompt_id"],
                       "details": {"first_name": "Berit", "last_name": "Berg",
                                   "email": "berit.berg@example.se", "phone": "070-765 43 21",
                                   "marketing_consent": True}},
    "connect_existing": {"v": 1, "type": "connect_existing", "prompt_id": _PROMPT["prompt_id"],
                         "customer_id": 17},
    "connect_customer": {"v": 1, "type": "connect_customer", "customer_id": 1},
    "abort_member": {"v": 1, "type": "abort_member", "prompt_id": _PROMPT["prompt_id"]},
    "ping": {"v": 1, "type": "ping"},
    "welcome": {"v": 1, "type": "welcome", "role": "register", "lane": "kassa-1",
                "server_version": "0.1.0"},
    "state": {"v": 1, "type": "state", "lane": "kassa-1", "phase": "await_cashier", "seq": 7,
              "view": {"sale_id": "S-1042", "method": "numpad", "customer": None,
                       "prompt": _PROMPT, "notice": None}},
    "customer_connected": {"v": 1, "type": "customer_connected", "lane": "kassa-1", "seq": 5,
                           "sale_id": "S-1042", "customer": _ANNA},
    "member_prompt": {"v": 1, "type": "member_prompt", "lane": "kassa-1", "seq": 6,
                      "sale_id": "S-1042", "prompt": _PROMPT},
    "prompt_withdrawn": {"v": 1, "type": "prompt_withdrawn", "lane": "kassa-1", "seq": 8,
                         "prompt_id": _PROMPT["prompt_id"], "reason": "shopper_cancelled"},
    "error": {"v": 1, "type": "error", "code": "stale_prompt",
              "message": f"prompt {_PROMPT['prompt_id']} is not the open prompt",
              "ref": "confirm_member"},
    "pong": {"v": 1, "type": "pong"},
}
_KIOSK_EXAMPLES: dict[str, dict[str, Any]] = {
    "hello": {"v": 1, "type": "hello", "role": "kiosk", "lane": "kassa-1"},
    "choose": {"v": 1, "type": "choose", "method": "numpad"},
    "submit_id": {"v": 1, "type": "submit_id", "digits": "199104170106"},
    "scan": {"v": 1, "type": "scan", "text": "2000000010014", "symbology": "EAN13"},
    "member_answer": {"v": 1, "type": "member_answer", "accept": True},
    "cancel": {"v": 1, "type": "cancel"},
    "screen_timeout": {"v": 1, "type": "screen_timeout", "seq": 4},
    "renew_mobile": {"v": 1, "type": "renew_mobile"},
    "ping": {"v": 1, "type": "ping"},
    "welcome": {"v": 1, "type": "welcome", "role": "kiosk", "lane": "kassa-1",
                "server_version": "0.1.0"},
    "state": {"v": 1, "type": "state", "lane": "kassa-1", "phase": "ask_member", "seq": 4,
              "view": {"method": "numpad", "first_name": None, "masked_id": "19910417-****",
                       "notice": None, "busy": False, "times_out": True, "mobile_url": None,
                       "mobile_expires_in_s": None, "mobile_submitted": False}},
    "error": {"v": 1, "type": "error", "code": "not_allowed",
              "message": "not possible while the lane is idle (needs choosing, identifying, "
                         "not_found)", "ref": "choose"},
    "pong": {"v": 1, "type": "pong"},
}
EXAMPLES: dict[Role, dict[str, dict[str, Any]]] = {
    Role.register: _REGISTER_EXAMPLES, Role.kiosk: _KIOSK_EXAMPLES}

_CHANNELS = {
    Role.register: (
        "/ws/register", "The register (cashier's POS)",
        "The cashier's side of a lane. The register starts and ends sales, is told who the "
        "shopper is (`customer_connected`, with the full customer record), confirms or aborts "
        "new members (`member_prompt`) and may connect a customer by hand. After `hello` it is "
        "sent `welcome` and then the lane's current `state`, and a new `state` after every "
        "change of the lane."),
    Role.kiosk: (
        "/ws/kiosk", "The kiosk (customer-facing screen)",
        "The shopper's side of a lane: it sends what the shopper chose, typed or showed, and "
        "renders the lane's `state`, which never holds more personal data than the screen may "
        "show."),
}


def intent_models() -> list[type[BaseModel]]:
    """Every message a device may send, in the order of the ``Intent`` union."""
    return list(get_args(get_args(protocol.Intent)[0]))


def _message_models(union: object) -> list[type[BaseModel]]:
    return list(get_args(get_args(union)[0]))


def _type_of(model: type[BaseModel]) -> str:
    return str(model.model_fields["type"].default)


def sends(role: Role) -> list[type[BaseModel]]:
    """The messages a device of ``role`` sends, as the bridge accepts them."""
    allowed = (REGISTER_INTENTS if role is Role.register else KIOSK_INTENTS) | COMMON_INTENTS
    models = intent_models()
    unplaced = {_type_of(m) for m in models} - REGISTER_INTENTS - KIOSK_INTENTS - COMMON_INTENTS
    if unplaced:  # the server would refuse them from either role: say so rather than guess
        raise ValueError(f"intents in no role's set (protocol.REGISTER_INTENTS/KIOSK_INTENTS): "
                         f"{sorted(unplaced)}")
    missing = allowed - {_type_of(m) for m in models}
    if missing:
        raise ValueError(f"{role.value} intents without a model in protocol.Intent: "
                         f"{sorted(missing)}")
    return [m for m in models if _type_of(m) in allowed]


def receives(role: Role) -> list[type[BaseModel]]:
    """The messages the bridge sends to a device of ``role``."""
    return _message_models(protocol.RegisterMessage if role is Role.register
                           else protocol.KioskMessage)


def _describe(model: type[BaseModel]) -> tuple[str, str]:
    """(summary, description) from the model's docstring."""
    doc = inspect.getdoc(model) or ""
    if not doc or doc == inspect.getdoc(BaseModel) or doc == inspect.getdoc(protocol._Msg):
        return f"The `{_type_of(model)}` message.", ""
    first = doc.split("\n\n")[0].replace("\n", " ")
    summary = first.split(". ")[0].rstrip(".") + "."
    return summary, doc


def _collect(model: type[BaseModel], schemas: dict[str, Any]) -> None:
    """Put the model's JSON schema and those it refers to into ``schemas``."""
    schema = model.model_json_schema(ref_template=SCHEMA_REF)
    defs = schema.pop("$defs", {})
    for name, sub in [*defs.items(), (model.__name__, schema)]:
        if name in schemas and schemas[name] != sub:
            raise ValueError(f"two different schemas are both called {name}")
        schemas[name] = sub


def build() -> dict[str, Any]:
    """The whole AsyncAPI document as a JSON-ready dict (deterministic: same models, same
    document)."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for role in (Role.register, Role.kiosk):
        address, title, description = _CHANNELS[role]
        channel_messages: dict[str, Any] = {}
        for action, models in (("receive", sends(role)), ("send", receives(role))):
            for model in models:
                kind = _type_of(model)
                _collect(model, schemas)
                # Per role: a kiosk's state is another model than a register's.
                key = f"{role.value}.{kind}"
                summary, text = _describe(model)
                message: dict[str, Any] = {
                    "name": kind, "title": model.__name__, "summary": summary,
                    "contentType": "application/json",
                    "payload": {"$ref": SCHEMA_REF.format(model=model.__name__)}}
                if text:
                    message["description"] = text
                example = EXAMPLES[role].get(kind)
                if example is not None:
                    message["examples"] = [{"name": f"{role.value}-{kind}", "payload": example}]
                messages[key] = message
                channel_messages[kind] = {"$ref": f"#/components/messages/{key}"}
                who = "The bridge receives from" if action == "receive" else "The bridge sends to"
                operation: dict[str, Any] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{role.value}"},
                    "title": f"{role.value} {'sends' if action == 'receive' else 'receives'} "
                             f"{kind}",
                    "summary": f"{who} the {role.value}: {summary}",
                    "messages": [{"$ref": f"#/channels/{role.value}/messages/{kind}"}]}
                if kind == "ping":
                    operation["reply"] = {
                        "channel": {"$ref": f"#/channels/{role.value}"},
                        "messages": [{"$ref": f"#/channels/{role.value}/messages/pong"}]}
                operations[f"{role.value}.{'sends' if action == 'receive' else 'receives'}."
                           f"{kind}"] = operation
        channels[role.value] = {"address": address, "title": title, "description": description,
                                "servers": [{"$ref": "#/servers/local"},
                                            {"$ref": "#/servers/shop"},
                                            {"$ref": "#/servers/shop-tls"}],
                                "messages": channel_messages}
    return {
        "asyncapi": "3.0.0",
        "id": "urn:selfreg:cashier-bridge:device-protocol",
        "info": {
            "title": "selfreg cashier bridge: device protocol",
            "version": str(VERSION),
            "description": _INFO,
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {"host": "127.0.0.1:8765", "protocol": "ws",
                      "description": "The bridge on the register's own machine, as installed "
                                     "(`selfreg-bridge serve`). Devices are paired and send "
                                     "their token in `hello` here too."},
            "shop": {"host": "{host}:{port}", "protocol": "ws",
                     "description": "A bridge elsewhere in the shop's network (`host = "
                                    "\"0.0.0.0\"`): every device must be paired and send its "
                                    "token in `hello`.",
                     "variables": {"host": {"default": "bridge.local",
                                            "description": "the bridge's address"},
                                   "port": {"default": "8765"}}},
            "shop-tls": {"host": "{host}:{port}", "protocol": "wss",
                         "description": "The same over TLS: the bridge with `tls_cert`/`tls_key` "
                                        "set, or a chain's Caddy in front (deploy/Caddyfile).",
                         "variables": {"host": {"default": "bridge.example.se",
                                                "description": "the name on the certificate"},
                                       "port": {"default": "8765"}}},
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": dict(sorted(schemas.items())),
                       "messages": messages},
    }


_INFO = f"""\
The websocket protocol between the selfreg cashier bridge and the devices of a *lane* (one \
register paired with one customer-facing kiosk). Read docs/register-protocol.md for the guide: \
connecting, the lane phases, errors, reconnecting, idempotency and a worked example session.

* One JSON object per **text** frame, at most {MAX_FRAME_BYTES} bytes ({MAX_FRAME_BYTES // 1024} \
KiB); a binary frame is answered with `error` code `binary_frame`, a bigger frame closes the \
connection with 1009.
* Every message has `type` and `v` (the protocol version, {VERSION}); `v` may be left out when \
sending. Unknown fields are refused (`invalid_message`).
* The first message on a connection is `hello` (within 30 s); the bridge answers `welcome` and \
then the lane's current `state`.
* A message the bridge cannot accept is answered with `error` and the connection stays open, \
except `unauthorized` and `lane_limit` (and a missing `hello`), after which the bridge closes \
with 1008.

This document describes the bridge: a `receive` operation is a message a device sends, a `send` \
operation one the bridge sends to the device."""


def render() -> str:
    """The document as committed: JSON, two-space indent, a final newline."""
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cashier_bridge.lanes.asyncapi",
                                     description="write the device protocol as AsyncAPI 3")
    parser.add_argument("--out", help=f"file to write (default: standard output); the "
                                      f"repository's copy is {DEFAULT_OUT}")
    args = parser.parse_args(argv)
    return write(args.out)


def write(out: str | None) -> int:
    text = render()
    if out is None or out == "-":
        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
