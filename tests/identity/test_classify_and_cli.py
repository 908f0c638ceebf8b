import io
import json

from cashier_bridge.cli.parse import run
from cashier_bridge.identity import phone
from cashier_bridge.identity.classify import classify
from identity.conftest import FIXTURES, TODAY


def test_ten_digits_are_tried_as_personnummer_first_then_customer_code() -> None:
    result = classify("4608239986", "numpad", today=TODAY)
    assert [r.kind for r in result.readings] == ["personnummer", "customer_code"]
    assert result.personal_id.value == "194608239986"
    assert result.personal_id.masked == "19460823-****"
    assert result.can_become_member


def test_mistyped_personnummer_is_reported_but_card_code_still_tried() -> None:
    result = classify("4608239987", "numpad", today=TODAY)
    assert [r.kind for r in result.readings] == ["customer_code"]
    assert result.best_rejection().code == "invalid_checksum"
    assert not result.can_become_member


def test_swedish_mobile_typed_four_ways_is_one_customer() -> None:
    for typed in ("070-123 45 67", "0701234567", "+46701234567", "0046 70 123 45 67"):
        assert classify(typed, "numpad", today=TODAY).phone.value == "+46701234567", typed
        assert phone.validate(typed) == "+46701234567"


def test_scanned_licence_becomes_a_document_with_a_name() -> None:
    raw = (FIXTURES / "aamva/c0shea-IdParser/Licenses_VA.txt").read_text(errors="replace")
    result = classify(raw, "scan", today=TODAY)
    assert result.document.kind == "aamva"
    assert (result.document.first_name, result.document.last_name) == ("JUSTIN", "MAURY")
    assert result.document.expired is True
    assert result.can_become_member


def test_scanned_mecard_gives_phone_and_email_readings() -> None:
    result = classify("MECARD:N:Owen,Sean;TEL:070-123 45 67;EMAIL:Sean@Example.org;;", "scan",
                      today=TODAY)
    assert [(r.kind, r.value) for r in result.readings] == [
        ("phone", "+46701234567"), ("email", "sean@example.org")]
    assert result.can_become_member


def test_broken_scan_is_rejected_with_its_reason() -> None:
    result = classify("BEGIN:VCARD\r\nN:Owen;Sean\r\n", "scan", today=TODAY)
    assert result.readings == () and result.document is None
    assert result.best_rejection().code == "incomplete"


def test_parse_cli_prints_one_json_line_per_file(tmp_path) -> None:
    pnr = tmp_path / "pnr.txt"
    pnr.write_text("19090527+1474\n")
    bad = tmp_path / "bad.txt"
    bad.write_text("150916-0007")
    files = [str(FIXTURES / "aamva/winfinit-aamvajs/PDF417_TX_L5.txt"), str(pnr),
             str(FIXTURES / "vcard/zxing-parser-tests/ParsedReaderResultTestCase_vcard_04.vcf"),
             str(bad), "-"]
    out = io.StringIO()
    code = run(files, stdin=io.BytesIO(b"0046 70 123 45 67"), out=out, today=TODAY)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 1
    assert lines[0]["kind"] == "aamva" and lines[0]["fields"]["last_name"] == "DOE"
    assert lines[0]["fields"]["birth_date"] == "1977-02-08"
    assert lines[1] == {"file": str(pnr), "kind": "personnummer",
                        "fields": {"personal_id": "190905271474", "birth_date": "1909-05-27",
                                   "also": [{"kind": "customer_code",
                                             "value": "19090527+1474"}]}}
    assert lines[2]["code"] == "incomplete" and "END:VCARD" in lines[2]["error"]
    assert lines[3]["code"] == "invalid_checksum"
    assert lines[4]["kind"] == "phone" and lines[4]["fields"]["phone"] == "+46701234567"


def test_parse_cli_exit_zero_when_all_parse() -> None:
    out = io.StringIO()
    mrz_text = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
                "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
    assert run(["-"], stdin=io.StringIO(mrz_text), out=out, today=TODAY) == 0
    line = json.loads(out.getvalue())
    assert line["kind"] == "mrz" and line["fields"]["document_number"] == "L898902C3"
    assert line["fields"]["birth_date"] == "1974-08-12" and line["fields"]["expired"] is True


def test_parse_cli_reads_a_payload_as_a_reader_delivers_it() -> None:
    from cashier_bridge.cli.parse import describe

    padded = describe(b"\x00\r\n19850312-1249\x00\x00\r\n", today=TODAY)
    assert padded["kind"] == "personnummer", padded
    assert padded["fields"]["personal_id"] == "198503121249"
    assert describe(b"\x00\x00\x00")["code"] == "unreadable"


def test_an_in_store_ean13_card_is_also_read_as_the_number_inside() -> None:
    result = classify("2000000010014", "scan")
    assert [(r.kind, r.value) for r in result.readings] == [
        ("customer_code", "2000000010014"), ("customer_code", "1001")]
    product = classify("4006381333931", "scan")  # a product barcode
    assert [r.value for r in product.readings] == ["4006381333931"]
