"""Customer CSV files in Lightspeed-style columns: reading, checking each row, writing.

Files come from shops' spreadsheets, so: UTF-8 with or without a byte-order mark, ``,`` or ``;``
as delimiter (Swedish Excel writes ``;``), column names in any case and order, unknown columns
ignored (and reported).  Each row is checked on its own and a bad row is reported as
``(line, reason)`` without stopping the rest.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..identity import personnummer, phone
from ..identity.errors import IdentityError
from . import fields
from .records import CustomerRecord

COLUMNS = (
    "customer_code", "first_name", "last_name", "email", "phone", "personal_id", "birth_date",
    "street", "postal_code", "city", "country", "customer_group", "marketing_consent",
)
REQUIRED_COLUMNS = ("first_name", "last_name")
_YES = {"1", "yes", "y", "true", "ja", "j", "x", "sant"}
_NO = {"0", "no", "n", "false", "nej", "falskt"}


class RowError(ValueError):
    """Why one row cannot be imported; the message starts with the column at fault."""


@dataclass(frozen=True)
class ParsedRow:
    """One row, normalised.  ``None`` means the cell was blank: keep what is stored."""

    customer_code: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    personal_id_fingerprint: str | None = None
    personal_id_masked: str | None = None
    birth_date: dt.date | None = None
    street: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None
    customer_group: str | None = None
    marketing_consent: bool | None = None


@dataclass
class Table:
    rows: Iterator[tuple[int, dict[str, str]]]
    ignored_columns: list[str] = field(default_factory=list)
    header_error: str | None = None


def read_table(source: Path | TextIO) -> Table:
    if isinstance(source, Path):
        data = source.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            return Table(iter(()), header_error=(
                f"the file is not UTF-8 text (byte 0x{data[err.start]:02X} on line {line}); "
                "in Excel choose \"CSV UTF-8\" when saving"))
    else:
        text = source.read()
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return Table(iter(()), header_error="the file is empty; expected a header line")
    names = [_column_name(cell) for cell in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    duplicated = sorted({n for n in names if n and names.count(n) > 1})
    ignored = [cell.strip() for cell, name in zip(header, names, strict=True)
               if name not in COLUMNS and cell.strip()]
    if missing:
        return Table(iter(()), ignored, f"header: missing column {', '.join(missing)} (found: "
                     f"{', '.join(cell.strip() for cell in header)})")
    if duplicated:
        return Table(iter(()), ignored, f"header: column {', '.join(duplicated)} appears twice")

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        ended = reader.line_num
        for cells in reader:
            # Report where the row starts: a quoted cell may span several lines.
            line, ended = ended + 1, reader.line_num
            if len(cells) > len(names) and any(c.strip() for c in cells[len(names):]):
                yield line, {"__error__": f"has {len(cells)} cells but the header has "
                                          f"{len(names)} columns"}
                continue
            yield line, {name: cell for name, cell in zip(names, cells, strict=False)
                         if name in COLUMNS}

    return Table(rows(), ignored)


def _column_name(cell: str) -> str:
    return "_".join(cell.strip().lower().replace("-", " ").split())


def parse_row(cells: dict[str, str], *, region: str,
              fingerprint: Callable[[str], str]) -> ParsedRow:
    if "__error__" in cells:
        raise RowError(cells["__error__"])

    def cell(name: str) -> str | None:
        value = _unguard((cells.get(name) or "").strip())
        return value or None

    try:
        code = cell("customer_code")
        first = cell("first_name")
        last = cell("last_name")
        values = {
            "customer_code": fields.customer_code(code) if code else None,
            "first_name": fields.name(first, "first_name") if first else None,
            "last_name": fields.name(last, "last_name") if last else None,
            "email": fields.email(cell("email")) if cell("email") else None,
            "street": fields.optional_text(cell("street"), "street", 200),
            "postal_code": fields.optional_text(cell("postal_code"), "postal_code", 16),
            "city": fields.optional_text(cell("city"), "city", 100),
            "country": fields.optional_text(cell("country"), "country", 56),
            "customer_group": fields.optional_text(cell("customer_group"), "customer_group",
                                                   100),
        }
    except fields.InvalidCustomer as err:
        raise RowError(str(err)) from None

    raw_phone = cell("phone")
    if raw_phone:
        try:
            values["phone"] = phone.compact(raw_phone, region)
        except IdentityError as err:
            raise RowError(f"phone {raw_phone}: {err}") from None

    birth = None
    raw_birth = cell("birth_date")
    if raw_birth:
        try:
            birth = dt.date.fromisoformat(raw_birth)
        except ValueError:
            raise RowError(f"birth_date {raw_birth}: not a date of the form YYYY-MM-DD") from None

    raw_pid = cell("personal_id")
    if raw_pid:
        try:
            pid = personnummer.parse(raw_pid)
        except IdentityError as err:
            raise RowError(f"personal_id {raw_pid}: {err}") from None
        if birth is not None and birth != pid.birth_date:
            raise RowError(f"birth_date {birth.isoformat()} does not match personal_id "
                           f"{pid.masked} (born {pid.birth_date.isoformat()})")
        values.update(personal_id_fingerprint=fingerprint(pid.number),
                      personal_id_masked=pid.masked)
        birth = pid.birth_date
    values["birth_date"] = birth

    raw_consent = cell("marketing_consent")
    if raw_consent:
        answer = raw_consent.lower()
        if answer not in _YES | _NO:
            raise RowError(f"marketing_consent {raw_consent}: expected yes/no (or ja/nej, 1/0)")
        values["marketing_consent"] = answer in _YES
    return ParsedRow(**values)


class CsvWriter:
    """Writes the import format (comma-separated, UTF-8; the caller opens the file)."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out, lineterminator="\n")
        self._writer.writerow(COLUMNS)

    def write(self, record: CustomerRecord, marketing_consent: bool | None) -> None:
        consent = "" if marketing_consent is None else ("yes" if marketing_consent else "no")
        text = _guard
        self._writer.writerow([
            text(record.customer_code), text(record.first_name), text(record.last_name),
            text(record.email or ""), record.phone or "", "",
            record.birth_date.isoformat() if record.birth_date else "",
            text(record.street or ""), text(record.postal_code or ""), text(record.city or ""),
            text(record.country or ""), text(record.customer_group or ""), consent,
        ])


# A spreadsheet runs a cell that starts with one of these as a formula ("CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _guard(value: str) -> str:
    """Free text as Excel will show it, never run it: a leading apostrophe (OWASP advice).
    Phone numbers (E.164, "+46…") are written as they are: they are validated digits."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _unguard(value: str) -> str:
    """Undo _guard, so that an exported file imports back unchanged."""
    if value.startswith("'") and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value
