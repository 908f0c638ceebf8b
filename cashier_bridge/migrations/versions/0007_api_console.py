"""REST API and cashier console: balances, notes, sale totals, API tokens, console sign-in codes,
the default customer group, and name search keys that ignore accents.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BATCH = 5000
# Frozen copy of fields.search_key as of this revision: a migration must not change meaning when
# the application's function does.
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "ı": "i", "þ": "th",
                       "ð": "d"})


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", " ".join(text.split()).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_FOLD)


def upgrade() -> None:
    # Not batch mode anywhere here: copying a table would trip the foreign keys pointing at it,
    # and SQLite adds (and drops) plain columns in place.
    for column in ("account_balance_minor", "loyalty_balance_minor", "store_credit_minor"):
        op.add_column("customers", sa.Column(column, sa.BigInteger(), nullable=False,
                                             server_default="0"))
    op.add_column("customers", sa.Column("note", sa.Text()))
    # Prefix search over codes, phones and e-mail addresses: plain b-tree ranges in byte order.
    if op.get_bind().dialect.name == "postgresql":
        for column in ("customer_code", "phone", "email"):
            op.execute(f'CREATE INDEX ix_customers_{column}_prefix ON customers '
                       f'({column} COLLATE "C")')
    op.add_column("sales", sa.Column("total_minor", sa.BigInteger()))
    op.add_column("sales", sa.Column("currency", sa.String(3)))
    op.add_column("sales", sa.Column("ended_at", Timestamp))
    op.add_column("sales", sa.Column("recorded_by", sa.String(64)))
    op.add_column("customer_groups", sa.Column("is_default", sa.Boolean(), nullable=False,
                                               server_default=sa.false()))
    op.execute(sa.text(
        "INSERT INTO customer_groups (name, created_at, is_default) "
        "SELECT 'All customers', CURRENT_TIMESTAMP, :yes WHERE NOT EXISTS "
        "(SELECT 1 FROM customer_groups WHERE name = 'All customers')"
    ).bindparams(yes=True))
    op.execute(sa.text("UPDATE customer_groups SET is_default = :yes WHERE name = 'All customers'")
               .bindparams(yes=True))
    op.create_table(
        "api_tokens",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("last_used_at", Timestamp),
        sa.Column("revoked_at", Timestamp),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_table(
        "sign_in_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("lane", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("used_at", Timestamp),
        sa.PrimaryKeyConstraint("code_hash", name="pk_sign_in_codes"),
    )
    _refold_names()


def _refold_names() -> None:
    bind = op.get_bind()
    customers = sa.table("customers", sa.column("id"), sa.column("first_name"),
                         sa.column("last_name"), sa.column("first_name_key"),
                         sa.column("last_name_key"))
    last_id = 0
    while True:
        rows = bind.execute(sa.select(customers.c.id, customers.c.first_name,
                                      customers.c.last_name)
                            .where(customers.c.id > last_id).order_by(customers.c.id)
                            .limit(_BATCH)).all()
        if not rows:
            return
        changed = [{"i": r.id, "f": _key(r.first_name), "l": _key(r.last_name)} for r in rows
                   if _key(r.first_name) != r.first_name.casefold()
                   or _key(r.last_name) != r.last_name.casefold()]
        if changed:
            bind.execute(sa.update(customers).where(customers.c.id == sa.bindparam("i"))
                         .values(first_name_key=sa.bindparam("f"),
                                 last_name_key=sa.bindparam("l")), changed)
        last_id = rows[-1].id


def downgrade() -> None:
    op.drop_table("sign_in_codes")
    op.drop_table("api_tokens")
    op.execute("DELETE FROM customer_groups WHERE name = 'All customers'")
    if op.get_bind().dialect.name == "postgresql":
        for column in ("customer_code", "phone", "email"):
            op.execute(f"DROP INDEX ix_customers_{column}_prefix")
    for table, column in (("customer_groups", "is_default"), ("sales", "recorded_by"),
                          ("sales", "ended_at"), ("sales", "currency"), ("sales", "total_minor"),
                          ("customers", "note"), ("customers", "store_credit_minor"),
                          ("customers", "loyalty_balance_minor"),
                          ("customers", "account_balance_minor")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
