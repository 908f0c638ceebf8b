"""Back office: credit terms and account status, delivery address, merges, CSV import batches
(so an import can be reported, skipped when run again, and undone as one batch).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_CUSTOMER_COLUMNS = (
    ("account_limit_minor", sa.BigInteger(), {}),
    ("account_status", sa.String(16), {"nullable": False, "server_default": "active"}),
    ("loyalty_rate_bp", sa.Integer(), {}),
    ("company_name", sa.String(100), {}),
    ("delivery_street", sa.String(200), {}),
    ("delivery_postal_code", sa.String(16), {}),
    ("delivery_city", sa.String(100), {}),
    ("delivery_country", sa.String(56), {}),
    ("merged_into_id", Id, {}),
    ("import_batch_id", Id, {}),
)


def upgrade() -> None:
    op.create_table(
        "import_batches",
        sa.Column("id", Id, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255)),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("finished_at", Timestamp),
        sa.Column("rows_total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("report_json", sa.Text()),
        sa.Column("undone_at", Timestamp),
        sa.Column("undone_by", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_import_batches"),
    )
    # What each import did to each customer, with the values before, so the batch can be undone.
    op.create_table(
        "import_changes",
        sa.Column("id", Id, nullable=False),
        sa.Column("batch_id", Id, nullable=False),
        sa.Column("customer_id", Id, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("before_json", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_import_changes"),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batches.id"],
                                name="fk_import_changes_batch_id_import_batches"),
    )
    op.create_index("ix_import_changes_batch_id", "import_changes", ["batch_id"])
    # Plain ADD COLUMN (no batch copy): the foreign keys pointing at customers would trip it.
    for name, type_, options in _CUSTOMER_COLUMNS:
        op.add_column("customers", sa.Column(name, type_, **options))
    op.create_index("ix_customers_merged_into_id", "customers", ["merged_into_id"])
    op.create_index("ix_customers_import_batch_id", "customers", ["import_batch_id"])


def downgrade() -> None:
    op.drop_index("ix_customers_import_batch_id", table_name="customers")
    op.drop_index("ix_customers_merged_into_id", table_name="customers")
    for name, _type, _options in reversed(_CUSTOMER_COLUMNS):
        op.execute(f"ALTER TABLE customers DROP COLUMN {name}")
    op.drop_index("ix_import_changes_batch_id", table_name="import_changes")
    op.drop_table("import_changes")
    op.drop_table("import_batches")
