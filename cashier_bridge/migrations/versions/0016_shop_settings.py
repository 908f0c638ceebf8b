"""The shop's settings, saved from the back office (``shop_settings``), and an index for
retention (members created before a cut-off, ``ix_customers_created_at``).

Until now a shop changed selfreg only by editing the configuration file and restarting the
bridge.  A saved setting is a JSON value per key with who saved it and when; until a setting is
saved the configuration file's value stands, so nothing changes for a shop by this migration.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shop_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_shop_settings"),
    )
    op.create_index("ix_customers_created_at", "customers", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_customers_created_at", table_name="customers")
    op.drop_table("shop_settings")
