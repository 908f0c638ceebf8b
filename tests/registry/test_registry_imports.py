"""CSV import batches on SQLite and PostgreSQL: a Lightspeed X-Series export mapped onto our
fields, the preview (writes nothing), row errors by line and column, running a file again,
undo (a customer who got a sale since stays), and export → import round trips."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import phonenumbers
import pytest
from sqlalchemy import func, select

from cashier_bridge.registry import Registry
from cashier_bridge.registry.csv_io import FIELDS, HEADER, field_table
from cashier_bridge.registry.imports import AlreadyUndone
from cashier_bridge.registry.records import NewCustomer
from cashier_bridge.registry.schema import audit_log, consents, customers, import_batches

ROOT = Path(__file__).resolve().parents[2]
LIGHTSPEED = ROOT / "tests" / "fixtures" / "lightspeed" / "customers_x_series.csv"


def lightspeed() -> bytes:
    return LIGHTSPEED.read_bytes()


def rows_in(registry: Registry, table: object) -> int:
    with registry.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()  # type: ignore[arg-type]


def test_a_lightspeed_export_maps_onto_our_fields(registry: Registry) -> None:
    report = registry.imports.run(lightspeed(), filename="customers.csv", actor="staff:maja")
    assert [(i.line, i.column, i.reason) for i in report.issues] == [
        (6, "email", "email: 'lars.nilsson@' is not an email address"),
        (7, "phone", "phone +46701234567 already belongs to customer ANNA-4F2K "
                     "(Anna Lindqvist)"),
        (8, "date_of_birth", "date_of_birth 1990-02-30: not a date of the form YYYY-MM-DD"),
    ]
    assert (report.created, report.updated, report.skipped) == (5, 0, 0)
    assert report.not_kept_columns == ["id", "sex", "enable_loyalty", "created_at",
                                       "updated_at"]
    assert report.ignored_columns == []

    anna = registry.customers.find_by_code("ANNA-4F2K")
    assert (anna.first_name, anna.last_name, anna.email, anna.phone) == (
        "Anna", "Lindqvist", "anna.lindqvist@example.com", "+46701234567")  # the mobile
    assert (anna.street, anna.postal_code, anna.city, anna.country) == (
        "Drottninggatan 12, lgh 1102", "111 51", "Stockholm", "SE")
    assert anna.customer_group == "Stamkund"
    assert str(anna.birth_date) == "1985-03-12"
    # The landline is another number than the mobile: kept in the note, with custom fields.
    assert anna.note == "Föredrar e-kvitto\nphone: +46812345678\ncustom_field_1: Klädstorlek M"
    assert (anna.loyalty_balance_minor, anna.account_balance_minor) == (12550, 0)
    assert anna.created_via == "import"

    erik = registry.customers.find_by_code("ERIK-9Q1M")
    assert erik.customer_group == "All customers"  # Lightspeed's default group is ours
    assert str(erik.birth_date) == "1978-11-20"  # "1978-11-20 00:00:00"
    assert erik.account_balance_minor == -25000

    maja = registry.customers.find_by_code("MAJA-2B7C")
    assert maja.phone == "+4646123456"  # no mobile: the phone column
    assert (maja.company_name, maja.street, maja.postal_code) == (
        "Öbergs Blommor AB", "Box 1234", "220 01")
    assert (maja.delivery_street, maja.delivery_postal_code, maja.delivery_city,
            maja.delivery_country) == ("Stora Södergatan 8", "222 23", "Lund", "SE")
    assert maja.note == "fax: 046-12 34 57\nwebsite: https://obergsblommor.example.se"

    asa = registry.customers.search("asa.strom@example.org")[0]  # no code in the file: one assigned
    assert (asa.first_name, asa.last_name) == ("Åsa", "Ström")  # from the name column
    assert (asa.phone, asa.country) == ("+46739876543", "SE")
    assert registry.customers.count() == 5

    batch = registry.imports.get(report.batch_id)
    assert (batch.actor, batch.filename, batch.created, batch.failed) == (
        "staff:maja", "customers.csv", 5, 3)
    assert str(batch.errors[0]) == (
        "line 6: email: 'lars.nilsson@' is not an email address")


def test_the_preview_writes_nothing_and_says_what_the_import_will_do(
        registry: Registry) -> None:
    seen: list[tuple[str, int, int]] = []
    preview = registry.imports.preview(lightspeed(), filename="customers.csv",
                                       progress=lambda *a: seen.append(a))
    assert (preview.creates, preview.updates, preview.unchanged, preview.failed) == (5, 0, 0, 3)
    assert preview.rows_total == 8
    assert seen[-1] == ("checking", 8, 8)
    first = preview.sample()[0]
    assert (first["line"], first["action"]) == (2, "create")
    assert first["values"]["phone"] == "+46701234567"
    assert first["values"]["street"] == "Drottninggatan 12, lgh 1102"
    assert "personal_id_fingerprint" not in first["values"]
    assert registry.customers.count() == 0
    assert rows_in(registry, import_batches) == 0


def test_running_a_file_again_imports_nothing_twice(registry: Registry) -> None:
    first = registry.imports.run(lightspeed(), actor="staff:maja")
    preview = registry.imports.preview(lightspeed())
    assert preview.earlier is not None and preview.earlier.id == first.batch_id
    assert (preview.creates, preview.updates, preview.unchanged) == (0, 0, 5)
    again = registry.imports.run(lightspeed(), actor="staff:maja")
    assert (again.created, again.updated, again.skipped) == (0, 0, 5)
    assert registry.customers.count() == 5

    # One change in the file: one update, the rest unchanged.
    text = lightspeed().decode().replace("Drottninggatan 12", "Drottninggatan 14")
    changed = registry.imports.run(text.encode(), actor="staff:maja")
    assert (changed.created, changed.updated, changed.skipped) == (0, 1, 4)
    assert registry.customers.find_by_code("ANNA-4F2K").street == "Drottninggatan 14, lgh 1102"
    # Balances are the register's once the customer exists: a file does not overwrite them.
    text = text.replace("125.50", "999.00")
    assert registry.imports.run(text.encode(), actor="x").updated == 0
    assert registry.customers.find_by_code("ANNA-4F2K").loyalty_balance_minor == 12550


def test_duplicates_within_the_file_and_against_the_registry_are_row_errors(
        registry: Registry) -> None:
    registry.imports.run(b"customer_code,first_name,last_name,mobile,email\n"
                         b"100,Bo,Ek,070-999 88 77,bo@example.com\n", actor="x")
    report = registry.imports.run((
        b"customer_code,first_name,last_name,mobile,email\n"
        b"200,Ada,Lund,070-999 88 77,\n"          # Bo's mobile
        b"201,Ida,Berg,,BO@example.com\n"          # Bo's e-mail, other case
        b"202,Siv,Holm,070-111 00 00,siv@example.com\n"
        b",Tor,Alm,070-111 00 00,\n"               # Siv's, earlier in this file
        b"202,Siv,Holm-Ek,,\n"                     # the same customer twice
        b"100,Bo,Eklund,,\n"), actor="x")
    assert report.errors == [
        (2, "mobile +46709998877 already belongs to customer 100 (Bo Ek)"),
        (3, "email bo@example.com already belongs to customer 100 (Bo Ek)"),
        (5, "mobile +46701110000 already belongs to customer 202 (Siv Holm)"),
        (6, "customer_code 202 is also on line 4; a file has each customer once"),
    ]
    assert (report.created, report.updated) == (1, 1)
    assert registry.customers.find_by_code("100").last_name == "Eklund"


def test_undo_removes_what_the_batch_created_but_keeps_a_customer_with_a_sale(
        registry: Registry) -> None:
    registry.imports.run(b"customer_code,first_name,last_name,email,marketing_consent\n"
                         b"1,Kim,Ek,kim@example.com,no\n", actor="x")
    report = registry.imports.run(lightspeed(), actor="staff:maja")
    audit_before = rows_in(registry, audit_log)
    saga = registry.customers.find_by_code("SAGA-1X4T")
    registry.sales.record(saga.id, sale_id="s1", register="kassa-1", total_minor=19900,
                          currency="SEK", at=None, recorded_by="test")
    update = registry.imports.run(
        b"customer_code,first_name,last_name,email,marketing_consent\n"
        b"1,Kim,Eklund,kim@example.com,yes\n", actor="staff:maja")
    assert update.updated == 1

    undone = registry.imports.undo(report.batch_id, actor="staff:rut")
    assert (undone.removed, undone.restored) == (4, 0)
    assert undone.not_undone == [("SAGA-1X4T", "has sales since the import; kept")]
    assert registry.customers.find_by_code("ANNA-4F2K") is None
    assert registry.customers.find_by_code("SAGA-1X4T") is not None
    assert len(registry.sales.list(saga.id)) == 1
    batch = registry.imports.get(report.batch_id)
    assert batch.undone_by == "staff:rut" and batch.undone_at is not None
    assert batch.report["undo"]["not_undone"][0]["customer_code"] == "SAGA-1X4T"
    assert rows_in(registry, audit_log) > audit_before  # the undo is audited
    with pytest.raises(AlreadyUndone, match="was undone on"):
        registry.imports.undo(report.batch_id, actor="staff:rut")
    # Undone, the same file may be imported again (and is not "already imported").
    assert registry.imports.preview(lightspeed()).earlier is None

    # The update is undone too: the name comes back, the consent log gets the earlier answer.
    kim = registry.customers.find_by_code("1")
    assert kim.last_name == "Eklund" and registry.consents.granted(kim.id) is True
    back = registry.imports.undo(update.batch_id, actor="staff:rut")
    assert (back.removed, back.restored, back.not_undone) == (0, 1, [])
    kim = registry.customers.find_by_code("1")
    assert kim.last_name == "Ek" and registry.consents.granted(kim.id) is False
    with registry.engine.connect() as conn:
        log = conn.execute(select(consents.c.granted, consents.c.source)
                           .where(consents.c.customer_id == kim.id)
                           .order_by(consents.c.id)).all()
    assert [tuple(r) for r in log] == [(False, "import"), (True, "import"),
                                       (False, "import_undo")]


def test_undo_leaves_a_customer_changed_since_and_says_why(registry: Registry) -> None:
    registry.imports.run(b"customer_code,first_name,last_name\n1,Kim,Ek\n2,Li,Alm\n", actor="x")
    update = registry.imports.run(b"customer_code,first_name,last_name\n1,Kim,Eklund\n",
                                  actor="x")
    created = registry.imports.run(b"customer_code,first_name,last_name\n3,Ulf,Berg\n",
                                   actor="x")
    kim = registry.customers.find_by_code("1")
    registry.customers.update(kim.id, {"last_name": "Ekberg"}, region="SE", actor="staff:maja")
    ulf = registry.customers.find_by_code("3")
    registry.customers.update(ulf.id, {"city": "Lund"}, region="SE", actor="staff:maja")

    back = registry.imports.undo(update.batch_id, actor="x")
    assert back.not_undone == [("1", "was changed again since the import (last_name); kept "
                                     "as it is now")]
    assert registry.customers.find_by_code("1").last_name == "Ekberg"
    gone = registry.imports.undo(created.batch_id, actor="x")
    assert gone.removed == 0 and gone.not_undone[0][0] == "3"
    assert "after the import; kept" in gone.not_undone[0][1]
    assert registry.customers.find_by_code("3").city == "Lund"


def test_undo_keeps_customers_erased_merged_or_asked_since_and_removes_the_rest(
        registry: Registry) -> None:
    report = registry.imports.run(
        b"customer_code,first_name,last_name,marketing_consent\n"
        b"10,Ada,Lund,yes\n11,Bo,Ek,\n12,Cid,Alm,\n13,Dan,Berg,\n14,Eva,Holm,no\n"
        b"15,Fia,Sund,\n", actor="x")
    assert report.created == 6
    code = {c: registry.customers.find_by_code(c).id for c in ("10", "11", "12", "13", "14", "15")}
    registry.customers.erase(code["11"], actor="staff:maja")
    registry.merges.merge(code["12"], code["13"], actor="staff:maja")  # 13 into 12
    registry.consents.record(code["14"], "marketing", True, "kiosk")

    with registry.engine.connect() as conn:  # erasing and merging gave them codes of their own
        now_code = dict(conn.execute(select(customers.c.id, customers.c.customer_code)).all())

    undone = registry.imports.undo(report.batch_id, actor="staff:rut")
    assert undone.not_undone == [
        (now_code[code["11"]], "was erased since the import; kept (anonymised)"),
        ("12", "was merged with another customer since the import; kept"),
        (now_code[code["13"]], "was merged with another customer since the import; kept"),
        ("14", "gave a consent since the import; kept"),
    ]
    assert undone.removed == 2
    assert registry.customers.find_by_code("10") is None
    assert registry.customers.find_by_code("15") is None
    assert registry.consents.granted(code["14"]) is True  # the till's answer is not lost
    with registry.engine.connect() as conn:
        # Ada's consent went with her; her audit entries stay, pointing at nobody.
        assert conn.execute(select(func.count()).select_from(consents).where(
            consents.c.customer_id == code["10"])).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(audit_log).where(
            audit_log.c.customer_id.in_([code["10"], code["15"]]))).scalar_one() == 0


def test_the_import_matches_the_previewed_rows_against_the_registry_again(
        registry: Registry) -> None:
    preview = registry.imports.preview(
        b"customer_code,first_name,last_name,mobile\n"
        b"300,Ada,Lund,070-555 11 22\n"
        b"301,Ida,Berg,070-555 33 44\n"
        b"302,Per,Alm,\n")
    assert (preview.creates, preview.errors) == (3, [])
    # Between the preview and "Import": customer 300 comes in through another file, and a
    # shopper registers at the kiosk with Ida's mobile.
    registry.imports.run(b"customer_code,first_name,last_name\n300,Ada,Lundh\n", actor="x")
    siv, _ = registry.customers.create_new("kiosk-1", NewCustomer("Siv", "Holm",
                                                                   phone="+46705553344"))

    seen: list[str] = []
    report = registry.imports.apply(preview, actor="staff:maja",
                                    progress=lambda phase, *_: seen.append(phase))
    assert seen[0] == "checking" and seen[-1] == "importing"
    assert (report.created, report.updated, report.skipped) == (1, 1, 0)
    assert report.errors == [
        (3, f"mobile +46705553344 already belongs to customer {siv.customer_code} "
            "(Siv Holm)")]
    ada = registry.customers.find_by_code("300")
    assert (ada.last_name, ada.phone) == ("Lund", "+46705551122")
    assert registry.customers.find_by_code("301") is None
    assert registry.customers.find_by_code("302") is not None
    # The preview is what it said then; the batch says what happened.
    assert (preview.creates, preview.errors) == (3, [])
    assert [(e.line, e.column) for e in registry.imports.get(report.batch_id).errors] == [
        (3, "mobile")]


def test_a_customer_stored_while_the_import_writes_fails_only_their_row(
        registry: Registry) -> None:
    def kiosk_meanwhile(phase: str, done: int, total: int) -> None:
        if (phase, done) == ("importing", 0):  # checked already, nothing written yet
            registry.customers.create_new("kiosk-2", NewCustomer("Siv", "Holm",
                                                                 phone="+46705558899"))

    report = registry.imports.run(b"customer_code,first_name,last_name,mobile\n"
                                  b"400,Ada,Lund,070-555 66 77\n"
                                  b"401,Ida,Berg,070-555 88 99\n", actor="x",
                                  progress=kiosk_meanwhile)
    assert report.created == 1
    assert report.errors == [(3, "conflicts with a customer stored while the file was being "
                                 "imported (same code, phone, e-mail or personal ID)")]
    assert registry.customers.find_by_code("400").phone == "+46705556677"
    assert registry.customers.find_by_code("401") is None
    undone = registry.imports.undo(report.batch_id, actor="x")
    assert (undone.removed, undone.not_undone) == (1, [])
    assert registry.customers.find_by_code("400") is None and registry.customers.count() == 1  # Siv


def test_export_writes_the_lightspeed_columns_and_imports_back_unchanged(
        registry: Registry, tmp_path: Path) -> None:
    registry.imports.run(lightspeed(), actor="x")
    out = io.StringIO()
    assert registry.imports.export(out) == 5
    exported = out.getvalue()
    assert exported.splitlines()[0] == ",".join(HEADER)
    assert HEADER[:3] == ("id", "customer_code", "name")  # Lightspeed's order, then ours
    rows = {r["customer_code"]: r for r in csv.DictReader(io.StringIO(exported))}
    maja = rows["MAJA-2B7C"]
    assert (maja["company_name"], maja["physical_address1"], maja["postal_address1"],
            maja["account_balance"], maja["mobile"]) == (
        "Öbergs Blommor AB", "Stora Södergatan 8", "Box 1234", "1200.00", "+4646123456")

    again = registry.imports.run(exported.encode(), actor="x")
    assert (again.created, again.updated, again.skipped, again.errors) == (0, 0, 5, [])

    other = Registry.open(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        moved = other.imports.run(exported.encode(), actor="x")
        assert (moved.created, moved.errors) == (5, [])
        for code in rows:
            a, b = registry.customers.find_by_code(code), other.customers.find_by_code(code)
            for name in ("first_name", "last_name", "email", "phone", "birth_date", "street",
                         "postal_code", "city", "country", "customer_group", "company_name",
                         "delivery_street", "delivery_postal_code", "delivery_city",
                         "delivery_country", "note", "loyalty_balance_minor",
                         "account_balance_minor", "store_credit_minor"):
                assert getattr(a, name) == getattr(b, name), (code, name)
    finally:
        other.close()


def test_a_large_file_reports_progress_in_chunks(registry: Registry) -> None:
    lines = ["customer_code,first_name,last_name,mobile"]
    lines += [f"{9000 + n},Test,Person{n},070{n:07d}" for n in range(1, 12_001)]
    seen: list[tuple[str, int, int]] = []
    report = registry.imports.run("\n".join(lines).encode(), actor="x",
                                  progress=lambda *a: seen.append(a))
    assert report.created == 12_000 and report.errors == []
    importing = [done for phase, done, _ in seen if phase == "importing"]
    assert importing == [0, 5_000, 10_000, 12_000]
    undone = registry.imports.undo(report.batch_id, actor="x")
    assert undone.removed == 12_000 and registry.customers.count() == 0
    with registry.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(customers)).scalar_one() == 0


def test_the_swedish_mobile_shortcut_agrees_with_phonenumbers() -> None:
    from cashier_bridge.registry.csv_io import _phone

    for text in ("070-123 45 67", "+46 76 555 12 34", "0046735551234", "078-111 22 33",
                 "071-123 45 67", "074 123 45 67", "(070) 1234567", "+46 (0)70 123 45 67"):
        try:
            expected = phonenumbers.format_number(phonenumbers.parse(
                text.replace("(0)", ""), "SE"), phonenumbers.PhoneNumberFormat.E164)
            valid = phonenumbers.is_valid_number(phonenumbers.parse(text.replace("(0)", ""),
                                                                     "SE"))
        except phonenumbers.NumberParseException:
            valid = False
        if valid:
            assert _phone(text, "SE") == expected, text
        else:
            with pytest.raises(ValueError):
                _phone(text, "SE")


def test_the_personnummer_shortcut_agrees_with_personnummer_parse() -> None:
    import datetime as dt
    import random

    from stdnum import luhn

    from cashier_bridge.identity import personnummer
    from cashier_bridge.identity.errors import IdentityError
    from cashier_bridge.registry.csv_io import _personal_id

    pick = random.Random(20240501)
    texts = []
    for _ in range(3000):
        year = pick.randint(1890, dt.date.today().year + 2)  # a few in the future
        # Mostly numbers that could be real, and every way of not being one.
        month = pick.choice([pick.randint(1, 12)] * 6 + [0, 13])
        day = pick.choice([pick.randint(1, 28)] * 5 + [pick.randint(61, 91), 0, 30, 31])
        serial = pick.choice([f"{pick.randint(1, 999):03d}"] * 9 + ["000"])
        yymmdd = f"{year % 100:02d}{month:02d}{day:02d}"
        check = luhn.calc_check_digit(yymmdd + serial)
        if pick.random() < 0.2:
            check = str((int(check) + pick.randint(1, 9)) % 10)  # a typo in the last digit
        sep = pick.choice(["-", "", "+"])
        century = pick.choice([f"{year // 100}", f"{year // 100}", ""])
        texts.append(f"{century}{yymmdd}{sep}{serial}{check}")
    readable = 0
    for text in texts:
        try:
            expected = personnummer.parse(text)
        except IdentityError as err:
            with pytest.raises(type(err), match="^" + re.escape(str(err)) + "$"):
                _personal_id(text)
            continue
        assert _personal_id(text) == expected, text
        readable += 1
    assert readable > 1000  # the comparison covered plenty of numbers that read


def test_readme_lists_every_column_as_the_field_list_says() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert field_table() in readme
    for column in FIELDS:
        assert re.search(rf"`{column.name}`", readme), column.name
