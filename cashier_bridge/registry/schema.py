"""The registry's tables (SQLAlchemy Core).  Alembic migrations create them; this module is
what the code queries against, so the two must agree (a test compares them).

Names are searched case-insensitively by prefix through ``*_name_key`` columns holding the
casefolded name: SQLite's ``lower()`` only folds ASCII, so "Åsa" would not find "åsa".  On
PostgreSQL those columns use the "C" collation so that a plain b-tree index serves prefix ranges.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.types import TypeEngine

from cashier_bridge.customers.fields import FIELDS, Field
from cashier_bridge.registry.timestamps import UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# SQLite only auto-assigns ids to a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")
SearchKey = String(100).with_variant(String(100, collation="C"), "postgresql")

customer_groups = Table(
    "customer_groups",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    # "All customers": the group of everyone not in another (stored as group_id NULL on the
    # customer, so that moving people in and out of it touches no other table).
    Column("is_default", Boolean(), nullable=False, server_default=false()),
)

# The customers table: a column per field of the field table (cashier_bridge.customers.fields),
# its type from the field's; written out below only where it says more (a key, a constraint,
# another width), then the registry's own bookkeeping.
_SAID: dict[str, Column[Any]] = {c.name: c for c in (
    Column("customer_code", String(64), nullable=False, unique=True),
    Column("first_name_key", SearchKey, nullable=False),
    Column("last_name_key", SearchKey, nullable=False),
    Column("email", String(254), unique=True),
    # The mailbox the e-mail reaches (case, gmail dots and +tags folded): the duplicate guard's.
    Column("email_key", String(254)),
    Column("phone", String(20), unique=True),
    Column("personal_id_fingerprint", String(64), unique=True),
    Column("personal_id_masked", String(16)),
    Column("group_id", Id, ForeignKey("customer_groups.id", ondelete="SET NULL")),
    # Credit terms the back office sets (managers only): an account's limit and status, and the
    # loyalty rate in basis points (500 = 5 % of a sale back as loyalty balance).
    Column("account_status", String(16), nullable=False, server_default="active"),
    Column("loyalty_rate_bp", Integer()),
)}


def _sql_type(field: Field) -> TypeEngine[Any]:
    if field.type is dt.datetime:
        return UtcDateTime()
    if field.type is dt.date:
        return Date()
    if field.type is int:
        return BigInteger()  # money in minor units (öre, cents): integers add up exactly
    if field.max_length is not None and field.max_length <= 255:
        return String(field.max_length)
    return Text()


def _column(field: Field, name: str) -> Column[Any]:
    said = _SAID.get(name)
    if said is not None:
        return said
    default = None if field.default is None else str(field.default)
    return Column(name, _sql_type(field), nullable=not field.always, server_default=default)


customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True),
    *(_column(f, name) for f in FIELDS for name in f.columns),
    Column("request_key", String(128), unique=True),
    Column("erased_at", UtcDateTime()),
    # A customer merged into another stays (hidden, like an erased one) so the merge can be
    # undone; the import that created a customer, so that import can be undone.
    Column("merged_into_id", Id),
    Column("import_batch_id", Id),
    # Both orders, so that a search is read in index order and stops at its LIMIT.
    Index(None, "first_name_key", "last_name_key"),
    Index(None, "last_name_key", "first_name_key"),
    Index(None, "email_key"),
    Index(None, "birth_date"),
    # Partial: only rows where they are set.  A plain index on merged_into_id was picked by
    # SQLite for "merged_into_id IS NULL" (true of nearly every row), sorting the whole table
    # on every search (migration 0010).
    Index("ix_customers_merged_into_id", "merged_into_id",
          sqlite_where=text("merged_into_id IS NOT NULL"),
          postgresql_where=text("merged_into_id IS NOT NULL")),
    Index("ix_customers_import_batch_id", "import_batch_id",
          sqlite_where=text("import_batch_id IS NOT NULL"),
          postgresql_where=text("import_batch_id IS NOT NULL")),
)

consents = Table(
    "consents",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("granted", Boolean(), nullable=False),
    Column("source", String(32), nullable=False),
    Column("text_version", String(32)),
    Column("recorded_at", UtcDateTime(), nullable=False),
    # The request that recorded it (Via mobil: the phone code's hash), so a retry records
    # nothing twice.
    Column("request_key", String(128)),
    Index(None, "customer_id", "purpose", "id"),
    UniqueConstraint("request_key", "purpose"),
)

# Every consent text a shopper was shown, by version (a hash of the text): the consent log's
# text_version says exactly what someone agreed to, even after the configuration changed.
consent_texts = Table(
    "consent_texts",
    metadata,
    Column("version", String(32), primary_key=True),
    Column("purpose", String(32), nullable=False),
    Column("language", String(8), nullable=False),
    Column("text", Text(), nullable=False),
    Column("first_shown_at", UtcDateTime(), nullable=False),
)

# Which lane issued a phone code, by the code's SHA-256 (never the code): the phone page finds
# the lane from it; the lane's own state says whether the code is still good.
mobile_tokens = Table(
    "mobile_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("lane", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False, index=True),
)

sales = Table(
    "sales",
    metadata,
    Column("id", Id, primary_key=True),
    Column("lane", String(64), nullable=False),
    Column("sale_id", String(64), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False, index=True),
    Column("connected_at", UtcDateTime(), nullable=False),
    # Filled when the sale ends (end_sale from the register, or recorded through the API).
    Column("total_minor", BigInteger()),
    Column("currency", String(3)),
    Column("ended_at", UtcDateTime()),
    Column("recorded_by", String(64)),
    UniqueConstraint("lane", "sale_id"),
)

lanes = Table(
    "lanes",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("state_json", Text(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("seq", Integer(), nullable=False, server_default="0"),
    # A lookup or creation is in flight; ``driver`` is the bridge process carrying it out, and
    # another process takes the lane over when that one is gone.
    Column("pending", Boolean(), nullable=False, server_default=false()),
    Column("driver", Integer()),
    Index("ix_lanes_pending", "pending"),
)

# What every device of a lane must be told after each transition, for bridge processes other
# than the one that made it (PostgreSQL NOTIFY carries only the lane and seq).  Short-lived.
lane_outbox = Table(
    "lane_outbox",
    metadata,
    Column("lane", String(64), primary_key=True),
    Column("seq", Integer(), primary_key=True),
    Column("body", Text(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False, index=True),
)

# Staff accounts of the back office (/admin).  ``username_key`` is the casefolded username, so
# "Anna" and "anna" are one account; only an argon2 hash of the password is kept.
staff = Table(
    "staff",
    metadata,
    Column("id", Id, primary_key=True),
    Column("username", String(48), nullable=False),
    Column("username_key", String(48), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("disabled_at", UtcDateTime()),
)

# Failed sign-ins, counted per client address, per username (known or not: an unknown name is
# counted and locked like a known one) and per address at the console's sign-in, in the database
# so that every bridge process of a chain sees the same count.  Kept by the SHA-256 of what is
# counted ("address:…", "username:…", "console:…"): a typed username may be a password typed in
# the wrong box.  ``staff_id`` names the account a username row is about, for the staff pages.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("scope", String(16), nullable=False),
    Column("staff_id", Id, ForeignKey("staff.id", ondelete="CASCADE"), unique=True),
    Column("failures", Integer(), nullable=False, server_default="0"),
    Column("since", UtcDateTime()),  # the first failure of the current window
    Column("locked_until", UtcDateTime()),
)

# Browsers a staff member has signed in with (by the SHA-256 of the token in their long-lived
# cookie): the right password from one of them gets in even while the account is locked.
staff_devices = Table(
    "staff_devices",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("staff_id", Id, ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True,
           index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime(), nullable=False),
)

# Signed-in back-office browsers, by the SHA-256 of the cookie's token (never the token).
staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("staff_id", Id, ForeignKey("staff.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("csrf_secret", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id"), index=True),
    Column("detail", Text()),
    # The staff account an entry is about (a role changed, a password reset), for its page.
    Column("staff_id", Id, ForeignKey("staff.id"), index=True),
    # An actor's recent personnummer look-ups (registry/lookups.py counts them on every
    # create, check and change), and the refusals managers are warned of (migration 0012).
    Index(None, "actor", "action", "at"),
    Index(None, "action", "at"),
)

installation = Table(
    "installation",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text(), nullable=False),
)

# The shop's settings saved in the back office (cashier_bridge/shop/settings.py says which and
# how each is checked): a JSON value per key, with who saved it when (migration 0016).
shop_settings = Table(
    "shop_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("updated_by", String(64), nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Id, primary_key=True),
    Column("lane", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the token
    Column("label", String(100)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
    Index(None, "lane", "role"),
)

# API tokens by SHA-256 (the token itself is printed once and never stored).
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
)

# One-time codes that sign a browser in as a lane's register (the cashier console), by SHA-256.
sign_in_codes = Table(
    "sign_in_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("lane", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime()),
)

# Search as you type reads codes, phones and e-mail addresses by prefix in byte order; on
# PostgreSQL that needs an index in the "C" collation (SQLite's indexes already are).
for _column in ("customer_code", "phone", "email"):
    Index(f"ix_customers_{_column}_prefix", customers.c[_column].collate("C")).ddl_if(
        dialect="postgresql")

# Retention (cashier_bridge/registry/retention.py): members created before the cut-off are
# found by a range of this index, then checked for a sale since.
Index("ix_customers_created_at", customers.c.created_at)

import_batches = Table(
    "import_batches",
    metadata,
    Column("id", Id, primary_key=True),
    Column("actor", String(64), nullable=False),
    Column("filename", String(255)),
    Column("file_sha256", String(64), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Column("rows_total", Integer(), nullable=False, server_default="0"),
    Column("created", Integer(), nullable=False, server_default="0"),
    Column("updated", Integer(), nullable=False, server_default="0"),
    Column("skipped", Integer(), nullable=False, server_default="0"),
    Column("failed", Integer(), nullable=False, server_default="0"),
    Column("report_json", Text()),
    Column("undone_at", UtcDateTime()),
    Column("undone_by", String(64)),
)

# What each import did to each customer, with the values before, so a batch can be undone.
import_changes = Table(
    "import_changes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("batch_id", Id, ForeignKey("import_batches.id"), nullable=False, index=True),
    Column("customer_id", Id, nullable=False),
    Column("action", String(16), nullable=False),
    Column("before_json", Text()),
)

# An API request's Idempotency-Key, claimed (with its body's digest) before the customer is
# created, so that two requests with one key and different bodies cannot both create.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("body_sha256", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# An uploaded CSV file as read and checked (the preview), kept until it is imported, replaced,
# or expires, so that the import reads its rows from here on any bridge process and after a
# restart.  ``state`` says where it is (imports.PreviewState); ``phase``/``done``/``total`` are
# the progress of the reading or importing under way, ``updated_at`` when it last moved.
import_previews = Table(
    "import_previews",
    metadata,
    Column("id", Id, primary_key=True),
    Column("token", String(32), nullable=False, unique=True),
    Column("staff_id", Id, ForeignKey("staff.id", ondelete="CASCADE")),
    Column("actor", String(64), nullable=False),
    Column("filename", String(255)),
    Column("file_sha256", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("phase", String(16)),
    Column("done", Integer(), nullable=False, server_default="0"),
    Column("total", Integer(), nullable=False, server_default="0"),
    Column("summary_json", Text()),
    Column("error", Text()),
    Column("error_line", Integer()),
    Column("batch_id", Id),
    Column("stored_bytes", BigInteger(), nullable=False, server_default="0"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
    Index(None, "staff_id", "id"),
)

# A preview's rows as read, CHUNK at a time: compressed JSON of the parsed rows and of the rows
# that could not be read, so that neither writing nor reading them holds a whole file.
import_preview_chunks = Table(
    "import_preview_chunks",
    metadata,
    Column("preview_id", Id, ForeignKey("import_previews.id", ondelete="CASCADE"),
           primary_key=True),
    Column("seq", Integer(), primary_key=True),
    Column("body", LargeBinary(), nullable=False),
)
