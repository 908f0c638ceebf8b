"""bench/lanes.py end to end at a tiny size: real bridge, client processes, whole identifications.

Correctness only (every identification connected the right customer, nothing went wrong in the
bridge), never timing: the figures of a few seconds on a shared machine mean nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LANES = 4
HEADLINE = {"lanes", "processes", "ids_per_s", "ms_p50", "ms_p99", "bridge_rss_mb", "ids",
            "errors", "bridge_log_errors"}
PER_RUN = {"sqlite_1_ids_per_s", "sqlite_1_ms_p50", "sqlite_1_ms_p99", "sqlite_1_paced_ids_per_s",
           "sqlite_1_paced_ms_p50", "sqlite_1_paced_ms_p99", "sqlite_1_bridge_rss_mb",
           "sqlite_1_ids", "sqlite_1_errors", "sqlite_1_paced_ids", "sqlite_1_lanes_connected"}


def test_a_tiny_run_identifies_every_time(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "lanes.py"), "--lanes", str(LANES),
         "--customers", "2000", "--seconds", "2", "--warmup", "0.5", "--rate", "20",
         "--backends", "sqlite", "--clients", "2", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(figures, dict)
    missing = (HEADLINE | PER_RUN) - figures.keys()
    assert not missing, sorted(missing)
    assert all(not isinstance(v, dict | list) for v in figures.values())  # flat
    assert (figures["lanes"], figures["processes"]) == (LANES, 1)
    assert figures["sqlite_1_lanes_connected"] == LANES
    # Both load modes identified customers, and none of them went wrong (a wrong customer,
    # an error reply, a timeout or a lost connection each count as an error).
    assert figures["sqlite_1_paced_ids"] > 0
    assert figures["sqlite_1_ids"] > figures["sqlite_1_paced_ids"]
    assert figures["errors"] == 0, done.stderr[-3000:]
    assert figures["bridge_log_errors"] == 0 and figures["bridge_log_warnings"] == 0, \
        done.stderr[-3000:]
    assert figures["bridge_rss_mb"] > 0
