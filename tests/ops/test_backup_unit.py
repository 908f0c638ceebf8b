"""The nightly backup's units as a till runs them: they pass ``systemd-analyze verify``, the
timer is nightly and catches up after a night switched off, and the service's own ExecStart,
with its own environment, backs the registry up into /var/lib/selfreg/backups (mapped below a
throwaway root)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
VENV_BIN = Path(sys.executable).parent


def settings(unit: str) -> list[tuple[str, str]]:
    """Key=value lines in order (systemd keys repeat: Environment=, SystemCallFilter=)."""
    lines = (UNITS / unit).read_text().splitlines()
    return [(k, v) for k, _, v in (line.partition("=") for line in lines
                                   if "=" in line and not line.startswith("#"))]


def mapped(unit: str, root: Path) -> str:
    """The unit with the till's paths moved below ``root`` and the installed program being
    this checkout's."""
    text = (UNITS / unit).read_text()
    text = text.replace("/opt/selfreg/current/venv/bin/", f"{VENV_BIN}/")
    return re.sub(r"(?<![\w/])/(var/lib|etc)/selfreg", lambda m: f"{root}/{m.group(1)}/selfreg",
                  text)


def test_backup_units_verify_cleanly(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (Debian package systemd)")
    for unit in ("selfreg-backup.service", "selfreg-backup.timer"):
        (tmp_path / unit).write_text(mapped(unit, tmp_path))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no",
                             str(tmp_path / "selfreg-backup.service"),
                             str(tmp_path / "selfreg-backup.timer")],
                            capture_output=True, text=True, timeout=120, check=False)
    assert (result.returncode, result.stderr.strip()) == (0, ""), result.stderr


def test_the_timer_is_nightly_and_catches_up() -> None:
    timer = dict(settings("selfreg-backup.timer"))
    assert timer["Persistent"] == "true" and timer["WantedBy"] == "timers.target"
    assert re.fullmatch(r"\*-\*-\* 0[0-5]:\d\d:00", timer["OnCalendar"])  # every night


def test_the_service_backs_up_with_its_own_command_and_environment(tmp_path: Path) -> None:
    service = settings("selfreg-backup.service")
    assert ("User", "selfreg") in service and ("Type", "oneshot") in service
    root = tmp_path / "till"
    state = root / "var" / "lib" / "selfreg"
    state.mkdir(parents=True)
    env = {"PATH": "/usr/bin:/bin"}
    for key, value in service:
        if key == "Environment":
            name, _, val = value.partition("=")
            env[name] = re.sub(r"^/(var/lib|etc)/selfreg", lambda m: f"{root}/{m.group(1)}/selfreg",
                               val)
    assert env["SELFREG_DATA_DIR"] == str(state)
    # The registry the bridge made there.
    loaded = subprocess.run([str(VENV_BIN / "selfreg-bridge"), "import-csv", "demo"],
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    assert loaded.returncode == 0, loaded.stderr
    command = shlex.split(mapped("selfreg-backup.service", root).split("ExecStart=", 1)[1]
                          .splitlines()[0])
    for _ in range(2):
        ran = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                             check=False)
        assert ran.returncode == 0, ran.stderr
        assert "backed up 300 customers" in ran.stdout
    backups = sorted((state / "backups").iterdir())
    assert len(backups) == 2 and all(p.name.startswith("selfreg-") for p in backups)
