"""``selfreg-kiosk``: the customer screen (and ``selfreg-kiosk decode IMAGE...``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path

from kiosk.window import UnknownMonitor, choose_monitor, configure_window, parse_size


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="selfreg-kiosk", description=__doc__)
    parser.add_argument("--bridge", metavar="URL", help="bridge address, e.g. ws://127.0.0.1:8765")
    parser.add_argument("--lane", metavar="NAME", help="the lane (register) this screen belongs to")
    parser.add_argument("--language", choices=("sv", "en", "nl"), help="default language")
    parser.add_argument("--token", help="pairing token from `selfreg-bridge pair --role kiosk`")
    parser.add_argument("--size", type=parse_size, default=(1280, 800), metavar="WxH",
                        help="window size (default 1280x800)")
    parser.add_argument("--display", metavar="NAME|INDEX",
                        help="the monitor to open on, by name or index from "
                             "`xrandr --listmonitors` (setting kiosk_display)")
    parser.add_argument("--fullscreen", action="store_true", default=None,
                        help="kiosk mode: fill the monitor, no cursor, no screen blanking, left "
                             "only with the exit PIN (setting kiosk_fullscreen)")
    return parser.parse_args(argv)


def decode_images(argv: list[str]) -> int:
    """``selfreg-kiosk decode IMAGE...``: the live scanner's pipeline on still images, one JSON
    line per image; exit status 1 if any image could not be opened."""
    parser = argparse.ArgumentParser(prog="selfreg-kiosk decode",
                                     description="Read the codes in images the way Skanna ID "
                                                 "reads camera frames.")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    args = parser.parse_args(argv)

    from kiosk.scanner import ImageUnreadable, decode, load_image

    failed = 0
    for name in args.images:
        record: dict[str, object] = {"file": name}
        try:
            image = load_image(Path(name))
        except ImageUnreadable as exc:
            record["error"] = str(exc)
            failed += 1
        else:
            started = time.perf_counter()
            codes = decode(image)
            record["codes"] = [{"format": c.format, "text": c.text} for c in codes]
            record["ms"] = round((time.perf_counter() - started) * 1000, 1)
        print(json.dumps(record, ensure_ascii=False), flush=True)
    return 1 if failed else 0


def _return_freed_frames() -> None:
    """glibc keeps freed memory for reuse, and after the first camera frame is freed it raises
    the size above which blocks come straight from the system to that frame's size: every frame,
    grey copy and texture upload after that stays in one of its per-thread pools (camera,
    scanner, UI).  A fixed threshold hands frame-sized blocks back as soon as they are freed,
    and two pools instead of one per thread keep the rest together."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, Android's bionic): nothing to tune
        return
    m_arena_max, m_mmap_threshold = -8, -3
    mallopt(m_mmap_threshold, 512 * 1024)
    mallopt(m_arena_max, 2)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["decode"]:
        return decode_images(argv[1:])
    args = parse_args(argv)
    _return_freed_frames()
    os.environ.setdefault("KIVY_NO_ARGS", "1")

    from pydantic import ValidationError

    from cashier_bridge.config import load_settings

    try:
        settings = load_settings(bridge_url=args.bridge, lane=args.lane, language=args.language,
                                 device_token=args.token, kiosk_display=args.display,
                                 kiosk_fullscreen=args.fullscreen)
    except ValidationError as exc:
        print(f"selfreg-kiosk: the configuration is not valid:\n{exc}", file=sys.stderr)
        return 2
    journal = False
    if os.environ.get("JOURNAL_STREAM"):
        from cashier_bridge.logs import under_journal

        journal = under_journal()
    if journal:
        # Under systemd: journal entries like the bridge's (priority, fields,
        # SYSLOG_IDENTIFIER), so `journalctl -u selfreg-kiosk -p warning` finds its warnings.
        from cashier_bridge.logs import configure

        configure(settings.log_level, identifier="selfreg-kiosk")
    else:
        logging.basicConfig(level=settings.log_level)
    monitor = None
    keeper = None
    if settings.kiosk_display is not None or settings.kiosk_fullscreen:
        from kiosk.platform.linux import DisplayError, XrandrDisplays, XsetScreenKeeper

        if settings.kiosk_display is not None:
            try:
                monitor = choose_monitor(XrandrDisplays().monitors(), settings.kiosk_display)
            except (UnknownMonitor, DisplayError) as exc:
                print(f"selfreg-kiosk: {exc}", file=sys.stderr)
                return 2
        # xset keeps an X screen lit; with no X display (Android, which keeps its own screen
        # on, or a Wayland session without XWayland) there is nothing for it to do.
        if settings.kiosk_fullscreen and os.environ.get("DISPLAY"):
            keeper = XsetScreenKeeper()
    configure_window(args.size, fullscreen=settings.kiosk_fullscreen, monitor=monitor)

    from kiosk.app import KioskApp

    app = KioskApp(settings, monitor=monitor)
    if keeper is not None:
        keeper.keep_on()
    try:
        asyncio.run(app.run_with_bridge())
    finally:
        if keeper is not None:
            keeper.release()
    return app.exit_status


if __name__ == "__main__":
    raise SystemExit(main())
