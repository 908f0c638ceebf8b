"""Who among the shop's staff may do what in the back office (``/admin``) — one table, said once.

Roles are ranked: a manager may do everything a cashier may, an admin everything a manager may.
So each action names the *least* role that may take it, and nothing else has to be kept in step:
the pages, the REST API and the README's table all read :data:`LEAST_ROLE`.

>>> allowed(StaffRole.cashier, Action.create_customer)
True
>>> allowed(StaffRole.cashier, Action.delete_customer)
False
>>> allowed(StaffRole.admin, Action.merge_customers)  # an admin may do what a manager may
True
>>> refusal(StaffRole.cashier, Action.delete_customer)
'Only managers and admins may delete customers; you are signed in as a cashier.'
>>> refusal(StaffRole.manager, Action.manage_staff)
'Only admins may manage staff accounts; you are signed in as a manager.'
"""

from __future__ import annotations

from enum import StrEnum


class StaffRole(StrEnum):
    """A staff account's role, lowest first (the order is the rank)."""

    cashier = "cashier"
    manager = "manager"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def covers(self, other: StaffRole) -> bool:
        """True if this role may do whatever ``other`` may.

        >>> StaffRole.admin.covers(StaffRole.manager), StaffRole.cashier.covers(StaffRole.manager)
        (True, False)
        """
        return self.rank >= other.rank

    @property
    def plural(self) -> str:
        return f"{self.value}s"


_RANKS = {role: rank for rank, role in enumerate(StaffRole)}


class Action(StrEnum):
    """Something a staff member may be allowed to do."""

    view_customers = "view_customers"
    create_customer = "create_customer"
    edit_customer = "edit_customer"
    edit_credit_terms = "edit_credit_terms"  # loyalty rate and account limit
    manage_groups = "manage_groups"
    import_customers = "import_customers"
    export_customers = "export_customers"  # CSV of the whole register
    delete_customer = "delete_customer"
    merge_customers = "merge_customers"
    export_personal_data = "export_personal_data"  # GDPR article 15, one person
    view_security_warnings = "view_security_warnings"  # who ran out of personnummer look-ups
    manage_staff = "manage_staff"
    manage_settings = "manage_settings"

    @property
    def describe(self) -> str:
        """The action as a person reads it after "may": "delete customers"."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS: dict[Action, str] = {
    Action.view_customers: "view customers",
    Action.create_customer: "create customers",
    Action.edit_customer: "edit customers' details",
    Action.edit_credit_terms: "change a customer's loyalty rate and account limit",
    Action.manage_groups: "manage customer groups",
    Action.import_customers: "import customers from a CSV file",
    Action.export_customers: "export customers as a CSV file",
    Action.delete_customer: "delete customers",
    Action.merge_customers: "merge customers",
    Action.export_personal_data: "export a customer's personal data",
    Action.view_security_warnings: "see security warnings (too many personnummer checks)",
    Action.manage_staff: "manage staff accounts",
    Action.manage_settings: "change the settings",
}

# The table.  Cashiers do the everyday work at the till (finding, registering and correcting a
# customer); what moves money terms, touches the whole register at once or cannot be undone is
# a manager's; who works here and how the system is set up is an admin's.
LEAST_ROLE: dict[Action, StaffRole] = {
    Action.view_customers: StaffRole.cashier,
    Action.create_customer: StaffRole.cashier,
    Action.edit_customer: StaffRole.cashier,
    Action.edit_credit_terms: StaffRole.manager,
    Action.manage_groups: StaffRole.manager,
    Action.import_customers: StaffRole.manager,
    Action.export_customers: StaffRole.manager,
    Action.delete_customer: StaffRole.manager,
    Action.merge_customers: StaffRole.manager,
    Action.export_personal_data: StaffRole.manager,
    # Whoever runs the shop day to day must hear when someone tries number after number.
    Action.view_security_warnings: StaffRole.manager,
    Action.manage_staff: StaffRole.admin,
    Action.manage_settings: StaffRole.admin,
}


def allowed(role: StaffRole, action: Action) -> bool:
    """May someone signed in as ``role`` take ``action``?"""
    return role.covers(LEAST_ROLE[action])


def roles_allowed(action: Action) -> tuple[StaffRole, ...]:
    """Every role that may take ``action``, lowest first.

    >>> [r.value for r in roles_allowed(Action.export_customers)]
    ['manager', 'admin']
    """
    return tuple(role for role in StaffRole if allowed(role, action))


def refusal(role: StaffRole, action: Action) -> str:
    """Why ``role`` may not take ``action``, as the person refused reads it.  Raises ValueError
    if the role may take it (a refusal that is not one would be a bug at the caller).

    >>> refusal(StaffRole.cashier, Action.merge_customers)
    'Only managers and admins may merge customers; you are signed in as a cashier.'
    """
    if allowed(role, action):
        raise ValueError(f"a {role.value} may {action.describe}: nothing to refuse")
    who = " and ".join(r.plural for r in roles_allowed(action))
    return f"Only {who} may {action.describe}; you are signed in as a {role.value}."


def markdown_table() -> str:
    """The table as Markdown, for the README (a test keeps the two the same).

    >>> print(markdown_table().splitlines()[2])
    | view customers | yes | yes | yes |
    """
    head = "| action | " + " | ".join(r.value for r in StaffRole) + " |"
    rule = "|---|" + "---|" * len(StaffRole)
    rows = [f"| {a.describe} | " + " | ".join("yes" if allowed(r, a) else "—" for r in StaffRole)
            + " |" for a in Action]
    return "\n".join([head, rule, *rows])
