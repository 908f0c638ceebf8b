"""The phone page over HTTP: ``/m/<code>`` (form, then the flow live), ``/m/<code>/events``
(server-sent events), ``/m/<code>/check`` (one field, checked as the bridge checks it) and
``/m/privacy``.

A submission is the phone's intent (:class:`~cashier_bridge.protocol.PhoneSubmit`), handed to
the lane hub as a kiosk's is: the hub builds what the lane keeps of it and the lane machine
decides, so a chain's processes serve the page for any lane.  The routes parse, call the hub
and render.  Nothing personal is logged.

Every route is throttled per client address and every response carries the page's security
headers, both in one place (:class:`_PhoneRoute`); each HTML page allows only its own inline
style and script, by a nonce made for that response.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

import jinja2
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.routing import APIRoute

from cashier_bridge.config import Settings
from cashier_bridge.lanes import mobile_tokens as tokens
from cashier_bridge.lanes.lane import Lane, MobileProblem, MobileRefused
from cashier_bridge.protocol import Role
from cashier_bridge.web.mobile import card, consent, form
from cashier_bridge.web.mobile.phone_view import PROBLEM_STATUS, PhoneView, Stage, resolve
from cashier_bridge.web.mobile.texts import LANGUAGE_NAMES, error_text, negotiate, text
from cashier_bridge.web.ratelimit import RateLimiter, address_key, retry_after_header
from cashier_bridge.web.shop import shop_of

log = structlog.get_logger("selfreg.mobile")

RECEIPT_COOKIE = "sr_phone"
LANG_COOKIE = "sr_lang"
EVENTS_MAX_S = 120.0  # a stream ends now and then; EventSource reconnects by itself
KEEPALIVE_S = 15.0
MAX_FORM_BYTES = 16 * 1024
RATE_WINDOW_S = 60.0

# On every response of the phone page: it carries personal data (no cache may keep it), it is
# never framed (no clickjacking of the form) and it tells nobody where the shopper came from.
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer"}
NOTHING_ALLOWED = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def page_policy(nonce: str) -> str:
    """An HTML page's CSP: its own nonce'd style and script, fetches and the form back to the
    bridge, nothing else."""
    return (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


_env = jinja2.Environment(loader=jinja2.PackageLoader("cashier_bridge.web.mobile", "templates"),
                          autoescape=True, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class _Field:
    name: str
    type: str
    autocomplete: str
    maxlength: int
    inputmode: str | None = None
    hint: str | None = None


class PhonePeer:
    """The phone on its lane, under its own role: it sends the phone's intent, and a page
    following the flow is told of every step (only as a signal to look again)."""

    def __init__(self, lane: str = "") -> None:
        self.role = Role.phone
        self.lane = lane
        self.changed = asyncio.Event()

    async def send(self, text: str) -> None:
        self.changed.set()


Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


def mobile_router(settings: Settings) -> APIRouter:
    remembered: set[str] = set()  # consent text versions this process already filed
    limiter = RateLimiter(settings.mobile_requests_per_minute, RATE_WINDOW_S)
    # A flood must not become a flood of log lines: refusals are counted and logged once a
    # window.
    refused: dict[str, float] = {"count": 0, "logged_at": float("-inf")}

    def note_refusal(route: str) -> None:
        refused["count"] += 1
        now = time.monotonic()
        if now - refused["logged_at"] >= RATE_WINDOW_S:
            log.warning("mobile_throttled", route=route, refused=refused["count"])
            refused.update(count=0, logged_at=now)

    class _PhoneRoute(APIRoute):
        """Every phone-page route: throttled per address, answered with the headers."""

        def get_route_handler(self) -> Endpoint:
            handler = super().get_route_handler()
            html = self.response_class is HTMLResponse

            async def guarded(request: Request) -> Response:
                wait = limiter.hit(address_key(request.client.host if request.client else None))
                if wait is None:
                    response = await handler(request)
                else:
                    note_refusal(self.name)
                    response = too_many(request, wait, html=html)
                response.headers.setdefault("Content-Security-Policy", NOTHING_ALLOWED)
                response.headers.update(HEADERS)
                return response

            return guarded

    router = APIRouter(route_class=_PhoneRoute)

    def page(request: Request, template: str, status: int = 200, *, lang: str | None = None,
             headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
        lang = lang or _language(request, settings)
        nonce = secrets.token_urlsafe(18)
        shop = shop_of(request)
        html = _env.get_template(template).render(
            lang=lang, t=lambda key, **kw: text(lang, key, **kw), shop=shop.shop_name,
            languages=list(LANGUAGE_NAMES.items()), controller=shop.controller,
            privacy_url=shop.privacy_url or "/m/privacy", brand=shop, nonce=nonce, **context)
        response = HTMLResponse(html, status_code=status, headers={
            **(headers or {}), "Content-Security-Policy": page_policy(nonce)})
        if request.query_params.get("lang") == lang:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax",
                                httponly=True)
        return response

    def problem(request: Request, problem: MobileProblem) -> HTMLResponse:
        return page(request, "problem.html", PROBLEM_STATUS[problem], problem=problem.value)

    def too_many(request: Request, wait_s: float, *, html: bool) -> Response:
        retry = retry_after_header(wait_s)
        headers = {"Retry-After": retry}
        if not html:  # the page's field checks and live updates: their scripts read no page
            return plain_error(429, f"too many requests: try again in {retry} s", headers)
        return page(request, "too_many.html", 429, headers=headers, seconds=retry)

    async def form_page(request: Request, token: str, *, receipt: str | None = None,
                        f: form.PhoneForm | None = None, lang: str | None = None
                        ) -> HTMLResponse:
        lang = lang or _language(request, settings)
        offered = consent.offers(shop_of(request).consent_texts, lang)
        new = [o for o in offered if o.version not in remembered]
        if new:  # the consent log must be able to say what each version said
            await asyncio.to_thread(request.app.state.registry.consents.remember_texts,
                                    consent.archive(new))
            remembered.update(o.version for o in new)
        errors = {k: error_text(lang, k, v) for k, v in (f.errors if f else {}).items()}
        return page(request, "form.html", 422 if errors else 200, lang=lang, stage="form",
                    action=f"/m/{token}", receipt=receipt or tokens.new_receipt(),
                    fields=_fields(lang), values=f.values if f else dict.fromkeys(form.FIELDS, ""),
                    errors=errors, member=f.member if f else False,
                    consents=f.consents if f else {}, offers=offered)

    async def locate(request: Request, token: str, receipt: str | None
                     ) -> tuple[str | None, Lane | None, PhoneView]:
        if not tokens.well_formed(token):
            return None, None, PhoneView(problem=MobileProblem.malformed)
        lane = await request.app.state.hub.lane_for_code(token)
        if lane is None:
            return None, None, PhoneView(problem=MobileProblem.unknown)
        rh = tokens.token_hash(receipt) if receipt else None
        return lane.name, lane, resolve(lane, tokens.token_hash(token), rh, time.time())

    @router.get("/m/privacy", response_class=HTMLResponse)
    async def privacy(request: Request) -> HTMLResponse:
        return page(request, "privacy.html")

    @router.get("/m/{token}", response_class=HTMLResponse)
    async def phone_page(request: Request, token: str) -> HTMLResponse:
        receipt = request.cookies.get(RECEIPT_COOKIE)
        _name, _lane, view = await locate(request, token, receipt)
        if view.problem:
            return problem(request, view.problem)
        if view.stage is Stage.form:
            return await form_page(request, token)
        return status_page(request, token, view)

    def status_page(request: Request, token: str, view: PhoneView) -> HTMLResponse:
        lang = _language(request, settings)
        assert view.stage is not None
        key = "stage.welcome_new" if view.stage is Stage.welcome and view.is_new \
            else f"stage.{view.stage.value}"
        return page(request, "status.html", stage=view.stage.value, final=view.final,
                    message=text(lang, key, name=view.first_name or ""),
                    card_svg=card.qr_svg(view.customer_code) if view.customer_code else None,
                    customer_code=view.customer_code, events=f"/m/{token}/events")

    @router.post("/m/{token}", response_class=HTMLResponse)
    async def phone_submit(request: Request, token: str) -> Response:
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return plain_error(413, "the form is too large")
        try:
            data = dict(parse_qsl(body.decode("utf-8"), max_num_fields=50))
        except (UnicodeDecodeError, ValueError):
            return plain_error(400, "the form could not be read (url-encoded UTF-8 expected)")
        f = form.read(data, list(shop_of(request).consent_texts), settings.phone_region)
        receipt_ok = "receipt" not in f.errors
        name, _lane, view = await locate(request, token, f.receipt if receipt_ok else None)
        if view.problem:
            return problem(request, view.problem)
        if view.stage is not Stage.form:  # this phone sent this form already (a double tap)
            return _to_status(request, token, f.receipt)
        shown = f.language or _language(request, settings)
        versions: dict[str, str] | None = None
        if f.ok:
            # The version of each text the form showed, taken only if it is a text the bridge
            # filed for that purpose when it showed it: never a text a phone made up.  A text
            # changed in the back office since the form was shown asks again.
            versions = await shown_versions(request, f, shown)
            if versions is None:
                f = replace(f, errors={"consents": "changed"}, consents={})
        if not f.ok:
            return await form_page(request, token, receipt=f.receipt if receipt_ok else None,
                                   f=f, lang=shown)
        assert name is not None and versions is not None
        try:
            await request.app.state.hub.handle(PhonePeer(name),
                                               form.submission(f, token, versions))
        except MobileRefused as refused:
            log.info("mobile_refused", lane=name, problem=refused.problem.value)
            return problem(request, refused.problem)
        log.info("mobile_submitted", lane=name, member=f.member)
        return _to_status(request, token, f.receipt)

    async def shown_versions(request: Request, f: form.PhoneForm, lang: str
                             ) -> dict[str, str] | None:
        ticked = {p: f.versions.get(p, "") for p, yes in f.consents.items() if yes}
        if not ticked:
            return {}
        filed = await asyncio.to_thread(request.app.state.registry.merges.consent_texts,
                                        ticked.values())
        current = {o.version for o in consent.offers(shop_of(request).consent_texts, lang)}
        for purpose, version in ticked.items():
            text = filed.get(version)
            if text is None or text["purpose"] != purpose or version not in current:
                return None
        return ticked

    @router.post("/m/{token}/check")
    async def check_field(request: Request, token: str) -> JSONResponse:
        """One field checked exactly as a submission would be (the page's script asks)."""
        if not tokens.well_formed(token):
            return JSONResponse({"detail": "token: not a phone code"}, status_code=404)
        try:
            data = await request.json()
            field, value = str(data["field"]), str(data["value"])[:form.MAX_FIELD]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"detail": "body: expected {\"field\": …, \"value\": …}"},
                                status_code=422)
        if field not in form.FIELDS:
            return JSONResponse({"detail": f"field: one of {', '.join(form.FIELDS)}"},
                                status_code=422)
        lang = negotiate(str(data.get("lang", "")), None, None, settings.language)
        code = form.check(field, value, settings.phone_region)
        return JSONResponse({"field": field, "code": code,
                             "error": error_text(lang, field, code) if code else None})

    @router.get("/m/{token}/events")
    async def events(request: Request, token: str) -> Response:
        receipt = request.cookies.get(RECEIPT_COOKIE)
        name, _lane, view = await locate(request, token, receipt)
        if view.problem or name is None or receipt is None:
            problem_ = view.problem or MobileProblem.used
            return plain_error(PROBLEM_STATUS[problem_], problem_.value)
        th, rh = tokens.token_hash(token), tokens.token_hash(receipt)
        hub = request.app.state.hub

        async def stream() -> AsyncIterator[str]:
            peer = PhonePeer()
            await hub.watch(peer, name)
            ends = time.monotonic() + EVENTS_MAX_S
            last = None
            try:
                while time.monotonic() < ends:
                    peer.changed.clear()
                    now = resolve(await hub.current(name), th, rh, time.time())
                    if now.key != last:
                        last = now.key
                        yield f"event: stage\ndata: {now.key}\n\n"
                    if now.final or now.problem:
                        return
                    try:
                        await asyncio.wait_for(peer.changed.wait(), KEEPALIVE_S)
                    except TimeoutError:
                        yield ": still here\n\n"
            finally:
                hub.detach(peer)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    return router


def plain_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(message + "\n", status_code=status, media_type="text/plain",
                    headers=headers)


def _to_status(request: Request, token: str, receipt: str) -> RedirectResponse:
    response = RedirectResponse(f"/m/{token}", status_code=303)
    response.set_cookie(RECEIPT_COOKIE, receipt, path=f"/m/{token}", max_age=3600,
                        httponly=True, samesite="lax", secure=request.url.scheme == "https")
    return response


def _language(request: Request, settings: Settings) -> str:
    return negotiate(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE),
                     request.headers.get("accept-language"), settings.language)


def _fields(lang: str) -> list[_Field]:
    return [
        _Field("first_name", "text", "given-name", 100),
        _Field("last_name", "text", "family-name", 100),
        _Field("phone", "tel", "tel", 20, "tel"),
        _Field("personal_id", "text", "off", 13, "numeric", text(lang, "personal_id_hint")),
    ]
