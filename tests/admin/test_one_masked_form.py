"""A member's personnummer reads the same wherever it is shown: on the kiosk while they type
it, on the cashier's console when they are connected, and in the back office."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from admin.conftest import Clock
from admin.test_admin_http import csrf_of, login, staffed_sqlite, text_of
from cashier_bridge.registry import Registry
from kiosk.masking import mask_typed


@pytest.fixture
def registry(tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    reg = staffed_sqlite(tmp_path / "admin.db", clock)
    yield reg
    reg.close()


def test_a_members_personnummer_reads_the_same_on_kiosk_console_and_back_office(
        client: TestClient, registry: Registry) -> None:
    login(client, "kim")
    form = client.get("/admin/customers/new")
    request_key = re.search(r'name="request" value="([^"]+)"', form.text).group(1)
    done = client.post("/admin/customers/new", data={
        "csrf": csrf_of(form), "request": request_key, "first_name": "Anna",
        "last_name": "Andersson", "personal_id": "850312-1249", "phone": "", "email": ""})
    assert done.status_code == 303, done.text
    back_office = text_of(client.get(done.headers["location"]), "personal-id")
    member = registry.customers.search("anna andersson")[0]
    # The console shows the card the register is sent when the member is connected, as is.
    console = member.to_card(matched_on="personal_id").personal_id_masked
    # The kiosk shows what the shopper typed, masked, in either length.
    kiosk_long, kiosk_short = mask_typed("198503121249"), mask_typed("8503121249")
    assert {back_office, console, kiosk_long, kiosk_short} == {"19850312-****"}
