"""The personnummer key lives outside the database (issue 16, finding 8).

A copied database must hold nothing from which a fingerprint can be made; the bridge with the
key still matches; a bridge with the wrong key or none refuses to start and says what to do;
registries made before the key moved out are moved on first open."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from cashier_bridge.lanes.lane import MatchKey
from cashier_bridge.registry import NewCustomer, Registry, migrate
from cashier_bridge.registry.engine import make_engine, writer
from cashier_bridge.registry.personal_id_key import (
    KEY_FILE,
    KeyPlace,
    PersonalIdKeyError,
    check_value,
    copy_advice,
)
from cashier_bridge.registry.schema import customers, installation, metadata
from cashier_bridge.registry.timestamps import utcnow
from cashier_bridge.registry.writes import customer_values

ANNA = "198503121249"


def fingerprint_key(value: str) -> MatchKey:
    return MatchKey(kind="personal_id_fingerprint", value=value, reading="personnummer")


def add_anna(registry: Registry) -> str:
    fp = registry.fingerprint(ANNA)
    registry.customers.create_new("anna", NewCustomer(
        first_name="Anna", last_name="Andersson", personal_id_fingerprint=fp,
        personal_id_masked="19850312-****", phone="+46701234567"))
    return fp


def every_value(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return [value for table in metadata.sorted_tables
                for row in conn.execute(select(table)) for value in row]


def keys_an_attacker_would_try(value: Any) -> list[bytes]:
    """Every way a value in the copy could be (or hold) an HMAC key."""
    if value is None:
        return []
    if isinstance(value, bytes | bytearray | memoryview):
        return [bytes(value)]
    text = str(value)
    tries = [text.encode("utf-8"), text.strip().encode("utf-8")]
    with contextlib.suppress(ValueError):
        tries.append(bytes.fromhex(text.strip()))
    return tries


def stolen_copy(db_url: str, tmp_path: Path) -> Engine:
    """What a thief has: the database alone (the SQLite file copied elsewhere, or the
    PostgreSQL database itself as pg_dump would give it), without the bridge's key file."""
    if db_url.startswith("sqlite"):
        source = Path(db_url.removeprefix("sqlite:///"))
        loot = tmp_path / "loot"
        loot.mkdir()
        shutil.copy(source, loot / "selfreg.db")
        return make_engine(f"sqlite:///{loot / 'selfreg.db'}")
    return make_engine(db_url)


def test_a_copied_database_holds_nothing_to_make_a_fingerprint_with(
        db_url: str, tmp_path: Path) -> None:
    registry = Registry.open(db_url)
    fp = add_anna(registry)
    registry.close()  # SQLite: the last connection folds the WAL into the file

    copy = stolen_copy(db_url, tmp_path)
    try:
        values = every_value(copy)
    finally:
        copy.dispose()
    assert fp in values  # the fingerprint is in the copy ...
    for value in values:  # ... and nothing that makes it
        for key in keys_an_attacker_would_try(value):
            made = hmac.new(key, ANNA.encode("ascii"), hashlib.sha256).hexdigest()
            assert made != fp, f"the copy's value {str(value)[:12]}… is the key"

    with_key = Registry.open(db_url)
    try:
        found = with_key.customers.find([fingerprint_key(with_key.fingerprint(ANNA))])
        assert found is not None and found[0].first_name == "Anna"
    finally:
        with_key.close()


def test_the_key_file_sits_beside_a_sqlite_registry_readable_by_its_owner_only(
        tmp_path: Path) -> None:
    registry = Registry.open(f"sqlite:///{tmp_path / 'shop' / 'selfreg.db'}")
    registry.close()
    key_file = tmp_path / "shop" / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) == 64


def test_another_key_is_refused_with_what_to_do(db_url: str, tmp_path: Path) -> None:
    first = tmp_path / "first-bridge"
    registry = Registry.open(db_url, key_dir=first)
    fp = add_anna(registry)
    registry.close()

    other = tmp_path / "other-bridge"
    other.mkdir()
    (other / KEY_FILE).write_text("ab" * 32)
    with pytest.raises(PersonalIdKeyError) as refused:
        Registry.open(db_url, key_dir=other)
    message = str(refused.value)
    assert str(other / KEY_FILE) in message and "is not the key" in message
    assert "SELFREG_PERSONAL_ID_KEY" in message

    with pytest.raises(PersonalIdKeyError, match=r"SELFREG_PERSONAL_ID_KEY.*is not the key"):
        Registry.open(db_url, key_dir=first, personal_id_key="cd" * 32)

    # Nothing was changed by the refusals: the right key still finds her.
    again = Registry.open(db_url, key_dir=first)
    try:
        assert again.fingerprint(ANNA) == fp
        assert again.customers.find([fingerprint_key(fp)]) is not None
    finally:
        again.close()


def test_a_second_bridge_without_the_key_is_refused_and_works_once_given_it(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chain: the first bridge made the key; another machine has no key file."""
    first = tmp_path / "malmo"
    registry = Registry.open(db_url, key_dir=first)
    fp = add_anna(registry)
    registry.close()

    umea = tmp_path / "umea"
    with pytest.raises(PersonalIdKeyError) as refused:
        Registry.open(db_url, key_dir=umea)
    message = str(refused.value)
    assert f"Copy the file {KEY_FILE}" in message and str(umea / KEY_FILE) in message
    assert "SELFREG_PERSONAL_ID_KEY" in message
    assert not (umea / KEY_FILE).exists()  # no key of its own was made up

    monkeypatch.setenv("SELFREG_PERSONAL_ID_KEY", (first / KEY_FILE).read_text().strip())
    given = Registry.open(db_url, key_dir=umea)
    try:
        found = given.customers.find([fingerprint_key(given.fingerprint(ANNA))])
        assert found is not None and given.fingerprint(ANNA) == fp
    finally:
        given.close()


def test_a_key_that_is_not_a_key_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(PersonalIdKeyError, match="SELFREG_PERSONAL_ID_KEY holds 6 characters"):
        Registry.open(f"sqlite:///{tmp_path / 'r.db'}", personal_id_key="secret")
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / KEY_FILE).write_text("not hex at all, but sixty-four characters long......."
                                           "...........")
    with pytest.raises(PersonalIdKeyError, match="other than 0-9 and a-f"):
        Registry.open(f"sqlite:///{tmp_path / 'r.db'}", key_dir=tmp_path / "k")


# --- registries made before the key moved out ---------------------------------------------------


def old_registry(db_url: str, secret: bytes) -> str:
    """A registry as the previous version left it: schema 0011, the key in ``installation``,
    and Anna, whose fingerprint was made with it.  Returns her fingerprint."""
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0011")
        fp = hmac.new(secret, ANNA.encode("ascii"), hashlib.sha256).hexdigest()
        now = utcnow()
        with writer(engine).begin() as conn:
            conn.execute(insert(installation), [{"key": "secret", "value": secret.hex()},
                                                {"key": "next_customer_code",
                                                 "value": "500002"}])
            conn.execute(insert(customers).values(
                **customer_values(NewCustomer(
                    first_name="Anna", last_name="Andersson", customer_code="500001",
                    personal_id_fingerprint=fp, personal_id_masked="19850312-****")),
                created_via="numpad", created_at=now, updated_at=now))
    finally:
        engine.dispose()
    return fp


def installation_rows(registry: Registry) -> dict[str, str]:
    with registry.engine.connect() as conn:
        return dict(conn.execute(select(installation.c.key, installation.c.value)).all())


def test_an_old_registry_has_its_key_moved_out_and_still_matches(
        db_url: str, tmp_path: Path) -> None:
    secret = bytes(range(32))
    fp = old_registry(db_url, secret)
    keys = tmp_path / "keys"

    registry = Registry.open(db_url, key_dir=keys)
    try:
        key_file = keys / KEY_FILE
        assert key_file.read_text().strip() == secret.hex()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        rows = installation_rows(registry)
        assert "secret" not in rows
        assert rows["personal_id_key_check"] == check_value(secret)
        assert registry.fingerprint(ANNA) == fp
        found = registry.customers.find([fingerprint_key(fp)])
        assert found is not None and found[0].customer_code == "500001"
    finally:
        registry.close()
    assert migrate.head_revision() is not None

    # The second start reads the file; a bridge elsewhere without it is refused.
    again = Registry.open(db_url, key_dir=keys)
    try:
        assert again.customers.find([fingerprint_key(again.fingerprint(ANNA))]) is not None
    finally:
        again.close()
    with pytest.raises(PersonalIdKeyError, match="this bridge has none"):
        Registry.open(db_url, key_dir=tmp_path / "elsewhere")


def test_an_old_registry_given_its_key_in_the_environment_only_forgets_the_row(
        db_url: str, tmp_path: Path) -> None:
    secret = bytes(range(32, 64))
    fp = old_registry(db_url, secret)
    keys = tmp_path / "keys"
    registry = Registry.open(db_url, key_dir=keys, personal_id_key=secret.hex())
    try:
        assert "secret" not in installation_rows(registry)
        assert not (keys / KEY_FILE).exists()
        assert registry.customers.find([fingerprint_key(fp)]) is not None
    finally:
        registry.close()


def test_an_old_registry_never_overwrites_another_key_file(db_url: str, tmp_path: Path) -> None:
    secret = bytes(range(64, 96))
    old_registry(db_url, secret)
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / KEY_FILE).write_text("ef" * 32)
    with pytest.raises(PersonalIdKeyError, match="another registry's personnummer key"):
        Registry.open(db_url, key_dir=keys)
    assert (keys / KEY_FILE).read_text() == "ef" * 32
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            kept = conn.execute(select(installation.c.value).where(
                installation.c.key == "secret")).scalar_one()
        assert kept == secret.hex()  # the registry's own key is still there
    finally:
        engine.dispose()


def test_downgrading_past_the_move_needs_the_key_put_back(db_url: str, tmp_path: Path) -> None:
    registry = Registry.open(db_url, key_dir=tmp_path / "keys")
    add_anna(registry)
    try:
        with pytest.raises(RuntimeError, match="put it back before downgrading"):
            migrate.downgrade(registry.engine, "0011")
    finally:
        registry.close()


def test_copy_registry_says_where_the_key_must_go(tmp_path: Path, own_data_dir: Path) -> None:
    shop = KeyPlace(None, tmp_path / "shop")
    assert copy_advice(shop, KeyPlace(None, own_data_dir)).startswith(
        f"The personnummer key was not copied: it never leaves its file. Copy {shop.file} "
        "(mode 0600) into the data directory of every bridge that opens the copy "
        f"(here {own_data_dir / KEY_FILE})")
    backup = KeyPlace(None, tmp_path / "backup")
    assert f"Copy {shop.file} to {backup.file} (mode 0600)" in copy_advice(shop, backup)
    assert "uses the same personnummer key" in copy_advice(shop, shop)
    assert "the same SELFREG_PERSONAL_ID_KEY" in copy_advice(
        KeyPlace("ab" * 32, tmp_path), backup)
