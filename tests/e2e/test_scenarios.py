"""The built-in scenarios, end to end: `selfreg-sim run` starts the bridge, a virtual screen, the
kiosk and a scripted register as real processes and replays each scenario file — taps on the
kiosk like a shopper, cards held up to its camera, a phone, the cashier — checking every screen
and register event the file expects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from simulator.scenario_file import RegisterEvent, builtin, load, save

pytestmark = pytest.mark.e2e


def sim(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result = subprocess.run([sys.executable, "-m", "simulator.cli", *args],
                            capture_output=True, text=True, timeout=240, check=False)
    lines = result.stdout.strip().splitlines()
    assert lines, f"no output; stderr:\n{result.stderr[-3000:]}"
    return result, json.loads(lines[-1])


@pytest.mark.parametrize("scenario", sorted(builtin()))
def test_scenario_passes_end_to_end(scenario: str) -> None:
    result, summary = sim("run", scenario)
    assert summary["scenario"] == scenario
    assert summary["error"] is None, summary["error"]
    assert summary["failed"] == [], "\n".join(summary["failed"])
    assert summary["ok"] is True and summary["checks"] >= 4
    assert summary["steps_passed"] == summary["steps"]
    assert result.returncode == 0


def test_a_scenario_file_runs_by_its_path() -> None:
    path = builtin()["ange-id-abort"]
    result, summary = sim("run", str(path))
    assert summary["ok"] is True, summary
    assert summary["file"] == str(path)
    assert result.returncode == 0


def test_a_changed_expectation_fails_with_a_diff_naming_the_step(tmp_path: Path) -> None:
    scenario = load(builtin()["ange-id-known"])
    number, step = next((n, s) for n, s in enumerate(scenario.steps, 1)
                        if any(e.event == RegisterEvent.customer_connected
                               for e in s.expect.events))
    events = step.expect.events
    index = next(i for i, e in enumerate(events) if e.event == RegisterEvent.customer_connected)
    assert events[index].fields["first_name"] == "Anna"
    # QA's copy expects someone else at the register; the kiosk still greets Anna as before.
    events[index] = events[index].model_copy(update={"first_name": "Annie"})
    copy = tmp_path / "annie.toml"
    save(scenario, copy)

    result, summary = sim("run", str(copy))

    assert result.returncode == 1
    assert summary["ok"] is False and summary["error"] is None
    assert summary["steps_passed"] == number - 1
    [failure] = summary["failed"]
    assert failure.startswith(f"step {number} (tap key_ok): register customer_connected")
    assert '-first_name: "Annie"' in failure.splitlines()
    assert '+first_name: "Anna"' in failure.splitlines()
    assert ' customer_code: "1001"' in failure.splitlines()  # what agreed, as context
    assert f"FAILED step {number} (tap key_ok)" in result.stderr


@pytest.mark.parametrize("size", ["800x480", "1920x1080"])
def test_a_shopper_can_identify_on_every_screen_size(size: str) -> None:
    result, summary = sim("run", "ange-id-known", "--size", size)
    assert summary["failed"] == [] and summary["error"] is None, summary
    assert result.returncode == 0


def test_unknown_scenario_is_refused_with_the_list() -> None:
    result = subprocess.run([sys.executable, "-m", "simulator.cli", "run", "nope"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "ange-id-known" in result.stderr
