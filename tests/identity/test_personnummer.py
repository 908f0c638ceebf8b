import csv
import datetime as dt

import pytest

from cashier_bridge.identity import personnummer
from cashier_bridge.identity.errors import IdentityError
from identity.conftest import FIXTURES, TODAY

META = FIXTURES / "personnummer" / "personnummer-meta"


def _rows(name: str) -> list[dict[str, str]]:
    with (META / name).open(newline="") as fh:
        return list(csv.DictReader(fh))


LIST = _rows("list.csv")


def _real_date(year: str, month: str, day: int) -> bool:
    try:
        dt.date(int(year), int(month), day)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("row", [r for r in LIST if r["valid"] == "True"],
                         ids=lambda r: r["long_format"])
def test_valid_numbers_parse_in_every_format(row: dict[str, str]) -> None:
    expected_kind = "samordningsnummer" if row["type"] == "con" else "personnummer"
    for text in (row["long_format"], row["separated_long"], row["separated_format"]):
        pid = personnummer.parse(text, today=TODAY)
        assert pid.number == row["long_format"], text
        assert pid.kind == expected_kind
        assert pid.masked == row["long_format"][:8] + "-****"
    # Without a separator, a 10-digit number is the most recent century: still valid.
    short = personnummer.parse(row["short_format"], today=TODAY)
    assert short.number[2:] == row["short_format"]


@pytest.mark.parametrize("row", [r for r in LIST if r["valid"] == "False"],
                         ids=lambda r: r["separated_long"])
def test_invalid_numbers_are_rejected_with_reason(row: dict[str, str]) -> None:
    for text in {row["long_format"], row["short_format"], row["separated_format"],
                 row["separated_long"]}:
        with pytest.raises(IdentityError) as info:
            personnummer.parse(text, today=TODAY)
        assert info.value.code in {"invalid_checksum", "invalid_date", "invalid_format"}


def test_invalid_reasons_are_specific() -> None:
    cases = {
        "201509160006": "invalid_format",
        "19090527 1474": "invalid_format",  # a space inside is not accepted
        "0": "invalid_length",
        "19900230-0000": "invalid_checksum",
        "199002301233": "invalid_date",  # 30 February, Luhn correct
        "209001019802": "invalid_date",  # born in 2090: in the future
    }
    for text, code in cases.items():
        with pytest.raises(IdentityError) as info:
            personnummer.parse(text, today=TODAY)
        assert info.value.code == code, text


def test_every_skatteverket_test_number_parses() -> None:
    pins = [r["testpersonnummer"] for r in _rows("allPins.csv")]
    coords = [r["testsamordningsnummer"] for r in _rows("allCoords.csv")]
    assert len(pins) > 40_000 and len(coords) > 2_000
    for number in pins:
        pid = personnummer.parse(number, today=TODAY)
        assert pid.number == number and not pid.coordination
    for number in coords:
        pid = personnummer.parse(number, today=TODAY)
        assert pid.number == number and pid.coordination
        if pid.birth_date is not None:
            assert pid.birth_date.day == int(number[6:8]) - 60
        else:  # birth month or day unknown (00) or not a calendar day (31 April)
            assert not _real_date(number[:4], number[4:6], int(number[6:8]) - 60), number
    assert personnummer.parse("192004912388", today=TODAY).birth_date is None


def test_coordination_birth_date_is_day_minus_60() -> None:
    pid = personnummer.parse("202107919967", today=TODAY)
    assert pid.birth_date == dt.date(2021, 7, 31)
    assert pid.kind == "samordningsnummer"


def test_plus_means_a_hundred_years_older() -> None:
    assert personnummer.parse("090527+1474", today=TODAY).birth_date == dt.date(1909, 5, 27)
    assert personnummer.parse("0905271474", today=TODAY).birth_date == dt.date(2009, 5, 27)


def test_century_of_a_short_number_follows_today() -> None:
    # 1 June 2025: someone born on 2 June 25 was born in 1925, not tomorrow.
    assert personnummer.parse("250602-1233", today=TODAY).number.startswith("1925")


@pytest.mark.parametrize("row", _rows("interim.csv"), ids=lambda r: r["separated_long"])
def test_interim_numbers_are_refused_with_their_own_code(row: dict[str, str]) -> None:
    expected = "interim_number" if row["valid"] == "True" else "invalid_format"
    for text in (row["long_format"], row["short_format"], row["separated_format"],
                 row["separated_long"]):
        with pytest.raises(IdentityError) as info:
            personnummer.parse(text, today=TODAY)
        assert info.value.code == expected, text


def test_format_and_mask() -> None:
    assert personnummer.format("4608239986", today=TODAY) == "19460823-9986"
    assert personnummer.mask("194608239986") == "19460823-****"
    assert personnummer.is_valid("194608239986", today=TODAY)
    assert not personnummer.is_valid("194608239987", today=TODAY)
