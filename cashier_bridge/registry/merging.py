"""Merging two records of one person into one, and undoing it from the audit log.

A merge keeps one customer (``kept``) and folds the other into it, in one transaction:

- field values: the kept customer's win, the other's fill the gaps (an address moves as a whole:
  half of one address and half of another is nobody's address); notes are joined; balances
  are added; identifiers (phone, e-mail, personnummer fingerprint) only the other has move over;
- the other's sales, consent log and audit entries are re-pointed to the kept customer, so the
  kept customer's GDPR export shows all of it and erasing the kept customer erases all of it;
- the other row stays as a hidden, emptied row (``merged_into_id`` set, code ``MERGED-<id>``,
  no name or identifier) so that ids stay stable and the merge can be undone;
- one audit entry ``merge`` on the kept customer holds everything an undo needs: both full rows
  before, what the kept row became, and the ids of every moved row.

Undo restores both rows exactly and moves those rows back, unless something since makes it
unsafe (the kept customer erased, merged again or edited; an identifier of the other taken by a
third customer): then :class:`MergeRefused` says which.  Once undone, the merge entry keeps only
ids and field names, so the other person's data is no longer part of the kept one's history.

This module also reads what the GDPR export needs beyond :class:`~.customer_admin.CustomerAdmin`
(the full row with the back office's columns, consent texts by version) and audits exports.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Date, Engine, func, insert, select, update

from cashier_bridge.audit import AuditAction
from cashier_bridge.customers.fields import FIELDS, Merge, columns_of, erased_values
from cashier_bridge.registry.problems import NotFound
from cashier_bridge.registry.schema import (
    audit_log,
    consent_texts,
    consents,
    customer_groups,
    customers,
    sales,
)
from cashier_bridge.registry.timestamps import UtcDateTime, utcnow
from cashier_bridge.registry.writes import DEFAULT_GROUP

MERGE = AuditAction.merge
MERGED_INTO = AuditAction.merged_into
UNMERGE = AuditAction.unmerge
EXPORT = AuditAction.export_personal_data

# From the field table (cashier_bridge.customers.fields): how a merge combines each field.
BALANCES = columns_of(Merge.added)
ADDRESS = columns_of(Merge.address)
DELIVERY = columns_of(Merge.delivery)
# Filled from the other customer when the kept one has none.
GAP_FILLED = tuple(f.columns[0] for f in FIELDS if f.merge is Merge.gap)
# Held by one customer at most: the other's must be released before the kept one can take it.
UNIQUE = ("personal_id_fingerprint", "phone", "email", "customer_code")
_UNIQUE_NAMES = {"personal_id_fingerprint": "personnummer", "phone": "phone number",
                 "email": "e-mail address", "customer_code": "customer number"}
# The merged-away row once emptied: nothing that says who it was (that is in the audit entry),
# as an erase empties it, and what moved to the kept customer.
_EMPTIED: dict[str, Any] = {
    **erased_values(),
    **{c: None for f in FIELDS if f.merge is Merge.gap for c in f.columns},
    **dict.fromkeys(BALANCES, 0),
}

# What the preview shows, in the field table's order: (key, label).  "address", "delivery"
# and "personal_id" stand for several columns, "group" for the group's name; what the register
# keeps of its own (when and how a customer came) is not merged and not shown.
_BLOCK_KEYS = {Merge.address: ("address", "Address"),
               Merge.delivery: ("delivery", "Delivery address")}


def _shown() -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    for f in FIELDS:
        if f.write is None and f.merge is Merge.kept:
            continue
        key, label = _BLOCK_KEYS.get(f.merge, (f.columns[0], f.label))
        if f.merge is Merge.identifier:
            key = f.name
        elif f.name == "group_id":
            key = "group"
        out.setdefault(key, label)
    return tuple(out.items())


SHOWN = _shown()


class MergeRefused(Exception):
    """A merge or undo that would be wrong or unsafe, with the reason a person reads."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MergeField:
    key: str
    label: str
    kept: Any
    other: Any
    result: Any
    # Where the result comes from: "kept", "other", "added", "joined" or "" (neither has one).
    source: str
    # The other's value differs and is not kept (it comes back with an undo).
    dropped: bool


@dataclass(frozen=True, slots=True)
class MergePlan:
    kept: dict[str, Any]
    other: dict[str, Any]
    fields: list[MergeField]
    sales: int
    consents: int
    audit_entries: int
    refusal: str | None


@dataclass(frozen=True, slots=True)
class UndoPlan:
    entry_id: int
    at: dt.datetime
    actor: str
    kept_id: int
    other_id: int
    kept_code: str
    other_before: dict[str, Any] = field(repr=False)
    fields: list[str]
    sales: int
    consents: int
    refusal: str | None


@dataclass(frozen=True, slots=True)
class MergeRecord:
    """A merge in a customer's history (for the profile's and the audit's undo links)."""

    entry_id: int
    at: dt.datetime
    actor: str
    other_id: int
    undone: bool


class MergeStore:
    def __init__(self, reader: Engine, writer: Engine) -> None:
        self._reader = reader
        self._writer = writer

    # --- merging -------------------------------------------------------------------------------

    def preview(self, kept_id: int, other_id: int) -> MergePlan:
        """What merging ``other_id`` into ``kept_id`` would give, changing nothing.  NotFound if
        either does not exist; a merge that must not happen has its ``refusal``."""
        with self._reader.connect() as conn:
            kept, other = _row(conn, kept_id), _row(conn, other_id)
            refusal = _refusal(kept, other)
            values = _merged(kept, other)
            counts = [conn.execute(select(func.count()).select_from(t).where(
                t.c.customer_id == other_id)).scalar_one() for t in (sales, consents, audit_log)]
            groups = dict(conn.execute(select(customer_groups.c.id, customer_groups.c.name)).all())
        return MergePlan(kept=kept, other=other, fields=_fields(kept, other, values, groups),
                         sales=counts[0], consents=counts[1], audit_entries=counts[2],
                         refusal=refusal)

    def merge(self, kept_id: int, other_id: int, *, actor: str) -> int:
        """Merge ``other_id`` into ``kept_id`` (one transaction); the ``merge`` audit entry's id.
        Raises NotFound or MergeRefused (nothing changed)."""
        now = utcnow()
        with self._writer.begin() as conn:
            kept, other = _locked(conn, kept_id, other_id)
            refusal = _refusal(kept, other)
            if refusal:
                raise MergeRefused(refusal)
            values = _merged(kept, other)
            changed = {k: v for k, v in values.items() if kept[k] != v}
            moved = {name: list(conn.execute(select(t.c.id).where(t.c.customer_id == other_id)
                                             .order_by(t.c.id)).scalars())
                     for name, t in (("sales", sales), ("consents", consents),
                                     ("audit", audit_log))}
            # The other's identifiers go first: each unique index sees one holder at a time.
            conn.execute(update(customers).where(customers.c.id == other_id).values(
                **_EMPTIED, customer_code=f"MERGED-{other_id}", merged_into_id=kept_id,
                updated_at=now))
            conn.execute(update(customers).where(customers.c.id == kept_id)
                         .values(**changed, updated_at=now))
            for name, table in (("sales", sales), ("consents", consents), ("audit", audit_log)):
                if moved[name]:
                    conn.execute(update(table).where(table.c.id.in_(moved[name]))
                                 .values(customer_id=kept_id))
            entry_id = _audit(conn, actor, MERGE, kept_id, {
                "kept_id": kept_id, "other_id": other_id,
                # Column names only: what erasure keeps (see customer_admin.scrub).
                "fields": sorted(k for k in changed if not k.endswith("_key")),
                "kept_before": _encode(kept), "kept_after": _encode(changed),
                "other_before": _encode(other), "moved": moved}, now)
            _audit(conn, actor, MERGED_INTO, other_id,
                   {"kept_id": kept_id, "merge_entry": entry_id}, now)
        return entry_id

    # --- undoing -------------------------------------------------------------------------------

    def undo_preview(self, entry_id: int) -> UndoPlan:
        """What undoing the merge of audit entry ``entry_id`` would do (NotFound if it is not a
        merge); ``refusal`` says why it cannot be undone now."""
        with self._reader.connect() as conn:
            return _undo_plan(conn, entry_id)

    def undo(self, entry_id: int, *, actor: str) -> int:
        """Undo the merge of audit entry ``entry_id`` (one transaction): both rows as they were
        before, the moved rows back.  The restored customer's id.  Raises NotFound or
        MergeRefused (nothing changed)."""
        now = utcnow()
        with self._writer.begin() as conn:
            plan = _undo_plan(conn, entry_id, lock=True)
            if plan.refusal:
                raise MergeRefused(plan.refusal)
            detail = json.loads(_detail_text(conn, entry_id))
            kept_id, other_id = plan.kept_id, plan.other_id
            kept_before = _decode(detail["kept_before"])
            current = _row(conn, kept_id)
            # Sales since the merge may have moved the balances on: take off what came over.
            for name in BALANCES:
                kept_before[name] = current[name] - plan.other_before[name]
            # The kept row first, releasing what it took over from the other.
            conn.execute(update(customers).where(customers.c.id == kept_id)
                         .values(**_columns(kept_before)))
            conn.execute(update(customers).where(customers.c.id == other_id)
                         .values(**_columns(plan.other_before)))
            for name, table in (("sales", sales), ("consents", consents), ("audit", audit_log)):
                ids = detail["moved"].get(name) or []
                if ids:
                    conn.execute(update(table).where(table.c.id.in_(ids),
                                                     table.c.customer_id == kept_id)
                                 .values(customer_id=other_id))
            undo_id = _audit(conn, actor, UNMERGE, kept_id,
                             {"merge_entry": entry_id, "other_id": other_id}, now)
            _audit(conn, actor, UNMERGE, other_id,
                   {"merge_entry": entry_id, "kept_id": kept_id}, now)
            # The other person's data now lives in their own row again, not in this history.
            conn.execute(update(audit_log).where(audit_log.c.id == entry_id).values(
                detail=json.dumps({"kept_id": kept_id, "other_id": other_id,
                                   "fields": detail.get("fields", []), "undone_by": undo_id})))
        return other_id

    # --- reading -------------------------------------------------------------------------------

    def merged_into(self, customer_id: int) -> int | None:
        """The customer this one was merged into, or None (also for an unknown id)."""
        with self._reader.connect() as conn:
            return conn.execute(select(customers.c.merged_into_id).where(
                customers.c.id == customer_id)).scalar_one_or_none()

    def merges_of(self, customer_id: int) -> list[MergeRecord]:
        """The merges into this customer, newest first."""
        with self._reader.connect() as conn:
            rows = conn.execute(select(audit_log).where(
                audit_log.c.customer_id == customer_id, audit_log.c.action == MERGE)
                .order_by(audit_log.c.id.desc())).all()
        out = []
        for r in rows:
            detail = json.loads(r.detail) if r.detail else {}
            out.append(MergeRecord(r.id, r.at, r.actor, int(detail.get("other_id") or 0),
                                   "undone_by" in detail or "other_before" not in detail))
        return out

    def customer_row(self, customer_id: int) -> dict[str, Any]:
        """Every column of a live customer, with the group's name as ``group``; NotFound."""
        with self._reader.connect() as conn:
            row = _row(conn, customer_id)
            if row["erased_at"] is not None or row["merged_into_id"] is not None:
                raise NotFound(f"there is no customer with id {customer_id}")
            row["group"] = DEFAULT_GROUP
            if row["group_id"] is not None:
                row["group"] = conn.execute(select(customer_groups.c.name).where(
                    customer_groups.c.id == row["group_id"])).scalar_one()
            return row

    def consent_texts(self, versions: Iterable[str | None]) -> dict[str, dict[str, Any]]:
        """The consent texts shown to shoppers, by version (those the registry kept)."""
        wanted = sorted({v for v in versions if v})
        if not wanted:
            return {}
        with self._reader.connect() as conn:
            rows = conn.execute(select(consent_texts).where(consent_texts.c.version.in_(wanted)))
            return {r.version: dict(r._mapping) for r in rows}

    def latest_consent_texts(self) -> dict[str, dict[str, Any]]:
        """By version: every text ever shown (for the settings page's history)."""
        with self._reader.connect() as conn:
            rows = conn.execute(select(consent_texts).order_by(consent_texts.c.first_shown_at))
            return {r.version: dict(r._mapping) for r in rows}


# --- rows ---------------------------------------------------------------------------------------


def _row(conn: Connection, customer_id: int, *, lock: bool = False) -> dict[str, Any]:
    query = select(customers).where(customers.c.id == customer_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"there is no customer with id {customer_id}")
    return dict(row._mapping)


def _locked(conn: Connection, *ids: int) -> tuple[dict[str, Any], ...]:
    # In id order, so two merges of the same pair the other way round cannot deadlock.
    rows = {i: _row(conn, i, lock=True) for i in sorted(set(ids))}
    return tuple(rows[i] for i in ids)


def _who(row: Mapping[str, Any]) -> str:
    return f"customer {row['customer_code']} (id {row['id']})"


def _refusal(kept: Mapping[str, Any], other: Mapping[str, Any]) -> str | None:
    if kept["id"] == other["id"]:
        return "A customer cannot be merged with themselves; choose two different customers."
    for row in (kept, other):
        if row["erased_at"] is not None:
            return (f"Customer {row['id']} was deleted (erased) on "
                    f"{row['erased_at']:%Y-%m-%d}; there is nothing left to merge.")
        if row["merged_into_id"] is not None:
            return (f"Customer {row['id']} was already merged into customer "
                    f"{row['merged_into_id']}; open that one instead.")
    if kept["personal_id_fingerprint"] and other["personal_id_fingerprint"]:
        return (f"They have different personnummer on file ({kept['personal_id_masked']} and "
                f"{other['personal_id_masked']}): they are two people, and two people must not "
                "be merged.")
    return None


def _merged(kept: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    """The kept row's column values after the merge."""
    out = {k: v for k, v in kept.items() if k != "id"}
    for name in GAP_FILLED:
        if out[name] is None and other[name] is not None:
            out[name] = other[name]
    if out["email"] != kept["email"]:
        out["email_key"] = other["email_key"]
    if kept["personal_id_fingerprint"] is None and other["personal_id_fingerprint"]:
        out["personal_id_fingerprint"] = other["personal_id_fingerprint"]
        out["personal_id_masked"] = other["personal_id_masked"]
    elif out["personal_id_masked"] is None:
        out["personal_id_masked"] = other["personal_id_masked"]
    for block in (ADDRESS, DELIVERY):
        if all(kept[k] is None for k in block):
            out.update({k: other[k] for k in block})
    notes = [n.strip() for n in (kept["note"], other["note"]) if n and n.strip()]
    out["note"] = "\n\n".join(dict.fromkeys(notes)) or None
    for name in BALANCES:
        out[name] = kept[name] + other[name]
    return out


def _fields(kept: Mapping[str, Any], other: Mapping[str, Any], result: Mapping[str, Any],
            groups: Mapping[int, str]) -> list[MergeField]:
    def value(row: Mapping[str, Any], key: str) -> Any:
        if key == "personal_id":
            return row["personal_id_masked"]
        if key in ("address", "delivery"):
            parts = [row[k] for k in (ADDRESS if key == "address" else DELIVERY)]
            return ", ".join(p for p in parts if p) or None
        if key == "group":
            return groups.get(row["group_id"], DEFAULT_GROUP)
        return row[key]

    shown = []
    for key, label in SHOWN:
        k, o = value(kept, key), value(other, key)
        r = k if key == "customer_code" else value(result, key)
        if key in BALANCES:
            source = "added" if o else "kept"
        elif key == "note" and k and o and r != k:
            source = "joined"
        elif r is None or (key == "group" and r == DEFAULT_GROUP and k == o):
            source = "kept" if r is not None else ""
        else:
            source = "kept" if r == k else "other"
        dropped = (o is not None and o != r and key not in BALANCES and key != "note"
                   and not (key == "group" and o == DEFAULT_GROUP))
        shown.append(MergeField(key, label, k, o, r, source, dropped))
    return shown


# --- undo ---------------------------------------------------------------------------------------


def _detail_text(conn: Connection, entry_id: int) -> str:
    return conn.execute(select(audit_log.c.detail).where(audit_log.c.id == entry_id)
                        ).scalar_one()


def _undo_plan(conn: Connection, entry_id: int, *, lock: bool = False) -> UndoPlan:
    entry = conn.execute(select(audit_log).where(audit_log.c.id == entry_id)).first()
    if entry is None or entry.action != MERGE:
        raise NotFound(f"audit entry {entry_id} is not a merge")
    detail = json.loads(entry.detail) if entry.detail else {}
    kept_id = int(detail.get("kept_id") or entry.customer_id)
    other_id = int(detail.get("other_id") or 0)
    kept = _row(conn, kept_id, lock=lock)
    other_before = _decode(detail["other_before"]) if "other_before" in detail else {}
    # As staff knew the kept customer when they merged (a later merge renames the row).
    named = {**kept, **_decode(detail.get("kept_before") or {})}
    moved = detail.get("moved") or {}

    def plan(refusal: str | None) -> UndoPlan:
        return UndoPlan(entry_id=entry_id, at=entry.at, actor=entry.actor, kept_id=kept_id,
                        other_id=other_id, kept_code=kept["customer_code"],
                        other_before=other_before, fields=list(detail.get("fields", [])),
                        sales=len(moved.get("sales", [])),
                        consents=len(moved.get("consents", [])), refusal=refusal)

    if "undone_by" in detail:
        undone = conn.execute(select(audit_log.c.at).where(
            audit_log.c.id == detail["undone_by"])).scalar_one_or_none()
        when = f" on {undone:%Y-%m-%d %H:%M} UTC" if undone else ""
        return plan(f"This merge was already undone{when}.")
    if kept["erased_at"] is not None or not other_before:
        return plan(f"Customer {kept_id} was deleted (erased) after the merge; the merged "
                    "customer's details went with them, so the merge cannot be undone.")
    if kept["merged_into_id"] is not None:
        return plan(f"{_who(named)} was merged into customer {kept['merged_into_id']} after "
                    "this merge; undo that merge first.")
    other = _row(conn, other_id, lock=lock)
    if other["merged_into_id"] != kept_id or other["erased_at"] is not None:
        return plan(f"Customer {other_id} is no longer the hidden half of this merge (it was "
                    "changed or erased since), so the merge cannot be undone.")
    expected = {**_decode(detail["kept_before"]), **_decode(detail["kept_after"])}
    edited = sorted(k for k, v in expected.items() if k not in BALANCES and k != "updated_at"
                    and not k.endswith("_key") and kept[k] != v)
    if edited:
        return plan(f"{_who(kept)} was changed after the merge ({', '.join(edited)}); undoing "
                    "would overwrite those changes. Change them back first, or split the "
                    "customers by hand.")
    for name in UNIQUE:
        value = other_before.get(name)
        if value is None:
            continue
        holder = conn.execute(select(customers.c.id, customers.c.customer_code).where(
            customers.c[name] == value, customers.c.id.not_in((kept_id, other_id)))).first()
        if holder is not None:
            return plan(f"The merged customer's {_UNIQUE_NAMES[name]} now belongs to customer "
                        f"{holder.customer_code} (id {holder.id}); undoing would give it to two "
                        "customers.")
    return plan(None)


# --- encoding rows for the audit log ------------------------------------------------------------


def _encode(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()
            if k in customers.c}


def _decode(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        column_type = customers.c[key].type
        if value is not None and isinstance(column_type, UtcDateTime):
            value = dt.datetime.fromisoformat(value)
        elif value is not None and isinstance(column_type, Date):
            value = dt.date.fromisoformat(value)
        out[key] = value
    return out


def _columns(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "id"}


def _audit(conn: Connection, actor: str, action: AuditAction, customer_id: int,
           detail: dict[str, Any], at: dt.datetime) -> int:
    return int(conn.execute(insert(audit_log).values(
        at=at, actor=actor[:64], action=action, customer_id=customer_id,
        detail=json.dumps(detail, ensure_ascii=False)).returning(audit_log.c.id)).scalar_one())


__all__ = ["MergeField", "MergePlan", "MergeRecord", "MergeRefused",
           "MergeStore", "UndoPlan"]
