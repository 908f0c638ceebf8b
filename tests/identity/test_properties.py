"""No parser raises anything but IdentityError, whatever it is fed; format -> parse round trips."""

import contextlib
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from cashier_bridge.cli.parse import describe
from cashier_bridge.identity import (
    aamva,
    customer_code,
    mecard,
    mrz,
    personnummer,
    phone,
    vcard,
)
from cashier_bridge.identity.classify import classify
from cashier_bridge.identity.errors import IdentityError
from identity.conftest import TODAY

PREFIXES = st.sampled_from(["", "@\n\x1e\rANSI 636000100202DL00410422DL", "BEGIN:VCARD\r\n",
                            "MECARD:", "BIZCARD:", "P<UTO", "19", "+46", "DAQ"])
TEXT = st.builds(lambda p, t: p + t, PREFIXES, st.text(max_size=200))

PARSERS = [
    lambda t: personnummer.parse(t, today=TODAY),
    lambda t: phone.validate(t, "SE"),
    lambda t: customer_code.validate(t, customer_code.CardFormat(length=13, check_digit="ean13")),
    lambda t: vcard.parse(t),
    lambda t: mecard.parse(t),
    lambda t: aamva.parse(t, today=TODAY),
    lambda t: mrz.parse(t, today=TODAY),
]


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_parsers_raise_only_identity_errors(text: str) -> None:
    for parser in PARSERS:
        with contextlib.suppress(IdentityError):
            parser(text)
    for source in ("numpad", "scan"):
        classify(text, source, today=TODAY)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_get_a_json_answer(data: bytes) -> None:
    result = describe(data, today=TODAY)
    assert ("kind" in result) != ("error" in result)
    with contextlib.suppress(IdentityError):
        vcard.parse(data)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY), st.integers(1, 999),
       st.booleans())
def test_personnummer_round_trip(birth: dt.date, serial: int, coordination: bool) -> None:
    day = birth.day + (60 if coordination else 0)
    body = f"{birth:%y%m}{day:02d}{serial:03d}"
    number = f"{birth.year:04d}{body[2:]}{luhn.calc_check_digit(body)}"
    formatted = personnummer.format(number, today=TODAY)
    pid = personnummer.parse(formatted, today=TODAY)
    assert pid.number == number and pid.birth_date == birth and pid.coordination == coordination


# A name has a letter in it: "-" or "0" where a name should be is read as no name at all.
NAMES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("C", "Z")),
                min_size=1, max_size=20).filter(lambda s: any(c.isalpha() for c in s))


@given(NAMES, NAMES)
def test_mecard_round_trip(first: str, last: str) -> None:
    doc = mecard.parse(mecard.format(first, last, phone="+46701234567"))
    assert (doc.first_name, doc.last_name, doc.phone) == (first, last, "+46701234567")


@given(st.from_regex(r"[A-Z0-9]{9}", fullmatch=True), st.dates(dt.date(1930, 1, 1), TODAY))
def test_mrz_check_digits_round_trip(number: str, birth: dt.date) -> None:
    from identity.test_documents import _td3_line2

    line2 = _td3_line2(number, f"{birth:%y%m%d}", "F", "300101", "")
    doc = mrz.parse("P<UTOSMITH<<ANNA" + "<" * 28 + "\n" + line2, today=TODAY)
    assert doc.document_number == number.rstrip("<") and doc.birth_date == birth
