"""The cashier console over HTTP: ``/console`` (the page of the signed-in lane),
``/console/sign-in`` (a form, the printed link ``?code=…``, and its POST), ``/console/sign-out``
and the page's own script and style under ``/console/static/``.

The page talks to the lane through ``/ws/register`` and to the registry through ``/api/v1``,
both with the device cookie; nothing here changes a lane.  Sign-in codes and tokens are never
logged.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

import jinja2
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cashier_bridge import money
from cashier_bridge.config import Settings
from cashier_bridge.throttle import Scope, minutes_to_wait, seconds_to_wait
from cashier_bridge.web.console.texts import CURRENCY, LANGUAGE, TEXTS, text
from cashier_bridge.web.cookies import DEVICE_COOKIE
from cashier_bridge.web.shop import brand_css, shop_of

log = structlog.get_logger("selfreg.console")

# Browsers keep a cookie at most 400 days; the device stays paired until someone unpairs it.
COOKIE_MAX_AGE_S = 365 * 86400
MAX_FORM_BYTES = 4 * 1024
DEVICE_LABEL = "cashier console"

_env = jinja2.Environment(loader=jinja2.PackageLoader("cashier_bridge.web.console", "templates"),
                          autoescape=True, trim_blocks=True, lstrip_blocks=True)

_STATIC = {"console.js": "text/javascript; charset=utf-8",
           "sign-in.js": "text/javascript; charset=utf-8",
           "console.css": "text/css; charset=utf-8"}

# The page loads only its own files; 'self' covers the same-origin websocket in Chromium and
# Firefox, and frame-ancestors keeps the register from being framed by another site.
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
}


def console_router(settings: Settings) -> APIRouter:
    router = APIRouter()

    def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = _env.get_template(template).render(
            lang=LANGUAGE, t=lambda key, **kw: text(key, **kw), shop=shop_of(request).shop_name,
            **context)
        return HTMLResponse(html, status_code=status, headers=_HEADERS)

    async def signed_in_lane(request: Request) -> str | None:
        token = request.cookies.get(DEVICE_COOKIE)
        if not token:
            return None
        found = await asyncio.to_thread(request.app.state.registry.devices.who, token)
        if found is None or found[1] != "register":
            return None
        return found[0]

    @router.get("/console", response_class=HTMLResponse)
    async def console(request: Request) -> Response:
        lane = await signed_in_lane(request)
        if lane is None:
            return RedirectResponse("/console/sign-in", status_code=303)
        # The script reads its texts from the page, so no text is written twice.
        texts = json.dumps(TEXTS[LANGUAGE], ensure_ascii=False).replace("</", "<\\/")
        return page(request, "console.html", lane=lane, currency=CURRENCY, texts=texts,
                    money=json.dumps(money.pattern(CURRENCY), ensure_ascii=False))

    @router.get("/console/sign-in", response_class=HTMLResponse)
    async def sign_in_form(request: Request) -> HTMLResponse:
        # GET never spends the code: a link previewer or a prefetch must not use it up.  The
        # page's script submits a code that came in the link, so one click on it signs in.
        code = request.query_params.get("code", "")[:64]
        return page(request, "sign_in.html", code=code, auto=bool(code),
                    signed_out=request.query_params.get("signed_out") == "1", error=None)

    @router.post("/console/sign-in", response_class=HTMLResponse)
    async def sign_in(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return Response("the form is too large\n", status_code=413, media_type="text/plain")
        try:
            form = dict(parse_qsl(body.decode("utf-8"), max_num_fields=10))
        except (UnicodeDecodeError, ValueError):
            return Response("the form could not be read (url-encoded UTF-8 expected)\n",
                            status_code=400, media_type="text/plain")
        code = form.get("code", "").strip()[:64]
        if not code:
            return page(request, "sign_in.html", 422, code="", auto=False, signed_out=False,
                        error=text("sign_in.empty"))
        registry = request.app.state.registry
        # Codes are far too long to guess, but a flood of guesses is still refused: wrong codes
        # are counted per client address (uvicorn has put a proxy's client here), in the
        # database so that every process of a chain counts them together.
        address = request.client.host if request.client else "unknown"
        throttle, now = registry.staff.sign_ins, registry.staff.clock()
        wait = await asyncio.to_thread(throttle.wait, Scope.console, address, now)
        if wait is None:
            device = await asyncio.to_thread(registry.devices.redeem_sign_in, code,
                                             DEVICE_LABEL)
            if device is not None and device.role == "register":
                log.info("console_signed_in", lane=device.lane, device=device.id)
                response = RedirectResponse("/console", status_code=303)
                response.set_cookie(DEVICE_COOKIE, device.token, max_age=COOKIE_MAX_AGE_S,
                                    path="/", httponly=True, samesite="strict",
                                    secure=request.url.scheme == "https")
                return response
            wait = await asyncio.to_thread(throttle.failed, Scope.console, address, now)
        if wait is not None:
            log.info("console_sign_in_throttled")
            minutes = minutes_to_wait(wait)
            refused = page(request, "sign_in.html", 429, code=code, auto=False, signed_out=False,
                           error=text("sign_in.throttled", minutes=minutes,
                                      unit="minute" if minutes == 1 else "minutes"))
            refused.headers["Retry-After"] = str(seconds_to_wait(wait))
            return refused
        log.info("console_sign_in_refused")
        # What was typed stays in the field: a typo is corrected, not retyped.
        return page(request, "sign_in.html", 400, code=code, auto=False, signed_out=False,
                    error=text("sign_in.bad_code"))

    @router.post("/console/sign-out")
    async def sign_out(request: Request) -> Response:
        token = request.cookies.get(DEVICE_COOKIE)
        if token:
            # Signing out ends this browser's pairing, not only its cookie: a copied cookie
            # must not keep working.  The lane's other devices stay paired.
            await asyncio.to_thread(request.app.state.registry.devices.revoke_token, token)
        response = RedirectResponse("/console/sign-in?signed_out=1", status_code=303)
        response.delete_cookie(DEVICE_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=request.url.scheme == "https")
        return response

    @router.get("/console/brand.css")
    async def brand(request: Request) -> Response:
        # The shop's colours, checked when saved (nothing but #rrggbb is ever stored).
        return Response(brand_css(shop_of(request)), media_type="text/css; charset=utf-8",
                        headers={"Cache-Control": "no-store"})

    @router.get("/console/static/{name}")
    async def static(name: str) -> Response:
        media_type = _STATIC.get(name)
        if media_type is None:
            return Response("no such file\n", status_code=404, media_type="text/plain")
        data = resources.files("cashier_bridge.web.console").joinpath("static", name).read_bytes()
        return Response(data, media_type=media_type,
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    return router
