"""A till in a directory: ``deploy/install.sh`` run with ``DESTDIR`` (no init, no apt, no real
users), and the installed programs started the way their systemd units say.

Speed: each install builds a real venv and pip-installs the checkout into it (a real wheel
build), but with ``PIP_NO_DEPS=1`` and ``SELFREG_SITE_PACKAGES`` (a ``.pth`` file in the new
venv pointing at this test venv's site-packages) instead of downloading ~60 dependencies: about
ten seconds an install. The release's own code (cashier_bridge, kiosk, migrations) is the copy
in its venv, which comes first on ``sys.path``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS = sorted(p for p in (REPO / "deploy" / "systemd").iterdir()
               if p.suffix in (".service", ".timer"))
# The paths an installed till uses, as the units name them; in a DESTDIR they live below it.
TILL_PATHS = ("/opt/selfreg", "/etc/selfreg", "/var/lib/selfreg")


def copy_checkout(dest: Path) -> Path:
    """The checkout's files (tracked and new, as git sees them) in ``dest``: what a release
    tarball of this commit would hold, so that the install builds in a copy, not in the repo."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    for raw in names:
        if not raw:
            continue
        name = raw.decode()
        source = REPO / name
        if not source.is_file():
            continue  # deleted in the work tree
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return dest


@dataclass
class Till:
    """One DESTDIR root with selfreg installed into it."""

    root: Path

    def path(self, till_path: str) -> Path:
        return self.root / till_path.lstrip("/")

    def install(self, source: Path, *args: str, check: bool = True
                ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DESTDIR": str(self.root), "PIP_NO_DEPS": "1",
               "PIP_DISABLE_PIP_VERSION_CHECK": "1",
               "SELFREG_SITE_PACKAGES": sysconfig.get_paths()["purelib"]}
        python = sys._base_executable  # type: ignore[attr-defined]  # the test venv's own
        done = subprocess.run([str(source / "deploy" / "install.sh"), "--python", python, *args],
                              env=env, capture_output=True, text=True, timeout=600, check=False)
        if check and done.returncode != 0:
            pytest.fail(f"install.sh {' '.join(args)} exited {done.returncode}:\n"
                        f"{done.stdout}\n{done.stderr}")
        return done

    def uninstall(self, *args: str) -> subprocess.CompletedProcess[str]:
        current = self.path("/opt/selfreg/current")
        return subprocess.run([str(current / "deploy" / "uninstall.sh"), *args],
                              env={**os.environ, "DESTDIR": str(self.root)},
                              capture_output=True, text=True, timeout=120, check=True)

    def current(self) -> str:
        return os.readlink(self.path("/opt/selfreg/current"))

    def unit(self, name: str) -> Path:
        return self.path(f"/etc/systemd/system/{name}")

    def map(self, value: str) -> str:
        """A path on the till as it is found below this root."""
        for prefix in TILL_PATHS:
            if value == prefix or value.startswith(prefix + "/") or value.startswith(prefix + "-"):
                return str(self.root) + value
        return value

    def command(self, unit: str, **overrides: str) -> tuple[list[str], dict[str, str]]:
        """The installed unit's ExecStart and Environment=, with the till's paths mapped below
        this root; ``overrides`` replace variables the test machine differs in (DISPLAY)."""
        argv: list[str] = []
        env: dict[str, str] = {"PATH": os.environ["PATH"]}
        for line in self.unit(unit).read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "ExecStart":
                argv = [self.map(arg) for arg in shlex.split(value)]
            elif key == "Environment":
                for assignment in shlex.split(value):
                    name, _, setting = assignment.partition("=")
                    env[name] = self.map(setting)
        assert argv, f"{unit} has no ExecStart"
        env.update(overrides)
        return argv, env

    def run_as_unit(self, unit: str, *args: str) -> subprocess.CompletedProcess[str]:
        """The unit's program with other arguments (``selfreg-bridge export-csv -``), in the
        unit's environment: what a support person runs with the service's settings."""
        argv, env = self.command(unit)
        return subprocess.run([argv[0], *args], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
