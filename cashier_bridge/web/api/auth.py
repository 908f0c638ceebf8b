"""Who is calling, and may they: the one dependency every API route has.

Three kinds of caller:

- an API token (``Authorization: Bearer sra_…``, scopes read < write < admin);
- the cashier console: a browser signed in as a lane's register holds its device token in the
  ``selfreg_device`` cookie and acts with scope ``write`` as ``console:<lane>``;
- the back office: a browser signed in to ``/admin`` holds the ``selfreg_staff`` cookie and acts
  as ``staff:<username>`` with exactly what the staff member's role may do in the back office
  (:mod:`cashier_bridge.permissions`): every route names the back-office action it is, besides
  the scope a token needs (see :data:`ROUTE_ACTIONS` in the README's table).  A browser sends a
  cookie by itself, so a staff call that changes anything (not GET/HEAD/OPTIONS) must also carry
  the sign-in's CSRF token in the ``X-CSRF-Token`` header — the back-office pages put it in the
  page — else 403; SameSite=Strict already keeps other sites from sending the cookie at all.

A bearer token wins over cookies, and a console cookie over a staff cookie (a till browser may
be both; the console's own calls carry no CSRF header).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from cashier_bridge.permissions import Action, StaffRole, allowed, refusal
from cashier_bridge.registry import Registry
from cashier_bridge.registry.api_tokens import Principal, Scope
from cashier_bridge.web.admin import staff_session
from cashier_bridge.web.api.errors import ApiError
from cashier_bridge.web.cookies import DEVICE_COOKIE, STAFF_COOKIE

CONSOLE_SCOPE = Scope.write
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="An API token from `selfreg-bridge token create`.")
console_cookie = APIKeyCookie(name=DEVICE_COOKIE, auto_error=False, scheme_name="console",
                              description="The cashier console's sign-in (scope write).")
staff_cookie = APIKeyCookie(
    name=STAFF_COOKIE, auto_error=False, scheme_name="back_office",
    description="A back-office (/admin) sign-in: what the staff member's role may do. Calls "
                f"other than GET also need the sign-in's CSRF token in {CSRF_HEADER}.")
csrf_header = APIKeyHeader(name=CSRF_HEADER, auto_error=False, scheme_name="back_office_csrf",
                           description="The back-office sign-in's CSRF token.")


@dataclass(frozen=True, slots=True)
class StaffCaller(Principal):
    """A back-office sign-in calling the API: allowed by role, not by scope."""

    role: StaffRole = StaffRole.cashier


def registry_of(request: Request) -> Registry:
    return request.app.state.registry  # type: ignore[no-any-return]


def caller(request: Request,
           credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
           cookie: Annotated[str | None, Depends(console_cookie)],
           staff: Annotated[str | None, Depends(staff_cookie)],
           csrf: Annotated[str | None, Depends(csrf_header)]) -> Principal:
    registry = registry_of(request)
    if credentials is not None:
        found = registry.api_tokens.check(credentials.credentials)
        if found is None:
            raise ApiError(401, "unauthorized", "this API token is unknown or was revoked")
        return found
    if cookie:
        device = registry.devices.who(cookie)
        if device is not None and device[1] == "register":
            return Principal(f"console:{device[0]}"[:64], CONSOLE_SCOPE)
        if not staff:
            raise ApiError(401, "unauthorized", "this console is signed out; sign in again")
    if staff:
        session = staff_session(request)
        if session is None:
            raise ApiError(401, "unauthorized", "your back-office sign-in has ended; sign in "
                                                "again at /admin")
        if request.method not in SAFE_METHODS and not hmac.compare_digest(
                (csrf or "").encode(), session.csrf.encode()):
            raise ApiError(403, "forbidden", (
                f"a call with the back-office sign-in that changes something needs the "
                f"sign-in's CSRF token in the {CSRF_HEADER} header (it was missing or from "
                "another sign-in); nothing was changed"))
        role = session.staff.role
        # The scope a token of the same reach would have: for messages and Principal.scope;
        # what the caller may do is decided by role (Needs below).
        scope = Scope.admin if role.covers(StaffRole.manager) else Scope.write
        return StaffCaller(session.staff.actor, scope, role)
    raise ApiError(401, "unauthorized",
                   "send an API token as 'Authorization: Bearer <token>' "
                   "(selfreg-bridge token create)")


def check(principal: Principal, scope: Scope, action: Action) -> None:
    """Raise 403 unless the caller may: a staff member by their role's ``action``, anyone else
    by ``scope``."""
    if isinstance(principal, StaffCaller):
        if not allowed(principal.role, action):
            raise ApiError(403, "forbidden", refusal(principal.role, action),
                           needed_action=action.value)
        return
    if not principal.scope.covers(scope):
        raise ApiError(403, "forbidden",
                       f"this needs scope {scope.value}; the caller has "
                       f"{principal.scope.value}", needed_scope=scope.value)


class Needs:
    """A dependency: the caller, if they may (scope for tokens, action for staff)."""

    def __init__(self, scope: Scope, action: Action) -> None:
        self.scope = scope
        self.action = action

    def __call__(self, principal: Annotated[Principal, Depends(caller)]) -> Principal:
        check(principal, self.scope, self.action)
        return principal


# Each route is a back-office action too; the scope a token needs for it is the table in the
# README ("Tokens").  The pairs, once:
ROUTE_ACTIONS: dict[str, tuple[Scope, Action]] = {
    "read": (Scope.read, Action.view_customers),
    "create": (Scope.write, Action.create_customer),
    "edit": (Scope.write, Action.edit_customer),
    "credit_terms": (Scope.admin, Action.edit_credit_terms),
    "groups": (Scope.write, Action.manage_groups),
    "delete_group": (Scope.admin, Action.manage_groups),
    "erase": (Scope.admin, Action.delete_customer),
    "export": (Scope.admin, Action.export_personal_data),
}


def needs(route: str) -> Principal:
    """``principal: Principal = needs("edit")`` in a route's signature."""
    return Depends(Needs(*ROUTE_ACTIONS[route]))  # type: ignore[no-any-return]


READ = needs("read")
CREATE = needs("create")
WRITE = needs("edit")
GROUPS = needs("groups")
DELETE_GROUP = needs("delete_group")
ERASE = needs("erase")
EXPORT = needs("export")
