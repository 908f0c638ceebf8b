"""Settings come from one TOML file and SELFREG_* variables, with defaults that work."""

from __future__ import annotations

from pathlib import Path

import pytest

from cashier_bridge.config import load_settings


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("HOST", "PORT", "BRIDGE_URL", "DB_URL", "LANE", "LANGUAGE", "PHONE_REGION"):
        monkeypatch.delenv(f"SELFREG_{name}", raising=False)
    monkeypatch.setenv("SELFREG_DATA_DIR", str(tmp_path / "data"))
    config = tmp_path / "selfreg.toml"
    monkeypatch.setenv("SELFREG_CONFIG", str(config))
    return config


def test_defaults_work_on_a_fresh_machine(isolated: Path) -> None:
    s = load_settings()
    assert (s.host, s.port, s.lane, s.language, s.phone_region) == (
        "127.0.0.1", 8765, "lane-1", "sv", "SE")
    assert s.db_url == f"sqlite:///{isolated.parent / 'data' / 'selfreg.db'}"


def test_file_then_environment_then_flags(isolated: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    isolated.write_text('lane = "kassa-3"\nlanguage = "en"\nport = 9000\n'
                        'db_url = "postgresql+psycopg://shop@db/selfreg"\n', encoding="utf-8")
    s = load_settings()
    assert (s.lane, s.language, s.port) == ("kassa-3", "en", 9000)
    assert s.db_url.startswith("postgresql+psycopg://")
    monkeypatch.setenv("SELFREG_LANE", "kassa-4")
    assert load_settings().lane == "kassa-4"
    assert load_settings(lane="kassa-5", port=None).lane == "kassa-5"
    assert load_settings(port=None).port == 9000  # an absent flag does not erase the file's value


def test_a_bad_value_is_refused_with_its_name(isolated: Path) -> None:
    isolated.write_text('language = "fi"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="language"):
        load_settings()
