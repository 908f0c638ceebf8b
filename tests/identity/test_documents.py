"""Names, dates and numbers read from the real samples in tests/fixtures."""

import csv
import datetime as dt

import pytest
from stdnum import luhn

from cashier_bridge.identity import aamva, mecard, mrz, vcard
from cashier_bridge.identity.errors import IdentityError
from identity.conftest import FIXTURES, TODAY

LUHN_DIGIT = luhn.calc_check_digit("811231238")

# file: (first, last, birth date, licence number, expiry date)
AAMVA = {
    "Syfaro-aamva-rs/VA-V4/VA-21.txt": ("JAMES", "SARKO", "1950-03-23", "T16700487", "2031-03-23"),
    "c0shea-IdParser/Licenses_VA.txt": ("JUSTIN", "MAURY", "1958-07-15", "T16700185",
                                        "2017-08-14"),
    "c0shea-IdParser/Licenses_CT.txt": ("ADULT", "CTLIC", "1961-01-01", "990000001",
                                        "2015-01-01"),
    "c0shea-IdParser/Invalid_Header.txt": ("MICHAEL", "MOTORIST", "1961-02-04", "025995434",
                                           "2023-02-04"),
    "c0shea-IdParser/Licenses_PA.txt": ("JOHN", "SMITH", "1986-02-02", "26798765", "2020-02-03"),
    "c0shea-IdParser/Licenses_NB.txt": ("MARY", "MOTORIST", "1962-08-08", "1234567",
                                        "2021-08-08"),
    "c0shea-IdParser/Licenses_ON.txt": ("MARY", "TESTER", "1996-06-03", "S9244-43879-65702",
                                        "2020-06-03"),
    "c0shea-IdParser/Licenses_MD.txt": ("DIANA", "SMITH", "1992-10-10", "S-512-887-236-780",
                                        "2025-10-10"),
    "c0shea-IdParser/Ids_TN.txt": ("ELIZABETH", "SMITH", "1961-12-13", "115775955",
                                   "2026-02-06"),
    "winfinit-aamvajs/PDF417_TX_L5.txt": ("JOHN", "DOE", "1977-02-08", "38884194", "2015-08-04"),
    "winfinit-aamvajs/PDF417_CT_L5.txt": ("SELECTCTID", "REGULARLPSAMPLE", "1994-01-01",
                                          "119000555", "2013-11-07"),
    "winfinit-aamvajs/PDF417_MO_L5.txt": ("ADAM", "ENGLAND", "1982-01-26", "P039023005",
                                          "2018-01-26"),
    "winfinit-aamvajs/PDF417_KS_L5.txt": ("JANA", "HAECHERL", "1991-04-08", "K03-76-9213",
                                          "2022-04-08"),
    "winfinit-aamvajs/PDF417_MD_L5.txt": ("JACK", "JOHNSON", "1991-02-09", "K-134-123-145-103",
                                          "2017-02-09"),
    "winfinit-aamvajs/PDF417_FL_L5.txt": ("JOHN", "DOE", "1977-02-08", "J641720820450",
                                          "2021-01-08"),
}
AAMVA_FILES = sorted(p.relative_to(FIXTURES / "aamva").as_posix()
                     for p in (FIXTURES / "aamva").rglob("*.txt"))


def _read(kind: str, name: str) -> str:
    return (FIXTURES / kind / name).read_bytes().decode("utf-8", errors="replace")


@pytest.mark.parametrize("name", sorted(AAMVA))
def test_aamva_samples_yield_names_and_dates(name: str) -> None:
    first, last, birth, number, expiry = AAMVA[name]
    doc = aamva.parse(_read("aamva", name), today=TODAY)
    assert (doc.first_name, doc.last_name) == (first, last)
    assert doc.birth_date == dt.date.fromisoformat(birth)
    assert doc.document_number == number
    assert doc.expiry_date == dt.date.fromisoformat(expiry)
    assert doc.expired == (doc.expiry_date < TODAY)


@pytest.mark.parametrize("name", AAMVA_FILES)
def test_every_aamva_sample_has_a_name_and_birth_date(name: str) -> None:
    doc = aamva.parse(_read("aamva", name), today=TODAY)
    assert doc.last_name and doc.first_name
    assert doc.birth_date is not None and 1900 < doc.birth_date.year < 2025
    assert doc.document_number


def test_aamva_address_and_expiry_flag() -> None:
    doc = aamva.parse(_read("aamva", "c0shea-IdParser/Licenses_VA.txt"), today=TODAY)
    assert doc.address == "17 FIRST STREET, STAUNTON, VA 24401"
    assert doc.expired is True
    doc = aamva.parse(_read("aamva", "Syfaro-aamva-rs/VA-V4/VA-21.txt"), today=TODAY)
    assert doc.expired is False and doc.middle_name == "ALAN"


def test_aamva_rejects_what_is_not_a_licence() -> None:
    for text in ("", "@", "hello", "@ANSI 6360"):
        with pytest.raises(IdentityError):
            aamva.parse(text, today=TODAY)


def _mrz_rows() -> list[dict[str, str]]:
    with (FIXTURES / "mrz" / "cheminfo-mrz" / "mrz_samples.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


# (test file, line) -> (first, last, birth, document number, expiry) or an error code
MRZ = {
    ("td1", "9"): ("JOHN ALBERT", "SMITH", "1975-10-25", "A1234567", "2020-09-01"),
    ("td1", "55"): ("ANDRE ESTEV", "CACADOR DE ARAUJO", "1983-03-14", "007777779ZZ9",
                    "2034-05-28"),
    ("td1", "240"): ("VILMA SOFIA", "SPECIMEN TRAVEL", "1995-01-01", "XA1000058", "2028-03-13"),
    ("td1", "342"): ("ANNA MARIA", "ERIKSSON", "1974-08-12", "D23145890123", "2012-04-15"),
    ("td1", "446"): ("ANNA MARIA", None, "1974-08-12", "D23145890", "2012-04-15"),
    ("td1", "524"): ("ULRIKE KATIA E", "REINARTZ", "1985-12-01", "000590240601", "2013-11-04"),
    ("td1", "473"): "invalid_checksum",  # OCR noise
    ("td1", "569"): "invalid_checksum",
    ("td1", "634"): "invalid_checksum",
    ("td2", "8"): ("ANNA MARIA", "ERIKSSON", "1974-08-12", "D23145890", "2012-04-15"),
    ("td2", "51"): "invalid_checksum",
    ("td3", "8"): ("ANNA MARIA", "ERIKSSON", "1974-08-12", "L898902C3", "2012-04-15"),
    ("td3", "76"): "invalid_checksum",
    ("td3", "112"): ("ERIKA", "MUSTERMANN", "1964-08-12", "C01X0006H", "2017-10-31"),
    ("td3", "179"): ("ABULA", "ABULIKEMU", "1997-01-07", "E59659321", "2025-10-07"),
    ("td3", "253"): "invalid_checksum",
    ("frenchNationalId", "41"): "invalid_checksum",  # national layout, not ICAO
    ("swissDrivingLicense", "9"): "invalid_length",
    ("frenchDrivingLicense", "7"): "invalid_length",
}


@pytest.mark.parametrize("key", sorted(MRZ))
def test_mrz_samples(key: tuple[str, str]) -> None:
    row = next(r for r in _mrz_rows()
               if f"/{key[0]}." in r["test_file"] and r["line"] == key[1])
    expected = MRZ[key]
    if isinstance(expected, str):
        with pytest.raises(IdentityError) as info:
            mrz.parse(row["mrz"], today=TODAY)
        assert info.value.code == expected
        return
    first, last, birth, number, expiry = expected
    doc = mrz.parse(row["mrz"], today=TODAY)
    assert (doc.first_name, doc.last_name, doc.document_number) == (first, last, number)
    assert doc.birth_date == dt.date.fromisoformat(birth)
    assert doc.expiry_date == dt.date.fromisoformat(expiry)


def test_swedish_passport_carries_the_personnummer() -> None:
    line1 = "P<SWESVENSSON<<ANNA<<<<<<<<<<<<<<<<<<<<<<<<<"
    line2 = _td3_line2("AA1234567", "811231", "F", "300601", "811231238" + LUHN_DIGIT)
    doc = mrz.parse(line1 + "\n" + line2, today=TODAY)
    assert doc.personal_id == "19811231238" + LUHN_DIGIT
    assert (doc.first_name, doc.last_name, doc.expired) == ("ANNA", "SVENSSON", False)


def _td3_line2(number: str, birth: str, sex: str, expiry: str, personal: str) -> str:
    personal = personal.ljust(14, "<")
    line = (number + mrz.check_digit(number) + "SWE" + birth + mrz.check_digit(birth) + sex
            + expiry + mrz.check_digit(expiry) + personal + mrz.check_digit(personal))
    composite = line[0:10] + line[13:20] + line[21:43]
    return line + mrz.check_digit(composite)


# file: (first, last, phone (E.164, region SE), email, birth date)
VCARD = {
    "zxing-parser-tests/AddressBookParsedResultTestCase_vcard_01.vcf": ("Sean", "Owen", None,
                                                                       None, None),
    "zxing-parser-tests/AddressBookParsedResultTestCase_vcard_04.vcf": ("Sean", "Owen", None,
                                                                       None, None),
    "py-vobject/radicale-1587.vcf": ("Given", "Family", None, None, None),
    "mangstadt-ez-vcard/io/text/John_Doe_IPHONE.vcf": ("John", "Doe", None, "john.doe@ibm.com",
                                                       "2012-06-06"),
    "mangstadt-ez-vcard/io/text/outlook-2007.vcf": ("Michael", "Angstadt", None,
                                                    "mike.angstadt@gmail.com", "1922-03-10"),
    "mangstadt-ez-vcard/io/text/rfc6350-example.vcf": ("Simon", "Perreault", "+14186569254",
                                                       "simon.perreault@viagenie.ca", None),
    "mangstadt-ez-vcard/io/text/rfc2426-example.vcf": ("Frank", "Dawson", "+19196769515",
                                                       "Frank_Dawson@Lotus.com", None),
    "mangstadt-ez-vcard/issue/issue114.vcf": ("Dummy", "Dummy", "+49987654321",
                                              "dummy.dummy@dummy.com", None),
    "mangstadt-ez-vcard/io/text/John_Doe_LOTUS_NOTES.vcf": ("John", "Doe", "+12125557777",
                                                            "john.doe@ibm.com", "1980-05-21"),
    "sabre-io-vobject/issue153.vcf": ("Test", "Benutzer", None, None, None),
    "mangstadt-ez-vcard/io/text/gmail-single.vcf": ("Greg", "Dartmouth", None,
                                                    "gdartmouth@hotmail.com", "1960-09-10"),
}
VCARD_ERRORS = {
    "zxing-parser-tests/ParsedReaderResultTestCase_vcard_04.vcf": "incomplete",
    "zxing-parser-tests/ParsedReaderResultTestCase_vcard_00.vcf": "no_identity",
    "zxing-parser-tests/AddressBookParsedResultTestCase_vcard_07.vcf": "no_identity",
    "sabre-io-vobject/issue64.vcf": "no_identity",  # a photo and nothing else
}


@pytest.mark.parametrize("name", sorted(VCARD))
def test_vcard_samples(name: str) -> None:
    first, last, phone, email, birth = VCARD[name]
    doc = vcard.parse((FIXTURES / "vcard" / name).read_bytes(), region="SE")
    assert (doc.first_name, doc.last_name, doc.phone, doc.email) == (first, last, phone, email)
    assert doc.birth_date == (dt.date.fromisoformat(birth) if birth else None)


@pytest.mark.parametrize("name", sorted(VCARD_ERRORS))
def test_broken_vcards_get_a_clear_error(name: str) -> None:
    with pytest.raises(IdentityError) as info:
        vcard.parse((FIXTURES / "vcard" / name).read_bytes())
    assert info.value.code == VCARD_ERRORS[name]


def test_every_vcard_sample_parses_or_fails_cleanly() -> None:
    files = sorted((FIXTURES / "vcard").rglob("*.vcf"))
    assert len(files) > 30
    for path in files:
        try:
            vcard.parse_all(path.read_bytes())
        except IdentityError:
            assert path.relative_to(FIXTURES / "vcard").as_posix() in VCARD_ERRORS


def test_android_export_with_quoted_printable_and_several_cards() -> None:
    cards = vcard.parse_all((FIXTURES / "vcard/mangstadt-ez-vcard/io/text/John_Doe_ANDROID.vcf")
                            .read_bytes())
    assert len(cards) == 6
    assert cards[0].email == "john.doe@company.com"
    assert cards[2].last_name == "Ñ Ñ Ñ Ñ"  # quoted-printable UTF-8
    assert cards[2].phone == "+46123456789"


def test_quoted_printable_soft_breaks_and_utf16() -> None:
    doc = vcard.parse_all((FIXTURES / "vcard/zxing-parser-tests/"
                           "AddressBookParsedResultTestCase_vcard_06.vcf").read_bytes())[0]
    assert doc.address == "88 Lynbrook CO 69999"
    text = ("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Åberg;Märta\r\n"
            "TEL;TYPE=cell:070-123 45 67\r\nEND:VCARD\r\n")
    for data in (text.encode("utf-16"), text.encode("utf-8"), text.encode("cp1252")):
        doc = vcard.parse(data)
        assert (doc.first_name, doc.last_name, doc.phone) == ("Märta", "Åberg", "+46701234567")


def test_mecard_and_bizcard_samples() -> None:
    lines = (FIXTURES / "vcard/zxing-parser-tests/ParsedReaderResultTestCase_mecard.txt"
             ).read_text().splitlines()
    docs = [mecard.parse(line) for line in lines if line.strip()]
    assert all((d.first_name, d.last_name) == ("Sean", "Owen") for d in docs)
    assert docs[1].phone == "+12125551212"
    assert docs[3].email == "srowen@example.org"
    assert docs[5].birth_date == dt.date(1976, 5, 20)
    biz = mecard.parse((FIXTURES / "vcard/zxing-parser-tests/"
                        "AddressBookParsedResultTestCase_bizcard.txt").read_text())
    assert (biz.kind, biz.first_name, biz.last_name, biz.phone, biz.email) == (
        "bizcard", "Sean", "Owen", "+12125551212", "srowen@example.org")
    assert biz.address == "123 Main St"


def test_mecard_escaping() -> None:
    doc = mecard.parse(r"MECARD:N:O\,Brien,Seán\;Ó;TEL:0046 70 123 45 67;;")
    assert (doc.first_name, doc.last_name, doc.phone) == ("Seán;Ó", "O,Brien", "+46701234567")
