"""Initial registry schema.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written out in full rather than derived from ``schema.metadata``: a migration must keep creating
the same tables after the code's idea of the schema has moved on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SearchKey = sa.String(100).with_variant(sa.String(100, collation="C"), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "installation",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_installation"),
    )
    op.create_table(
        "customer_groups",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customer_groups"),
        sa.UniqueConstraint("name", name="uq_customer_groups_name"),
    )
    op.create_table(
        "customers",
        sa.Column("id", Id, nullable=False),
        sa.Column("customer_code", sa.String(64), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("first_name_key", SearchKey, nullable=False),
        sa.Column("last_name_key", SearchKey, nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("phone", sa.String(20)),
        sa.Column("personal_id_fingerprint", sa.String(64)),
        sa.Column("personal_id_masked", sa.String(16)),
        sa.Column("birth_date", sa.Date()),
        sa.Column("street", sa.String(200)),
        sa.Column("postal_code", sa.String(16)),
        sa.Column("city", sa.String(100)),
        sa.Column("country", sa.String(56)),
        sa.Column("group_id", Id),
        sa.Column("created_via", sa.String(32), nullable=False),
        sa.Column("request_key", sa.String(128)),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("erased_at", Timestamp),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.ForeignKeyConstraint(["group_id"], ["customer_groups.id"], ondelete="SET NULL",
                                name="fk_customers_group_id_customer_groups"),
        sa.UniqueConstraint("customer_code", name="uq_customers_customer_code"),
        sa.UniqueConstraint("email", name="uq_customers_email"),
        sa.UniqueConstraint("phone", name="uq_customers_phone"),
        sa.UniqueConstraint("personal_id_fingerprint",
                            name="uq_customers_personal_id_fingerprint"),
        sa.UniqueConstraint("request_key", name="uq_customers_request_key"),
    )
    op.create_index("ix_customers_first_name_key", "customers", ["first_name_key"])
    op.create_index("ix_customers_last_name_key", "customers", ["last_name_key"])
    op.create_table(
        "consents",
        sa.Column("id", Id, nullable=False),
        sa.Column("customer_id", Id, nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("text_version", sa.String(32)),
        sa.Column("recorded_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_consents_customer_id_customers"),
    )
    op.create_index("ix_consents_customer_id_purpose_id", "consents",
                    ["customer_id", "purpose", "id"])
    op.create_table(
        "sales",
        sa.Column("id", Id, nullable=False),
        sa.Column("lane", sa.String(64), nullable=False),
        sa.Column("sale_id", sa.String(64), nullable=False),
        sa.Column("customer_id", Id, nullable=False),
        sa.Column("connected_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sales"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_sales_customer_id_customers"),
        sa.UniqueConstraint("lane", "sale_id", name="uq_sales_lane_sale_id"),
    )
    op.create_index("ix_sales_customer_id", "sales", ["customer_id"])
    op.create_table(
        "lanes",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("state_json", sa.Text(), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_lanes"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", Id, nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("customer_id", Id),
        sa.Column("detail", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_audit_log_customer_id_customers"),
    )
    op.create_index("ix_audit_log_customer_id", "audit_log", ["customer_id"])


def downgrade() -> None:
    for index, table in [
        ("ix_audit_log_customer_id", "audit_log"),
        ("ix_sales_customer_id", "sales"),
        ("ix_consents_customer_id_purpose_id", "consents"),
        ("ix_customers_last_name_key", "customers"),
        ("ix_customers_first_name_key", "customers"),
    ]:
        op.drop_index(index, table_name=table)
    for table in ("audit_log", "lanes", "sales", "consents", "customers", "customer_groups",
                  "installation"):
        op.drop_table(table)
