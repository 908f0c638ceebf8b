"""Kiosk cold start: seconds from spawning ``selfreg-kiosk`` until it shows the idle screen the
bridge sent, and its resident memory at that moment.  Median of 5 runs.

Runs against the real bridge (``selfreg-bridge serve`` on a temporary SQLite file) and under a
private Xvfb display when there is no DISPLAY.  Targets: under 1.5 s and 200 MB.
Last line of stdout: {"start_s": ..., "rss_mb": ...}
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

RUNS = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def display() -> Iterator[str]:
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    number = next(n for n in range(200, 300) if not Path(f"/tmp/.X{n}-lock").exists())
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten",
                             "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.02)
    try:
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait()


@contextlib.contextmanager
def bridge(tmp: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cashier_bridge.cli", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--db", f"sqlite:///{tmp / 'b.db'}"],
        stdout=subprocess.DEVNULL, stderr=(tmp / "bridge.log").open("w"),
        env=dict(os.environ, SELFREG_CONFIG=str(tmp / "none.toml")))
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"bridge did not start: {(tmp / 'bridge.log').read_text()}")
        time.sleep(0.05)
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def one_start(display_name: str, bridge_url: str, tmp: Path, run: int) -> tuple[float, float]:
    probe = tmp / f"probe-{run}.json"
    env = dict(os.environ, DISPLAY=display_name, KIVY_HOME=str(tmp / "kivy"), KIVY_NO_ARGS="1",
               KIVY_LOG_MODE="PYTHON", SELFREG_KIOSK_PROBE=str(probe),
               SELFREG_CONFIG=str(tmp / "none.toml"))
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--bridge", bridge_url,
                             "--lane", f"bench-{run}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = started + 30
        while True:
            try:
                seen = json.loads(probe.read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                seen = {}
            if seen.get("screen") == "idle" and seen.get("phase") == "idle":
                elapsed = time.perf_counter() - started
                return elapsed, rss_mb(proc.pid)
            if proc.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError("the kiosk never showed its idle screen")
            time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="selfreg-bench-") as name:
        tmp = Path(name)
        with display() as display_name, bridge(tmp) as url:
            one_start(display_name, url, tmp, 0)  # warm the disk cache and KIVY_HOME
            results = [one_start(display_name, url, tmp, run) for run in range(1, RUNS + 1)]
    for start, rss in results:
        print(f"start {start:.3f} s, rss {rss:.1f} MB")
    print(json.dumps({"start_s": round(statistics.median(r[0] for r in results), 3),
                      "rss_mb": round(statistics.median(r[1] for r in results), 1)}))


if __name__ == "__main__":
    main()
