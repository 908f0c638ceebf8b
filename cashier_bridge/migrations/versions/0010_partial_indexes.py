"""Partial indexes on customers.merged_into_id and import_batch_id.

Every query that shows customers filters on ``merged_into_id IS NULL`` (see registry/live.py);
with a plain index on that column SQLite's planner picked it for that condition (true of nearly
every row) and sorted the whole table, instead of reading a name or phone index in order: a
search over 1,000,000 customers took seconds instead of milliseconds.  Indexes that hold only
the rows where the column is set serve what they are for (a merge's undo, an import's undo) and
cannot be chosen for IS NULL.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = ("merged_into_id", "import_batch_id")


def upgrade() -> None:
    for column in _COLUMNS:
        op.drop_index(f"ix_customers_{column}", table_name="customers")
        condition = sa.text(f"{column} IS NOT NULL")
        op.create_index(f"ix_customers_{column}", "customers", [column],
                        sqlite_where=condition, postgresql_where=condition)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE customers")  # so the planner knows the new indexes' sizes


def downgrade() -> None:
    for column in _COLUMNS:
        op.drop_index(f"ix_customers_{column}", table_name="customers")
        op.create_index(f"ix_customers_{column}", "customers", [column])
