"""``selfreg-kiosk``: the customer screen."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

from .window import configure_window, parse_size


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="selfreg-kiosk", description=__doc__)
    parser.add_argument("--bridge", metavar="URL", help="bridge address, e.g. ws://127.0.0.1:8765")
    parser.add_argument("--lane", metavar="NAME", help="the lane (register) this screen belongs to")
    parser.add_argument("--language", choices=("sv", "en", "nl"), help="default language")
    parser.add_argument("--token", help="pairing token from `selfreg-bridge pair --role kiosk`")
    parser.add_argument("--size", type=parse_size, default=(1280, 800), metavar="WxH",
                        help="window size (default 1280x800)")
    parser.add_argument("--fullscreen", action="store_true", help="fill the whole screen")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    configure_window(args.size, fullscreen=args.fullscreen)

    from cashier_bridge.config import load_settings

    from .app import KioskApp

    settings = load_settings(bridge_url=args.bridge, lane=args.lane, language=args.language,
                             device_token=args.token)
    logging.basicConfig(level=settings.log_level)
    app = KioskApp(settings)
    asyncio.run(app.run_with_bridge())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
