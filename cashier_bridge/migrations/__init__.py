"""Alembic migrations of the registry; run by :func:`cashier_bridge.registry.migrate.upgrade`."""
