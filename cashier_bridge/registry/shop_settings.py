"""The shop's settings as saved from the back office: one JSON value per key, with who saved it
and when, and an audit entry per save holding every changed value before and after.

Storage only: which keys exist and how each is checked is cashier_bridge/shop/settings.py's.
Every page reads the settings as it is served (:meth:`SettingsStore.stored`: one small query),
so a change saved on one process of a chain is what the next page on any other shows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update

from cashier_bridge.audit import AuditAction
from cashier_bridge.registry.schema import audit_log, shop_settings
from cashier_bridge.registry.timestamps import utcnow
from cashier_bridge.registry.writes import audit


@dataclass(frozen=True, slots=True)
class SavedSetting:
    value: Any
    at: Any
    by: str


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """One save, from the audit log: who, when, and each changed key's value before and after."""

    at: Any
    actor: str
    before: dict[str, Any]
    after: dict[str, Any]


class SettingsStore:
    def __init__(self, reader: Engine, writer: Engine) -> None:
        self._reader = reader
        self._writer = writer

    def stored(self) -> dict[str, SavedSetting]:
        with self._reader.connect() as conn:
            return {r.key: SavedSetting(json.loads(r.value), r.updated_at, r.updated_by)
                    for r in conn.execute(select(shop_settings))}

    def save(self, changes: Mapping[str, Any], *, actor: str,
             unsaved: Mapping[str, Any]) -> SettingsChange | None:
        """Store ``changes`` (key → value) in one transaction with its audit entry.  A key never
        saved before was ``unsaved[key]`` (the configuration file's value or the default), which
        is what the audit entry says it was.  None when nothing differs from what is stored."""
        now = utcnow()
        with self._writer.begin() as conn:
            rows = {r.key: json.loads(r.value) for r in conn.execute(
                select(shop_settings.c.key, shop_settings.c.value)
                .where(shop_settings.c.key.in_(list(changes))))}
            before = {k: rows[k] if k in rows else unsaved.get(k) for k in changes}
            after = {k: v for k, v in changes.items() if v != before[k] or k not in rows}
            if not after:
                return None
            for key, value in after.items():
                values = {"value": json.dumps(value, ensure_ascii=False), "updated_at": now,
                          "updated_by": actor}
                if key in rows:
                    conn.execute(update(shop_settings).where(shop_settings.c.key == key)
                                 .values(**values))
                else:
                    conn.execute(insert(shop_settings).values(key=key, **values))
            change = SettingsChange(now, actor, {k: before[k] for k in after}, after)
            audit(conn, actor, AuditAction.settings_change, None,
                  {"before": change.before, "after": change.after})
        return change

    def history(self, limit: int = 20) -> list[SettingsChange]:
        """The latest saves, newest first."""
        with self._reader.connect() as conn:
            rows = conn.execute(select(audit_log.c.at, audit_log.c.actor, audit_log.c.detail)
                                .where(audit_log.c.action == AuditAction.settings_change)
                                .order_by(audit_log.c.id.desc()).limit(limit)).all()
        out = []
        for r in rows:
            detail = json.loads(r.detail or "{}")
            out.append(SettingsChange(r.at, r.actor, detail.get("before", {}),
                                      detail.get("after", {})))
        return out
