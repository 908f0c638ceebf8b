"""Which customer a presented identity connects to, against a real registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cashier_bridge.lanes.hub import LaneHub
from cashier_bridge.lanes.lane import Candidate, Lookup, MatchKey
from cashier_bridge.protocol import Method
from cashier_bridge.registry import NewCustomer, Registry

ANNA_PNR, OTHER_PNR = "198503120183", "199104170106"
ANNA_PHONE = "+46701234567"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[LaneHub]:
    registry = Registry.open(f"sqlite:///{tmp_path / 'shop.db'}")
    registry.customers.create_new("anna", NewCustomer(
        first_name="Anna", last_name="Andersson", phone=ANNA_PHONE,
        personal_id_fingerprint=registry.fingerprint(ANNA_PNR),
        personal_id_masked="19850312-****", customer_code="1001"))
    yield LaneHub(registry)
    registry.close()


def _lookup(hub: LaneHub, pnr: str, phone: str, first: str = "Anna",
            last: str = "Andersson") -> Lookup:
    fp = hub.registry.fingerprint(pnr)
    candidate = Candidate(source=Method.mobile, kind="personnummer",
                          personal_id_fingerprint=fp, phone=phone, first_name=first,
                          last_name=last, can_become_member=True)
    keys = (MatchKey(kind="personal_id_fingerprint", value=fp, reading="personnummer"),
            MatchKey(kind="phone", value=phone, reading="phone"))
    return Lookup("l1", keys, candidate)


def test_own_personnummer_and_phone_connect_the_customer(hub: LaneHub) -> None:
    found, _ = hub._match(_lookup(hub, ANNA_PNR, ANNA_PHONE))
    assert found is not None and found.customer.customer_code == "1001" and found.agrees


def test_her_personnummer_with_other_names_finds_her_but_does_not_agree(hub: LaneHub) -> None:
    found, _ = hub._match(_lookup(hub, ANNA_PNR, "+46709999999", "Eva", "Svensson"))
    assert found is not None and found.customer.customer_code == "1001"
    assert not found.agrees  # the lane machine asks the cashier instead of connecting


def test_her_phone_with_other_names_does_not_agree_when_no_personnummer_is_on_file(
        hub: LaneHub) -> None:
    hub.registry.customers.create_new("bertil", NewCustomer(
        first_name="Bertil", last_name="Berg", phone="+46705550000", customer_code="2002"))
    found, _ = hub._match(_lookup(hub, OTHER_PNR, "+46705550000", "Eva", "Svensson"))
    assert found is not None and found.customer.matched_on == "phone" and not found.agrees
    found, _ = hub._match(_lookup(hub, OTHER_PNR, "+46705550000", "bertil", "berg"))
    assert found is not None and found.agrees


def test_someone_elses_phone_with_another_personnummer_connects_nobody(hub: LaneHub) -> None:
    # A family's shared phone: the shopper is not Anna, whose personnummer differs.
    found, duplicates = hub._match(_lookup(hub, OTHER_PNR, ANNA_PHONE))
    assert found is None
    assert all(d.customer_code != "1001" for d in duplicates)  # nor offered as a duplicate
