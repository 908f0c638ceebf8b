"""`selfreg-bridge token …` as an operator runs it."""

from __future__ import annotations

from pathlib import Path

from cashier_bridge.registry import Registry
from tests.bridge.test_cli import bridge


def test_token_create_list_revoke(tmp_path: Path) -> None:
    created = bridge("token", "create", "--name", "POS sync", "--scope", "write", tmp=tmp_path)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("sra_") and "\n" not in token
    assert "shown once" in created.stderr and token not in created.stderr

    listed = bridge("token", "list", tmp=tmp_path)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.strip().splitlines()
    assert header.split("\t") == ["id", "name", "scope", "created", "last used", "revoked"]
    token_id, name, scope, _created, last_used, revoked = row.split("\t")
    assert (name, scope, last_used, revoked) == ("POS sync", "write", "-", "-")
    assert token not in listed.stdout

    registry = Registry.open(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        assert registry.api_tokens.check(token) is not None
        revoked_run = bridge("token", "revoke", token_id, tmp=tmp_path)
        assert revoked_run.returncode == 0, revoked_run.stderr
        assert f"revoked API token #{token_id}" in revoked_run.stdout
        assert registry.api_tokens.check(token) is None
    finally:
        registry.close()
    row = bridge("token", "list", tmp=tmp_path).stdout.strip().splitlines()[1]
    assert row.split("\t")[5] != "-"


def test_token_create_refuses_an_unknown_scope_and_revoke_an_unknown_id(tmp_path: Path) -> None:
    wrong = bridge("token", "create", "--name", "x", "--scope", "root", tmp=tmp_path)
    assert wrong.returncode == 2 and "invalid choice: 'root'" in wrong.stderr
    missing = bridge("token", "revoke", "42", tmp=tmp_path)
    assert missing.returncode == 1 and "no API token with id 42" in missing.stderr
