"""Kiosk cold start: seconds from spawning ``selfreg-kiosk`` until it shows the idle screen the
bridge sent, and its resident memory at that moment.  Median of 5 runs.  Then the memory of a
kiosk on the Skanna ID screen with its camera running and decoding: ``scan_rss_mb`` through the
real OpenCV capture path (fed a 1280x720 video file of a card held up, since a benchmark machine
has no webcam) and ``scan_rss_mb_virtual`` with the simulator's virtual camera rendering inside
the kiosk process (what QA and the demo use).

Runs against the real bridge (``selfreg-bridge serve`` on a temporary SQLite file) and under a
private Xvfb display when there is no DISPLAY.  Targets (issue 19): start under 0.6 s, 150 MB at
idle, 200 MB on the scan screen with the OpenCV path.
Last line of stdout: {"start_s": ..., "rss_mb": ..., "rss_gl_driver_mb": ..., "scan_rss_mb": ...,
"scan_rss_mb_virtual": ...} (``rss_gl_driver_mb``: the part of ``rss_mb`` in the GL driver's
libraries, llvmpipe's on a machine without a GPU).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


def db_url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'b.db'}"


def pair(tmp: Path, lane: str, role: str) -> str:
    """A token for a device of ``lane``: the bridge lets in only paired devices."""
    from cashier_bridge.registry import Registry

    registry = Registry.open(db_url(tmp))
    try:
        return registry.devices.pair(lane, role, label="bench").token
    finally:
        registry.close()


@contextlib.contextmanager
def bridge(tmp: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cashier_bridge.cli", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--db", db_url(tmp)],
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


# The software renderer's own libraries (Mesa's llvmpipe and the LLVM it compiles shaders with):
# what a till with a GPU driver does not carry in the kiosk's memory.
GL_LIBRARIES = ("libLLVM", "/dri/", "libgallium", "libGLX_mesa", "libEGL_mesa", "libglapi")


def gl_mb(pid: int) -> float:
    """Resident memory in the GL driver's libraries (from /proc/PID/smaps)."""
    total, counting = 0, False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if fields and not fields[0].endswith(":"):
            counting = len(fields) > 5 and any(lib in fields[5] for lib in GL_LIBRARIES)
        elif counting and fields[0] == "Rss:":
            total += int(fields[1])
    return total / 1024


def one_start(display_name: str, bridge_url: str, tmp: Path, run: int
              ) -> tuple[float, float, float]:
    probe = tmp / f"probe-{run}.json"
    env = dict(os.environ, DISPLAY=display_name, KIVY_HOME=str(tmp / "kivy"), KIVY_NO_ARGS="1",
               KIVY_LOG_MODE="PYTHON", SELFREG_KIOSK_PROBE=str(probe),
               SELFREG_CONFIG=str(tmp / "none.toml"),
               SELFREG_DEVICE_TOKEN=pair(tmp, f"bench-{run}", "kiosk"))
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
                return elapsed, rss_mb(proc.pid), gl_mb(proc.pid)
            if proc.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError("the kiosk never showed its idle screen")
            time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait()


SCAN_FRAMES = 150  # decoded frames before memory is read: the scan screen in steady use


def card_video(path: Path, frames: int = 90) -> Path:
    """A video of a code held up, as a camera would deliver it (MJPEG, 1280x720).  The code is
    one the bridge refuses (a web address), so the lane stays on Skanna ID with its try-again
    line while the scanner keeps decoding every frame — the screen in steady use."""
    import cv2

    from simulator.virtual_camera import frames as virtual_frames

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (1280, 720))
    try:
        for frame in virtual_frames("garbage", frames, seed=5):
            writer.write(frame)
    finally:
        writer.release()
    return path


def scan_rss(display_name: str, bridge_url: str, tmp: Path, camera: str, lane: str) -> float:
    """Resident memory of a kiosk whose Skanna ID screen has decoded SCAN_FRAMES frames."""
    import asyncio

    from websockets.asyncio.client import connect

    probe = tmp / f"probe-{lane}.json"
    env = dict(os.environ, DISPLAY=display_name, KIVY_HOME=str(tmp / "kivy"), KIVY_NO_ARGS="1",
               KIVY_LOG_MODE="PYTHON", SELFREG_KIOSK_PROBE=str(probe),
               SELFREG_CONFIG=str(tmp / "none.toml"), SELFREG_CAMERA=camera,
               SELFREG_DEVICE_TOKEN=pair(tmp, lane, "kiosk"))
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--bridge", bridge_url,
                             "--lane", lane], env=env, stdout=subprocess.DEVNULL,
                            stderr=(tmp / f"kiosk-{lane}.log").open("w"))

    def shown() -> dict:
        try:
            return json.loads(probe.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def wait(check, what: str, timeout: float = 60) -> dict:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not check(seen := shown()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the kiosk never showed {what}: "
                                   f"{(tmp / f'kiosk-{lane}.log').read_text()[-2000:]}")
            time.sleep(0.05)
        return seen

    async def to_scan_screen() -> None:
        # The register opens a sale; a second kiosk-role client chooses Skanna ID for the
        # shopper (the lane, not the window, decides which screen shows).
        async with connect(f"{bridge_url}/ws/register") as register, \
                connect(f"{bridge_url}/ws/kiosk") as chooser:
            for ws, role in ((register, "register"), (chooser, "kiosk")):
                await ws.send(json.dumps({"v": 1, "type": "hello", "role": role, "lane": lane,
                                          "token": pair(tmp, lane, role)}))
            await register.send(json.dumps({"v": 1, "type": "start_sale", "sale_id": "b1"}))
            while json.loads(await chooser.recv()).get("phase") != "choosing":
                pass
            await chooser.send(json.dumps({"v": 1, "type": "choose", "method": "scan"}))
            while json.loads(await chooser.recv()).get("phase") != "identifying":
                pass

    try:
        wait(lambda p: p.get("screen") == "idle", "its idle screen")
        asyncio.run(to_scan_screen())
        wait(lambda p: p.get("screen") == "scan" and (p.get("camera") or {}).get("frames", 0)
             >= SCAN_FRAMES, f"{SCAN_FRAMES} camera frames on the scan screen", 120)
        return rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="selfreg-bench-") as name:
        tmp = Path(name)
        with display() as display_name, bridge(tmp) as url:
            one_start(display_name, url, tmp, 0)  # warm the disk cache and KIVY_HOME
            results = [one_start(display_name, url, tmp, run) for run in range(1, RUNS + 1)]
            print("camera: writing a card video", file=sys.stderr)
            video = card_video(tmp / "card.avi")
            scan_file = scan_rss(display_name, url, tmp, str(video), "scan-file")
            scan_virtual = scan_rss(display_name, url, tmp, "virtual:show=garbage,seed=5",
                                    "scan-virtual")
    for start, rss, gl in results:
        print(f"start {start:.3f} s, rss {rss:.1f} MB (GL driver {gl:.1f} MB)")
    print(json.dumps({"start_s": round(statistics.median(r[0] for r in results), 3),
                      "rss_mb": round(statistics.median(r[1] for r in results), 1),
                      "rss_gl_driver_mb": round(statistics.median(r[2] for r in results), 1),
                      "scan_rss_mb": round(scan_file, 1),
                      "scan_rss_mb_virtual": round(scan_virtual, 1)}))


if __name__ == "__main__":
    main()
