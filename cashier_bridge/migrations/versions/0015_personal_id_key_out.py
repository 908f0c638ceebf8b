"""The personnummer key leaves the database, only its check value stays; codes are random.

Until now the HMAC key personnummer fingerprints are made with sat in ``installation`` (row
``secret``) beside the fingerprints, so a copied database gave back every personnummer in a
fraction of a second (a birth date has about 1,000 numbers to try).  The key now lives in a
file of its own or in the configuration (cashier_bridge/registry/personal_id_key.py); the
database keeps ``personal_id_key_check`` = HMAC(key, "selfreg personal-id key check").

This migration stores the check value of the key still in the table.  Moving the key itself
needs to know where this bridge keeps its key file, so ``Registry.open`` does that right after
migrating: it writes the file and deletes the row.  A database at this revision also stops a
bridge of an older version, which would have made itself a new key when it found none.

New members' codes are drawn at random with a check digit now (identity/customer_code.py), so
the counter of sequential codes (``next_customer_code``) goes.  A downgrade needs no counter:
the older version starts one itself, past the codes already taken.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
import hmac

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# The same as cashier_bridge.registry.personal_id_key.check_value (a test opens a database
# migrated here with the moved key); kept here so that this migration never changes.
_CHECK_MESSAGE = b"selfreg personal-id key check"

_installation = sa.table("installation", sa.column("key", sa.String), sa.column("value",
                                                                              sa.Text))


def upgrade() -> None:
    conn = op.get_bind()
    rows = dict(conn.execute(sa.select(_installation.c.key, _installation.c.value)).all())
    secret = rows.get("secret")
    if secret is not None and "personal_id_key_check" not in rows:
        check = hmac.new(bytes.fromhex(secret), _CHECK_MESSAGE, hashlib.sha256).hexdigest()
        conn.execute(sa.insert(_installation).values(key="personal_id_key_check", value=check))
    conn.execute(sa.delete(_installation).where(_installation.c.key == "next_customer_code"))


def downgrade() -> None:
    conn = op.get_bind()
    has_secret = conn.execute(sa.select(_installation.c.value).where(
        _installation.c.key == "secret")).first() is not None
    fingerprints = conn.execute(sa.text(
        "SELECT 1 FROM customers WHERE personal_id_fingerprint IS NOT NULL LIMIT 1")).first()
    if not has_secret and fingerprints is not None:
        # An older bridge would make itself a new key and match no personnummer again.
        raise RuntimeError(
            "the personnummer key is outside the database (personal-id.key or "
            "SELFREG_PERSONAL_ID_KEY); put it back before downgrading: INSERT INTO installation "
            "(key, value) VALUES ('secret', '<the 64 characters of the key>')")
    conn.execute(sa.delete(_installation).where(_installation.c.key == "personal_id_key_check"))
