"""Who is signed in to the back office, may they do this, and did this form come from our page.

Three FastAPI dependencies, each raising an exception the admin app turns into a page:

- :func:`signed_in` — the signed-in staff member's session, else :class:`SignInNeeded` (a
  redirect to the sign-in page);
- :class:`Needs` — the same, if their role may take an :class:`~cashier_bridge.permissions.Action`,
  else :class:`Refused` (403 with the reason from :func:`~cashier_bridge.permissions.refusal`);
- :func:`posted_form` — the fields of a POSTed form, if it carries the session's CSRF token,
  else :class:`Refused` (403, nothing changed).

:func:`staff_principal` is the same sign-in for the REST API's own auth dependency, and
:func:`password_work` runs what hashes or checks a password on the passwords' own thread.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar
from urllib.parse import parse_qsl

from fastapi import Depends, Request

from cashier_bridge.permissions import Action, allowed, refusal
from cashier_bridge.pools import Busy
from cashier_bridge.registry import Registry
from cashier_bridge.registry.lookups import LimitHit
from cashier_bridge.registry.staff import Staff, StaffSession
from cashier_bridge.web.admin.warnings import banner_hits
from cashier_bridge.web.cookies import STAFF_COOKIE

MAX_FORM_BYTES = 16 * 1024
CSRF_FIELD = "csrf"

CSRF_REFUSED = ("This form was not accepted: it did not carry the security code of your "
                "current sign-in (it may be from an earlier sign-in or from another site). "
                "Nothing was changed. Go back, reload the page and try again.")


class SignInNeeded(Exception):
    """Nobody (or nobody any more) is signed in: go to the sign-in page, then back here."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


BUSY = ("The bridge is busy checking other passwords; nothing was changed. Try again in a few "
        "seconds.")

P = ParamSpec("P")
T = TypeVar("T")


class Refused(Exception):
    """A request the signed-in person may not make, with the reason they read (and, for a
    refusal that passes, when to try again)."""

    def __init__(self, reason: str, *, status: int = 403, title: str = "Not allowed",
                 retry_after_s: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.title = title
        self.retry_after_s = retry_after_s


def registry_of(request: Request) -> Registry:
    return request.app.state.registry  # type: ignore[no-any-return]


def client_address(request: Request) -> str:
    """Where a request comes from, for counting failed sign-ins.  Behind a proxy uvicorn has
    already put the client's own address here, from ``X-Forwarded-For`` sent by the addresses
    in ``FORWARDED_ALLOW_IPS`` (by default the loopback ones, where Caddy runs beside a bridge)."""
    return request.client.host if request.client else "unknown"


async def password_work(request: Request, fn: Callable[P, T], /, *args: P.args,
                        **kwargs: P.kwargs) -> T:
    """``fn`` — something that hashes or checks a password, slow on purpose — on the passwords'
    own thread (``pools.passwords``), never on the threads that serve lanes or pages.  When that
    pool is full: :class:`Refused`, 503, with when to try again."""
    try:
        return await request.app.state.pools.passwords.run(fn, *args, **kwargs)
    except Busy as exc:
        raise Refused(BUSY, status=503, title="Busy",
                      retry_after_s=exc.retry_after_s) from None


def staff_session(request: Request) -> StaffSession | None:
    """The live back-office session of this request's ``selfreg_staff`` cookie, or None.
    Synchronous (it reads the database): call it from a worker thread."""
    return registry_of(request).staff.session(request.cookies.get(STAFF_COOKIE))


def staff_principal(request: Request) -> Staff | None:
    """The staff member signed in to the back office in this request's browser, or None.

    For the REST API's auth dependency: a request with the ``selfreg_staff`` cookie acts as
    ``staff.actor`` (``staff:<username>``) and may do what ``permissions.allowed(staff.role,
    …)`` says.  A cookie is sent by the browser on its own, so the API must also check the
    session's CSRF token on anything but GET (``staff_session(request).csrf`` against a header
    the page sends); SameSite=Strict already keeps other sites' requests from carrying it.
    """
    session = staff_session(request)
    return session.staff if session is not None else None


def _session_and_warnings(request: Request) -> tuple[StaffSession | None, list[LimitHit]]:
    session = staff_session(request)
    if session is None:
        return None, []
    return session, banner_hits(registry_of(request), session.staff.role)


async def signed_in(request: Request) -> StaffSession:
    session, warnings = await asyncio.to_thread(_session_and_warnings, request)
    if session is None:
        raise SignInNeeded(request.url.path if request.method == "GET" else "/admin")
    request.state.staff_session = session  # the refusal page shows the shell too
    request.state.security_warnings = warnings  # the shell's banner, for managers and admins
    return session


SignedIn = Annotated[StaffSession, Depends(signed_in)]


class Needs:
    """A dependency: the signed-in session, if its role may take ``action``."""

    def __init__(self, action: Action) -> None:
        self.action = action

    async def __call__(self, session: SignedIn) -> StaffSession:
        if not allowed(session.staff.role, self.action):
            raise Refused(refusal(session.staff.role, self.action))
        return session


async def read_form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Refused("This form is too large to be read; nothing was changed.", status=413,
                      title="Form too large")
    try:
        # Blank fields kept: an emptied box on an edit form means "clear it", not "unsent".
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50))
    except (UnicodeDecodeError, ValueError):
        raise Refused("This form could not be read (URL-encoded UTF-8 expected); nothing was "
                      "changed.", status=400, title="Form not readable") from None


async def posted_form(request: Request, session: SignedIn) -> dict[str, str]:
    form = await read_form(request)
    if not hmac.compare_digest(form.get(CSRF_FIELD, "").encode(), session.csrf.encode()):
        raise Refused(CSRF_REFUSED, title="Form refused")
    return form


Form = Annotated[dict[str, str], Depends(posted_form)]
