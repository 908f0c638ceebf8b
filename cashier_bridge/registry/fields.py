"""Normal forms of the customer fields the registry stores and matches on: the rules are the
customer domain's (:mod:`cashier_bridge.customers.rules`), named here for the registry's
modules."""

from __future__ import annotations

from cashier_bridge.customers.rules import (
           InvalidCustomer,
           customer_code,
           email,
           name,
           optional_text,
           postal_code,
           search_key,
)

__all__ = ["InvalidCustomer", "customer_code", "email", "name", "optional_text", "postal_code",
           "search_key"]
