"""``selfreg-sim``: the PAX E800 stand-in for QA and the tests."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from .processes import workdir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="selfreg-sim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a named scenario end to end against its own bridge")
    run.add_argument("scenario", help="scenario name (see `selfreg-sim list`)")
    run.add_argument("--size", default="1280x800", help="customer screen size, WxH")
    run.add_argument("--keep", action="store_true", help="keep the work dir (logs, database)")

    sub.add_parser("list", help="list the scenarios")
    sub.add_parser("demo", help="bridge + kiosk window + a register you drive from the terminal")

    shots = sub.add_parser("screenshots", help="write a PNG of every kiosk screen")
    shots.add_argument("dir", type=Path)

    args = parser.parse_args(argv)
    if args.command == "list":
        from .scenarios import SCENARIOS

        for name in SCENARIOS:
            print(name)
        return 0
    if args.command == "demo":
        from .demo import run as demo

        return demo()
    if args.command == "run":
        return _run(args.scenario, args.size, args.keep)
    if args.command == "screenshots":
        from .screenshots import run as take

        paths = take(args.dir)
        print(json.dumps({"screenshots": len(paths), "dir": str(args.dir)}))
        return 0 if paths else 1
    return 2


def _run(name: str, size: str, keep: bool) -> int:
    from .scenarios import SCENARIOS, run_scenario

    if name not in SCENARIOS:
        print(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    w, h = (int(v) for v in size.lower().split("x"))
    with workdir(keep) as wd:
        summary = asyncio.run(run_scenario(name, wd, size=(w, h)))
        if keep:
            summary["workdir"] = str(wd)
    for failure in summary["failed"]:
        print(f"FAILED {failure}", file=sys.stderr)
    if summary["error"]:
        print(f"ERROR {summary['error']}", file=sys.stderr)
    print(json.dumps(summary, ensure_ascii=False))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
