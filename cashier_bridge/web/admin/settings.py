"""The back office's settings page, ``/admin/settings`` (admins only): the shop's own settings
(cashier_bridge/shop/settings.py: the shop's name, the data controller and privacy notice, the
brand colours), changed here and applied to every page of every bridge process within a second;
beside them, read-only, what only the configuration file sets and where it comes from.

The page parses the form, saves through the registry's settings store (one transaction with its
audit entry: each value before and after) and renders; the rules are the settings table's.  A
refusal says why, per setting, and saves nothing (a hand-made form naming a setting that does
not exist included)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import make_url

from cashier_bridge.config import Settings, config_file
from cashier_bridge.permissions import Action
from cashier_bridge.registry.lane_store import OUTBOX_KEEP
from cashier_bridge.registry.mobile import TOKEN_ROWS_KEEP
from cashier_bridge.registry.shop_settings import SettingsChange
from cashier_bridge.registry.staff import StaffSession
from cashier_bridge.shop.settings import (
    BY_KEY,
    SECTION_TITLES,
    SETTINGS,
    Current,
    InvalidSettings,
    changes,
    retention_cutoff,
)
from cashier_bridge.web.admin.auth import CSRF_FIELD, Form, Needs, registry_of
from cashier_bridge.web.mobile.consent import version as consent_version
from cashier_bridge.web.shop import shop_of

log = structlog.get_logger("selfreg.admin")

Admin = Annotated[StaffSession, Depends(Needs(Action.manage_settings))]

# The form's own fields, beside the settings.
_NOT_SETTINGS = (CSRF_FIELD,)


def _sections() -> list[tuple[str, list[Any]]]:
    out: dict[str, list[Any]] = {}
    for s in SETTINGS:
        out.setdefault(SECTION_TITLES[s.section], []).append(s)
    return list(out.items())


def _shown(value: Any) -> str:
    return "(empty)" if value in (None, "") else str(value)


def _rows(change: SettingsChange) -> list[tuple[str, str, str]]:
    """A save as the history lists it: (what, before, after) per value that changed; a
    many-text setting (the consent texts) one row per text that changed."""
    rows = []
    for key, after in change.after.items():
        before = change.before.get(key)
        setting = BY_KEY.get(key)
        if setting is not None and setting.input == "texts":
            old = {name: text for name, _label, text in setting.parts(before or {})}
            rows += [(label, _shown(old.get(name)), _shown(text))
                     for name, label, text in setting.parts(after or {})
                     if old.get(name) != text]
        else:
            rows.append((setting.label if setting else key, _shown(before), _shown(after)))
    return rows


def settings_router(settings: Settings, page: Callable[..., HTMLResponse]) -> APIRouter:
    router = APIRouter(prefix="/admin")

    async def render(request: Request, status: int = 200, *, current: Current,
                     typed: Mapping[str, str] | None = None,
                     reasons: Mapping[str, str] | None = None) -> HTMLResponse:
        registry = registry_of(request)
        shown = await asyncio.to_thread(registry.merges.latest_consent_texts)
        history = await asyncio.to_thread(registry.settings.history)
        in_use = {consent_version(purpose, lang, text)
                  for purpose, texts in current.consent_texts.items()
                  for lang, text in texts.items()}
        # Every text ever shown, newest first, and whether the screens show it today.
        log_rows = [(t, t["version"] in in_use) for t in reversed(shown.values())]
        url = make_url(settings.db_url)
        database = (f"SQLite file {url.database}" if url.get_backend_name() == "sqlite"
                    else "PostgreSQL " + url.render_as_string(hide_password=True))
        due = None
        if current.retention_years is not None:
            cutoff = retention_cutoff(current.retention_years, dt.datetime.now(dt.UTC))
            due = await asyncio.to_thread(registry.retention.count, cutoff)
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if setting.input == "texts":
                values.update({name: (typed or {}).get(name, text)
                               for name, _label, text in setting.parts(current[setting.key])})
            else:
                values[setting.key] = (typed[setting.key] if typed and setting.key in typed
                                       else current[setting.key] or "")
        return page(request, "settings.html", status, title="Settings", log_rows=log_rows,
                    database=database, config=str(config_file()), s=settings,
                    sections=_sections(), current=current, values=values,
                    reasons=reasons or {}, history=[(c, _rows(c)) for c in history], due=due,
                    labels=BY_KEY,
                    done=request.query_params.get("done") == "saved",
                    token_rows_h=int(TOKEN_ROWS_KEEP.total_seconds() // 3600),
                    outbox_min=int(OUTBOX_KEEP.total_seconds() // 60))

    @router.get("/settings", response_class=HTMLResponse)
    async def settings_page(request: Request, session: Admin) -> HTMLResponse:
        return await render(request, current=shop_of(request))

    @router.post("/settings", response_class=HTMLResponse, responses={
        303: {"description": "Saved: back to the settings page, which says so"},
        403: {"description": "Not an admin, or the form lacks the session's security code; "
                             "nothing saved"},
        413: {"description": "The form is larger than 16 kB; nothing saved"},
        422: {"description": "A value (or a setting the page never offered) is refused, with "
                             "the reason beside it; nothing saved"}})
    async def save(request: Request, session: Admin, form: Form) -> Response:
        typed = {k: v for k, v in form.items() if k not in _NOT_SETTINGS}
        current = shop_of(request)
        try:
            changed = changes(typed, current)
        except InvalidSettings as bad:
            return await render(request, 422, current=current, typed=typed,
                                reasons=bad.reasons)
        if changed:
            registry = registry_of(request)
            await asyncio.to_thread(registry.settings.save, changed, actor=session.staff.actor,
                                    unsaved={k: current[k] for k in changed})
            await request.app.state.shop.saved()
            log.info("settings_saved", by=session.staff.id, keys=sorted(changed))
        return RedirectResponse("/admin/settings?done=saved", status_code=303)

    return router
