"""The customer domain: what a customer is made of and the rules it obeys.

- :mod:`.rules`: how each value is read and checked (names, e-mail, postal code, credit terms),
  pure functions that raise :class:`~.rules.InvalidCustomer` naming the field;
- :mod:`.fields`: the ONE table of customer fields (type, length, rule, label, CSV column, who
  may write it, what an erase and a merge do with it), from which the rest of the bridge reads.

Nothing here touches the database or the web: :mod:`cashier_bridge.registry` stores what these
rules let through, and the web handlers show it.
"""
