"""The Linux till: monitors from the X server's RandR monitor list, screen kept lit with ``xset``.

Both talk to the X server through its own small command-line tools (Debian's
x11-xserver-utils) rather than a binding: they are what a support person runs by hand to check
the same thing, so what the kiosk sees and what they see cannot differ.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kiosk.platform import Monitor

log = logging.getLogger("selfreg.kiosk.platform")

Run = Callable[[Sequence[str]], str]  # runs a command, returns its stdout, raises DisplayError


class DisplayError(RuntimeError):
    """The X server (or its tools) could not answer."""


def run_x_tool(command: Sequence[str], *, display: str | None = None, timeout: float = 10) -> str:
    if shutil.which(command[0]) is None:
        raise DisplayError(f"{command[0]} is not installed (Debian package "
                           f"{'xinput' if command[0] == 'xinput' else 'x11-xserver-utils'})")
    env = dict(os.environ)
    if display:
        env["DISPLAY"] = display
    if not env.get("DISPLAY"):
        raise DisplayError("DISPLAY is not set: the kiosk must run in the till's X session")
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, env=env,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DisplayError(f"{' '.join(command)} did not answer in {timeout:g} s") from exc
    if done.returncode != 0:
        raise DisplayError(f"{' '.join(command)} failed on display {env['DISPLAY']}: "
                           f"{done.stderr.strip() or f'exit status {done.returncode}'}")
    return done.stdout


# " 1: +*HDMI-2 1920/344x1080/194+1920+0  HDMI-2": index, automatic (+), primary (*), name,
# width px / mm x height px / mm, position, then the outputs it covers.
_MONITOR_LINE = re.compile(
    r"^\s*(?P<index>\d+):\s+(?P<auto>\+?)(?P<primary>\*?)(?P<name>\S+)\s+"
    r"(?P<w>\d+)/(?P<wmm>\d+)x(?P<h>\d+)/(?P<hmm>\d+)(?P<x>[+-]\d+)(?P<y>[+-]\d+)")


def parse_listmonitors(text: str) -> list[Monitor]:
    """The monitors in ``xrandr --listmonitors`` output, in its order."""
    monitors = []
    for line in text.splitlines():
        match = _MONITOR_LINE.match(line)
        if match is None:
            continue
        g = match.groupdict()
        monitors.append(Monitor(name=g["name"], index=int(g["index"]), x=int(g["x"]),
                                y=int(g["y"]), width=int(g["w"]), height=int(g["h"]),
                                width_mm=int(g["wmm"]), height_mm=int(g["hmm"]),
                                primary=bool(g["primary"])))
    return monitors


class XrandrDisplays:
    """The X server's monitors, as ``xrandr --listmonitors`` lists them (outputs and monitors
    defined with ``xrandr --setmonitor`` alike)."""

    def __init__(self, display: str | None = None, run: Run | None = None) -> None:
        self.display = display
        self._run = run or (lambda command: run_x_tool(command, display=self.display))

    def monitors(self) -> list[Monitor]:
        text = self._run(["xrandr", "--listmonitors"])
        monitors = parse_listmonitors(text)
        if not monitors:
            raise DisplayError(f"xrandr lists no monitors: {text.strip()!r}")
        return monitors


@dataclass(frozen=True)
class ScreenSaver:
    """What ``xset q`` says about blanking and power saving: what the kiosk must restore."""

    timeout: int
    cycle: int
    blanking: bool
    dpms: bool | None  # None: the server has no DPMS extension (Xvfb, some VMs)


def parse_xset_q(text: str) -> ScreenSaver:
    saver = re.search(r"timeout:\s*(\d+)\s+cycle:\s*(\d+)", text)
    blanking = re.search(r"prefer blanking:\s*(yes|no)", text)
    if saver is None or blanking is None:
        raise DisplayError(f"xset q said nothing about the screen saver: {text[:200]!r}")
    dpms: bool | None = None
    if "DPMS is Enabled" in text:
        dpms = True
    elif "DPMS is Disabled" in text:
        dpms = False
    return ScreenSaver(timeout=int(saver[1]), cycle=int(saver[2]), blanking=blanking[1] == "yes",
                       dpms=dpms)


KEEP_ON = ["xset", "s", "off", "-dpms", "s", "noblank"]


def restore_command(saved: ScreenSaver) -> list[str]:
    command = ["xset", "s", str(saved.timeout), str(saved.cycle),
               "s", "blank" if saved.blanking else "noblank"]
    if saved.dpms is not None:
        command.append("+dpms" if saved.dpms else "-dpms")
    return command


class XsetScreenKeeper:
    """Screen saver, blanking and DPMS off while the kiosk runs; the X server's own settings
    back afterwards (a till also used as a desktop gets its power saving back)."""

    def __init__(self, display: str | None = None, run: Run | None = None) -> None:
        self.display = display
        self._run = run or (lambda command: run_x_tool(command, display=self.display))
        self._saved: ScreenSaver | None = None

    def keep_on(self) -> None:
        try:
            saved = parse_xset_q(self._run(["xset", "q"]))
            self._run(KEEP_ON)
        except DisplayError as exc:
            # A dark screen is bad, a kiosk that will not start is worse: say it and carry on.
            log.warning("could not keep the screen on: %s", exc)
            return
        self._saved = saved
        log.info("screen blanking and power saving off while the kiosk runs")

    def release(self) -> None:
        saved, self._saved = self._saved, None
        if saved is None:
            return
        try:
            self._run(restore_command(saved))
        except DisplayError as exc:
            log.warning("could not restore the screen saver settings: %s", exc)
