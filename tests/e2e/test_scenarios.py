"""The four Ange ID scenarios, end to end: `selfreg-sim run` starts the bridge, a virtual screen,
the kiosk and a scripted register as real processes and taps the kiosk like a shopper."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from simulator.scenarios import SCENARIOS

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_passes_end_to_end(scenario: str) -> None:
    result = subprocess.run([sys.executable, "-m", "simulator.cli", "run", scenario],
                            capture_output=True, text=True, timeout=240, check=False)
    lines = result.stdout.strip().splitlines()
    assert lines, f"no output; stderr:\n{result.stderr[-3000:]}"
    summary = json.loads(lines[-1])
    assert summary["scenario"] == scenario
    assert summary["error"] is None, summary["error"]
    assert summary["failed"] == [], summary["failed"]
    assert summary["ok"] is True and summary["checks"] >= 4
    assert result.returncode == 0


@pytest.mark.parametrize("size", ["800x480", "1920x1080"])
def test_a_shopper_can_identify_on_every_screen_size(size: str) -> None:
    result = subprocess.run([sys.executable, "-m", "simulator.cli", "run", "ange-id-known",
                             "--size", size], capture_output=True, text=True, timeout=240,
                            check=False)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["failed"] == [] and summary["error"] is None, summary
    assert result.returncode == 0


def test_unknown_scenario_is_refused_with_the_list() -> None:
    result = subprocess.run([sys.executable, "-m", "simulator.cli", "run", "nope"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "ange-id-known" in result.stderr
