"""Alembic environment: migrations always run on a connection handed in by the registry.

There is no alembic.ini: :mod:`cashier_bridge.registry.migrate` builds the Config in code, so the
bridge upgrades its own database on start without any file beside it.
"""

from __future__ import annotations

from alembic import context

from cashier_bridge.registry.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the registry migrations run on a connection from cashier_bridge.registry.migrate; "
        "offline (SQL script) mode is not supported"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
