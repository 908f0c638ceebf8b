"""``selfreg-sim desk``: the whole PAX E800 on a QA engineer's desktop.

One Kivy window: the real customer screen (the kiosk's own widgets, at the customer display's
size, scaled down to fit) beside a control panel that plays the cashier's register, holds things
up to the kiosk's virtual camera, completes Via mobil on a simulated phone, pulls network cables,
kills the bridge and takes the database away.  Every action is recorded with what the kiosk
showed and the register received after it; "Save as scenario" writes a scenario file that
``selfreg-sim run FILE`` replays headless.

``--screenshot FILE`` renders the desk once (a sale started, the kiosk offering its choices),
writes the PNG and exits.  ``--control SOCKET`` (for the tests) accepts JSON commands that call
the same actions as the panel's buttons (see :mod:`simulator.desk.control`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from kiosk.window import parse_size

DEFAULT_WINDOW = (1680, 960)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="selfreg-sim desk", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bridge", metavar="URL",
                        help="attach to a running bridge (ws://HOST:PORT) instead of starting "
                             "one on a throwaway database seeded with the demo customers")
    parser.add_argument("--lane", default="lane-1", help="the lane to play (default lane-1)")
    parser.add_argument("--kiosk-token", help="with --bridge: the kiosk's pairing token")
    parser.add_argument("--register-token", help="with --bridge: the register's pairing token")
    parser.add_argument("--size", type=parse_size, default=(1280, 800), metavar="WxH",
                        help="the customer display: 1280x800 (default), 800x480 or 1920x1080")
    parser.add_argument("--window", type=parse_size, default=DEFAULT_WINDOW, metavar="WxH",
                        help="the desk window (default 1680x960)")
    parser.add_argument("--language", choices=("sv", "en", "nl"), default="sv")
    parser.add_argument("--screenshot", type=Path, metavar="FILE",
                        help="render the desk once to this PNG and exit")
    parser.add_argument("--control", type=Path, metavar="SOCKET", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true",
                        help="keep the work dir (database, logs, kiosk snapshots)")
    return parser.parse_args(argv)


def run(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.screenshot is not None and args.screenshot.suffix.lower() != ".png":
        print(f"--screenshot {args.screenshot}: give a .png file", flush=True)
        return 2
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    workdir = Path(tempfile.mkdtemp(prefix="selfreg-desk-"))
    os.environ.setdefault("KIVY_HOME", str(workdir / "kivy"))
    _configure_window(args.window)
    logging.basicConfig(level=logging.INFO, filename=workdir / "desk.log",
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return asyncio.run(_main(args, workdir))
    finally:
        if args.keep:
            print(f"work dir kept: {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _configure_window(size: tuple[int, int]) -> None:
    """A normal desktop window at the screen's top left (under Xvfb with no window manager its
    pixels are the screen's, which the tests' pointer input relies on)."""
    from kivy.config import Config

    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    Config.set("graphics", "position", "custom")
    Config.set("graphics", "left", "0")
    Config.set("graphics", "top", "0")
    Config.set("graphics", "resizable", "1")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "exit_on_escape", "0")


async def _main(args: argparse.Namespace, workdir: Path) -> int:
    from cashier_bridge.config import load_settings
    from simulator.desk.rig import DeskError, DeskRig

    rig = DeskRig(workdir, attach=args.bridge, kiosk_token=args.kiosk_token,
                  register_token=args.register_token, lane=args.lane)
    try:
        await rig.start()
    except DeskError as exc:
        print(f"selfreg-sim desk: {exc}", flush=True)
        await rig.stop()
        return 1
    try:
        settings = load_settings(bridge_url=rig.kiosk_url, lane=args.lane,
                                 language=args.language, device_token=rig.kiosk_token)
        from simulator.desk.app import DeskApp

        app = DeskApp(settings, rig=rig, workdir=workdir, display=args.size,
                      screenshot=args.screenshot)
        if args.bridge is None:
            print(f"selfreg QA desk: bridge {rig.bridge_url} on a throwaway database seeded "
                  "with the demo customers", flush=True)
        helpers = []
        if args.screenshot is not None:
            helpers.append(asyncio.create_task(_screenshot(app, args.screenshot)))
        if args.control is not None:
            from simulator.desk.control import serve

            helpers.append(asyncio.create_task(serve(app, args.control)))
        try:
            await app.run_with_bridge()
        finally:
            for helper in helpers:
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await helper
        return 0 if args.screenshot is None or args.screenshot.exists() else 1
    finally:
        await rig.stop()


async def _screenshot(app: object, path: Path) -> None:
    """Start a sale, wait for the kiosk to show the choices (and the panel to catch up), write
    the window to ``path`` and close."""
    from kivy.core.window import Window

    from simulator.desk.app import DeskApp

    assert isinstance(app, DeskApp)
    try:
        await app.wait_screen(lambda s: s.get("online") is True, since=0, timeout=30)
        mark = app.last_n
        await app.act_start_sale()
        await app.wait_screen(lambda s: s.get("screen") == "choose", since=mark, timeout=30)
        app.refresh_panel()
        await _frames(3)
        taken = Window.screenshot(name=str(path.with_suffix(".tmp.png")))
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(taken, path)
        print(json.dumps({"screenshot": str(path)}), flush=True)
    finally:
        app.stop()


async def _frames(count: int) -> None:
    """Let Kivy draw ``count`` frames (the panel's new texts reach the window)."""
    from kivy.clock import Clock

    for _ in range(count):
        done = asyncio.Event()
        Clock.schedule_once(lambda _dt, done=done: done.set(), 0)
        await done.wait()
