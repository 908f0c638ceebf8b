"""Columns and indexes for the duplicate guard: e-mail mailbox key, birth date.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Before a new member is created the bridge looks for likely duplicates: the same mailbox written
differently (case, gmail dots, +tags) and the same birth date with a similar name.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cashier_bridge.registry.duplicates import email_key

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("email_key", sa.String(254), nullable=True))
    op.create_index("ix_customers_email_key", "customers", ["email_key"])
    op.create_index("ix_customers_birth_date", "customers", ["birth_date"])
    bind = op.get_bind()
    customers = sa.table("customers", sa.column("id"), sa.column("email"),
                         sa.column("email_key"))
    rows = bind.execute(sa.select(customers.c.id, customers.c.email)
                        .where(customers.c.email.is_not(None))).all()
    if rows:
        bind.execute(customers.update().where(customers.c.id == sa.bindparam("cid"))
                     .values(email_key=sa.bindparam("key")),
                     [{"cid": cid, "key": email_key(email)} for cid, email in rows])


def downgrade() -> None:
    op.drop_index("ix_customers_birth_date", table_name="customers")
    op.drop_index("ix_customers_email_key", table_name="customers")
    if op.get_bind().dialect.name == "sqlite":
        # Not batch mode: copying the table would trip the foreign keys pointing at it.
        op.execute("ALTER TABLE customers DROP COLUMN email_key")
    else:
        op.drop_column("customers", "email_key")
