"""bench/generate.py: generated customers are valid, unique, realistic, deterministic and load;
bench/match.py runs end to end on a tiny SQLite set."""

from __future__ import annotations

import collections
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from stdnum import luhn

from cashier_bridge.identity import personnummer, phone
from cashier_bridge.lanes.lane import MatchKey
from cashier_bridge.registry import Registry, bulk, fields

BENCH = Path(__file__).resolve().parents[2] / "bench"
ROWS = 3000


def _module(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


generate = _module("generate")


@pytest.fixture(scope="module")
def people() -> list:
    return [block.person(k) for block in generate.blocks(ROWS, seed=3)
            for k in range(len(block))]


def test_every_personnummer_is_valid_and_matches_birth_date_and_sex(people: list) -> None:
    with_pnr = [p for p in people if p.personnummer]
    assert 0.85 * ROWS < len(with_pnr) < 0.97 * ROWS
    tables = generate.name_tables()
    for p in with_pnr:
        parsed = personnummer.parse(p.personnummer)
        assert parsed.number == p.personnummer and not parsed.coordination
        assert parsed.birth_date == p.birth_date
        assert luhn.is_valid(p.personnummer[2:])
        assert p.personnummer[8:11] != "000"
        # The ninth digit of the ten: even for women, odd for men, and a name to match.
        assert (int(p.personnummer[10]) % 2 == 0) == p.female
        assert p.first_name in tables["female" if p.female else "male"].names
    years = [p.birth_date.year for p in with_pnr]
    assert min(years) >= generate.FIRST_BIRTH_YEAR and max(years) <= generate.LAST_BIRTH_YEAR
    women = sum(p.female for p in people)
    assert 0.4 * ROWS < women < 0.6 * ROWS


def test_phones_are_swedish_mobiles_in_e164(people: list) -> None:
    phones = [p.phone for p in people if p.phone]
    assert 0.8 * ROWS < len(phones) < 0.95 * ROWS
    for number in phones:
        assert phone.validate(number) == number
        assert number[:5] in {"+4670", "+4672", "+4673", "+4676", "+4679"}
        assert phone.format(number).startswith("07")


def test_identifiers_are_unique_and_emails_valid(people: list) -> None:
    for column in ("customer_code", "personnummer", "phone", "email"):
        values = [getattr(p, column) for p in people if getattr(p, column)]
        assert len(values) == len(set(values)), column
    emails = [p.email for p in people if p.email]
    assert 0.6 * ROWS < len(emails) < 0.8 * ROWS
    for email in emails:
        assert fields.email(email) == email
        assert email.rsplit("@", 1)[1] in generate.EMAIL_DOMAINS
        assert email.isascii()
    for p in people:
        assert fields.customer_code(p.customer_code) == p.customer_code


def test_names_come_from_the_table_with_its_frequencies(people: list) -> None:
    tables = generate.name_tables()
    assert all(p.last_name in tables["surname"].names for p in people)
    common = collections.Counter(p.last_name for p in people).most_common(1)[0][0]
    assert common in tables["surname"].names[:5]  # Andersson, Johansson, Karlsson …
    given = collections.Counter(p.first_name for p in people)
    assert len(given) > 150  # a realistic spread, not a handful of names


def test_rows_are_a_function_of_seed_and_index_alone(people: list) -> None:
    assert generate.person(1234, seed=3) == people[1234]
    # Across a block boundary, and as a prefix of a longer set.
    start = generate.BLOCK - 3
    crossing = [b.person(k) for b in generate.blocks(6, seed=3, start=start)
                for k in range(len(b))]
    assert crossing == [generate.person(start + k, seed=3) for k in range(6)]
    assert [b.person(0) for b in generate.blocks(1, seed=3)] == people[:1]
    assert generate.person(5, seed=4) != people[5]


def test_the_permutation_is_a_bijection() -> None:
    for domain in (1, 2, 7, 1000, 4099):
        values = generate.permute(np.arange(domain), domain, key=11)
        assert sorted(values.tolist()) == list(range(domain))


def test_a_generated_set_loads_and_is_findable(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK", 1000)  # several chunks: the empty-registry path
    url = f"sqlite:///{tmp_path / 'gen.db'}"
    result = generate.load(url, ROWS, seed=3, quiet=True)
    assert result["rows"] == ROWS and result["backend"] == "sqlite"
    registry = Registry.open(url)
    try:
        assert registry.customers.count() == ROWS
        someone = next(p for p in generate.sample(ROWS, 20, seed=3) if p.personnummer)
        fingerprint = registry.fingerprint(someone.personnummer)
        found = registry.customers.find([MatchKey(kind="personal_id_fingerprint", value=fingerprint,
                                                  reading="personnummer")])
        assert found is not None
        record = found[0]
        assert (record.customer_code, record.first_name, record.last_name, record.phone,
                record.email, record.birth_date) == (
            someone.customer_code, someone.first_name, someone.last_name, someone.phone,
            someone.email, someone.birth_date)
        assert record.personal_id_masked == personnummer.mask(someone.personnummer)
    finally:
        registry.close()


def test_match_benchmark_runs_on_a_tiny_sqlite_set(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    match = _module("match")
    match.main(["--sizes", "2000", "--backends", "sqlite", "--samples", "100",
                "--out", str(tmp_path)])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["sqlite_2000_ms_p99"] > 0
    assert {f"sqlite_2000_{kind}_ms_p99" for kind in match.KINDS} <= set(figures)
    assert figures["sqlite_2000_load_s"] is not None
