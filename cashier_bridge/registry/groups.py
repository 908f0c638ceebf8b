"""Customer groups.  "All customers" (``is_default``) is everyone not in another group: its
members are stored with no group, so it can be neither renamed nor deleted, and deleting a
group moves its members back to it.

A member's change of group is audited on the member (who, when, the group before and after),
also when a deleted group sends its members back to "All customers"."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, func, insert, literal, select, update

from cashier_bridge.audit import AuditAction
from cashier_bridge.registry.fields import InvalidCustomer
from cashier_bridge.registry.fields import name as clean_name
from cashier_bridge.registry.live import live
from cashier_bridge.registry.problems import Conflict, NotFound
from cashier_bridge.registry.schema import audit_log, customer_groups, customers
from cashier_bridge.registry.timestamps import utcnow
from cashier_bridge.registry.writes import audit

MAX_MEMBERS_PER_CALL = 1000


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str
    is_default: bool
    members: int


def default_group_id(conn: Connection) -> int:
    return conn.execute(select(customer_groups.c.id)
                        .where(customer_groups.c.is_default)).scalar_one()


def group_ids(conn: Connection) -> dict[str, int]:
    """Group name → id, for showing a customer's group (records carry the name)."""
    return {r.name: r.id for r in conn.execute(select(customer_groups.c.id,
                                                      customer_groups.c.name))}


def stored_group(conn: Connection, group_id: int) -> tuple[str, int | None]:
    """(name, value for customers.group_id) of a group; NotFound if there is none."""
    row = conn.execute(select(customer_groups.c.name, customer_groups.c.is_default)
                       .where(customer_groups.c.id == group_id)).first()
    if row is None:
        raise NotFound(f"there is no group with id {group_id}")
    return row.name, None if row.is_default else group_id


class GroupStore:
    def __init__(self, reader: Engine, writer: Engine) -> None:
        self._reader = reader
        self._writer = writer

    def list(self) -> list[Group]:
        with self._reader.connect() as conn:
            counts = dict(conn.execute(select(customers.c.group_id, func.count())
                                       .where(live()).group_by(customers.c.group_id)).all())
            rows = conn.execute(select(customer_groups).order_by(
                customer_groups.c.is_default.desc(), customer_groups.c.name)).all()
        return [Group(r.id, r.name, r.is_default,
                      counts.get(None if r.is_default else r.id, 0)) for r in rows]

    def ids(self) -> dict[str, int]:
        with self._reader.connect() as conn:
            return group_ids(conn)

    def get(self, group_id: int) -> Group:
        for group in self.list():
            if group.id == group_id:
                return group
        raise NotFound(f"there is no group with id {group_id}")

    def create(self, name: str, *, actor: str) -> Group:
        name = clean_name(name, "name")
        with self._writer.begin() as conn:
            self._name_free(conn, name)
            group_id = conn.execute(insert(customer_groups).values(
                name=name, created_at=utcnow()).returning(customer_groups.c.id)).scalar_one()
            audit(conn, actor, AuditAction.group_create, None, {"group_id": group_id, "name": name})
        return Group(group_id, name, False, 0)

    def rename(self, group_id: int, name: str, *, actor: str) -> Group:
        name = clean_name(name, "name")
        with self._writer.begin() as conn:
            self._changeable(conn, group_id)
            self._name_free(conn, name, other_than=group_id)
            conn.execute(update(customer_groups).where(customer_groups.c.id == group_id)
                         .values(name=name))
            audit(conn, actor, AuditAction.group_rename, None, {"group_id": group_id, "name": name})
        return self.get(group_id)

    def delete(self, group_id: int, *, actor: str) -> None:
        now = utcnow()
        with self._writer.begin() as conn:
            name = self._changeable(conn, group_id)
            fallback = conn.execute(select(customer_groups.c.id, customer_groups.c.name)
                                    .where(customer_groups.c.is_default)).one()
            # One statement for all members, however many: each gets its own audit entry.
            detail = json.dumps({"group_id": fallback.id, "before": {"group": name},
                                 "after": {"group": fallback.name}}, ensure_ascii=False)
            conn.execute(insert(audit_log).from_select(
                ["at", "actor", "action", "customer_id", "detail"],
                select(literal(now, audit_log.c.at.type), literal(actor),
                       literal(AuditAction.group_assign.value), customers.c.id, literal(detail))
                .where(customers.c.group_id == group_id)))
            conn.execute(update(customers).where(customers.c.group_id == group_id)
                         .values(group_id=None, updated_at=now))
            conn.execute(delete(customer_groups).where(customer_groups.c.id == group_id))
            audit(conn, actor, AuditAction.group_delete, None, {"group_id": group_id, "name": name})

    def assign(self, group_id: int, customer_ids: Sequence[int], *, actor: str) -> int:
        """Put the customers in the group (all or none); how many changed group."""
        wanted = sorted(set(customer_ids))
        if len(wanted) > MAX_MEMBERS_PER_CALL:
            raise InvalidCustomer("customer_ids",
                                  f"at most {MAX_MEMBERS_PER_CALL} customers at a time")
        now = utcnow()
        with self._writer.begin() as conn:
            name, stored = stored_group(conn, group_id)
            rows = conn.execute(select(customers.c.id, customers.c.group_id).where(
                customers.c.id.in_(wanted), live())).all()
            missing = sorted(set(wanted) - {r.id for r in rows})
            if missing:
                raise NotFound("there is no customer with id "
                               + ", ".join(str(i) for i in missing[:10]))
            moving = [r.id for r in rows if r.group_id != stored]
            if moving:
                conn.execute(update(customers).where(customers.c.id.in_(moving))
                             .values(group_id=stored, updated_at=now))
            names = {i: n for n, i in group_ids(conn).items()}
            moving_ids = set(moving)
            default = conn.execute(select(customer_groups.c.name)
                                   .where(customer_groups.c.is_default)).scalar_one()
            for row in rows:
                if row.id in moving_ids:
                    before = names.get(row.group_id, default) if row.group_id else default
                    audit(conn, actor, AuditAction.group_assign, row.id, {
                        "group_id": group_id, "before": {"group": before},
                        "after": {"group": name}})
        return len(moving)

    @staticmethod
    def _changeable(conn: Connection, group_id: int) -> str:
        row = conn.execute(select(customer_groups.c.name, customer_groups.c.is_default)
                           .where(customer_groups.c.id == group_id)).first()
        if row is None:
            raise NotFound(f"there is no group with id {group_id}")
        if row.is_default:
            raise Conflict(f"{row.name!r} is everyone not in another group; it cannot be "
                           "renamed or deleted")
        return row.name

    @staticmethod
    def _name_free(conn: Connection, name: str, other_than: int | None = None) -> None:
        row = conn.execute(select(customer_groups.c.id)
                           .where(customer_groups.c.name == name)).first()
        if row is not None and row.id != other_than:
            raise Conflict(f"a group called {name!r} exists already (id {row.id})")
