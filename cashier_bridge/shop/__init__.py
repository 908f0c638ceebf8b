"""The shop's own choices, made in the back office: the settings table (:mod:`.settings`).
Pure rules like :mod:`cashier_bridge.customers`; stored by the registry."""
