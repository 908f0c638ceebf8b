"""Name search reads (first, last) and (last, first) indexes in order.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02

With one index per name, a search for a common prefix ("and") collected every match and sorted
them before applying its LIMIT; with the second name in the index the rows come out sorted.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_customers_first_name_key_last_name_key", "customers",
                    ["first_name_key", "last_name_key"])
    op.create_index("ix_customers_last_name_key_first_name_key", "customers",
                    ["last_name_key", "first_name_key"])
    op.drop_index("ix_customers_first_name_key", table_name="customers")
    op.drop_index("ix_customers_last_name_key", table_name="customers")


def downgrade() -> None:
    op.create_index("ix_customers_first_name_key", "customers", ["first_name_key"])
    op.create_index("ix_customers_last_name_key", "customers", ["last_name_key"])
    op.drop_index("ix_customers_last_name_key_first_name_key", table_name="customers")
    op.drop_index("ix_customers_first_name_key_last_name_key", table_name="customers")
