"""`selfreg-bridge` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

GOOD_AND_BAD = """customer_code;first_name;last_name;email;phone;personal_id
5001;Örjan;Åberg;orjan@example.se;070-111 22 33;19850312-0183
5002;Britt;Lund;britt@example.se;0702223344;19850312-0184
"""


def bridge(*args: str, tmp: Path, timeout: float = 120,
           **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cashier_bridge.cli", *args, "--db", f"sqlite:///{tmp / 'b.db'}"],
        capture_output=True, text=True, timeout=timeout, check=False,
        env={"PATH": "/usr/bin:/bin", "SELFREG_CONFIG": str(tmp / "none.toml"),
             "SELFREG_DATA_DIR": str(tmp), **env})


def test_import_csv_reports_the_bad_line_and_keeps_the_good_one(tmp_path: Path) -> None:
    source = tmp_path / "kunder.csv"
    source.write_text(GOOD_AND_BAD, encoding="utf-8")
    result = bridge("import-csv", str(source), tmp=tmp_path)
    assert result.returncode == 1
    assert "created 1" in result.stdout
    assert "3" in result.stderr and "19850312-0184" in result.stderr
    assert "Luhn" in result.stderr or "check" in result.stderr
    out = bridge("export-csv", "-", tmp=tmp_path)
    assert out.returncode == 0
    assert "Örjan" in out.stdout and "+46701112233" in out.stdout
    assert "19850312-0183" not in out.stdout  # the full personnummer is never stored


def test_import_the_shipped_demo_customers(tmp_path: Path) -> None:
    result = bridge("import-csv", "demo", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    created = int(result.stdout.split("created ")[1].split(",")[0])
    assert created >= 250
    again = bridge("import-csv", "demo", tmp=tmp_path)
    assert "created 0" in again.stdout  # a second import updates, it does not duplicate


def test_parse_tells_support_what_a_code_is(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cashier_bridge.cli", "parse", "-"],
        input="0046 70 123 45 67\n", capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "SELFREG_CONFIG": str(tmp_path / "none.toml")})
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert (line["kind"], line["fields"]["phone"]) == ("phone", "+46701234567")


def test_pair_prints_a_token_once_and_unpair_revokes_it(tmp_path: Path) -> None:
    paired = bridge("pair", "--lane", "kassa-2", "--role", "kiosk", tmp=tmp_path)
    assert paired.returncode == 0, paired.stderr
    token = paired.stdout.strip()
    assert token.startswith("sr_") and len(token) > 40
    assert "shown once" in paired.stderr
    from cashier_bridge.registry import Registry

    registry = Registry.open(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        assert registry.devices.allowed("kassa-2", "kiosk", token)
        revoked = bridge("unpair", "--lane", "kassa-2", tmp=tmp_path)
        assert "revoked 1" in revoked.stdout
        assert not registry.devices.allowed("kassa-2", "kiosk", token)
    finally:
        registry.close()


def test_several_workers_need_postgresql(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cashier_bridge.cli", "serve", "--workers", "2", "--port", "8799",
         "--db", f"sqlite:///{tmp_path / 'x.db'}"], capture_output=True, text=True, timeout=60,
        check=False)
    assert result.returncode == 2
    assert "--workers needs a PostgreSQL registry" in result.stderr


def test_a_bridge_with_another_personnummer_key_refuses_to_start_and_says_what_to_do(
        tmp_path: Path) -> None:
    made = bridge("import-csv", "demo", tmp=tmp_path)
    assert made.returncode == 0, made.stderr
    key_file = tmp_path / "personal-id.key"
    right = key_file.read_text().strip()
    key_file.write_text("0f" * 32)  # say, the key file of another shop's bridge

    served = bridge("serve", "--port", str(free_port()), tmp=tmp_path, timeout=60)
    assert served.returncode == 2
    assert f"{key_file} is not the key this registry's personnummer fingerprints" in \
        served.stderr
    assert "SELFREG_PERSONAL_ID_KEY" in served.stderr and "Traceback" not in served.stderr

    listed = bridge("imports", tmp=tmp_path)  # every command that opens the registry
    assert listed.returncode == 2 and "is not the key" in listed.stderr

    given = bridge("imports", tmp=tmp_path, SELFREG_PERSONAL_ID_KEY=right)
    assert given.returncode == 0, given.stderr


def test_a_lost_personnummer_key_clears_the_fingerprints_only_when_told_so(
        tmp_path: Path) -> None:
    from cashier_bridge.registry import Registry

    assert bridge("import-csv", "demo", tmp=tmp_path).returncode == 0
    where = bridge("personal-id-key", "where", tmp=tmp_path)
    assert where.returncode == 0 and str(tmp_path / "personal-id.key") in where.stdout
    (tmp_path / "personal-id.key").unlink()  # the disk died; there is no backup

    refused = bridge("pair", "--lane", "kassa-1", "--role", "kiosk", tmp=tmp_path)
    assert refused.returncode == 2 and "this bridge has none" in refused.stderr
    asked = bridge("personal-id-key", "lost", tmp=tmp_path)
    assert asked.returncode == 2 and "--yes" in asked.stderr

    done = bridge("personal-id-key", "lost", "--yes", tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cleared" in done.stdout
    registry = Registry.open(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        anna = registry.customers.find_by_code("1001")
        assert anna is not None and anna.personal_id_masked == "19850312-****"
        assert anna.personal_id_fingerprint is None  # made with the lost key: never matches
        assert anna.phone == "+46701234567"  # still found by phone, code and e-mail
    finally:
        registry.close()
    assert bridge("pair", "--lane", "kassa-1", "--role", "kiosk", tmp=tmp_path).returncode == 0
    again = bridge("personal-id-key", "lost", "--yes", tmp=tmp_path)
    assert again.returncode == 2 and "nothing is lost" in again.stderr


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_parse_refuses_a_licence_with_a_field_past_its_standard(tmp_path: Path) -> None:
    licence = tmp_path / "licence.txt"
    licence.write_text("@\n\x1e\rANSI 636000100002DL00410278ZV03190008DLDAQ" + "7" * 500_000 +
                       "\nDCSSAMPLE\nDACMICHAEL\nDBB06061986\n")
    result = subprocess.run(
        [sys.executable, "-m", "cashier_bridge.cli", "parse", str(licence)],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "SELFREG_CONFIG": str(tmp_path / "none.toml")})
    assert result.returncode == 1
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["code"] == "invalid_length"
    assert line["error"] == ("the licence's licence number (DAQ) has 500000 characters; AAMVA "
                             "allows at most 25")
