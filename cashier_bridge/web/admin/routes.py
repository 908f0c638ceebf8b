"""The back office over HTTP: ``/admin/login``, ``/admin/logout``, the shell with its
navigation, staff management for admins and "My account"; customers and groups are
:mod:`.customers`.

Pages are rendered on the server (one script of ours: the customer list searches as you
type); every form carries the session's CSRF token and every POST is checked.  Nothing personal
is logged: staff by id, never a password.

Passwords are hashed and checked on the passwords' own thread (:func:`.auth.password_work`), so
a flood of sign-ins cannot slow a lane; a sign-in from an address or for a username that failed
too often is refused before any hashing (429 with the wait), and a full passwords pool is a 503
with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import secrets
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlencode

import jinja2
import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cashier_bridge.audit import ACTION_TEXT, DEFAULT_LANGUAGE
from cashier_bridge.config import Settings
from cashier_bridge.permissions import Action, StaffRole, allowed
from cashier_bridge.registry.staff import (
    LoginRefused,
    Staff,
    StaffError,
    StaffSession,
    UnknownStaff,
    UsernameTaken,
)
from cashier_bridge.web.admin.auth import (
    CSRF_FIELD,
    Form,
    Needs,
    Refused,
    SignedIn,
    SignInNeeded,
    client_address,
    password_work,
    read_form,
    registry_of,
    staff_session,
)
from cashier_bridge.web.admin.customers import customers_router
from cashier_bridge.web.admin.gdpr import gdpr_router
from cashier_bridge.web.admin.imports import imports_router
from cashier_bridge.web.admin.retention import retention_router
from cashier_bridge.web.admin.security import security_router
from cashier_bridge.web.admin.settings import settings_router
from cashier_bridge.web.admin.warnings import who
from cashier_bridge.web.cookies import STAFF_COOKIE
from cashier_bridge.web.shop import shop_of

log = structlog.get_logger("selfreg.admin")

R = TypeVar("R", bound=Response)

# At module level: with postponed annotations, FastAPI resolves them in the module's globals.
StaffAdmin = Annotated[StaffSession, Depends(Needs(Action.manage_staff))]

# The sign-in form's CSRF token lives in its own short cookie: there is no session yet.
LOGIN_COOKIE = "selfreg_login"
LOGIN_COOKIE_S = 3600
# A browser a staff member signed in with: its right password gets in even while the account is
# locked.  Sent to the sign-in form only; browsers keep a cookie at most 400 days.
KNOWN_DEVICE_COOKIE = "selfreg_staff_device"
KNOWN_DEVICE_COOKIE_S = 365 * 86400

_env = jinja2.Environment(loader=jinja2.PackageLoader("cashier_bridge.web.admin", "templates"),
                          autoescape=True, trim_blocks=True, lstrip_blocks=True)
_CSS = jinja2.PackageLoader("cashier_bridge.web.admin", "static")

_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Scripts and fetches from this origin only: the customer list searches as you type.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "script-src 'self'; connect-src 'self'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
}

# (path, label, the action that opens it): the shell's navigation.
NAVIGATION: tuple[tuple[str, str, Action], ...] = (
    ("/admin/customers", "Customers", Action.view_customers),
    ("/admin/groups", "Groups", Action.view_customers),
    ("/admin/import-export", "Import/Export", Action.export_customers),
    ("/admin/retention", "Retention", Action.delete_customer),
    ("/admin/security", "Security", Action.view_security_warnings),
    ("/admin/staff", "Staff", Action.manage_staff),
    ("/admin/settings", "Settings", Action.manage_settings),
)

# What a finished change says on the next page (by key, so no text comes from the URL).
DONE = {
    "added": "The staff account was added.",
    "role": "The role was changed.",
    "password": "The password was changed; the account's other sign-ins have ended.",
    "disabled": "The account was disabled and signed out everywhere.",
    "enabled": "The account can sign in again.",
    "unlocked": "The account was unlocked.",
    "own_password": "Your password was changed; your other sign-ins have ended.",
}



def _secure(request: Request) -> bool:
    # Behind a proxy, uvicorn's proxy headers (trusted from --forwarded-allow-ips, by default
    # 127.0.0.1) have already put X-Forwarded-Proto into the URL's scheme.
    return request.url.scheme == "https"


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _shown(value: Any) -> str:
    """An audited value as a person reads it: yes/no rather than True/False."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _changes(detail: dict[str, Any] | None) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for every field an audit entry says changed."""
    if not detail:
        return []
    before, after = detail.get("before") or {}, detail.get("after") or {}
    return [(key, before.get(key), after.get(key)) for key in dict.fromkeys([*before, *after])
            if before.get(key) != after.get(key)]


def _safe_next(target: str | None) -> str:
    # Only back into the back office: a sign-in link must not send anyone to another site.
    if target and target.startswith("/admin") and not target.startswith("/admin/log"):
        return target
    return "/admin/customers"


class _Page:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, request: Request, template: str, status: int = 200, *,
                 title: str, **context: Any) -> HTMLResponse:
        session: StaffSession | None = getattr(request.state, "staff_session", None)
        me = session.staff if session else None
        nav = [(path, label, path == request.url.path or request.url.path.startswith(path + "/"))
               for path, label, action in NAVIGATION if me and allowed(me.role, action)]
        html = _env.get_template(template).render(
            title=title, shop=shop_of(request).shop_name, me=me,
            csrf=session.csrf if session else "", csrf_field=CSRF_FIELD, nav=nav,
            when=_when, changes=_changes, shown=_shown, action_text=ACTION_TEXT[DEFAULT_LANGUAGE],
            roles=list(StaffRole), who=who,
            security_warnings=getattr(request.state, "security_warnings", ()),
            **context)
        return HTMLResponse(html, status_code=status, headers=_HEADERS)


def install_admin(app: FastAPI, settings: Settings) -> None:
    """The back office at ``/admin``, with the pages its refusals turn into."""
    page = _Page(settings)
    app.include_router(admin_router(settings, page))
    app.include_router(customers_router(settings, page))  # customers and groups
    app.include_router(gdpr_router(settings, page))
    app.include_router(imports_router(settings, page))  # /admin/import-export (CSV)
    app.include_router(security_router(settings, page))  # /admin/security (warnings)
    app.include_router(settings_router(settings, page))  # /admin/settings
    app.include_router(retention_router(page))  # /admin/retention (review, erase)

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        target = "/admin/login"
        if exc.back_to not in ("/admin", "/admin/"):
            target += "?" + urlencode({"next": exc.back_to})
        return RedirectResponse(target, status_code=303, headers=_HEADERS)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        me = getattr(request.state, "staff_session", None)
        log.info("admin_refused", status=exc.status, path=request.url.path,
                 staff=me.staff.id if me else None)
        response = page(request, "refused.html", exc.status, title=exc.title, reason=exc.reason)
        return _retry_after(response, exc.retry_after_s)

    app.add_exception_handler(SignInNeeded, sign_in_needed)
    app.add_exception_handler(Refused, refused)


def admin_router(settings: Settings, page: Callable[..., HTMLResponse]) -> APIRouter:
    router = APIRouter(prefix="/admin")

    # --- signing in and out --------------------------------------------------------------------

    def login_page(request: Request, status: int = 200, *, error: str | None = None,
                   username: str = "", next_: str = "", retry_after_s: int | None = None
                   ) -> HTMLResponse:
        token = secrets.token_urlsafe(32)
        response = page(request, "login.html", status, title="Sign in", error=error,
                        username=username, next=next_, login_csrf=token,
                        signed_out=request.query_params.get("signed_out") == "1")
        response.set_cookie(LOGIN_COOKIE, token, max_age=LOGIN_COOKIE_S, path="/admin/login",
                            httponly=True, samesite="strict", secure=_secure(request))
        return _retry_after(response, retry_after_s)

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        if await asyncio.to_thread(staff_session, request) is not None:
            return RedirectResponse(_safe_next(request.query_params.get("next")), 303)
        return login_page(request, next_=_safe_next(request.query_params.get("next")))

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await read_form(request)
        username = form.get("username", "").strip()[:100]
        next_ = _safe_next(form.get("next"))
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not hmac.compare_digest(form.get(CSRF_FIELD, "").encode(),
                                                   expected.encode()):
            return login_page(request, 403, username=username, next_=next_, error=(
                "This sign-in form had expired or came from another page; nothing was sent. "
                "Sign in again below."))
        if not username or not form.get("password"):
            return login_page(request, 422, username=username, next_=next_,
                              error="Enter your username and your password.")
        store = registry_of(request).staff
        address = client_address(request)
        device = request.cookies.get(KNOWN_DEVICE_COOKIE)
        # The cheap check first: a throttled address or a locked name is turned away here,
        # before its request costs the passwords' thread anything.
        result = await asyncio.to_thread(store.sign_in_gate, username, address, device)
        if result is None:
            try:
                result = await password_work(request, store.login, username,
                                             form.get("password", ""), address=address,
                                             device=device)
            except Refused as busy:
                log.warning("staff_login_busy")
                return login_page(request, busy.status, username=username, next_=next_,
                                  error=busy.reason, retry_after_s=busy.retry_after_s)
        if isinstance(result, LoginRefused):
            log.info("staff_login_refused", locked=result.wait is not None)
            return login_page(request, 429 if result.wait is not None else 401,
                              username=username, next_=next_, error=result.message,
                              retry_after_s=result.retry_after_s)
        log.info("staff_signed_in", staff=result.session.staff.id)
        response = RedirectResponse(next_, status_code=303)
        # No max-age: the browser forgets it when closed, and the server ends it anyway after
        # 30 idle minutes or 12 hours.
        response.set_cookie(STAFF_COOKIE, result.token, path="/", httponly=True,
                            samesite="strict", secure=_secure(request))
        response.set_cookie(KNOWN_DEVICE_COOKIE, result.device, max_age=KNOWN_DEVICE_COOKIE_S,
                            path="/admin/login", httponly=True, samesite="strict",
                            secure=_secure(request))
        response.delete_cookie(LOGIN_COOKIE, path="/admin/login")
        return response

    @router.post("/logout")
    async def logout(request: Request, session: SignedIn, _form: Form) -> Response:
        await asyncio.to_thread(registry_of(request).staff.logout,
                                request.cookies.get(STAFF_COOKIE))
        log.info("staff_signed_out", staff=session.staff.id)
        response = RedirectResponse("/admin/login?signed_out=1", status_code=303)
        response.delete_cookie(STAFF_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=_secure(request))
        return response

    @router.get("/static/admin.css")
    async def stylesheet() -> Response:
        css, _name, _fresh = _CSS.get_source(_env, "admin.css")
        return Response(css, media_type="text/css; charset=utf-8",
                        headers={"Cache-Control": "max-age=3600",
                                 "X-Content-Type-Options": "nosniff"})

    # --- the shell -----------------------------------------------------------------------------

    @router.get("")
    @router.get("/")
    async def home(session: SignedIn) -> Response:
        return RedirectResponse("/admin/customers", status_code=303)

    # --- staff (admins) ------------------------------------------------------------------------

    @router.get("/staff", response_class=HTMLResponse)
    async def staff_list(request: Request, session: StaffAdmin) -> HTMLResponse:
        store = registry_of(request).staff
        accounts = await asyncio.to_thread(store.list)
        alerts = await asyncio.to_thread(store.sign_in_alerts)
        return page(request, "staff_list.html", title="Staff", accounts=accounts,
                    alerts=alerts, now=store.clock())

    def new_form(request: Request, status: int = 200, *, error: str | None = None,
                 values: dict[str, str] | None = None) -> HTMLResponse:
        return page(request, "staff_new.html", status, title="Add a staff member", error=error,
                    values=values or {"username": "", "display_name": "", "role": "cashier"})

    @router.get("/staff/new", response_class=HTMLResponse)
    async def staff_new(request: Request, session: StaffAdmin) -> HTMLResponse:
        return new_form(request)

    @router.post("/staff/new", response_class=HTMLResponse)
    async def staff_add(request: Request, session: StaffAdmin, form: Form) -> Response:
        values = {k: form.get(k, "").strip() for k in ("username", "display_name", "role")}
        password, again = form.get("password", ""), form.get("password_again", "")
        if password != again:
            return new_form(request, 422, values=values,
                            error="The two passwords differ; type the same one twice.")
        try:
            added = await password_work(
                request, registry_of(request).staff.add, values["username"], password,
                values["role"], display_name=values["display_name"] or None,
                actor=session.staff.actor)
        except StaffError as exc:
            return new_form(request, 409 if isinstance(exc, UsernameTaken) else 422,
                            values=values, error=_sentence(exc.message))
        log.info("staff_added", by=session.staff.id, staff=added.id, role=added.role.value)
        return _done(_staff_path(added), "added")

    async def account_page(request: Request, username: str, status: int = 200, *,
                           error: str | None = None) -> HTMLResponse:
        store = registry_of(request).staff
        try:
            account = await asyncio.to_thread(store.get, username)
        except UnknownStaff as exc:
            raise Refused(_sentence(exc.message), status=404, title="No such account") from None
        history = await asyncio.to_thread(store.history, account.username)
        return page(request, "staff_detail.html", status, title=account.display_name,
                    account=account, history=history, error=error, now=store.clock(),
                    done=DONE.get(request.query_params.get("done", "")))

    @router.get("/staff/{username}", response_class=HTMLResponse)
    async def staff_detail(request: Request, username: str, session: StaffAdmin
                           ) -> HTMLResponse:
        return await account_page(request, username)

    async def change(request: Request, username: str, done: str,
                     do: Callable[[], Staff], *, hashes: bool = False) -> Response:
        try:
            account = await (password_work(request, do) if hashes else asyncio.to_thread(do))
        except UnknownStaff as exc:
            raise Refused(_sentence(exc.message), status=404, title="No such account") from None
        except StaffError as exc:
            return await account_page(request, username, 409, error=_sentence(exc.message))
        return _done(_staff_path(account), done)

    @router.post("/staff/{username}/role", response_class=HTMLResponse)
    async def staff_role(request: Request, username: str, session: StaffAdmin,
                         form: Form) -> Response:
        store = registry_of(request).staff
        return await change(request, username, "role", lambda: store.set_role(
            username, form.get("role", ""), actor=session.staff.actor))

    @router.post("/staff/{username}/password", response_class=HTMLResponse)
    async def staff_password(request: Request, username: str, session: StaffAdmin,
                             form: Form) -> Response:
        store = registry_of(request).staff
        if form.get("password", "") != form.get("password_again", ""):
            return await account_page(request, username, 422,
                                      error="The two passwords differ; type the same one twice.")
        return await change(request, username, "password", lambda: store.set_password(
            username, form.get("password", ""), actor=session.staff.actor,
            keep_session=request.cookies.get(STAFF_COOKIE)), hashes=True)

    for verb, done in (("disable", "disabled"), ("enable", "enabled"), ("unlock", "unlocked")):
        def add_route(verb: str = verb, done: str = done) -> None:
            @router.post(f"/staff/{{username}}/{verb}", response_class=HTMLResponse,
                         name=f"admin_staff_{verb}")
            async def staff_change(request: Request, username: str, session: StaffAdmin,
                                   form: Form) -> Response:
                act = getattr(registry_of(request).staff, verb)
                return await change(request, username, done,
                                    lambda: act(username, actor=session.staff.actor))
        add_route()

    # --- my account ----------------------------------------------------------------------------

    def my_page(request: Request, status: int = 200, *, error: str | None = None,
                retry_after_s: int | None = None) -> HTMLResponse:
        return _retry_after(page(request, "account.html", status, title="My account",
                                 error=error,
                                 done=DONE.get(request.query_params.get("done", ""))),
                            retry_after_s)

    @router.get("/account", response_class=HTMLResponse)
    async def my_account(request: Request, session: SignedIn) -> HTMLResponse:
        return my_page(request)

    @router.post("/account/password", response_class=HTMLResponse)
    async def my_password(request: Request, session: SignedIn, form: Form) -> Response:
        store = registry_of(request).staff
        me = session.staff
        if form.get("password", "") != form.get("password_again", ""):
            return my_page(request, 422,
                           error="The two new passwords differ; type the same one twice.")
        # A wrong current password counts like a failed sign-in: a session left open on a
        # till must not become a way to guess the password behind it.
        refused = await password_work(request, store.check_current_password, me.username,
                                      form.get("current", ""), address=client_address(request))
        if refused is not None and refused.locked_minutes is not None:
            log.info("staff_password_locked", staff=me.id)
            return my_page(request, 429, retry_after_s=refused.retry_after_s, error=(
                f"Too many wrong passwords: your account is locked for "
                f"{_minutes(refused.locked_minutes)}, and nothing was changed. You stay signed "
                "in here; an admin can unlock it sooner."))
        if refused is not None:
            return my_page(request, 422, error="Your current password is not right; nothing "
                                               "was changed.")
        try:
            await password_work(request, store.set_password, me.username,
                                form.get("password", ""), actor=me.actor,
                                keep_session=request.cookies.get(STAFF_COOKIE))
        except StaffError as exc:
            return my_page(request, 422, error=_sentence(exc.message))
        return _done("/admin/account", "own_password")

    return router


def _retry_after(response: R, seconds: int | None) -> R:
    if seconds is not None:
        response.headers["Retry-After"] = str(seconds)
    return response


def _minutes(minutes: int) -> str:
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


def _done(path: str, what: str) -> RedirectResponse:
    # Post/redirect/get: reloading the page that follows does not send the form again.
    return RedirectResponse(f"{path}?done={what}", status_code=303)


def _staff_path(account: Staff) -> str:
    return "/admin/staff/" + quote(account.username, safe="")


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
