"""``selfreg-sim``: the PAX E800 stand-in for QA and the tests."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.processes import workdir

if TYPE_CHECKING:
    from simulator.scenario_file import Scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="selfreg-sim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario end to end against its own bridge")
    run.add_argument("scenario", help="a built-in scenario's name (see `selfreg-sim list`) or "
                                      "a scenario file (docs/scenarios.md)")
    run.add_argument("--size", default="1280x800", help="customer screen size, WxH")
    run.add_argument("--keep", action="store_true", help="keep the work dir (logs, database)")

    sub.add_parser("list", help="list the built-in scenarios")
    check = sub.add_parser("check", help="load scenario files and report what is wrong in them")
    check.add_argument("scenarios", nargs="+", help="names or files")
    sub.add_parser("demo", help="bridge + kiosk window + a register you drive from the terminal")
    # The desk parses its own options (simulator/desk): everything after "desk" goes to it.
    sub.add_parser("desk", help="the QA desk: the customer screen beside a control panel that "
                                "records scenarios (selfreg-sim desk --help)", add_help=False)

    shots = sub.add_parser("screenshots", help="write a PNG of every kiosk screen")
    shots.add_argument("dir", type=Path)

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["desk"]:
        from simulator.desk import run as desk

        return desk(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list()
    if args.command == "check":
        return _check(args.scenarios)
    if args.command == "demo":
        from simulator.demo import run as demo

        return demo()
    if args.command == "run":
        return _run(args.scenario, args.size, args.keep)
    if args.command == "screenshots":
        from simulator.screenshots import run as take

        paths = take(args.dir)
        print(json.dumps({"screenshots": len(paths), "dir": str(args.dir)}))
        return 0 if paths else 1
    return 2


def _list() -> int:
    from simulator.scenario_file import builtin, load

    for name, path in builtin().items():
        print(f"{name:<22} {load(path).description}")
    return 0


def _load(name: str) -> tuple[Scenario | None, Path | None]:
    """The scenario ``name`` names, or None after saying why on stderr."""
    from simulator.scenario_file import ScenarioError, builtin, find, load

    path = find(name)
    if path is None:
        print(f"unknown scenario {name!r} (no such file, and not a built-in scenario: "
              f"{', '.join(builtin())})", file=sys.stderr)
        return None, None
    try:
        return load(path), path
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return None, path


def _check(names: list[str]) -> int:
    bad = 0
    for name in names:
        scenario, path = _load(name)
        if scenario is None:
            bad += 1
        else:
            print(f"{path}: {scenario.name}, {len(scenario.steps)} steps")
    return 1 if bad else 0


def _run(name: str, size: str, keep: bool) -> int:
    from simulator.replay import replay

    scenario, path = _load(name)
    if scenario is None:
        return 2
    w, h = (int(v) for v in size.lower().split("x"))
    with workdir(keep) as wd:
        summary = asyncio.run(replay(scenario, wd, size=(w, h), source=path))
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
