"""Indexes for counting personnummer look-ups in the audit log.

Every create, check and change with a personnummer now reads the caller's look-ups of the last
minute (action ``personal_id_lookup``, by actor and time) before it compares the number with
the registry, and the back office reads the recent refusals (``personal_id_lookup_limited``,
by time) for its security warnings: two index ranges instead of scans of the whole log.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_actor_action_at", "audit_log", ["actor", "action", "at"])
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_action_at", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_action_at", table_name="audit_log")
