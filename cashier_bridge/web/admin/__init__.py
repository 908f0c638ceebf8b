"""The back office at ``/admin``: staff sign in with a username and password and, by role,
look after customers, groups, imports and exports, staff and settings.

``install_admin(app, settings)`` mounts it; ``staff_principal(request)`` lets the REST API
accept the same sign-in (see :mod:`.auth`).
"""

from __future__ import annotations

from cashier_bridge.web.admin.auth import staff_principal, staff_session
from cashier_bridge.web.admin.routes import install_admin

__all__ = ["install_admin", "staff_principal", "staff_session"]
