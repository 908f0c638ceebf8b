"""Every unit in deploy/systemd, as install.sh installs it, passes `systemd-analyze verify`
with nothing to say, and a broken copy does not: the check can fail."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from deploy_harness import UNITS, Till

# How exposed each service may be (systemd-analyze security: 0 = locked down, 10 = root with
# everything). The kiosk needs /dev (GPU, camera) and the X socket, hence more.
MAX_EXPOSURE = {"selfreg-kiosk.service": 2.5}
DEFAULT_MAX_EXPOSURE = 2.0


def systemd_analyze(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (Debian package systemd; scripts/install.sh "
                    "--test installs it)")
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def mapped_units(till: Till, into: Path) -> dict[str, Path]:
    """The till's installed units with the programs they run mapped below its root (verify
    checks that each Exec*= program exists and is executable: the installed venv's)."""
    units = {}
    for unit in UNITS:
        text = till.unit(unit.name).read_text()
        text = re.sub(r"^(Exec\w*=[-@:+!]*)(/\S+)",
                      lambda m: m.group(1) + till.map(m.group(2)), text, flags=re.MULTILINE)
        units[unit.name] = into / unit.name
        units[unit.name].write_text(text)
    return units


def test_install_puts_every_unit_in_place(installed: Till) -> None:
    assert UNITS, "deploy/systemd holds no units"
    for unit in UNITS:
        assert installed.unit(unit.name).read_text() == unit.read_text(), unit.name


@pytest.mark.parametrize("name", [unit.name for unit in UNITS])
def test_unit_verifies_cleanly(installed: Till, tmp_path: Path, name: str) -> None:
    units = mapped_units(installed, tmp_path)
    result = systemd_analyze("verify", "--man=no", str(units[name]))
    assert (result.returncode, result.stderr.strip()) == (0, ""), result.stderr


@pytest.mark.parametrize("name", [unit.name for unit in UNITS if unit.suffix == ".service"])
def test_service_is_hardened(installed: Till, tmp_path: Path, name: str) -> None:
    units = mapped_units(installed, tmp_path)
    limit = MAX_EXPOSURE.get(name, DEFAULT_MAX_EXPOSURE)
    result = systemd_analyze("security", "--offline=true", "--no-pager",
                             f"--threshold={round(limit * 10)}", str(units[name]))
    exposure = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert exposure is not None, result.stdout + result.stderr
    assert result.returncode == 0 and float(exposure.group(1)) <= limit, result.stdout[-600:]


BREAKAGES = {
    "misspelt key": ("NoNewPrivileges=yes", "NoNewPrivilege=yes", "Unknown key"),
    "bad value": ("WatchdogSec=30", "WatchdogSec=thirty", "Failed to parse"),
    "missing program": ("/venv/bin/selfreg-bridge serve", "/venv/bin/selfreg-brigde serve",
                        "is not executable"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_unit_is_refused(installed: Till, tmp_path: Path, breakage: str) -> None:
    good, bad, complaint = BREAKAGES[breakage]
    unit = mapped_units(installed, tmp_path)["selfreg-bridge.service"]
    text = unit.read_text()
    assert good in text
    broken = tmp_path / "broken" / "selfreg-bridge.service"
    broken.parent.mkdir()
    broken.write_text(text.replace(good, bad))
    result = systemd_analyze("verify", "--man=no", str(broken))
    assert complaint in result.stderr, result.stderr


def test_every_timer_starts_a_unit_that_is_installed(installed: Till) -> None:
    """verify says nothing about a timer whose service is missing, so this looks itself."""
    installed_names = {unit.name for unit in UNITS}
    for timer in (unit for unit in UNITS if unit.suffix == ".timer"):
        named = re.search(r"(?m)^Unit=(\S+)", timer.read_text())
        target = named.group(1) if named else timer.with_suffix(".service").name
        assert target in installed_names, f"{timer.name} starts {target}, which is not shipped"
        assert installed.unit(target).exists()
