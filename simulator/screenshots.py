"""``selfreg-sim screenshots DIR``: a PNG of every kiosk screen, per language and window size
(then the Via mobil phone page and the cashier console, in chromium).

The kiosk is fed lane states directly (no bridge).  A Kivy window's size is fixed when it opens,
so each size renders in its own subprocess: under Xvfb when there is no display and xvfb-run is
available, else with Kivy's offscreen fallback.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

SIZES: tuple[tuple[int, int], ...] = ((1280, 800), (1920, 1080), (800, 480))
LANGUAGES: tuple[str, ...] = ("sv", "en")
CAMERA_WAIT_S = 20.0


def run(out_dir: Path, *, sizes: Iterable[tuple[int, int]] = SIZES,
        languages: Sequence[str] = LANGUAGES) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for width, height in sizes:
        cmd = [sys.executable, "-m", "simulator.screenshots", "--child", str(out_dir),
               "--size", f"{width}x{height}", "--languages", ",".join(languages)]
        env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_LOG_MODE="PYTHON")
        env.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="selfreg-kivy-"))
        if not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
            cmd = ["xvfb-run", "-a", "-s", f"-screen 0 {width}x{height}x24", *cmd]
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
        if result.returncode != 0:
            raise RuntimeError(f"screenshots at {width}x{height} failed:\n{result.stderr[-3000:]}")
        written += [Path(line) for line in result.stdout.splitlines() if line.endswith(".png")]
    return written


def _shots() -> list[tuple[str, dict[str, object]]]:
    """(file stem, what to show) for every screen the shopper can meet."""
    from cashier_bridge.protocol import KioskState, KioskView, Method, Phase

    def state(phase: Phase, seq: int, **view: object) -> KioskState:
        return KioskState(lane="lane-1", phase=phase, seq=seq, view=KioskView(**view))

    masked = "19850312-****"
    return [
        ("idle", {"state": state(Phase.idle, 1)}),
        ("choose", {"state": state(Phase.choosing, 2)}),
        ("choose-declined", {"state": state(Phase.choosing, 3, notice="member_declined")}),
        ("numpad", {"state": state(Phase.identifying, 4, method=Method.numpad)}),
        ("numpad-invalid", {"state": state(Phase.identifying, 5, method=Method.numpad,
                                           notice="invalid_checksum"), "digits": "198503121235"}),
        ("mobile", {"state": state(Phase.identifying, 6, method=Method.mobile,
                                   mobile_url="http://kassa-1.local:8765/m/Zx8kQ2d7Rk1vT0a9bW3cY",
                                   mobile_expires_in_s=180)}),
        ("mobile-submitted", {"state": state(Phase.identifying, 6, method=Method.mobile,
                                             mobile_submitted=True, busy=True)}),
        # Skanna ID with the virtual camera: a customer card held up and outlined once read.
        ("scan", {"state": state(Phase.identifying, 7, method=Method.scan),
                  "camera": "virtual:show=card-qr:1001,seed=3", "wait": "highlight"}),
        ("scan-try-again", {"state": state(Phase.identifying, 7, method=Method.scan,
                                           notice="unrecognised"),
                            "camera": "virtual:show=nothing,seed=3", "wait": "live"}),
        ("scan-no-camera", {"state": state(Phase.identifying, 7, method=Method.scan),
                            "camera": "none", "wait": "failed"}),
        ("searching", {"state": state(Phase.identifying, 8, method=Method.numpad, busy=True)}),
        ("not_found", {"state": state(Phase.not_found, 9, method=Method.numpad,
                                      masked_id=masked, notice="not_found")}),
        ("ask_member", {"state": state(Phase.ask_member, 10, masked_id=masked)}),
        ("waiting", {"state": state(Phase.await_cashier, 11, masked_id=masked)}),
        ("welcome", {"state": state(Phase.connected, 12, first_name="Anna")}),
        ("thanks", {"state": state(Phase.connected, 12, first_name="Anna"),
                    "welcome_over": True}),
        ("offline", {"state": None, "offline": True}),
    ]


def _child(out_dir: Path, size: tuple[int, int], languages: list[str]) -> None:
    from kiosk.window import configure_window

    configure_window(size)
    from kivy.clock import Clock
    from kivy.core.window import Window

    from cashier_bridge.config import load_settings
    from kiosk.app import KioskApp

    settings = load_settings()
    app = KioskApp(settings, connect=False, probe_file=None)
    jobs = [(f"{stem}_{lang}_{size[0]}x{size[1]}", lang, spec)
            for lang in languages for stem, spec in _shots()]

    def next_job(_dt: float = 0) -> None:
        if not jobs:
            app.stop()
            return
        name, lang, spec = jobs.pop(0)
        app.present(None, language=lang)  # leave the previous screen (and release its camera)
        app.settings = settings.model_copy(update={"camera": spec.get("camera", "none")})
        app.present(spec["state"], language=lang, digits=str(spec.get("digits", "")),  # type: ignore[arg-type]
                    offline=bool(spec.get("offline")), welcome_over=bool(spec.get("welcome_over")))
        wait = str(spec.get("wait", ""))
        deadline = time.monotonic() + CAMERA_WAIT_S

        def when_ready(_dt: float) -> None:
            # The camera's picture (and a read code's outline) arrive over frames: shoot once
            # what the shot is for is on the screen.
            camera = app.snapshot().get("camera") or {}
            ready = not wait or (camera.get(wait) if wait != "failed"  # type: ignore[union-attr]
                                 else camera.get("status") == "failed")  # type: ignore[union-attr]
            if ready:
                # Give layout and text a few frames to settle before taking the picture.
                Clock.schedule_once(lambda _dt: capture(name), 0.25)
            elif time.monotonic() > deadline:
                raise RuntimeError(f"{name}: the camera never became {wait!r}: {camera}")
            else:
                Clock.schedule_once(when_ready, 0.1)

        Clock.schedule_once(when_ready, 0)

    def capture(name: str) -> None:
        target = out_dir / f"{name}.png"
        taken = Window.screenshot(name=str(out_dir / f"{name}.tmp.png"))
        os.replace(taken, target)
        print(target, flush=True)
        next_job()

    Clock.schedule_once(next_job, 0.5)
    app.run()


def main(argv: list[str] | None = None) -> int:
    from simulator import admin_screenshots, browser, console_screenshots, phone_screenshots

    parser = argparse.ArgumentParser(prog="selfreg-sim screenshots")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", default=None)
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    args = parser.parse_args(argv)
    languages = args.languages.split(",")
    if args.child:
        from kiosk.window import parse_size

        _child(args.out_dir, parse_size(args.size), languages)
        return 0
    sizes = SIZES
    if args.size:
        from kiosk.window import parse_size

        sizes = (parse_size(args.size),)
    for path in run(args.out_dir, sizes=sizes, languages=languages):
        print(path)
    if browser.available():
        for path in phone_screenshots.run(args.out_dir, tuple(languages)):
            print(path)
        for path in console_screenshots.run(args.out_dir):
            print(path)
        for path in admin_screenshots.run(args.out_dir):
            print(path)
    else:
        print(f"no phone page, cashier console or back-office shots: {browser.CHROMIUM} is "
              "not installed (apt-get install chromium)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
