"""New members' codes: random, with a check digit, never read as anything else."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean, luhn

from cashier_bridge.identity import customer_code
from cashier_bridge.identity.classify import classify
from cashier_bridge.identity.errors import InvalidChecksum
from identity.conftest import TODAY

# Every code new_assigned() can give: a 10-digit body without a leading 0, then its Luhn digit.
bodies = st.integers(min_value=10**9, max_value=10**10 - 1).map(str)


def with_check_digit(body: str) -> str:
    return body + luhn.calc_check_digit(body)


def one_digit_changes(code: str) -> list[str]:
    return [code[:i] + d + code[i + 1:] for i in range(len(code)) for d in "0123456789"
            if d != code[i]]


def test_new_codes_are_eleven_digits_that_pass_their_check_digit() -> None:
    codes = [customer_code.new_assigned() for _ in range(200)]
    assert all(len(c) == 11 and c.isdigit() and c[0] != "0" for c in codes)
    assert all(luhn.is_valid(c) for c in codes)
    assert len(set(codes)) == 200
    # Random, not counted: neighbours in the order drawn are far apart.
    assert all(abs(int(a) - int(b)) > 1000 for a, b in itertools.pairwise(codes))


@given(bodies)
def test_a_code_is_only_ever_read_as_a_customer_code(body: str) -> None:
    code = with_check_digit(body)
    for source in ("numpad", "scan", "mobile"):
        result = classify(code, source, today=TODAY)
        assert [(r.kind, r.value) for r in result.readings] == [("customer_code", code)]
        assert result.rejected == ()
        assert result.personal_id is None and result.phone is None


@given(bodies)
def test_every_one_digit_change_is_refused_before_any_lookup(body: str) -> None:
    code = with_check_digit(body)
    for typo in one_digit_changes(code):
        with pytest.raises(InvalidChecksum):
            customer_code.validate(typo)
        result = classify(typo, "numpad", today=TODAY)
        if typo[0] == "0":
            # A leading 0 makes it a phone number to try (in the UK 07700 900123 is one);
            # never a customer code.
            assert "customer_code" not in [r.kind for r in result.readings], typo
        else:
            assert result.readings == (), typo  # nothing to look up: nobody can be found
            assert result.best_rejection() is not None


def test_a_mistyped_code_tells_the_shopper_the_check_digit() -> None:
    code = with_check_digit("5432109876")
    typo = code[:3] + str((int(code[3]) + 1) % 10) + code[4:]
    result = classify(typo, "numpad", today=TODAY)
    assert result.best_rejection().code == "invalid_checksum"


def test_codes_issued_before_and_imported_ones_are_still_read() -> None:
    for old in ("500001", "500002", "1001", "LS-1", "2000123", "12345678901234"):
        result = classify(old, "numpad", today=TODAY)
        assert ("customer_code", old.upper()) in [(r.kind, r.value) for r in result.readings]


@given(bodies)
def test_a_code_printed_as_an_in_store_ean13_reads_back(body: str) -> None:
    code = with_check_digit(body)
    printed = "2" + code + ean.calc_check_digit("2" + code)
    readings = [r.value for r in classify(printed, "scan", today=TODAY).readings
                if r.kind == "customer_code"]
    assert readings == [printed, code]
