"""Money and rates read the same on every page that shows them: the back office's profile, its
GDPR export page and merge preview, the cashier console (its script), in the shop's locale."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from admin.conftest import Clock
from admin.test_admin_http import login, staffed_sqlite, text_of
from cashier_bridge import money
from cashier_bridge.registry import NewCustomer, Registry

ROOT = Path(__file__).resolve().parents[2]
NBSP = "\u00a0"


@pytest.fixture
def registry(tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    reg = staffed_sqlite(tmp_path / "admin.db", clock)
    for key, first, code in (("seed-1", "Anna", "1001"), ("seed-2", "Bo", "1002")):
        reg.customers.create_new(key, NewCustomer(first, "Andersson", customer_code=code))
    yield reg
    reg.close()


def dd_after(page_html: str, label: str) -> str:
    found = re.search(rf"<dt>{label}</dt><dd[^>]*>(.*?)</dd>", page_html)
    assert found, label
    return html.unescape(found.group(1)).strip()


def test_the_loyalty_rate_and_limit_read_the_same_on_profile_export_and_merge_pages(
        client: TestClient, registry: Registry) -> None:
    anna, bo = (registry.customers.find_by_code(code).id for code in ("1001", "1002"))
    registry.customers.update_credit_terms(anna, {"account_limit_minor": 500000,
                                                  "loyalty_rate_bp": 250}, actor="test")
    login(client, "maja")  # a manager: may export and merge
    profile = client.get(f"/admin/customers/{anna}")
    export = client.get(f"/admin/customers/{anna}/export")
    merge = client.get(f"/admin/customers/{anna}/merge", params={"other": str(bo)})
    assert export.status_code == 200 and merge.status_code == 200, merge.text[-500:]
    rate, limit = f"2,5{NBSP}%", f"5{NBSP}000,00{NBSP}kr"
    assert text_of(profile, "loyalty-rate") == rate == money.percent(250)
    assert text_of(profile, "account-limit") == limit == money.money(500000)
    assert dd_after(export.text, "Loyalty rate") == rate  # was "2.5 %"
    assert dd_after(export.text, "Account limit") == limit
    merged = html.unescape(merge.text)
    assert rate in merged and limit in merged  # was "250" for the rate


@pytest.mark.parametrize("locale", money.LOCALES)
def test_the_consoles_script_writes_amounts_as_the_money_module_does(
        browser: Any, locale: str) -> None:
    script = (ROOT / "cashier_bridge/web/console/static/console.js").read_text(encoding="utf-8")
    found = re.search(r"^function money\(minor\) \{.*?^\}", script, flags=re.S | re.M)
    assert found, "console.js has no money()"
    amounts = [0, 5, -5, 100, 124950, -124950, 100000000, 123456789012]
    page = browser.new_page()
    try:
        shown = page.evaluate("([source, pattern, amounts]) => new Function('MONEY', 'amounts',"
                              " source + '; return amounts.map(money);')(pattern, amounts)",
                              [found.group(), money.pattern(locale=locale), amounts])
    finally:
        page.close()
    assert shown == [money.money(a, locale=locale) for a in amounts]
