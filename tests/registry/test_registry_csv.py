from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from cashier_bridge.data import make_demo_customers
from cashier_bridge.lanes.lane import MatchKey
from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.registry.problems import NotFound
from cashier_bridge.registry.schema import consents

DEMO_CSV = make_demo_customers.OUT

HEADER = ("customer_code,first_name,last_name,email,phone,personal_id,birth_date,street,"
          "postal_code,city,country,customer_group,marketing_consent\n")


def key(kind: str, value: str) -> MatchKey:
    return MatchKey(kind=kind, value=value, reading=kind)


def test_demo_file_imports_completely_with_the_fixed_customers(registry: Registry) -> None:
    report = registry.imports.run(DEMO_CSV)
    assert (report.created, report.updated, report.skipped, report.errors) == (300, 0, 0, [])
    assert registry.customers.count() == 300

    anna, matched_on = registry.customers.find([key("personal_id_fingerprint",
                                                 registry.fingerprint("198503121249"))])
    assert (anna.customer_code, anna.first_name, anna.last_name) == ("1001", "Anna", "Andersson")
    assert matched_on.kind == "personal_id_fingerprint"
    assert anna.phone == "+46701234567"
    assert anna.personal_id_masked == "19850312-****"
    assert anna.customer_group == "Stamkund"
    assert anna.created_via == "import"
    assert registry.consents.granted(anna.id) is True
    assert registry.customers.find([key("phone", "+46701234567")])[0] == anna

    erik = registry.customers.find_by_code("1002")
    assert erik is not None and erik.phone == "+46723456789" and erik.email is None
    assert registry.consents.granted(erik.id) is False
    lars = registry.customers.find([key("phone", "+46765551234")])[0]
    assert (lars.customer_code, lars.personal_id_masked) == ("1003", None)

    # The new-member scenario relies on these two being unknown.
    new_member = registry.fingerprint(make_demo_customers.NEW_MEMBER_PERSONNUMMER)
    assert registry.customers.find([key("personal_id_fingerprint", new_member),
                                    key("phone", "+46739876543")]) is None


def test_demo_file_is_what_the_generator_makes(tmp_path: Path) -> None:
    fresh = tmp_path / "demo.csv"
    make_demo_customers.write(fresh)
    assert fresh.read_bytes() == DEMO_CSV.read_bytes()
    text = DEMO_CSV.read_text(encoding="utf-8")
    assert "19900101-2351" not in text and "073-987 65 43" not in text
    assert any(ch in text for ch in "åäöÅÄÖ")


def test_bad_rows_are_reported_by_line_and_reason_and_good_rows_still_land(
    registry: Registry,
) -> None:
    csv_text = HEADER + (
        "2001,Maja,Lindqvist,maja@example.com,070-111 22 33,19900101-2351,,,,,SE,,yes\n"
        "2002,Olle,Berg,,070-222 33 44,19850312-1238,,,,,SE,,\n"
        "2003,Saga,Holm,,070-12,,,,,,SE,,\n"
        "2004,Hugo,Åberg,hugo(at)example.com,,,,,,,SE,,\n"
        "2005,,Nyström,,,,,,,,SE,,\n"
        "2006,Ebba,Ström,,,,1990-02-30,,,,SE,,\n"
        "2007,Nils,Öberg,,,19781120-4572,1978-11-21,,,,SE,,\n"
        "2008,Agnes,Wallin,,,,,,,,SE,,kanske\n"
        "2009,Elsa,Sjöberg,,070-111 22 33,,,,,,SE,,\n"
        "\n"
        "2010,Axel,Holmberg,,,,,\"Storgatan 1\nLägenhet 1102\",,,SE,,\n"
        "2011,Björn,Eklund,,,19900101-2351,,,,,SE,,\n"
        "2012,Wilma,Lund,,,,,,,,SE,,,extra\n"
    )
    report = registry.imports.run(io.StringIO(csv_text))
    assert report.errors == [
        (3, "personal_id 19850312-1238: the last digit does not match (Luhn check failed)"),
        (4, "phone 070-12: not a valid phone number for its country"),
        (5, "email: 'hugo(at)example.com' is not an email address"),
        (6, "first_name is empty; a new customer needs both names"),
        (7, "birth_date 1990-02-30: not a date of the form YYYY-MM-DD"),
        (8, "birth_date 1978-11-21 does not match personal_id 19781120-**** "
            "(born 1978-11-20)"),
        (9, "marketing_consent kanske: expected yes/no (or ja/nej, 1/0)"),
        (10, "phone +46701112233 already belongs to customer 2001 (Maja Lindqvist)"),
        (14, "personal_id 19900101-**** already belongs to customer 2001 (Maja Lindqvist)"),
        (15, "has 14 cells but the header has 13 columns"),
    ]
    assert report.messages()[0] == ("line 3: personal_id 19850312-1238: the last digit does not "
                                    "match (Luhn check failed)")
    assert (report.created, report.updated, report.skipped) == (2, 0, 1)
    assert registry.customers.find_by_code("2001").personal_id_masked == "19900101-****"
    assert registry.customers.find_by_code("2010").street == "Storgatan 1 Lägenhet 1102"
    assert registry.customers.count() == 2


def test_reimport_updates_instead_of_duplicating(registry: Registry) -> None:
    registry.imports.run(DEMO_CSV)
    again = registry.imports.run(DEMO_CSV)
    assert (again.created, again.updated, again.skipped, again.errors) == (0, 0, 300, [])

    changed = HEADER + (
        "1002,Erik,Johansson,erik.j@example.com,073-000 11 22,,,,,,,Personal,yes\n"
        "1003,Lars,Nilsson,,,,,,,,,,\n"
    )
    report = registry.imports.run(io.StringIO(changed))
    assert (report.created, report.updated, report.skipped, report.errors) == (0, 1, 1, [])
    erik = registry.customers.find_by_code("1002")
    assert (erik.email, erik.phone, erik.customer_group) == (
        "erik.j@example.com", "+46730001122", "Personal")
    # Blank cells never erase: the personal ID and address from the first import stay.
    assert erik.personal_id_masked == "19781120-****"
    assert erik.city == "Göteborg"
    assert registry.consents.granted(erik.id) is True
    assert registry.customers.find([key("phone", "+46723456789")]) is None
    assert registry.customers.count() == 300
    with registry.engine.connect() as conn:
        log = conn.execute(select(consents.c.granted).where(consents.c.customer_id == erik.id)
                           .order_by(consents.c.id)).scalars().all()
    assert log == [False, True]  # the consent log is appended to, never rewritten


def test_rows_without_code_match_by_identifier(registry: Registry) -> None:
    registry.imports.run(DEMO_CSV)
    report = registry.imports.run(io.StringIO(
        HEADER + ",Anna,Andersson-Berg,,070-123 45 67,,,,,,,,\n"
                 ",Oskar,Lindqvist,,073-987 65 43,19900101-2351,,,,,,,\n"))
    assert (report.created, report.updated, report.errors) == (1, 1, [])
    assert registry.customers.find_by_code("1001").last_name == "Andersson-Berg"
    oskar = registry.customers.find([key("phone", "+46739876543")])[0]
    assert oskar.customer_code not in {str(c) for c in range(1001, 1301)}
    assert registry.customers.count() == 301


def test_export_then_import_round_trips(registry: Registry, tmp_path: Path) -> None:
    registry.imports.run(DEMO_CSV)
    out = io.StringIO()
    assert registry.imports.export(out) == 300
    exported = out.getvalue()
    assert "8503121249" not in exported  # only a fingerprint is stored; nothing to leak

    same = registry.imports.run(io.StringIO(exported))
    assert (same.created, same.updated, same.skipped, same.errors) == (0, 0, 300, [])

    other = Registry.open(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        report = other.imports.run(io.StringIO(exported))
        assert (report.created, report.errors) == (300, [])
        for code in ("1001", "1002", "1003", "1150", "1300"):
            a, b = registry.customers.find_by_code(code), other.customers.find_by_code(code)
            assert (a.first_name, a.last_name, a.email, a.phone, a.birth_date, a.street,
                    a.postal_code, a.city, a.country, a.customer_group) == (
                b.first_name, b.last_name, b.email, b.phone, b.birth_date, b.street,
                b.postal_code, b.city, b.country, b.customer_group)
            assert registry.consents.granted(a.id) == other.consents.granted(b.id)
        again = io.StringIO()
        other.imports.export(again)
        # The same file, but for the masked personal ID, which is shown and never imported:
        # only its fingerprint is stored and it is keyed by this installation's secret.
        first, second = (list(csv.DictReader(io.StringIO(text)))
                         for text in (exported, again.getvalue()))
        assert first[0]["personal_id_masked"] == "19850312-****"
        assert {row["personal_id_masked"] for row in second} == {""}
        for row in (*first, *second):
            del row["personal_id_masked"]
        assert first == second
    finally:
        other.close()


def test_excel_style_file_with_bom_semicolons_and_crlf(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "kunder.csv"
    path.write_bytes(
        "\ufeffKundnummer;First Name;LAST_NAME;Phone;Personal_ID;Marketing_Consent\r\n"
        "3001;Åsa;Öberg;070-765 43 21;198503121249;ja\r\n"
        "3002;Örjan;Ström;0046 70 765 43 22;;nej\r\n".encode())
    report = registry.imports.run(path)
    assert (report.created, report.errors) == (2, [])
    assert report.ignored_columns == ["Kundnummer"]
    asa = registry.customers.find([key("phone", "+46707654321")])[0]
    assert (asa.first_name, asa.last_name, asa.personal_id_masked) == (
        "Åsa", "Öberg", "19850312-****")
    assert registry.consents.granted(asa.id) is True
    assert registry.customers.find([key("phone", "+46707654322")])[0].first_name == "Örjan"


def test_text_stream_with_bom_is_read(registry: Registry) -> None:
    stream = io.StringIO("\ufeff" + HEADER + "4001,Ylva,Björk,,,,,,,,,,\n")
    assert registry.imports.run(stream).created == 1
    assert registry.customers.find_by_code("4001").last_name == "Björk"


@pytest.mark.parametrize(("content", "error"), [
    ("", "the file is empty; expected a header line"),
    ("customer_code,namn,phone\n1,Anna,0701234567\n",
     "header: missing column first_name and last_name (or name) (found: customer_code, namn, "
     "phone)"),
    ("first_name,last_name,phone,Phone\n", "header: column phone appears twice"),
])
def test_unusable_header_imports_nothing_and_says_why(
    registry: Registry, content: str, error: str
) -> None:
    report = registry.imports.run(io.StringIO(content))
    assert report.errors == [(1, error)]
    assert registry.customers.count() == 0


def test_import_respects_the_region_for_national_numbers(registry: Registry) -> None:
    report = registry.imports.run(io.StringIO(
        "customer_code,first_name,last_name,phone\n5001,Jan,de Vries,06 12345678\n"),
        region="NL")
    assert report.errors == []
    assert registry.customers.find_by_code("5001").phone == "+31612345678"


def test_an_erased_customers_code_is_free_and_their_row_is_not_resurrected(
        registry: Registry) -> None:
    record, _ = registry.customers.create_new("r", NewCustomer("Bo", "Ek", customer_code="6001"))
    registry.customers.erase(record.id, actor="t")
    report = registry.imports.run(io.StringIO(
        "customer_code,first_name,last_name\n6001,Bo,Ek\n"))
    assert (report.created, report.errors) == (1, [])
    again = registry.customers.find_by_code("6001")
    assert again is not None and again.id != record.id  # a new customer, not the erased one
    assert registry.customers.find_by_id(record.id) is None
    with pytest.raises(NotFound):
        registry.customers.get(record.id)


def test_a_file_that_is_not_utf8_is_refused_with_advice(
    registry: Registry, tmp_path: Path
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("first_name;last_name\nÅsa;Öberg\n".encode("cp1252"))
    report = registry.imports.run(path)
    # Reported on the line of the bad byte.
    assert report.errors == [(2, 'the file is not UTF-8 text (byte 0xC5 on line 2); in Excel '
                                 'choose "CSV UTF-8" when saving')]
    assert registry.customers.count() == 0


def test_export_never_hands_a_spreadsheet_a_formula(registry: Registry) -> None:
    registry.customers.create_new("k1", NewCustomer(first_name="=HYPERLINK(\"http://x\")",
                                                    last_name="@SUM(A1)", phone="+46701234567",
                                                    street="-2+3", created_via="import"))
    out = io.StringIO()
    registry.imports.export(out)
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["first_name"] == "'=HYPERLINK(\"http://x\")"
    assert (row["last_name"], row["postal_address1"]) == ("'@SUM(A1)", "'-2+3")
    assert row["mobile"] == "+46701234567"  # a validated number stays as it is
    registry.imports.run(io.StringIO(out.getvalue()))
    record = registry.customers.find_by_code(row["customer_code"])
    assert record is not None
    assert (record.first_name, record.last_name) == ("=HYPERLINK(\"http://x\")", "@SUM(A1)")
    assert registry.customers.count() == 1
