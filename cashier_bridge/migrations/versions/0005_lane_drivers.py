"""Lanes shared by several bridge processes: who drives a lane's pending effects, and an outbox
of what each transition tells the devices (for processes other than the one that made it).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("lanes") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("pending", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("driver", sa.Integer()))
    op.create_index("ix_lanes_pending", "lanes", ["pending"])
    op.create_table(
        "lane_outbox",
        sa.Column("lane", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("lane", "seq", name="pk_lane_outbox"),
    )
    op.create_index("ix_lane_outbox_created_at", "lane_outbox", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_lane_outbox_created_at", table_name="lane_outbox")
    op.drop_table("lane_outbox")
    op.drop_index("ix_lanes_pending", table_name="lanes")
    with op.batch_alter_table("lanes") as batch:
        batch.drop_column("driver")
        batch.drop_column("pending")
        batch.drop_column("seq")
