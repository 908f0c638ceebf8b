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
