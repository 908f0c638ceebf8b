"""Every malformed frame gets a specific, machine-readable error code."""

from __future__ import annotations

import json

import pytest

from cashier_bridge.protocol import (
    ErrorCode,
    Hello,
    ProtocolError,
    Role,
    SubmitId,
    dump,
    parse_intent,
)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", ErrorCode.invalid_json),
        (b"\xff\xfe", ErrorCode.invalid_json),
        ("[1, 2]", ErrorCode.invalid_message),
        ('{"type": "teleport"}', ErrorCode.unknown_type),
        ('{"v": 2, "type": "hello", "role": "kiosk", "lane": "a"}', ErrorCode.unsupported_version),
        ('{"type": "hello", "role": "toaster", "lane": "a"}', ErrorCode.invalid_message),
        ('{"type": "hello", "role": "kiosk", "lane": "a b"}', ErrorCode.invalid_message),
        ('{"type": "submit_id", "digits": "12ab"}', ErrorCode.invalid_message),
        ('{"type": "submit_id", "digits": "1", "extra": 1}', ErrorCode.invalid_message),
        ('{"type": "confirm_member", "prompt_id": "p", "details": {"first_name": ""}}',
         ErrorCode.invalid_message),
    ],
)
def test_bad_frames_are_rejected_with_a_specific_code(frame: str | bytes, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_intent(frame)
    assert err.value.code is code
    reply = json.loads(dump(err.value.reply()))
    assert reply["type"] == "error" and reply["code"] == code.value and reply["message"]


def test_the_error_names_the_field_that_is_wrong() -> None:
    with pytest.raises(ProtocolError) as err:
        parse_intent('{"type": "submit_id", "digits": "12ab"}')
    assert "digits" in str(err.value)
    assert err.value.ref == "submit_id"


def test_good_frames_round_trip() -> None:
    for message in (Hello(role=Role.kiosk, lane="lane-1"), SubmitId(digits="198503121237")):
        assert parse_intent(dump(message)) == message
    assert json.loads(dump(SubmitId(digits="1")))["v"] == 1


def _subclasses(cls: type) -> list[type]:
    return [cls, *(s for sub in cls.__subclasses__() for s in _subclasses(sub))]


def test_every_identity_error_code_is_a_notice_the_kiosk_can_show() -> None:
    from cashier_bridge.identity import errors
    from cashier_bridge.protocol import Notice

    codes = {c.code for c in _subclasses(errors.IdentityError)}
    assert codes and codes <= {n.value for n in Notice}, codes - {n.value for n in Notice}


def test_an_unknown_code_is_a_plain_invalid_notice_not_a_crash() -> None:
    from cashier_bridge.protocol import Notice

    assert Notice.of("invalid_checksum") is Notice.invalid_checksum
    assert Notice.of("something_new") is Notice.invalid


def test_the_kiosk_state_says_which_screens_time_out() -> None:
    from cashier_bridge.lanes import lane as m
    from cashier_bridge.lanes.lane import Lane
    from cashier_bridge.protocol import Method, Phase

    lane, _ = m.start_sale(Lane(name="l"), "s1")
    assert m.kiosk_state(lane).view.times_out is False  # the choices wait for the shopper
    lane, _ = m.choose(lane, Method.numpad)
    assert lane.phase is Phase.identifying and m.kiosk_state(lane).view.times_out is True
    back, _ = m.screen_timeout(lane, lane.seq)
    assert back.phase is Phase.choosing
