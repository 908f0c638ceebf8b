"""Via mobil: phone codes by hash, consent texts by version, consents idempotent per request.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("request_key", sa.String(128)))
        batch.create_unique_constraint("uq_consents_request_key_purpose",
                                       ["request_key", "purpose"])
    op.create_table(
        "consent_texts",
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("first_shown_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_consent_texts"),
    )
    op.create_table(
        "mobile_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("lane", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_mobile_tokens"),
    )
    op.create_index("ix_mobile_tokens_created_at", "mobile_tokens", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_mobile_tokens_created_at", table_name="mobile_tokens")
    op.drop_table("mobile_tokens")
    op.drop_table("consent_texts")
    with op.batch_alter_table("consents") as batch:
        batch.drop_constraint("uq_consents_request_key_purpose", type_="unique")
        batch.drop_column("request_key")
