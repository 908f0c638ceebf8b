"""CSV import previews in the database: an uploaded file's rows as read and checked, and the
state of its reading and importing, so that a preview no longer sits in one process's memory,
survives a restart and can be imported from any bridge process of a chain.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "import_previews",
        sa.Column("id", Id, nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("staff_id", Id),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255)),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16)),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("summary_json", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.Column("error_line", sa.Integer()),
        sa.Column("batch_id", Id),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_import_previews"),
        sa.UniqueConstraint("token", name="uq_import_previews_token"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE",
                                name="fk_import_previews_staff_id_staff"),
    )
    op.create_index("ix_import_previews_expires_at", "import_previews", ["expires_at"])
    op.create_index("ix_import_previews_staff_id_id", "import_previews", ["staff_id", "id"])
    op.create_table(
        "import_preview_chunks",
        sa.Column("preview_id", Id, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("preview_id", "seq", name="pk_import_preview_chunks"),
        sa.ForeignKeyConstraint(["preview_id"], ["import_previews.id"], ondelete="CASCADE",
                                name="fk_import_preview_chunks_preview_id_import_previews"),
    )


def downgrade() -> None:
    op.drop_table("import_preview_chunks")
    op.drop_index("ix_import_previews_staff_id_id", table_name="import_previews")
    op.drop_index("ix_import_previews_expires_at", table_name="import_previews")
    op.drop_table("import_previews")
