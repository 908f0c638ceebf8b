"""The registry is its lifecycle and its stores: every customer operation is on its store, with
one contract.  A flat method added beside the stores later (the way ``get`` returned None beside
``customers.get``, which raises) fails here."""

from __future__ import annotations

import inspect

from cashier_bridge.registry import Registry

LIFECYCLE = {"open", "close", "engine", "ping", "fingerprint"}
STORES = {"lanes", "api_tokens", "lookups", "customers", "groups", "sales", "consents", "staff",
          "merges", "devices", "imports", "mobile_tokens", "settings", "retention"}


def test_the_registry_has_no_public_attribute_but_its_lifecycle_and_its_stores() -> None:
    public = {name for name in dir(Registry) if not name.startswith("_")}
    assert public - (LIFECYCLE | STORES) == set(), "put it on the store it belongs to"
    assert public == LIFECYCLE | STORES


def test_each_store_is_a_property_not_a_method() -> None:
    assert {name for name in STORES | {"engine"}
            if not isinstance(inspect.getattr_static(Registry, name), property)} == set()
