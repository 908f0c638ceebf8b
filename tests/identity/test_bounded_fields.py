"""Every field a document parser produces is bounded: the length its standard allows, and
never more than the customer field it ends up in; past it, a clear error naming the field
(issue 16: a licence whose document number was 500,000 characters was accepted)."""

from __future__ import annotations

import io
import json

import pytest

from cashier_bridge.cli.parse import describe, run
from cashier_bridge.identity import aamva, mecard, vcard
from cashier_bridge.identity.classify import classify
from cashier_bridge.identity.document import MAX_CHARS, ParsedDocument
from cashier_bridge.identity.errors import InvalidLength
from identity.conftest import TODAY

HEADER = "@\n\x1e\rANSI 636000100002DL00410278ZV03190008DL"
LICENCE = {"DAQ": "T64235789", "DCS": "SAMPLE", "DAC": "MICHAEL", "DBB": "06061986",
           "DBA": "12102030", "DAJ": "VA", "DAK": "24401", "DAG": "17 FIRST STREET",
           "DAI": "STAUNTON", "DCG": "USA"}
# Each element the parser reads, and the longest value AAMVA's DL/ID standard allows for it.
AAMVA_LIMITS = {"DAA": 125, "DAB": 40, "DAC": 40, "DAD": 40, "DAE": 5, "DCS": 40, "DCT": 80,
                "DCU": 5, "DAG": 35, "DAH": 35, "DAI": 20, "DAJ": 2, "DAK": 11, "DAQ": 25,
                "DBB": 8, "DCG": 3}


def licence(**elements: str) -> str:
    fields = {**LICENCE, **elements}
    return HEADER + "".join(f"{key}{value}\n" for key, value in fields.items()) + "\r"


def value_of(element: str, length: int) -> str:
    if element == "DBB":
        return ("06061986" + "1" * length)[:length]
    if element == "DAK":
        return ("244011234" + "0" * length)[:length]
    return ("K" * length) if element != "DAJ" else "V" * length


def test_a_licence_number_of_half_a_million_characters_is_refused_clearly() -> None:
    raw = licence(DAQ="1" * 500_000)
    with pytest.raises(InvalidLength) as refused:
        aamva.parse(raw, today=TODAY)
    assert str(refused.value) == ("the licence's licence number (DAQ) has 500000 characters; "
                                  "AAMVA allows at most 25")
    result = classify(raw[:90_000], "scan", today=TODAY)  # what a kiosk's scan can carry
    assert result.readings == () and result.best_rejection().code == "invalid_length"
    described = describe(raw.encode())
    assert described["code"] == "invalid_length" and "DAQ" in described["error"]
    assert "1111111111" not in described["error"]  # the value itself is never echoed


@pytest.mark.parametrize(("element", "limit"), sorted(AAMVA_LIMITS.items()))
def test_every_licence_element_read_has_aamvas_length(element: str, limit: int) -> None:
    aamva.parse(licence(**{element: value_of(element, limit)}), today=TODAY)  # at the limit
    with pytest.raises(InvalidLength, match=rf"\({element}\) has {limit + 1} characters"):
        aamva.parse(licence(**{element: value_of(element, limit + 1)}), today=TODAY)


def test_a_garbled_long_expiry_date_hides_nobody_and_is_kept_short() -> None:
    doc = aamva.parse(licence(DBA="1210203099999999"), today=TODAY)
    assert doc.expiry_date is None and doc.last_name == "SAMPLE"
    assert doc.extra["expiry_date_unreadable"] == "12102030"


def vcard_of(*lines: str) -> str:
    return "BEGIN:VCARD\r\nVERSION:3.0\r\n" + "".join(f"{ln}\r\n" for ln in lines) + \
        "END:VCARD\r\n"


@pytest.mark.parametrize(("lines", "field"), [
    (("N:" + "Å" * 101 + ";Anna",), "last name"),
    (("N:Berg;" + "a" * 101,), "first name"),
    (("N:Berg;Anna;" + "M" * 101,), "middle name"),
    (("FN:Anna Berg", "EMAIL:" + "a" * 250 + "@example.org"), "e-mail address"),
    (("FN:Anna Berg", "ADR:;;" + "Storgatan 12 " * 16 + ";Stockholm;;111 51;SE"), "address"),
])
def test_every_vcard_field_has_the_customer_fields_length(lines: tuple[str, ...],
                                                         field: str) -> None:
    with pytest.raises(InvalidLength, match=f"the {field} on this vcard has"):
        vcard.parse(vcard_of(*lines))


def test_a_contact_card_with_dozens_of_numbers_is_no_persons_card() -> None:
    numbers = [f"TEL;TYPE=cell:070-123 45 {n:02d}" for n in range(11)]
    with pytest.raises(InvalidLength, match="carries 11 phone numbers; at most 10"):
        vcard.parse(vcard_of("N:Berg;Anna", *numbers))
    emails = [f"EMAIL:anna{n}@example.org" for n in range(11)]
    with pytest.raises(InvalidLength, match="carries 11 e-mail addresses"):
        vcard.parse(vcard_of("N:Berg;Anna", *emails))
    assert vcard.parse(vcard_of("N:Berg;Anna", *numbers[:10])).phone == "+46701234500"


@pytest.mark.parametrize(("text", "field"), [
    ("MECARD:N:" + "O" * 101 + ",Sean;;", "last name"),
    ("MECARD:N:Owen," + "S" * 101 + ";;", "first name"),
    ("MECARD:N:Owen,Sean;EMAIL:" + "s" * 250 + "@example.org;;", "e-mail address"),
    ("MECARD:N:Owen,Sean;ADR:" + "x" * 201 + ";;", "address"),
    ("BIZCARD:N:" + "S" * 101 + ";X:Owen;;", "first name"),
])
def test_every_mecard_field_has_the_customer_fields_length(text: str, field: str) -> None:
    with pytest.raises(InvalidLength, match=f"the {field} on this (mecard|bizcard) has"):
        mecard.parse(text)


@pytest.mark.parametrize("field", sorted(MAX_CHARS))
def test_no_document_of_any_kind_holds_a_field_past_its_limit(field: str) -> None:
    """The backstop every parser's result passes through (MRZ fields are fixed-length by
    their standard, and come through here too)."""
    limit = MAX_CHARS[field]
    ParsedDocument("mrz", **{field: "A" * limit})  # type: ignore[arg-type]
    with pytest.raises(InvalidLength, match=f"has {limit + 1} characters; at most {limit}"):
        ParsedDocument("mrz", **{field: "A" * (limit + 1)})  # type: ignore[arg-type]


def test_parse_on_the_command_line_prints_the_error() -> None:
    out = io.StringIO()
    code = run(["-"], stdin=io.BytesIO(licence(DAQ="1" * 500_000).encode()), out=out,
               today=TODAY)
    line = json.loads(out.getvalue())
    assert code == 1
    assert line == {"file": "-", "code": "invalid_length", "error": (
        "the licence's licence number (DAQ) has 500000 characters; AAMVA allows at most 25")}
