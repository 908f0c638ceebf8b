"""The install scripts pass shellcheck (a quoting slip in a script run as root on a till is
the kind of bug no other test here would catch before a shop does)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from deploy_harness import REPO

SCRIPTS = ["deploy/install.sh", "deploy/uninstall.sh", "deploy/map-touch.sh"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_passes_shellcheck(script: str) -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing (Debian package shellcheck; scripts/install.sh "
                    "--test installs it)")
    done = subprocess.run(["shellcheck", "--severity=info", script], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout
