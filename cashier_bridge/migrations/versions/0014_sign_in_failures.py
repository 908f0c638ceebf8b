"""Failed sign-ins counted per address and per username (known or not), and known devices.

Until now an account counted its own failed logins (``staff.failed_logins``, ``locked_until``):
an unknown username never locked (so lock-out told names apart), and nothing counted per client
address.  ``sign_in_failures`` counts both kinds (and the console's sign-in codes per address)
in one place that every process of a chain shares; ``staff_devices`` remembers the browsers
each staff member signed in with, whose right password gets in while the account is locked.

Locks in force move over; counts of wrong passwords below the lock-out are forgotten.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_staff = sa.table("staff", sa.column("id"), sa.column("username_key"),
                  sa.column("failed_logins"), sa.column("locked_until"))
_failures = sa.table("sign_in_failures", sa.column("key"), sa.column("scope"),
                     sa.column("staff_id"), sa.column("failures"), sa.column("locked_until"))


def _username_row_key(username_key: str) -> str:
    # As cashier_bridge.registry.staff counts usernames (a migration keeps its own copy).
    return hashlib.sha256(f"username:{username_key}".encode()).hexdigest()


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("staff_id", Id),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("since", Timestamp),
        sa.Column("locked_until", Timestamp),
        sa.PrimaryKeyConstraint("key", name="pk_sign_in_failures"),
        sa.UniqueConstraint("staff_id", name="uq_sign_in_failures_staff_id"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE",
                                name="fk_sign_in_failures_staff_id_staff"),
    )
    op.create_table(
        "staff_devices",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("staff_id", Id, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("last_used_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", "staff_id", name="pk_staff_devices"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE",
                                name="fk_staff_devices_staff_id_staff"),
    )
    op.create_index("ix_staff_devices_staff_id", "staff_devices", ["staff_id"])

    bind = op.get_bind()
    locked = bind.execute(sa.select(_staff.c.id, _staff.c.username_key, _staff.c.locked_until)
                          .where(_staff.c.locked_until.is_not(None))).all()
    for staff_id, username_key, locked_until in locked:
        bind.execute(sa.insert(_failures).values(
            key=_username_row_key(username_key), scope="username", staff_id=staff_id,
            failures=0, locked_until=locked_until))
    # A plain ALTER TABLE … DROP COLUMN (SQLite 3.35+, which RETURNING needs already): batch
    # mode would copy the table, and dropping the old one would cascade into staff_sessions.
    op.drop_column("staff", "failed_logins")
    op.drop_column("staff", "locked_until")


def downgrade() -> None:
    op.add_column("staff", sa.Column("failed_logins", sa.Integer(), nullable=False,
                                     server_default="0"))
    op.add_column("staff", sa.Column("locked_until", Timestamp))
    bind = op.get_bind()
    rows = bind.execute(sa.select(_failures.c.staff_id, _failures.c.failures,
                                  _failures.c.locked_until)
                        .where(_failures.c.staff_id.is_not(None))).all()
    for staff_id, failures, locked_until in rows:
        bind.execute(sa.update(_staff).where(_staff.c.id == staff_id).values(
            failed_logins=failures, locked_until=locked_until))
    op.drop_index("ix_staff_devices_staff_id", "staff_devices")
    op.drop_table("staff_devices")
    op.drop_table("sign_in_failures")
