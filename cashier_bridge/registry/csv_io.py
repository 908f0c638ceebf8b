"""Customer CSV files in the columns of a Lightspeed Retail (X-Series, formerly Vend) customer
export, plus a few of ours: reading, checking each row, writing.

:data:`FIELDS` is the ONE list of columns: what each one becomes in the registry and how its
cells are read.  Import, export, the import preview and the README's table all read it.

Files come from shops' spreadsheets, so: UTF-8 with or without a byte-order mark, ``,`` or ``;``
as delimiter (Swedish Excel writes ``;``), column names in any case and order, unknown columns
ignored (and reported).  Each row is checked on its own and a bad row is reported as
``(line, reason)`` without stopping the rest.  The column names of this project's earlier
format (``street``, ``birth_date``, ``customer_group``, …) are read as aliases, so older files
and the demo customers still import.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from collections import Counter, namedtuple
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, TextIO

from cashier_bridge.customers import fields as customer_fields
from cashier_bridge.identity import personnummer, phone
from cashier_bridge.identity.errors import IdentityError
from cashier_bridge.permissions import Action
from cashier_bridge.registry import fields

_YES = {"1", "yes", "y", "true", "ja", "j", "x", "sant"}
_NO = {"0", "no", "n", "false", "nej", "falskt"}
# Lightspeed's default group; ours is called "All customers" (writes.DEFAULT_GROUP).
DEFAULT_GROUP_NAMES = {"all customers", "alla kunder"}


class RowError(ValueError):
    """Why one row cannot be imported; the message starts with the column at fault."""

    def __init__(self, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


# --- cell readers: text of one cell (never blank) → stored value; raise RowError -------------


def _code(value: str, column: str) -> str:
    return _wrap(fields.customer_code, value, column)


def _name(value: str, column: str) -> str:
    return _wrap(lambda v: fields.name(v, column), value, column)


def _email(value: str, column: str) -> str:
    return _wrap(fields.email, value, column)


def _text(limit: int) -> Callable[[str, str], str | None]:
    # The same rule as fields.optional_text, inline: it runs for most cells of a large file.
    def read(value: str, column: str) -> str | None:
        text = " ".join(value.split())
        if len(text) > limit:
            raise RowError(f"{column}: has more than {limit} characters", column)
        return text or None
    return read


def _postal_code(value: str, column: str) -> str | None:
    # The rule of every other entry path: a file's street or phone in the postcode column is
    # refused here as it is in the back office.
    return _wrap(lambda v: fields.postal_code(v, column), value, column)


def _note(value: str, column: str) -> str | None:
    # Line breaks are the note's own (and ours: "phone: …" lines); spacing within a line is not.
    text = "\n".join(line for line in (" ".join(part.split()) for part in value.splitlines())
                     if line)
    if len(text) > 2000:
        raise RowError(f"{column}: has more than 2000 characters", column)
    return text or None


def _country(value: str, column: str) -> str | None:
    text = _COUNTRY_TEXT(value, column)
    # Lightspeed writes ISO 3166 codes ("SE"); people type "se".
    return text.upper() if text and len(text) == 2 else text


_COUNTRY_TEXT = _text(56)
_STREET_TEXT = _text(200)


def _date(value: str, column: str) -> dt.date:
    # Lightspeed exports dates, sometimes with a midnight time ("1985-03-12 00:00:00").
    text = value[:10] if len(value) > 10 and value[10] in " T" else value
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else _bad_date()
    except ValueError:
        raise RowError(f"{column} {value}: not a date of the form YYYY-MM-DD", column) from None


def _bad_date() -> dt.date:
    raise ValueError


def _yes_no(value: str, column: str) -> bool:
    answer = value.lower()
    if answer not in _YES | _NO:
        raise RowError(f"{column} {value}: expected yes/no (or ja/nej, 1/0)", column)
    return answer in _YES


_MONEY = re.compile(r"^-?\d{1,12}([.,]\d{1,2})?$")


def _money(value: str, column: str) -> int:
    """Minor units (öre) of an amount like ``120``, ``120.5`` or ``-3,25``."""
    text = value.replace(" ", "").replace("\u00a0", "")
    if not _MONEY.match(text):
        raise RowError(f"{column} {value}: not an amount like 120.50", column)
    negative = text.startswith("-")
    whole, _, part = text.lstrip("-").replace(",", ".").partition(".")
    minor = int(whole) * 100 + int((part + "00")[:2])
    return -minor if negative else minor


def _raw(value: str, column: str) -> str:
    return " ".join(value.split())


def _phone_text(value: str, column: str) -> str:
    return value.strip()


# Swedish mobile numbers as shops write them ("070-123 45 67", "+46 70 123 45 67"): read without
# phonenumbers, which costs ~20 µs a number (seconds for a large file).  Exactly the numbers
# phonenumbers' SE metadata calls valid mobiles (7[023689] and seven digits); a test compares.
_SE_MOBILE = re.compile(r"^(?:\+46|0046|0)(7[023689]\d{7})$")
_SPACING = str.maketrans("", "", " -()\u00a0")


def _phone(raw: str, region: str) -> str:
    if region == "SE":
        found = _SE_MOBILE.match(raw.translate(_SPACING))
        if found:
            return "+46" + found.group(1)
    return phone.validate(raw, region)


# The form nearly every personnummer in a file has ("19850312-1249", "198503121249"): read
# in half the time of personnummer.parse (~3 µs instead of ~7: python-stdnum's Luhn is generic).
# Only an ordinary number with a past birth date is read here; anything else (10 digits, a
# samordningsnummer, a bad check digit, a date that is no date) goes to personnummer.parse,
# which also words the error.  A test compares the two.
_PNR_12 = re.compile(r"^(\d{8})-?(\d{4})$", re.ASCII)
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _personal_id(raw: str) -> personnummer.PersonalId:
    found = _PNR_12.match(raw)
    if found:
        date, tail = found.groups()
        digits = date[2:] + tail
        check = (sum(_LUHN_DOUBLED[ord(c) - 48] for c in digits[0::2])
                 + sum(ord(c) - 48 for c in digits[1::2]))
        day = int(date[6:])
        if check % 10 == 0 and tail[:3] != "000" and day < 60:
            try:
                birth = dt.date(int(date[:4]), int(date[4:6]), day)
            except ValueError:
                birth = None
            if birth is not None and birth <= dt.date.today():
                return personnummer.PersonalId(number=date + tail, birth_date=birth,
                                               coordination=False)
    return personnummer.parse(raw)


def _wrap(read: Callable[[str], Any], value: str, column: str) -> Any:
    try:
        return read(value)
    except fields.InvalidCustomer as err:
        raise RowError(str(err), column) from None


# --- the one list of columns ------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A CSV column: its name in the file, where its value goes, how it is read and written.

    ``key`` names the value for :func:`parse_row` (a customer field, or a part it is made of);
    ``read`` is None for columns that are read but not kept.  ``export`` gives the cell of a
    customer (a dict of stored values); None writes the column empty.
    """

    name: str
    key: str | None
    read: Callable[[str, str], Any] | None
    becomes: str  # what it becomes, as the README's table says it
    source: str = "Lightspeed"
    aliases: tuple[str, ...] = ()
    export: Callable[[dict[str, Any]], str] | None = None


def _out(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda values: _guard(values.get(name) or "")


def _out_date(values: dict[str, Any]) -> str:
    value = values.get("birth_date")
    return value.isoformat() if value else ""


def _out_money(name: str) -> Callable[[dict[str, Any]], str]:
    def out(values: dict[str, Any]) -> str:
        minor = values.get(name) or 0
        sign = "-" if minor < 0 else ""
        return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"
    return out


def _out_consent(values: dict[str, Any]) -> str:
    granted = values.get("marketing_consent")
    return "" if granted is None else ("yes" if granted else "no")


def _out_phone(values: dict[str, Any]) -> str:
    return values.get("phone") or ""  # validated E.164 digits: never a formula


_NOTE_LINE = "appended to the note as a line \"{name}: …\""

# Written out: Lightspeed's columns and the fields read from several or in their own way.  A
# field of the table with a ``csv`` column not here gets one from its entry (:func:`_of_field`).
_WRITTEN: tuple[Column, ...] = (
    Column("id", None, None, "not kept: Lightspeed's own id (customers get ours)"),
    Column("customer_code", "customer_code", _code,
           "customer code (matches a stored customer; a new one gets the next free code when "
           "blank)", export=_out("customer_code")),
    Column("name", "name", _name, "first and last name, only when both of those are blank "
           "(split at the last space)"),
    Column("first_name", "first_name", _name, "first name", export=_out("first_name")),
    Column("last_name", "last_name", _name, "last name", export=_out("last_name")),
    Column("company_name", "company_name", _text(100), "company", export=_out("company_name")),
    Column("email", "email", _email, "e-mail (must be unique)", export=_out("email")),
    Column("phone", "phone", _phone_text, "phone when mobile is blank; otherwise, if it is "
           "another number, a line \"phone: …\" in the note"),
    Column("mobile", "mobile", _phone_text, "phone (E.164 with the shop's region; must be "
           "unique)", export=_out_phone),
    Column("fax", "fax", _raw, _NOTE_LINE.format(name="fax")),
    Column("website", "website", _raw, _NOTE_LINE.format(name="website")),
    Column("twitter", "twitter", _raw, _NOTE_LINE.format(name="twitter")),
    Column("physical_address1", "delivery_street.1", _text(200),
           "delivery street (address1, address2 and suburb joined with \", \")",
           export=_out("delivery_street")),
    Column("physical_address2", "delivery_street.2", _text(200), "delivery street, 2nd part"),
    Column("physical_suburb", "delivery_street.3", _text(200), "delivery street, 3rd part"),
    Column("physical_city", "delivery_city", _text(100), "delivery city",
           export=_out("delivery_city")),
    Column("physical_postcode", "delivery_postal_code", _postal_code, "delivery postal code",
           export=_out("delivery_postal_code")),
    Column("physical_state", "physical_state", _raw, _NOTE_LINE.format(name="physical_state")),
    Column("physical_country_id", "delivery_country", _country, "delivery country",
           export=_out("delivery_country")),
    Column("postal_address1", "street.1", _text(200),
           "street (address1, address2 and suburb joined with \", \")",
           aliases=("street",), export=_out("street")),
    Column("postal_address2", "street.2", _text(200), "street, 2nd part"),
    Column("postal_suburb", "street.3", _text(200), "street, 3rd part"),
    Column("postal_city", "city", _text(100), "city", aliases=("city",), export=_out("city")),
    Column("postal_postcode", "postal_code", _postal_code, "postal code",
           aliases=("postal_code",), export=_out("postal_code")),
    Column("postal_state", "postal_state", _raw, _NOTE_LINE.format(name="postal_state")),
    Column("postal_country_id", "country", _country, "country", aliases=("country",),
           export=_out("country")),
    Column("customer_group_name", "customer_group", _text(100),
           "customer group (created if new; \"All Customers\" is our default group)",
           aliases=("customer_group",), export=_out("customer_group")),
    Column("date_of_birth", "birth_date", _date, "birth date (YYYY-MM-DD)",
           aliases=("birth_date",), export=_out_date),
    Column("sex", None, None, "not kept: the register has no use for it"),
    Column("note", "note", _note, "note (the shop's own remark)", export=_out("note")),
    Column("enable_loyalty", None, None, "not kept: loyalty follows the customer's group"),
    Column("loyalty_balance", "loyalty_balance_minor", _money,
           "loyalty balance, for new customers only (the register keeps it after that)",
           export=_out_money("loyalty_balance_minor")),
    Column("account_balance", "account_balance_minor", _money,
           "account balance, for new customers only (the register keeps it after that)",
           export=_out_money("account_balance_minor")),
    *(Column(f"custom_field_{n}", f"custom_field_{n}", _raw,
             _NOTE_LINE.format(name=f"custom_field_{n}")) for n in range(1, 5)),
    Column("created_at", None, None, "not kept: the import is when the customer came to us"),
    Column("updated_at", None, None, "not kept"),
    Column("personal_id", "personal_id", _phone_text,
           "personal ID number (personnummer): only a fingerprint and the masked form are "
           "stored; exported empty", source="selfreg"),
    Column("personal_id_masked", None, None, "exported for people to read (19850312-****); "
           "never imported", source="selfreg", export=_out("personal_id_masked")),
    Column("marketing_consent", "marketing_consent", _yes_no,
           "marketing consent yes/no (ja/nej, 1/0), appended to the consent log; blank: not "
           "asked", source="selfreg", export=_out_consent),
    Column("store_credit", "store_credit_minor", _money,
           "store credit, for new customers only", source="selfreg",
           export=_out_money("store_credit_minor")),
)
_CONTEXT = customer_fields.Context()


def _of_field(f: customer_fields.Field) -> Column:
    """A field's column from its table entry: read as the form reads it, written by type."""
    (column,) = f.columns  # one stored value, under the field's name
    read_value = f.read
    assert read_value is not None, f.name

    def read(value: str, name: str) -> Any:
        try:
            return read_value(customer_fields.from_text(f, value), _CONTEXT)[column]
        except fields.InvalidCustomer as err:
            raise RowError(f"{name}: {str(err).partition(': ')[2]}", name) from None

    def write(values: dict[str, Any]) -> str:
        value = values.get(column)
        if value is None:
            return ""
        return value.isoformat() if isinstance(value, dt.date) else _guard(str(value))

    return Column(f.csv[0], f.name, read, f.label.lower(), source="selfreg", export=write)


_OF_FIELDS = tuple(f for f in customer_fields.FIELDS
                   if f.csv and f.csv[0] not in {c.name for c in _WRITTEN})
FIELDS: tuple[Column, ...] = (*_WRITTEN, *map(_of_field, _OF_FIELDS))
# The values those columns give, kept as they are read (a ParsedRow's last fields).
MORE = tuple(f.name for f in _OF_FIELDS)
# The values that are dates (written to a stored preview as text).
DATES = ("birth_date", *(f.name for f in _OF_FIELDS if f.type is dt.date))

HEADER = tuple(c.name for c in FIELDS)
_BY_NAME: dict[str, Column] = {
    **{alias: c for c in FIELDS for alias in c.aliases}, **{c.name: c for c in FIELDS}}
# Column name (read_table's) → where its value goes and how it is read, for the columns kept.
_READERS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    c.name: (c.key, c.read) for c in FIELDS if c.key is not None and c.read is not None}
# Lines added to the note, in this order, from columns we have no field for.
NOTE_COLUMNS = ("fax", "website", "twitter", "physical_state", "postal_state",
                "custom_field_1", "custom_field_2", "custom_field_3", "custom_field_4")
# Kept on a new customer only; an existing customer's balances are the register's.
CREATE_ONLY = ("loyalty_balance_minor", "account_balance_minor", "store_credit_minor")
# The fields an import may change on a stored customer, compared to find unchanged rows.
UPDATABLE = tuple(
    column for f in customer_fields.FIELDS
    if f.csv and f.write is Action.edit_customer and f.name != "customer_code"
    for column in f.columns if not column.endswith("_key"))
# The columns of this project's first CSV format (demo_customers.csv is written in them).
COLUMNS = (
    "customer_code", "first_name", "last_name", "email", "phone", "personal_id", "birth_date",
    "street", "postal_code", "city", "country", "customer_group", "marketing_consent",
)


class _Row(NamedTuple):
    """One row, normalised.  ``None`` means nothing was given: keep what is stored.  A tuple:
    a stored preview's rows are written and read back as lists of these values, and
    ``ParsedRow._make`` is the cheapest way back (a dataclass of 24 fields cost 5 µs a row)."""

    customer_code: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    email: str | None = None
    phone: str | None = None
    personal_id_fingerprint: str | None = None
    personal_id_masked: str | None = None
    birth_date: dt.date | None = None
    street: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None
    delivery_street: str | None = None
    delivery_postal_code: str | None = None
    delivery_city: str | None = None
    delivery_country: str | None = None
    customer_group: str | None = None
    note: str | None = None
    marketing_consent: bool | None = None
    loyalty_balance_minor: int | None = None
    account_balance_minor: int | None = None
    store_credit_minor: int | None = None
    phone_column: str | None = None  # the column the phone came from, as the file names it
    # … and one value per field of MORE (a field with a column from its table entry).


if TYPE_CHECKING:
    ParsedRow = _Row
else:
    ParsedRow = namedtuple("ParsedRow", (*_Row._fields, *MORE),
                           defaults=(None,) * (len(_Row._fields) + len(MORE)))
    ParsedRow.__doc__ = _Row.__doc__

# The values read that a row keeps as they are (the rest are combined or checked together).
_COPIED = tuple(k for k in (*_Row._fields, *MORE)
                if k in {key for key, _ in _READERS.values()}
                and k not in ("phone", "note", "birth_date"))


# --- reading a file -------------------------------------------------------------------------
#
# A file is read line by line from its bytes, each read bounded, and every limit below is
# checked as the file is read, so that what a stranger uploads costs time and memory in
# proportion to the limits, never to what they sent.  Lightspeed's export has about 60 columns
# and rows of a few hundred characters.

MAX_COLUMNS = 200
MAX_ROW_CHARS = 100_000  # one row, over one line or several (a quoted cell may hold newlines)
MAX_CELL_CHARS = 10_000  # the longest kept field is a 2,000-character note
MAX_ROWS = 250_000
_SHOWN_COLUMNS = 12  # of a header without names, in its message


class FileProblem(ValueError):
    """Why the file cannot be read on; nothing of it is imported.  The message says where
    (line, and column when one is at fault) and the limit; ``line`` is that line."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class Table:
    """The file's header, read; ``rows`` reads the rest as it is iterated (and raises
    :class:`FileProblem` where the file cannot be read on)."""

    rows: Iterator[tuple[int, dict[str, str]]]
    ignored_columns: list[str] = field(default_factory=list)
    problem: FileProblem | None = None
    # canonical column name → the name as the file writes it (for messages)
    names: dict[str, str] = field(default_factory=dict)
    not_kept: list[str] = field(default_factory=list)

    @property
    def header_error(self) -> str | None:
        return str(self.problem) if self.problem else None


class _Lines:
    """The file's lines, decoded, for :func:`csv.reader`, which asks for one at a time.  No read
    returns more than the row being read may still take: a file without line breaks, or with a
    quote that never closes, stops at :data:`MAX_ROW_CHARS` instead of being read whole."""

    def __init__(self, text: TextIO) -> None:
        self._text = text
        self.read = 0  # lines handed out
        self.row_start = 1  # line where the row being read starts
        self._row: list[str] = []  # its lines so far (to say which cell is too long)
        self._row_chars = 0
        self.delimiter = ","
        self.header: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        try:
            line = self._text.readline(MAX_ROW_CHARS - self._row_chars + 1)
        except UnicodeDecodeError as err:
            raise _not_utf8(err, self.read) from None
        if not line:
            raise StopIteration
        self.read += 1
        self._row.append(line)
        self._row_chars += len(line)
        if self._row_chars > MAX_ROW_CHARS:
            raise self._too_long()
        return line

    def next_row(self) -> None:
        """The row just read is complete: the next line starts another."""
        self.row_start = self.read + 1
        self._row.clear()
        self._row_chars = 0

    def _too_long(self) -> FileProblem:
        line = self.row_start
        if line == 1:
            return FileProblem(f"header: longer than {MAX_ROW_CHARS:,} characters (at most "
                               f"{MAX_COLUMNS} columns and {MAX_ROW_CHARS:,} characters are "
                               "read); is this a customer file?", line)
        # The row as far as it was read, parsed as csv.reader would (a cell still open at the
        # end is returned as it is): is it one cell that is too long, and which?
        cells = next(csv.reader(self._row, delimiter=self.delimiter), [])
        at = max(range(len(cells)), key=lambda i: len(cells[i]), default=0)
        if cells and len(cells[at]) > MAX_CELL_CHARS:
            column = (self.header[at].strip() if at < len(self.header) else "") or \
                f"column {at + 1}"
            return FileProblem(f"line {line}, {column}: a cell longer than {MAX_CELL_CHARS:,} "
                               f"characters (at most {MAX_CELL_CHARS:,} are read); is a closing "
                               "quote missing?", line)
        return FileProblem(f"line {line}: a row longer than {MAX_ROW_CHARS:,} characters (at "
                           f"most {MAX_ROW_CHARS:,} are read); is a closing quote missing?", line)


def _not_utf8(err: UnicodeDecodeError, lines_read: int) -> FileProblem:
    # The text layer decodes a block at a time and has handed out every complete line before
    # the block: the bad byte is on the line being read, plus the line breaks before it.
    before = err.object[:err.start]
    line = lines_read + 1 + before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n")
    return FileProblem(f"the file is not UTF-8 text (byte 0x{err.object[err.start]:02X} on line "
                       f"{line}); in Excel choose \"CSV UTF-8\" when saving", line)


def read_table(source: BinaryIO | bytes) -> Table:
    """Read the header of a CSV file (its bytes, or a binary file positioned at its start);
    the table's ``rows`` read the rest.  Time and memory stay linear in what is read, and what
    is read is bounded by :data:`MAX_ROW_CHARS`, :data:`MAX_COLUMNS` and :data:`MAX_ROWS`."""
    binary = io.BytesIO(source) if isinstance(source, bytes) else source
    # newline="": csv.reader sees line breaks as they are, inside quoted cells too.
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    lines = _Lines(text)
    try:
        table = _read_header(lines, text)
    except FileProblem as problem:
        table = Table(iter(()), problem=problem)
    except csv.Error as err:
        table = Table(iter(()), problem=FileProblem(f"header: {err}"))
    if table.problem:
        text.detach()  # the caller's file stays open
    return table


def _read_header(lines: _Lines, text: io.TextIOWrapper) -> Table:
    first = next(lines, "")
    lines.delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(itertools.chain([first], lines), delimiter=lines.delimiter)
    header = next(reader, None) if first else None
    lines.next_row()
    if header is None or not any(cell.strip() for cell in header):
        raise FileProblem("the file is empty; expected a header line")
    if len(header) > MAX_COLUMNS:
        raise FileProblem(f"header: {len(header):,} columns (at most {MAX_COLUMNS} are read; a "
                          "Lightspeed customer export has about 60); is this a customer file?")
    lines.header = header
    written = [_column_name(cell) for cell in header]
    names = [_BY_NAME[n].name if n in _BY_NAME else n for n in written]
    shown = {name: w for name, w in zip(names, written, strict=True) if name in _BY_NAME}
    ignored = [cell.strip() for cell, name in zip(header, names, strict=True)
               if name not in _BY_NAME and cell.strip()]
    not_kept = [shown[c.name] for c in FIELDS if c.read is None and c.name in shown]
    has_names = ("first_name" in names and "last_name" in names) or "name" in names
    if not has_names:
        found = [cell.strip() for cell in header]
        more = len(found) - _SHOWN_COLUMNS
        listed = ", ".join(found[:_SHOWN_COLUMNS]) + (f" and {more} more" if more > 0 else "")
        return Table(iter(()), ignored, FileProblem(
            f"header: missing column first_name and last_name (or name) (found: {listed})"))
    counts = Counter(n for n in names if n)
    duplicated = sorted(n for n, count in counts.items() if count > 1)
    if duplicated:
        return Table(iter(()), ignored, FileProblem(
            f"header: column {', '.join(shown.get(n, n) for n in duplicated)} appears twice"))
    kept = {c.name for c in FIELDS if c.read is not None}
    wanted = [(i, name) for i, name in enumerate(names) if name in kept]
    return Table(_rows(reader, lines, text, len(names), wanted), ignored, names=shown,
                 not_kept=not_kept)


def _rows(reader: Iterator[list[str]], lines: _Lines, text: io.TextIOWrapper, width: int,
          wanted: list[tuple[int, str]]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        count = 0
        while True:
            try:
                cells = next(reader, None)
            except csv.Error as err:
                raise FileProblem(f"line {lines.row_start}: {err}", lines.row_start) from None
            if cells is None:
                return
            # Report where the row starts: a quoted cell may span several lines.
            line = lines.row_start
            lines.next_row()
            count += 1
            if count > MAX_ROWS:
                raise FileProblem(f"line {line}: more than {MAX_ROWS:,} rows; split the file "
                                  f"into files of at most {MAX_ROWS:,} rows and import them one "
                                  "after the other", line)
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                yield line, {"__error__": f"has {len(cells)} cells but the header has "
                                          f"{width} columns"}
                continue
            if len(cells) >= width:
                row = {name: cells[i] for i, name in wanted}
            else:  # a short row: what it has
                row = {name: cells[i] for i, name in wanted if i < len(cells)}
            if row and max(map(len, row.values())) > MAX_CELL_CHARS:
                name = next(n for n, cell in row.items() if len(cell) > MAX_CELL_CHARS)
                yield line, {"__error__": f"{len(row[name]):,} characters (at most "
                                          f"{MAX_CELL_CHARS:,} are read)", "__column__": name}
                continue
            yield line, row
    finally:
        text.detach()  # the caller's file stays open


def _column_name(cell: str) -> str:
    return "_".join(cell.strip().lower().replace("-", " ").split())


def is_blank(cells: dict[str, str]) -> bool:
    return not any(cell.strip() for cell in cells.values())


def parse_row(cells: dict[str, str], *, region: str, fingerprint: Callable[[str], str],
              names: dict[str, str] | None = None) -> ParsedRow:
    """The row's values as they will be stored; raises RowError naming the column (as the file
    writes it) and the reason."""
    names = names or {}
    if "__error__" in cells:
        column = cells.get("__column__")
        if column is None:
            raise RowError(cells["__error__"])
        shown = names.get(column, column)
        raise RowError(f"{shown}: {cells['__error__']}", shown)
    got: dict[str, Any] = {}
    for name, raw in cells.items():
        if not raw:  # most cells of a wide export are empty: skip them cheaply
            continue
        value = raw.strip()
        if not value:
            continue
        if value[0] == "'":  # only then can it be a guarded formula (see _guard)
            value = _unguard(value)
        key, read = _READERS[name]
        got[key] = read(value, names.get(name, name))

    values: dict[str, Any] = {k: got[k] for k in _COPIED if k in got}
    if "first_name" not in got and "last_name" not in got and "name" in got:
        first, _, last = got["name"].rpartition(" ")
        values.update(first_name=first or None, last_name=last)
    group = values.get("customer_group")
    if group is not None and group.casefold() in DEFAULT_GROUP_NAMES:
        from cashier_bridge.registry.writes import DEFAULT_GROUP

        values["customer_group"] = DEFAULT_GROUP
    for target in ("street", "delivery_street"):
        parts = [got[f"{target}.{n}"] for n in (1, 2, 3) if got.get(f"{target}.{n}")]
        if parts:
            column = names.get("postal_address1" if target == "street" else "physical_address1",
                               "street" if target == "street" else "physical_address1")
            values[target] = _STREET_TEXT(", ".join(parts), column)

    note_lines = [got["note"]] if got.get("note") else []
    mobile, other = got.get("mobile"), got.get("phone")
    kept, kept_column = (mobile, "mobile") if mobile else (other, "phone")
    if kept:
        column = names.get(kept_column, kept_column)
        try:
            values["phone"] = _phone(kept, region)
        except IdentityError as err:
            raise RowError(f"{column} {kept}: {err}", column) from None
        values["phone_column"] = column
        if mobile and other:
            # The register keeps one number (the one a shopper types at the kiosk); a landline
            # that differs is worth keeping where the staff will see it.
            try:
                second = _phone(other, region)
            except IdentityError:
                second = other
            if second != values["phone"]:
                note_lines.append(f"phone: {second}")
    note_lines += [f"{name}: {got[name]}" for name in NOTE_COLUMNS if got.get(name)]
    if note_lines:
        values["note"] = "\n".join(note_lines)

    birth = got.get("birth_date")
    raw_pid = got.get("personal_id")
    if raw_pid:
        try:
            pid = _personal_id(raw_pid)
        except IdentityError as err:
            raise RowError(f"{names.get('personal_id', 'personal_id')} {raw_pid}: {err}",
                           "personal_id") from None
        if birth is not None and birth != pid.birth_date:
            column = names.get("date_of_birth", "date_of_birth")
            raise RowError(f"{column} {birth.isoformat()} does not match personal_id "
                           f"{pid.masked} (born {pid.birth_date.isoformat()})", column)
        values.update(personal_id_fingerprint=fingerprint(pid.number),
                      personal_id_masked=pid.masked)
        birth = pid.birth_date
    values["birth_date"] = birth
    return ParsedRow(**values)


class CsvWriter:
    """Writes :data:`HEADER` (comma-separated, UTF-8; the caller opens the file)."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out, lineterminator="\n")
        self._writer.writerow(HEADER)
        self._cells = [c.export for c in FIELDS]

    def write(self, values: dict[str, Any]) -> None:
        self._writer.writerow([cell(values) if cell is not None else ""
                               for cell in self._cells])


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


def field_table() -> str:
    """The README's table of columns (Markdown), from :data:`FIELDS`."""
    lines = ["| column | from | becomes |", "| --- | --- | --- |"]
    for c in FIELDS:
        name = f"`{c.name}`" + "".join(f" (or `{a}`)" for a in c.aliases)
        lines.append(f"| {name} | {c.source} | {c.becomes} |")
    return "\n".join(lines)
