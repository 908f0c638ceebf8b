"""The customer field table (cashier_bridge.customers.fields) is the one list of customer fields:
every other place that lists them agrees with it, so a field added in one place only fails here.
And a value is read by the same rule on every entry path: the postal code that the API and the
back office refuse is refused from the kiosk's registration and from a CSV file too."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest

from cashier_bridge.customers import fields as table
from cashier_bridge.customers.fields import FIELDS, Merge
from cashier_bridge.permissions import Action
from cashier_bridge.registry import InvalidCustomer, NewCustomer, Registry, csv_io, merging
from cashier_bridge.registry.records import CustomerRecord
from cashier_bridge.registry.schema import customers
from cashier_bridge.web.admin import customers as admin_customers
from cashier_bridge.web.api import models

# Columns that exist only to be searched or matched on: each belongs to a field (its columns).
_COLUMNS = {c for f in FIELDS for c in f.columns}


def test_every_customers_column_is_a_field_or_the_registrys_bookkeeping() -> None:
    stored = {c.name for c in customers.c}
    assert stored - _COLUMNS == set(table.BOOKKEEPING)
    assert _COLUMNS - stored == set()


def test_the_record_has_each_fields_attributes_and_nothing_else() -> None:
    attributes = {f.name for f in dataclasses.fields(CustomerRecord)}
    assert attributes == {a for f in FIELDS for a in f.record} | {"id"}


def test_the_api_shows_and_takes_the_fields_the_table_says() -> None:
    shown = set(models.Customer.model_fields) - {"id"}
    assert shown == {f.api_out for f in FIELDS if f.api_out}
    # Consents are their own log, not a field of the customer row.
    taken = set(models.CustomerPatch.model_fields) - {"marketing_consent"}
    assert taken == set(table.WRITABLE)
    assert set(models.CustomerIn.model_fields) == set(models.CustomerPatch.model_fields)


def test_each_fields_csv_columns_are_read_into_it() -> None:
    by_name = {c.name: c for c in csv_io.FIELDS}
    for f in FIELDS:
        for name in f.csv:
            column = by_name[name]
            key = (column.key or "").split(".")[0]
            assert key in {f.name, *f.columns, *f.record, *f.csv}, (f.name, name, key)
    listed = {name for f in FIELDS for name in f.csv}
    # A file's columns that are no customer field: parts of the note, ignored ones, the full
    # name split into first and last, and the consent (its own log).
    others = {c.name for c in csv_io.FIELDS if c.name not in listed}
    assert others == {"id", "name", "fax", "website", "twitter", "physical_state",
                      "postal_state", "sex", "enable_loyalty", "created_at", "updated_at",
                      "personal_id_masked", "marketing_consent",
                      *(f"custom_field_{n}" for n in range(1, 5))}


def test_the_back_office_form_is_the_tables_form_fields_in_order() -> None:
    assert [name for name, _label in admin_customers.DETAILS] == [
        f.name for f in FIELDS if f.form]
    in_sections = [n for _legend, _aside, names in admin_customers.SECTIONS for n in names]
    assert sorted(in_sections) == sorted(name for name, _ in admin_customers.DETAILS)


def test_erase_and_merge_read_the_table() -> None:
    erased = table.erased_values()
    assert {"first_name", "email", "email_key", "personal_id_fingerprint", "postal_code",
            "delivery_city", "note", "company_name"} <= set(erased)
    assert not {"account_balance_minor", "account_status", "group_id"} & set(erased)
    assert table.columns_of(Merge.address) == merging.ADDRESS
    # The merged-away row keeps nothing that moved to the kept customer.
    assert set(merging.GAP_FILLED) <= set(merging._EMPTIED)


def test_only_managers_set_credit_terms_by_the_table() -> None:
    assert table.CREDIT_TERMS == ("account_limit_minor", "account_status", "loyalty_rate_bp")
    assert all(table.BY_NAME[n].write is Action.edit_credit_terms for n in table.CREDIT_TERMS)


# --- the postal-code rule on every path ----------------------------------------------------------
# The API's (tests/api/test_customer_terms.py) and the back office's
# (tests/admin/test_customer_pages.py) refusals are tested with their pages.

ANNA = NewCustomer(first_name="Anna", last_name="Svensson", phone="+46701234567")


def test_a_registration_from_the_kiosk_checks_the_postal_code(registry: Registry) -> None:
    with pytest.raises(InvalidCustomer) as refused:
        registry.customers.create_new("k1", dataclasses.replace(ANNA, postal_code="Storgatan 1"))
    assert str(refused.value) == ("postal_code: 'STORGATAN 1' is not a postal code (digits and "
                                  "letters, like 111 51)")
    assert registry.customers.count() == 0
    made, _ = registry.customers.create_new("k2", dataclasses.replace(ANNA, postal_code="111  51"))
    assert made.postal_code == "111 51"


def test_a_bulk_load_checks_the_postal_code(registry: Registry) -> None:
    with pytest.raises(InvalidCustomer):
        registry.imports.bulk_load([dataclasses.replace(ANNA, postal_code="0701234567890")])
    assert registry.customers.count() == 0


def test_a_csv_file_checks_the_postal_codes(registry: Registry) -> None:
    report = registry.imports.run(io.StringIO(
        "first_name,last_name,mobile,postal_postcode,physical_postcode\n"
        "Anna,Svensson,0701234567,Storgatan 1,\n"
        "Bo,Ek,0701234568,,Box 12 345 678\n"
        "Cai,Lind,0701234569,sw1a 1aa,111 51\n"))
    assert report.created == 1
    assert report.errors == [
        (2, "postal_postcode: 'STORGATAN 1' is not a postal code (digits and letters, "
            "like 111 51)"),
        (3, "physical_postcode: 'BOX 12 345 678' is not a postal code (digits and letters, "
            "like 111 51)")]
    cai = registry.customers.search("Lind")[0]
    assert (cai.postal_code, cai.delivery_postal_code) == ("SW1A 1AA", "111 51")


def test_the_back_offices_export_holds_every_field() -> None:
    """GDPR: a field added to the table but not to the export file fails here."""
    from cashier_bridge.registry.customer_admin import CustomerExport
    from cashier_bridge.registry.records import AccountStatus
    from cashier_bridge.web.admin.gdpr import personal_data

    now = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    values: dict[str, object] = {}
    for n, attribute in enumerate(f.name for f in dataclasses.fields(CustomerRecord)):
        kind = CustomerRecord.__dataclass_fields__[attribute].type
        values[attribute] = (
            1000 + n if "int" in str(kind) else
            dt.date(1950, 1, 1) + dt.timedelta(days=n) if kind == "dt.date | None" else
            now + dt.timedelta(minutes=n) if "datetime" in str(kind) else
            AccountStatus.on_hold if "AccountStatus" in str(kind) else f"value-of-{attribute}")
    record = CustomerRecord(**values)  # type: ignore[arg-type]
    data = personal_data(CustomerExport(customer=record, consents={}, consent_log=[], sales=[],
                                        audit=[]), shop="Butiken", controller=None)

    def leaves(value: object) -> list[object]:
        if isinstance(value, dict):
            return [v for item in value.values() for v in leaves(item)]
        if isinstance(value, list):
            return [v for item in value for v in leaves(item)]
        return [value]

    found = set(map(str, leaves(data)))
    for f in FIELDS:
        for attribute in f.record:
            if attribute == "personal_id_fingerprint":
                continue  # never leaves the shop: the export says only that one is kept
            value = values[attribute]
            shown = (value.isoformat(timespec="seconds") if isinstance(value, dt.datetime)
                     else value.isoformat() if isinstance(value, dt.date)
                     else value.value if isinstance(value, AccountStatus) else value)
            assert str(shown) in found, (f.name, attribute)
