"""Who is calling, and may they: the one dependency every API route has.

An API token (``Authorization: Bearer sra_…``, scopes read < write < admin), or the cashier
console: a browser signed in as a lane's register holds its device token in the
``selfreg_device`` cookie and acts with scope ``write`` as ``console:<lane>``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from ..cookies import DEVICE_COOKIE
from ..registry import Registry
from ..registry.api_tokens import Principal, Scope
from .errors import ApiError

CONSOLE_SCOPE = Scope.write

bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="An API token from `selfreg-bridge token create`.")
console_cookie = APIKeyCookie(name=DEVICE_COOKIE, auto_error=False, scheme_name="console",
                              description="The cashier console's sign-in (scope write).")


def registry_of(request: Request) -> Registry:
    return request.app.state.registry  # type: ignore[no-any-return]


def caller(request: Request,
           credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
           cookie: Annotated[str | None, Depends(console_cookie)]) -> Principal:
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
        raise ApiError(401, "unauthorized", "this console is signed out; sign in again")
    raise ApiError(401, "unauthorized",
                   "send an API token as 'Authorization: Bearer <token>' "
                   "(selfreg-bridge token create)")


class Needs:
    """A dependency: the caller, if their scope covers ``scope``; else 401 or 403."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def __call__(self, principal: Annotated[Principal, Depends(caller)]) -> Principal:
        if not principal.scope.covers(self.scope):
            raise ApiError(403, "forbidden",
                           f"this needs scope {self.scope.value}; the caller has "
                           f"{principal.scope.value}", needed_scope=self.scope.value)
        return principal


READ = Depends(Needs(Scope.read))
WRITE = Depends(Needs(Scope.write))
ADMIN = Depends(Needs(Scope.admin))
