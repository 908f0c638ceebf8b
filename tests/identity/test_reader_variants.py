"""Codes as real readers deliver them: every corpus sample, with what cameras and scanners add.

Each sample in tests/fixtures is parsed as it is, then again after the changes readers make to
it (other element separators, a byte-order mark, NUL and DEL padding, code points that mean
nothing).  The fields must come out the same and clean, and a sample that is rejected must be
rejected for the same reason.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import astuple
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

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
from cashier_bridge.identity.document import ParsedDocument
from cashier_bridge.identity.errors import IdentityError
from cashier_bridge.identity.personnummer import PersonalId
from identity.conftest import FIXTURES, TODAY

DEMO_CUSTOMERS = Path(__file__).resolve().parents[2] / "cashier_bridge/data/demo_customers.csv"
# Permanently unassigned code points (Unicode noncharacters): no reader should send them, some do.
UNASSIGNED = "\ufffe\ufdd0\U0010fffe"


def _separator(sep: str) -> Callable[[str], str]:
    # A one-line code gets the separator as its terminator (a scanner's Enter or record end).
    return lambda t: (t if "\n" in t else t + "\n").replace("\n", sep)


def _inside(junk: str) -> Callable[[str], str]:
    # Before every line end of a multi-line code; in the middle of a one-line code.
    return lambda t: t.replace("\n", junk + "\n") if "\n" in t else t[:4] + junk + t[4:]


VARIANTS: dict[str, Callable[[str], str]] = {
    "pipe": _separator("|"),
    "cr": _separator("\r"),
    "crlf": _separator("\r\n"),
    "record_separator": _separator("\x1e"),
    "group_separator": _separator("\x1d"),
    "bom": lambda t: "\ufeff" + t,
    "trailing_nuls": lambda t: t + "\x00" * 8,
    "nul_del_inside": _inside("\x00\x7f\x00"),
    "unassigned": lambda t: UNASSIGNED + _inside(UNASSIGNED)(t) + UNASSIGNED,
}
# A pipe is a character like any other in a vCard or MECARD value or a free-form card code, and
# a typo in a personnummer or phone number: only licences and MRZs, where it is never data, read
# it as a separator.
PIPE_IS_DATA = ("vcard", "mecard", "personnummer", "customer_code", "phone")


def _read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _lines(path: Path) -> list[str]:
    return [line for line in _read_text(path).splitlines() if line.strip()]


def _column(path: Path, *columns: str) -> list[str]:
    with path.open(newline="") as fh:
        return [row[c] for row in csv.DictReader(fh) for c in columns if row[c]]


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# A MECARD as some generators print it: one field per line.
_MECARD_FIELD_END = re.compile(r"(?<!\\);")


def _mecard_lines(path: Path) -> list[str]:
    return [_MECARD_FIELD_END.sub(";\n", line) for line in _lines(path)]


PARSERS: dict[str, Callable[[str], object]] = {
    "aamva": lambda t: aamva.parse(t, today=TODAY),
    "vcard": vcard.parse_all,
    "mecard": mecard.parse,
    "mrz": lambda t: mrz.parse(t, today=TODAY),
    "personnummer": lambda t: personnummer.parse(t, today=TODAY),
    "customer_code": customer_code.validate,
    "phone": phone.validate,
}

PNR = FIXTURES / "personnummer/personnummer-meta"
FORMATS = ("long_format", "short_format", "separated_format", "separated_long")
# file (relative to tests/fixtures or the repository) -> (parser kind, the samples in it)
CORPUS: dict[str, tuple[str, Callable[[], list[str]]]] = {
    **{f"aamva/{p.relative_to(FIXTURES / 'aamva').as_posix()}": (
        "aamva", functools.partial(lambda p: [_read_text(p)], p))
       for p in sorted((FIXTURES / "aamva").rglob("*.txt"))},
    **{f"vcard/{p.relative_to(FIXTURES / 'vcard').as_posix()}": (
        "vcard", functools.partial(lambda p: [_lf(vcard.decode(p.read_bytes()))], p))
       for p in sorted((FIXTURES / "vcard").rglob("*.vcf"))},
    **{f"vcard/zxing-parser-tests/{name}": (
        "mecard", functools.partial(_mecard_lines, FIXTURES / "vcard/zxing-parser-tests" / name))
       for name in ("ParsedReaderResultTestCase_mecard.txt",
                    "AddressBookParsedResultTestCase_mecard.txt",
                    "ParsedReaderResultTestCase_bizcard.txt",
                    "AddressBookParsedResultTestCase_bizcard.txt")},
    "mrz/cheminfo-mrz/mrz_samples.csv": (
        "mrz", lambda: _column(FIXTURES / "mrz/cheminfo-mrz/mrz_samples.csv", "mrz")),
    "personnummer/personnummer-meta/list.csv": (
        "personnummer", lambda: _column(PNR / "list.csv", *FORMATS)),
    "personnummer/personnummer-meta/interim.csv": (
        "personnummer", lambda: _column(PNR / "interim.csv", *FORMATS)),
    "personnummer/personnummer-meta/allPins.csv": (
        "personnummer", lambda: _column(PNR / "allPins.csv", "testpersonnummer")),
    "personnummer/personnummer-meta/allCoords.csv": (
        "personnummer", lambda: _column(PNR / "allCoords.csv", "testsamordningsnummer")),
    "demo_customers.csv#customer_code": (
        "customer_code", lambda: _column(DEMO_CUSTOMERS, "customer_code")),
    "demo_customers.csv#phone": ("phone", lambda: _column(DEMO_CUSTOMERS, "phone")),
}


def outcome(kind: str, text: str) -> object:
    """What the parser makes of ``text``, in a form two parses can be compared by."""
    try:
        result = PARSERS[kind](text)
    except IdentityError as err:
        return ("rejected", err.code)
    return _comparable(result)


def _comparable(result: object) -> object:
    if isinstance(result, ParsedDocument):
        return (result.kind, result.fields())
    if isinstance(result, list):
        return [_comparable(r) for r in result]
    if isinstance(result, PersonalId):
        return astuple(result)
    return result


def assert_clean(value: object, sample: str = "") -> None:
    """No control, format, unassigned or separator character, no stray whitespace."""
    if isinstance(value, dict):
        for item in value.values():
            assert_clean(item, sample)
    elif isinstance(value, list | tuple):
        for item in value:
            assert_clean(item, sample)
    elif isinstance(value, str):
        assert value == " ".join(value.split()), (value, sample[:60])
        bad = [c for c in value if unicodedata.category(c)[0] == "C" or c in "|\ufffd"]
        assert not bad, (value, sample[:60])


@functools.cache
def _clean_outcomes(name: str) -> list[tuple[str, object]]:
    kind, samples = CORPUS[name]
    return [(text, outcome(kind, text)) for text in samples()]


def test_the_corpus_is_all_there() -> None:
    kinds = [kind for kind, _ in CORPUS.values()]
    assert kinds.count("aamva") >= 58 and kinds.count("vcard") >= 40
    assert sum(len(_clean_outcomes(n)) for n, (k, _) in CORPUS.items() if k == "mrz") >= 40
    assert len(_clean_outcomes("personnummer/personnummer-meta/allPins.csv")) > 40_000


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_clean_samples_give_clean_fields(name: str) -> None:
    for text, result in _clean_outcomes(name):
        assert_clean(result, text)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_reader_variants_read_like_the_clean_sample(name: str, variant: str) -> None:
    kind = CORPUS[name][0]
    change = VARIANTS[variant]
    for text, expected in _clean_outcomes(name):
        changed = change(text)
        if variant == "pipe" and kind in PIPE_IS_DATA:
            result = outcome(kind, changed)
            if kind == "customer_code":
                # A free-form card code may hold any printable character, this one too.
                assert result == f"{expected}|"
            else:
                # Not a separator here: the code may be refused, but no pipe reaches a field.
                assert_clean(result, changed)
            continue
        assert outcome(kind, changed) == expected, (variant, changed[:80])


def test_personnummer_typed_with_stray_characters() -> None:
    for typed in ("\ufeff19850312-1249", "19850312-1249\x00\x00\x00", " 198503121249\r\n",
                  "\t850312-1249\x7f", "19850312\x00-1249", "\x1e8503121249\x1d"):
        assert personnummer.parse(typed, today=TODAY).number == "198503121249", repr(typed)
    # A space, tab or line break inside is still two numbers, not one.
    for typed in ("19850312 1249", "19850312\t1249", "19850312\r\n1249"):
        with pytest.raises(IdentityError) as info:
            personnummer.parse(typed, today=TODAY)
        assert info.value.code == "invalid_format", repr(typed)


def test_a_scan_of_nothing_but_padding_is_unreadable() -> None:
    for junk in ("\x00\x00\x00", "\ufeff", "\x7f\x00" + UNASSIGNED, "\x00\r\n\x00"):
        result = classify(junk, "scan", today=TODAY)
        assert result.readings == () and result.document is None
        assert result.best_rejection().code == "unreadable", repr(junk)
        for kind in ("aamva", "vcard", "mecard", "mrz", "personnummer", "customer_code"):
            assert outcome(kind, junk) == ("rejected", "unreadable"), (kind, repr(junk))


def _licence(name: str) -> str:
    return _read_text(FIXTURES / "aamva" / name)


def test_the_header_says_which_separator_the_reader_used() -> None:
    expected = aamva.parse(_licence("c0shea-IdParser/Licenses_VA.txt"), today=TODAY)
    for sep in ("~", "|", "^", "\x1f"):
        text = _licence("c0shea-IdParser/Licenses_VA.txt").replace("\n", sep)
        assert text.startswith(f"@{sep}\x1e\r"), "the element separator is in the header"
        assert aamva.parse(text, today=TODAY) == expected, repr(sep)


def test_a_short_code_is_split_where_its_header_says() -> None:
    # Too short for the separator to be guessed from the body: only the header tells.
    text = "@~\x1e\rANSI 636000030001DL00310440DLDAQT16700185~DCSMAURY~DACJUSTIN\x00"
    assert aamva.elements(text) == (3, {"DAQ": "T16700185", "DCS": "MAURY", "DAC": "JUSTIN"})


def test_without_separators_in_the_header_the_one_between_elements_is_found() -> None:
    # Wyoming's header has none ("@acANSI"): the pipes the reader wrote are found between IDs.
    text = _licence("c0shea-IdParser/Licenses_WY.txt")
    assert text.lstrip("\ufeff").startswith("@acANSI ")
    doc = aamva.parse(text.replace("\n", "|"), today=TODAY)
    assert doc == aamva.parse(text, today=TODAY)
    assert doc.last_name and "|" not in doc.last_name and doc.first_name


def test_a_comma_in_the_header_does_not_cut_names() -> None:
    # "LAST,FIRST,MIDDLE" in DAA: a garbled header showing a comma is not a separator.
    text = _licence("c0shea-IdParser/Licenses_CT.txt")
    garbled = "@," + text[2:]
    doc = aamva.parse(garbled, today=TODAY)
    assert (doc.first_name, doc.middle_name, doc.last_name) == ("ADULT", "A", "CTLIC")


def test_a_licence_cut_off_after_its_header_is_incomplete() -> None:
    text = _licence("Syfaro-aamva-rs/VA-V4/VA-21.txt")
    header_only = text[: text.index("IDDCA") + 2] + "\x00" * 16
    result = classify(header_only, "scan", today=TODAY)
    assert result.document is None and result.best_rejection().code == "incomplete"


def test_a_licence_without_a_name_cannot_make_a_member() -> None:
    text = _licence("c0shea-IdParser/Licenses_VA.txt")
    # The reader padded the name elements with NULs and separators.
    nameless = re.sub(r"\n(DCS|DCT)[^\n]*", lambda m: f"\n{m[1]}\x00\x00|\x1e", text)
    doc = aamva.parse(nameless, today=TODAY)
    assert (doc.first_name, doc.last_name, doc.document_number) == (None, None, "T16700185")
    result = classify(nameless, "scan", today=TODAY)
    assert result.document == doc and not result.can_become_member
    assert result.best_rejection().code == "no_identity"


def test_a_name_of_padding_or_punctuation_is_no_name() -> None:
    for card in ("MECARD:N:\x00\x00;TEL:070-123 45 67;;", "MECARD:N:-;TEL:070-123 45 67;;",
                 "BEGIN:VCARD\r\nN:;\x00;;;\r\nTEL:070-123 45 67\r\nEND:VCARD\r\n",
                 "BEGIN:VCARD\r\nFN:\ufeff.\r\nTEL:070-123 45 67\r\nEND:VCARD\r\n"):
        result = classify(card, "scan", today=TODAY)
        assert not result.document.has_name, repr(card)
        assert [(r.kind, r.value) for r in result.readings] == [("phone", "+46701234567")]
        assert not result.can_become_member
        assert result.best_rejection().code == "no_identity"


def test_vcard_bytes_with_padding_and_utf16() -> None:
    data = (FIXTURES / "vcard/mangstadt-ez-vcard/io/text/rfc6350-example.vcf").read_bytes()
    expected = outcome("vcard", vcard.decode(data))
    text = vcard.decode(data)
    for padded in (b"\x00\x00" + data, b"\xef\xbb\xbf" + data + b"\x00" * 7,
                   text.encode("utf-16") + b"\x00", text.encode("utf-16-le") + b"\x00\x00"):
        assert _comparable(vcard.parse_all(padded)) == expected, padded[:8]


# What a reader adds around a code: controls, padding, separators, marks, unassigned points.
JUNK = st.text(
    st.one_of(
        st.characters(categories=["Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"]),
        st.sampled_from("\ufeff\u200b\u200e\u2060\x00\x7f\x1e\x1d\r\n\t"),
    ),
    max_size=12,
)


@functools.cache
def _hypothesis_corpus() -> list[tuple[str, str]]:
    """A few samples of every kind (the property is about the edges, not the sample)."""
    picked: list[tuple[str, str]] = []
    for name in sorted(CORPUS):
        kind = CORPUS[name][0]
        picked += [(kind, text) for text, _ in _clean_outcomes(name)[:12]]
    return picked


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0), JUNK, JUNK)
@example(0, "\x00\ufeff\r\n", "\x00" * 12).via("trailing NULs after a BOM")
def test_junk_at_the_edges_changes_nothing(index: int, before: str, after: str) -> None:
    corpus = _hypothesis_corpus()
    kind, text = corpus[index % len(corpus)]
    # Never another exception: outcome() lets anything but an IdentityError through.
    result = outcome(kind, before + text + after)
    assert result == outcome(kind, text), (kind, before, after)
    assert_clean(result)


@settings(max_examples=200, deadline=None)
@given(JUNK, JUNK, st.sampled_from(["scan", "numpad"]))
def test_classify_sees_through_edge_junk(before: str, after: str, source: str) -> None:
    clean = classify("19850312-1249", source, today=TODAY)
    padded = classify(before + "19850312-1249" + after, source, today=TODAY)
    assert padded.readings == clean.readings
    assert [e.code for e in padded.rejected] == [e.code for e in clean.rejected]


def test_a_licence_with_junk_classifies_like_the_clean_one() -> None:
    text = _licence("Syfaro-aamva-rs/VA-V4/VA-21.txt")
    for variant in VARIANTS.values():
        result = classify(variant(text), "scan", today=TODAY)
        assert result.document == classify(text, "scan", today=TODAY).document
        assert result.can_become_member


def test_variants_of_a_sample_are_really_different() -> None:
    # Guards the variant functions themselves: none of them may leave a sample as it was.
    for text in (_licence("c0shea-IdParser/Licenses_VA.txt"), "19850312-1249"):
        for name, variant in VARIANTS.items():
            assert variant(text) != text, name


@pytest.mark.parametrize("path", sorted((FIXTURES / "vcard").rglob("*.vcf")), ids=lambda p: p.name)
def test_vcard_files_read_the_same_as_text_with_lf(path: Path) -> None:
    # The variants start from the file as text with LF line ends; that must be the file.
    data = path.read_bytes()
    try:
        expected = _comparable(vcard.parse_all(data))
    except IdentityError as err:
        expected = ("rejected", err.code)
    assert outcome("vcard", _lf(vcard.decode(data))) == expected


@pytest.mark.parametrize("name", [n for n, (k, _) in CORPUS.items() if k == "mecard"])
def test_mecard_one_field_per_line_reads_like_one_line(name: str) -> None:
    # The variants start from the one-field-per-line form; that must be the sample itself.
    path = FIXTURES / name
    lines = _lines(path)
    assert [outcome("mecard", line) for line in lines] == [
        outcome("mecard", text) for text in _mecard_lines(path)]
