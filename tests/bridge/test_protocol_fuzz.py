"""Protocol fuzz: every intent type, well-formed and broken, sent to a running bridge.

A kiosk and a register talk to `selfreg-bridge serve` on one lane while hypothesis makes up what
they say.  Whatever they send, every reply must be a valid protocol message, a frame the protocol
rejects must be answered with the error code `protocol.parse_intent` gives it, the connection must
survive everything but an oversized frame (1009) or text that is not UTF-8 (1007), and the bridge
must never log a traceback.  Bounded (400 conversations, 15-30 s on 2 cores): it runs in CI.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, get_args

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from cashier_bridge.protocol import (
    DEVICE_ROLES,
    MAX_FRAME_BYTES,
    AbortMember,
    Cancel,
    Choose,
    ConfirmMember,
    ConnectCustomer,
    ConnectExisting,
    EndSale,
    ErrorCode,
    Hello,
    Intent,
    MemberAnswer,
    MemberDetails,
    Method,
    Ping,
    ProtocolError,
    RenewMobile,
    Role,
    Scan,
    ScreenTimeout,
    StartSale,
    SubmitId,
    parse_intent,
    parse_kiosk_message,
    parse_register_message,
)
from tests.bridge.test_ws_hardening import BridgeProcess, assert_no_traceback

LANE = "fuzz-1"
# Stands for the prompt id the register was last shown, so confirm/abort/connect can be right.
LATEST_PROMPT = "<latest prompt>"

# --- well-formed intents ------------------------------------------------------------------------

short_text = st.text(max_size=40)
prompt_ids = st.sampled_from([LATEST_PROMPT, LATEST_PROMPT, "0" * 32]) | short_text
digits = st.sampled_from(["198503120183", "199104170106", "198503120184", "0701234567", "1001",
                          "+46 70 123 45 67"]) | st.from_regex(r"[0-9+\- ]{1,32}", fullmatch=True)
scans = st.sampled_from([
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lindqvist;Greta;;;\r\nTEL:+46 73 555 12 34\r\n"
    "BDAY:1979-06-02\r\nEND:VCARD\r\n",
    "MECARD:N:Andersson,Anna;TEL:0701234567;;",
    "P<SWELINDQVIST<<GRETA<<<<<<<<<<<<<<<<<<<<<<<",
    "\x01" * 8192,  # the largest scan, every character JSON-escaped
]) | st.text(min_size=1, max_size=300)

VALID: dict[str, st.SearchStrategy[BaseModel]] = {
    "hello": st.builds(Hello, role=st.sampled_from(DEVICE_ROLES),
                       lane=st.sampled_from([LANE, "fuzz-2"])),
    "start_sale": st.builds(StartSale, sale_id=st.text(min_size=1, max_size=64)),
    "end_sale": st.builds(EndSale, sale_id=st.none() | st.text(max_size=64),
                          total_minor=st.none() | st.integers(-10**12, 10**12),
                          currency=st.none() | st.sampled_from(["SEK", "EUR"])),
    "connect_customer": st.builds(ConnectCustomer, customer_id=st.integers(1, 10**12)),
    "confirm_member": st.builds(
        ConfirmMember, prompt_id=prompt_ids,
        details=st.builds(MemberDetails, first_name=st.text(min_size=1, max_size=100),
                          last_name=st.text(min_size=1, max_size=100),
                          email=st.none() | st.emails().filter(lambda e: len(e) <= 254),
                          phone=st.none() | st.from_regex(r"\+?[0-9 ]{1,31}", fullmatch=True),
                          marketing_consent=st.booleans())),
    "connect_existing": st.builds(ConnectExisting, prompt_id=prompt_ids,
                                  customer_id=st.integers()),
    "abort_member": st.builds(AbortMember, prompt_id=prompt_ids),
    "choose": st.builds(Choose, method=st.sampled_from(Method)),
    "submit_id": st.builds(SubmitId, digits=digits),
    "scan": st.builds(Scan, text=scans,
                      symbology=st.none() | st.sampled_from(["QRCode", "PDF417", "DataMatrix"])),
    "member_answer": st.builds(MemberAnswer, accept=st.booleans()),
    "cancel": st.just(Cancel()),
    "screen_timeout": st.builds(ScreenTimeout, seq=st.integers(min_value=-1, max_value=10**9)),
    "renew_mobile": st.just(RenewMobile()),
    "ping": st.just(Ping()),
}


def test_the_fuzz_knows_every_intent_type() -> None:
    models = get_args(get_args(Intent)[0])
    assert set(VALID) == {m.model_fields["type"].default for m in models}


valid_intents = st.one_of(*VALID.values())

# --- broken messages ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | short_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(short_text, inner, max_size=4),
    max_leaves=12)


@dataclass(frozen=True)
class Frame:
    data: str | bytes
    text: bool = True  # sent as a text frame (bytes then need not be UTF-8)


def as_dict(message: BaseModel) -> dict[str, Any]:
    return dict(json.loads(message.model_dump_json()))


NESTED = "<nested arrays>"


@st.composite
def broken_messages(draw: st.DrawFn) -> Frame:
    message = as_dict(draw(valid_intents))
    keys = sorted(message)
    how = draw(st.sampled_from(["missing", "extra", "wrong_type", "huge", "version", "type",
                                "nested", "surrogate"]))
    ascii_only = draw(st.booleans())
    nested = ""
    if how == "missing":
        del message[draw(st.sampled_from(keys))]
    elif how == "extra":
        message[draw(short_text.filter(lambda k: k not in message))] = draw(json_values)
    elif how == "wrong_type":
        message[draw(st.sampled_from(keys))] = draw(json_values)
    elif how == "huge":  # around the frame cap: below it is invalid_message, above it 1009
        size = draw(st.integers(min_value=8193, max_value=MAX_FRAME_BYTES + 200))
        message[draw(st.sampled_from(keys))] = draw(st.sampled_from("aé€\x01")) * size
    elif how == "version":
        message["v"] = draw(json_values.filter(lambda v: v != 1))
    elif how == "type":
        message["type"] = draw(json_values)
    elif how == "nested":  # written as text: Python's json recurses, and not always as deep
        depth = draw(st.integers(min_value=1, max_value=3000))
        message[draw(st.sampled_from(keys))] = NESTED
        nested = "[" * depth + "]" * depth
    else:  # JSON may escape half of a surrogate pair; no UTF-8 text can hold it
        message[draw(st.sampled_from(keys))] = draw(st.sampled_from(["\ud800", "a\udfffb"]))
        ascii_only = True
    return Frame(json.dumps(message, ensure_ascii=ascii_only).replace(json.dumps(NESTED), nested))


deep_arrays = st.integers(min_value=1, max_value=MAX_FRAME_BYTES // 2 + 50).map(
    lambda depth: Frame("[" * depth + "]" * depth))
not_objects = json_values.filter(lambda v: not isinstance(v, dict)).map(
    lambda v: Frame(json.dumps(v)))
not_json = st.text(max_size=200).map(Frame)
binary = st.binary(max_size=300).map(lambda b: Frame(b, text=False))
invalid_utf8 = st.binary(min_size=1, max_size=200).filter(
    lambda b: not _is_utf8(b)).map(lambda b: Frame(b, text=True))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


frames = st.one_of(
    valid_intents.map(lambda m: Frame(m.model_dump_json())),
    valid_intents.map(lambda m: Frame(m.model_dump_json())),
    broken_messages(), deep_arrays, not_objects, not_json, binary, invalid_utf8)

# --- what the bridge must do --------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    outcome: Literal["accepted", "error", "closed"]
    code: ErrorCode | int | None = None
    pongs: int = 0  # a frame that is itself a ping is answered with a pong of its own


def expect(frame: Frame) -> Expect:
    raw = frame.data.encode() if isinstance(frame.data, str) else frame.data
    if len(raw) > MAX_FRAME_BYTES:
        return Expect("closed", 1009)
    if not frame.text:
        return Expect("error", ErrorCode.binary_frame)
    if not _is_utf8(raw):
        return Expect("closed", 1007)
    try:
        intent = parse_intent(raw.decode())
    except ProtocolError as err:
        return Expect("error", err.code)
    return Expect("accepted", pongs=int(isinstance(intent, Ping)))


class Device:
    def __init__(self, ws: ClientConnection, role: Role, tokens: dict[str, str]) -> None:
        self.role = role
        self.ws = ws
        self.tokens = tokens  # lane -> this role's pairing token
        self.closed = False
        self.latest_prompt = "none yet"
        self.phase = "unknown"

    def read(self) -> dict[str, Any]:
        text = self.ws.recv(timeout=10)
        assert isinstance(text, str), "the bridge sends text frames"
        parse = parse_kiosk_message if self.role is Role.kiosk else parse_register_message
        parse(text)  # a valid protocol message for this role, or this raises
        message = dict(json.loads(text))
        if message["type"] == "state":
            self.phase = message["phase"]
            event(f"reached {self.phase}")
        assert not (message["type"] == "error" and message["code"] == ErrorCode.internal), (
            message)
        prompt = message.get("prompt") or (message.get("view") or {}).get("prompt")
        if prompt:
            self.latest_prompt = prompt["prompt_id"]
        return message

    def replies_until_pong(self, pongs: int = 1) -> list[dict[str, Any]]:
        """Everything the bridge sent until it answered ``pongs`` pings."""
        replies = []
        while pongs:
            replies.append(self.read())
            pongs -= replies[-1]["type"] == "pong"
        return replies

    def paired(self, frame: Frame) -> tuple[Frame, Expect | None]:
        """A well-formed hello of this device's role says hello as the lane's paired device
        (with its token); one that names a token of its own is refused and sent away."""
        if not isinstance(frame.data, str) or not frame.text:
            return frame, None
        try:
            intent = parse_intent(frame.data)
        except ProtocolError:
            return frame, None
        if not isinstance(intent, Hello) or intent.role is not self.role:
            return frame, None
        if intent.token is None:
            return Frame(intent.model_copy(update={"token": self.tokens[intent.lane]})
                         .model_dump_json()), None
        if intent.token != self.tokens[intent.lane]:
            return frame, Expect("closed", 1008)
        return frame, None

    def say(self, frame: Frame) -> None:
        if isinstance(frame.data, str) and LATEST_PROMPT in frame.data:
            frame = Frame(frame.data.replace(LATEST_PROMPT, self.latest_prompt))
        frame, refused = self.paired(frame)
        expected = refused or expect(frame)
        event(f"{expected.outcome} {expected.code or ''}")  # --hypothesis-show-statistics
        self.ws.send(frame.data, text=frame.text)
        if expected.outcome == "closed":
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    self.read()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == expected.code
            self.closed = True
            return
        self.ws.send(json.dumps({"type": "ping"}))
        replies = self.replies_until_pong(1 + expected.pongs)
        if expected.outcome == "error":
            codes = [r["code"] for r in replies if r["type"] == "error"]
            assert codes[:1] == [expected.code], (frame, replies)

    def tell(self, intent: BaseModel) -> None:
        self.say(Frame(intent.model_dump_json()))

    def until_phase(self, *phases: str) -> str:
        while self.phase not in phases:
            self.read()
        return self.phase

    def leave(self) -> None:
        if not self.closed:
            self.ws.send(json.dumps({"type": "ping"}))
            self.replies_until_pong()  # whatever is still on its way is valid too


@st.composite
def new_personnummer(draw: st.DrawFn) -> str:
    """A valid personnummer, most likely of nobody yet: the lane will offer membership."""
    born = draw(st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2005, 12, 31)))
    first = f"{born:%y%m%d}{draw(st.integers(min_value=1, max_value=999)):03d}"
    total = sum(sum(divmod(int(d) * (2 - i % 2), 10)) for i, d in enumerate(first))
    return f"{born:%Y%m%d}{first[6:]}{(10 - total % 10) % 10}"


def open_prompt(kiosk: Device, register: Device, pnr: str) -> None:
    """Bring the lane to the cashier's member prompt, so fuzzed confirms can be right."""
    register.tell(EndSale())
    register.tell(StartSale(sale_id="fuzz"))
    kiosk.tell(Choose(method=Method.numpad))
    kiosk.tell(SubmitId(digits=pnr))
    if kiosk.until_phase("ask_member", "connected", "not_found") == "ask_member":
        kiosk.tell(MemberAnswer(accept=True))
        register.until_phase("await_cashier")


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    # Hundreds of conversations type numbers on one lane in a few minutes: far more than the
    # Ange ID pause lets a stranger try (test_ange_id_pause.py), so this bridge lifts it.
    b = BridgeProcess(tmp_path_factory.mktemp("fuzz"), ange_id_lookups_per_minute="1000000")
    b.start()
    yield b
    b.stop()


def test_whatever_devices_send_they_get_protocol_messages_and_the_log_stays_clean(
        bridge: BridgeProcess) -> None:
    conversations = 0
    # The lanes' devices are paired; the fuzz's hellos speak as them (see Device.paired).
    tokens = {role: {lane: bridge.token(lane, role.value) for lane in (LANE, "fuzz-2")}
              for role in DEVICE_ROLES}

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(opening=st.sampled_from(["none", "hello", "prompt"]), pnr=new_personnummer(),
           said=st.lists(st.tuples(st.sampled_from(DEVICE_ROLES), frames), min_size=1,
                         max_size=8))
    def conversation(opening: str, pnr: str, said: list[tuple[Role, Frame]]) -> None:
        nonlocal conversations
        with contextlib.ExitStack() as connections:
            devices = {role: Device(connections.enter_context(connect(
                f"{bridge.url}/ws/{role.value}", open_timeout=10, close_timeout=5,
                max_size=None)), role, tokens[role]) for role in DEVICE_ROLES}
            conversations += 1
            if opening != "none":
                for role, device in devices.items():
                    device.tell(Hello(role=role, lane=LANE))
            if opening == "prompt":
                open_prompt(devices[Role.kiosk], devices[Role.register], pnr)
            for role, frame in said:
                if not devices[role].closed:
                    devices[role].say(frame)
            for device in devices.values():
                device.leave()
        # Both connections are over on the bridge's side too: whatever it logged about them is
        # in the log now.
        bridge.wait_for("device_disconnected", count=2 * conversations)
        assert_no_traceback(bridge.log)

    conversation()
    assert_no_traceback(bridge.stop())


@settings(max_examples=300, deadline=None)
@given(st.one_of(frames, st.text(max_size=500).map(Frame)))
def test_parse_intent_only_ever_raises_protocol_errors(frame: Frame) -> None:
    if isinstance(frame.data, bytes) and not _is_utf8(frame.data):
        return  # never reaches the parser: the websocket layer closes with 1007
    text = frame.data if isinstance(frame.data, str) else frame.data.decode()
    try:
        parse_intent(text)
    except ProtocolError as err:
        assert len(str(err)) < 600 and (err.ref is None or len(err.ref) <= 40)
