"""The phone on its lane like a device: its form is an intent the lane hub handles under the
phone's own role, against a real registry (no web server: the hub is what the page calls)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cashier_bridge.lanes import mobile_tokens as tokens
from cashier_bridge.lanes.hub import LaneHub
from cashier_bridge.lanes.lane import MobileProblem, MobileRefused, PhoneLink, RecordConsents
from cashier_bridge.protocol import (
    Choose,
    ConsentChoice,
    ErrorCode,
    Hello,
    Method,
    Phase,
    PhoneSubmit,
    ProtocolError,
    Role,
    StartSale,
    parse_intent,
)
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.web.mobile.routes import PhonePeer

LANE = "kassa-7"
ANNA_PNR = "198503120183"
ANNA = {"first_name": "anna", "last_name": "ANDERSSON", "phone": "070-123 45 67",
        "personal_id": ANNA_PNR}
MARKETING = ConsentChoice(purpose="marketing", granted=True, version="v-0123456789abcdef")


class Device:
    """A kiosk or register attached to the hub, keeping what it is sent."""

    def __init__(self, role: Role) -> None:
        self.role = role
        self.lane = ""
        self.sent: list[dict[str, object]] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


class Following(PhonePeer):
    """A phone page following the flow, keeping the signals it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    async def send(self, text: str) -> None:
        self.texts.append(text)
        await super().send(text)


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[LaneHub]:
    registry = Registry.open(f"sqlite:///{tmp_path / 'shop.db'}")
    registry.customers.create_new("anna", NewCustomer(
        first_name="Anna", last_name="Andersson", phone="+46701234567",
        personal_id_fingerprint=registry.fingerprint(ANNA_PNR),
        personal_id_masked="19850312-****", customer_code="1001"))
    hub = LaneHub(registry)
    yield hub
    await hub.drain()
    registry.close()


async def show_code(hub: LaneHub) -> tuple[Device, Device, str]:
    """A sale whose kiosk shows a phone code; the code the QR leads to."""
    kiosk, register = Device(Role.kiosk), Device(Role.register)
    await hub.attach(kiosk, Hello(role=Role.kiosk, lane=LANE))
    await hub.attach(register, Hello(role=Role.register, lane=LANE))
    await hub.handle(register, StartSale(sale_id="s-1"))
    await hub.handle(kiosk, Choose(method=Method.mobile))
    link = (await hub.current(LANE)).mobile
    assert link is not None
    return kiosk, register, tokens.derive(hub.mobile.key, LANE, link.nonce)


def submission(code: str, receipt: str = "r" * 24, **changes: object) -> PhoneSubmit:
    return PhoneSubmit(code=code, receipt=receipt, consents=(MARKETING,),
                       **{**ANNA, **changes})  # type: ignore[arg-type]


async def test_the_phones_form_connects_the_shopper_and_records_her_consent_once(
        hub: LaneHub) -> None:
    kiosk, register, code = await show_code(hub)
    follower = Following()
    await hub.watch(follower, LANE)
    await hub.handle(PhonePeer(LANE), submission(code))
    await hub.drain()
    lane = await hub.current(LANE)
    assert lane.phase is Phase.connected and lane.customer is not None
    assert lane.customer.customer_code == "1001"
    assert lane.phone is not None and lane.phone.link is PhoneLink.matched
    assert lane.phone.consents_recorded and not (await hub.current(LANE)).lookup_id
    connected = [m for m in register.sent if m["type"] == "customer_connected"]
    assert [m["customer"]["customer_code"] for m in connected] == ["1001"]  # type: ignore
    # The candidate is the one every presentation gets: masked, fingerprinted, names kept to
    # check the find, and nothing of the raw personnummer.
    assert lane.candidate is not None and lane.candidate.source is Method.mobile
    assert lane.candidate.personal_id_masked == "19850312-****"
    assert ANNA_PNR not in lane.model_dump_json()
    entries = hub.registry.consents.log(lane.customer.id)
    assert [(e.purpose, e.granted, e.source, e.text_version) for e in entries] == [
        ("marketing", True, "via_mobil", MARKETING.version)]
    # The same form sent again (a double tap) changes nothing and writes nothing twice.
    await hub.handle(PhonePeer(LANE), submission(code))
    await hub.drain()
    assert len(hub.registry.consents.log(lane.customer.id)) == 1
    # The page following the flow heard every step, and never the code's address (the kiosk
    # shows that).
    assert follower.texts and all("/m/" not in text for text in follower.texts)
    assert any("/m/" in json.dumps(m) for m in kiosk.sent)


async def test_another_phone_with_the_same_code_is_refused(hub: LaneHub) -> None:
    _kiosk, _register, code = await show_code(hub)
    await hub.handle(PhonePeer(LANE), submission(code))
    with pytest.raises(MobileRefused) as refused:
        await hub.handle(PhonePeer(LANE), submission(code, receipt="s" * 24))
    assert refused.value.problem is MobileProblem.used


async def test_a_mismatch_asks_the_cashier_and_writes_no_consent(hub: LaneHub) -> None:
    _kiosk, register, code = await show_code(hub)
    await hub.handle(PhonePeer(LANE), submission(code, first_name="Eva"))
    await hub.drain()
    lane = await hub.current(LANE)
    assert lane.phase is Phase.await_cashier and lane.customer is None
    anna = hub.registry.customers.find_by_code("1001")
    assert anna is not None and hub.registry.consents.log(anna.id) == []
    assert not [m for m in register.sent if m["type"] == "customer_connected"]


async def test_only_the_phone_sends_the_phones_intent_and_it_sends_nothing_else(
        hub: LaneHub) -> None:
    kiosk, _register, code = await show_code(hub)
    with pytest.raises(ProtocolError) as refused:
        await hub.handle(kiosk, submission(code))
    assert refused.value.code is ErrorCode.wrong_role
    with pytest.raises(ProtocolError) as refused:
        await hub.handle(PhonePeer(LANE), Choose(method=Method.numpad))
    assert refused.value.code is ErrorCode.wrong_role
    assert (await hub.current(LANE)).phase is Phase.identifying  # nothing changed
    assert (await hub.current(LANE)).method is Method.mobile


@pytest.mark.parametrize("frame", [
    {"type": "phone_submit", **ANNA, "code": "c" * 43, "receipt": "r" * 24},
    {"type": "hello", "role": "phone", "lane": LANE},
])
def test_no_websocket_device_can_speak_as_the_phone(frame: dict[str, str]) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_intent(json.dumps(frame))
    assert refused.value.code in (ErrorCode.unknown_type, ErrorCode.invalid_message)


def test_the_phones_intent_keeps_its_secrets_out_of_logs() -> None:
    text = repr(submission("c" * 43))
    assert ANNA_PNR not in text and "c" * 43 not in text and "r" * 24 not in text
    assert "anna" not in text.lower()


async def test_consents_for_a_customer_erased_meanwhile_are_not_written(hub: LaneHub) -> None:
    anna = hub.registry.customers.find_by_code("1001")
    assert anna is not None
    hub.registry.customers.erase(anna.id, actor="t")
    effect = RecordConsents(anna.id, "code-hash", (MARKETING,))
    assert await hub._pool.run(hub._write_consents, effect) is None
    with pytest.raises(LookupError):
        hub.registry.consents.log(anna.id)  # erased: not even a log to read


async def test_details_the_page_would_not_send_are_refused_and_change_nothing(
        hub: LaneHub) -> None:
    _kiosk, _register, code = await show_code(hub)
    before = await hub.current(LANE)
    with pytest.raises(ProtocolError) as refused:
        await hub.handle(PhonePeer(LANE), submission(code, personal_id="198503120184"))
    assert refused.value.code is ErrorCode.not_allowed
    assert ANNA_PNR[:8] not in str(refused.value)  # the reply names no digits
    after = await hub.current(LANE)
    assert after.seq == before.seq and after.mobile == before.mobile  # the code is not used up
