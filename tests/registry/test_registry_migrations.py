from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from cashier_bridge.registry import Registry, migrate
from cashier_bridge.registry.engine import make_engine
from cashier_bridge.registry.schema import metadata

TABLES = {"customers", "customer_groups", "consents", "sales", "lanes", "audit_log",
          "installation", "devices", "lane_outbox", "consent_texts", "mobile_tokens",
          "api_tokens", "sign_in_codes", "staff", "staff_sessions", "import_batches",
          "import_changes", "idempotency_keys", "sign_in_failures", "staff_devices",
          "import_previews", "import_preview_chunks", "shop_settings",
          "alembic_version"}


def test_open_migrates_an_empty_database_to_head(db_url: str) -> None:
    engine = make_engine(db_url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()

    reg = Registry.open(db_url)
    try:
        tables = set(inspect(reg.engine).get_table_names())
        assert tables == TABLES
        assert migrate.current_revision(reg.engine) == migrate.head_revision() == "0016"
        assert reg.customers.count() == 0
    finally:
        reg.close()


def _comparable(_obj: object, name: str | None, type_: str, *_: object) -> bool:
    # Alembic reads an index on ``phone COLLATE "C"`` back as a plain index on ``phone`` and
    # cannot compare the two; test_prefix_indexes_sort_bytewise checks those instead.
    return not (type_ == "index" and name is not None and name.endswith("_prefix"))


# The same expression indexes: on SQLite Alembic says it cannot compare them, which is known.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression")
def test_migrated_schema_matches_the_code(registry: Registry) -> None:
    with registry.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _comparable})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_prefix_indexes_sort_bytewise(registry: Registry) -> None:
    """Search as you type reads codes, phones and e-mail addresses as index ranges; on
    PostgreSQL only an index in the "C" collation serves a range by bytes."""
    with registry.engine.connect() as conn:
        if registry.engine.dialect.name == "sqlite":
            # SQLite's unique indexes compare bytes (BINARY): the range reads one of them.
            plan = " ".join(str(r[-1]) for r in conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM customers WHERE phone >= '+4670' "
                "AND phone < '+4670\U0010ffff' ORDER BY phone")))
            assert "(phone>? AND phone<?)" in plan and "TEMP B-TREE" not in plan, plan
            return
        defs = dict(conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'customers' "
            "AND indexname LIKE '%_prefix'")).all())
    assert sorted(defs) == ["ix_customers_customer_code_prefix", "ix_customers_email_prefix",
                            "ix_customers_phone_prefix"]
    assert all('COLLATE "C"' in d for d in defs.values()), defs


def test_name_and_code_columns_are_indexed(registry: Registry) -> None:
    inspector = inspect(registry.engine)
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("customers")}
    unique = {tuple(uc["column_names"]) for uc in inspector.get_unique_constraints("customers")}
    assert {("first_name_key", "last_name_key"), ("last_name_key", "first_name_key")} <= indexed
    assert {("customer_code",), ("email",), ("phone",), ("personal_id_fingerprint",),
            ("request_key",)} <= unique | indexed


def test_reopening_keeps_data_and_does_not_migrate_again(db_url: str) -> None:
    from cashier_bridge.registry import NewCustomer

    reg = Registry.open(db_url)
    reg.customers.create_new("r1", NewCustomer("Åsa", "Öberg"))
    reg.close()
    reg = Registry.open(db_url)
    try:
        assert reg.customers.count() == 1
    finally:
        reg.close()


def test_downgrade_to_empty_and_upgrade_again(registry: Registry) -> None:
    migrate.downgrade(registry.engine, "base")
    assert set(inspect(registry.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(registry.engine)
    assert set(inspect(registry.engine).get_table_names()) == TABLES


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    reg = Registry.open(f"sqlite:///{tmp_path / 'a' / 'b' / 'r.db'}")
    try:
        assert (tmp_path / "a" / "b" / "r.db").exists()
        with reg.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
            with pytest.raises(Exception, match="FOREIGN KEY"):
                conn.execute(text("INSERT INTO sales (lane, sale_id, customer_id, connected_at)"
                                  " VALUES ('l', 's', 999, '2024-01-01 00:00:00')"))
    finally:
        reg.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused_with_a_reason(url: str) -> None:
    with pytest.raises(ValueError, match="in-memory SQLite"):
        Registry.open(url)


def test_unknown_database_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="unsupported registry database 'mysql'"):
        Registry.open("mysql://localhost/x")
