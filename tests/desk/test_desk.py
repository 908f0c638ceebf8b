"""The QA desk under Xvfb: a session recorded by hand (pointer taps on the real customer screen,
the panel's buttons through the control socket), saved, and replayed headless by
``selfreg-sim run`` with the same result; a changed expectation fails with a readable diff.

The desk runs as its own process (``selfreg-sim desk --control SOCKET``), as a QA engineer
starts it.  Taps are X pointer events at the button centres the kiosk's probe reports, so they
travel the real input path through the desk's window into the kiosk's widgets.  Every wait is
for an event: a kiosk snapshot after a mark, a control answer, a line from the process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.processes import VirtualScreen
from simulator.scenario_file import load

pytestmark = pytest.mark.e2e

WINDOW = (1680, 960)


class Desk:
    def __init__(self, workdir: Path, display: str) -> None:
        self.display = display
        self.socket_path = workdir / "desk.sock"
        env = {**os.environ, "DISPLAY": display, "KIVY_NO_ARGS": "1",
               "KIVY_LOG_MODE": "PYTHON", "KIVY_HOME": str(workdir / "kivy"),
               "SELFREG_CONFIG": str(workdir / "none.toml"),
               "SELFREG_DATA_DIR": str(workdir / "data")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "desk", "--control", str(self.socket_path),
             "--window", "x".join(map(str, WINDOW)), "--keep"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            cwd=workdir)
        assert self.proc.stdout is not None
        self.output: list[str] = []
        for line in self.proc.stdout:  # blocks until the desk says its socket listens
            self.output.append(line)
            if line.startswith('{"control"'):
                break
        else:
            raise AssertionError("the desk exited before listening:\n" + "".join(self.output))
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(120)
        self.sock.connect(str(self.socket_path))
        self.reader = self.sock.makefile("r", encoding="utf-8")

    def send(self, do: str, **args: Any) -> dict[str, Any]:
        self.sock.sendall(json.dumps({"do": do, **args}).encode() + b"\n")
        answer = json.loads(self.reader.readline())
        assert answer["ok"], answer
        return answer

    def mark(self) -> int:
        return int(self.send("status")["status"]["n"])

    def wait_screen(self, screen: str, since: int, timeout: float = 40,
                    **also: Any) -> dict[str, Any]:
        return self.send("wait_screen", screen=screen, since=since, timeout=timeout,
                         **also)["result"]

    def wait_text(self, screen: str, text: str, since: int, timeout: float = 40
                  ) -> dict[str, Any]:
        """The first snapshot of ``screen`` after ``since`` that shows the line ``text``."""
        while True:
            snapshot = self.wait_screen(screen, since=since, timeout=timeout)
            if text in snapshot["texts"]:
                return snapshot
            since = int(snapshot["n"])

    def type_digits(self, numpad: dict[str, Any], digits: str) -> dict[str, Any]:
        """Each digit a finger on the numpad, each waited for on the display."""
        shown = numpad
        for digit in digits:
            mark = self.mark()
            self.tap(numpad, f"key_{digit}")
            shown = self.wait_screen("numpad", since=mark)
        return shown

    def tap(self, snapshot: dict[str, Any], button: str) -> None:
        """A finger on the customer screen: an X pointer click at the button's centre."""
        x, y = snapshot["buttons"][button]
        subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], check=True,
                       env={**os.environ, "DISPLAY": self.display}, timeout=10)

    def close(self) -> None:
        self.sock.close()
        self.proc.terminate()
        self.proc.wait(30)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.fail("the desk tests need Xvfb and xdotool (apt-get install xvfb xdotool)")
    screen = VirtualScreen(*WINDOW)
    display = screen.start()
    desk = Desk(tmp_path, display)
    try:
        yield desk
    finally:
        desk.close()
        screen.stop()


def sim_run(path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result = subprocess.run([sys.executable, "-m", "simulator.cli", "run", str(path)],
                            capture_output=True, text=True, timeout=300, check=False)
    lines = result.stdout.strip().splitlines()
    assert lines, f"no output; stderr:\n{result.stderr[-3000:]}"
    return result, json.loads(lines[-1])


def test_a_session_recorded_on_the_desk_replays_headless_and_a_changed_expectation_fails(
        desk: Desk, tmp_path: Path) -> None:
    # The kiosk comes up on the idle screen and hears the desk's own bridge.
    idle = desk.wait_screen("idle", since=0, online=True)
    assert "Hej! Är du medlem?" in idle["texts"]

    # The cashier starts a sale on the panel; the customer screen offers the three ways.
    mark = desk.mark()
    desk.send("start_sale")
    choose = desk.wait_screen("choose", since=mark)

    # The shopper touches Skanna ID on the customer screen itself.
    mark = desk.mark()
    desk.tap(choose, "choose_scan")
    desk.wait_screen("scan", since=mark)

    # A driving licence nobody has is held up: the shopper is asked to become a member.
    mark = desk.mark()
    desk.send("present", item="licence")
    ask = desk.wait_screen("ask_member", since=mark)
    mark = desk.mark()
    desk.tap(ask, "yes")
    desk.wait_screen("waiting", since=mark)

    # The cashier confirms the new member; the customer screen welcomes her by first name.
    mark = desk.mark()
    desk.send("confirm", first_name="Maja", last_name="Lindqvist")
    welcome = desk.wait_screen("welcome", since=mark)
    assert "Välkommen, Maja!" in welcome["texts"]
    assert not any("Lindqvist" in t for t in welcome["texts"])

    mark = desk.mark()
    desk.send("end_sale")
    desk.wait_screen("idle", since=mark)

    saved = desk.send("save", name="desk-licence-member",
                      path=str(tmp_path / "recorded.toml"))["result"]
    path = Path(saved["path"])
    assert saved["command"] == f"selfreg-sim run {path}"

    # The file reads like a hand-written scenario: the actions in order, what followed each.
    scenario = load(path)
    assert [s.do.value for s in scenario.steps] == [
        "start_sale", "tap", "present", "tap", "confirm_member", "end_sale"]
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    steps = raw["steps"]
    assert raw["kiosk"]["camera"] == "virtual"
    assert steps[1] == {**steps[1], "button": "choose_scan"}
    assert steps[2]["item"] == "licence" and steps[2]["expect"]["screen"] == "ask_member"
    assert steps[2]["expect"]["register"][0]["event"] in ("state", "member_prompt")
    confirm = steps[4]
    # The names the cashier typed are the scenario's vars, named where they are used.
    assert raw["vars"]["member_first_name_1"] == "Maja"
    assert confirm["first_name"] == "{member_first_name_1}"
    assert confirm["expect"]["screen"] == "welcome"
    assert "Välkommen, Maja!" in confirm["expect"]["texts"]
    connected = next(e for e in confirm["expect"]["register"]
                     if e["event"] == "customer_connected")
    assert connected["first_name"] == "Maja" and connected["is_new"] is True
    assert "{member_last_name_1}" in confirm["expect"]["absent"]
    assert steps[5]["expect"]["screen"] == "idle"

    # Replayed headless by the command the desk showed: the product does the same.
    result, summary = sim_run(path)
    assert summary["error"] is None, summary["error"]
    assert summary["failed"] == [], "\n".join(summary["failed"])
    assert summary["ok"] is True and summary["steps_passed"] == len(steps)
    assert result.returncode == 0

    # QA's copy expects someone else at the register: the replay fails at that step and says
    # what differs.
    changed = tmp_path / "changed.toml"
    text = path.read_text(encoding="utf-8")
    changed.write_text(re.sub(r'(event = "customer_connected", first_name = )"Maja"',
                              r'\1"Majken"', text), encoding="utf-8")
    assert changed.read_text(encoding="utf-8") != text
    result, summary = sim_run(changed)
    assert result.returncode == 1 and summary["ok"] is False
    assert summary["steps_passed"] == 4
    assert "FAILED step 5 (confirm_member" in result.stderr
    assert '-first_name: "Majken"' in result.stderr
    assert '+first_name: "Maja"' in result.stderr


def test_via_mobil_on_the_desk_phone_reads_the_kiosks_qr_and_connects_anna(
        desk: Desk, tmp_path: Path) -> None:
    desk.wait_screen("idle", since=0, online=True)
    mark = desk.mark()
    desk.send("start_sale")
    choose = desk.wait_screen("choose", since=mark)
    mark = desk.mark()
    desk.tap(choose, "choose_mobile")
    desk.wait_screen("mobile", since=mark)
    # The phone reads the code off the customer screen's own pixels and opens the page.
    url = desk.send("phone_open")["result"]
    assert re.search(r"^http://127\.0\.0\.1:\d+/m/[A-Za-z0-9_-]+$", url), url
    mark = desk.mark()
    desk.send("phone_send", first_name="Anna", last_name="Andersson",
              phone="070-123 45 67", personal_id="19850312-1249")
    welcome = desk.wait_screen("welcome", since=mark)
    assert "Välkommen, Anna!" in welcome["texts"]
    assert not any("1249" in t or "Andersson" in t for t in welcome["texts"])

    path = Path(desk.send("save", name="desk-mobile", path=str(tmp_path / "m.toml"))
                ["result"]["path"])
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    steps = raw["steps"]
    assert [s["do"] for s in steps] == ["start_sale", "tap", "phone_open", "phone_send"]
    # The code belongs to the step that showed it, so the replay reads it there for {qr}.
    assert steps[1]["expect"]["qr"] == "phone_page"
    assert raw["vars"]["phone_personal_id_1"] == "19850312-1249"
    assert steps[3]["personal_id"] == "{phone_personal_id_1}"
    assert "{phone_personal_id_1}" in steps[3]["expect"]["absent"]
    assert "{phone_personal_id_1}" in steps[3]["expect"]["logs_absent"]

    # Replayed headless: the phone reads the code off the replayed kiosk and Anna connects.
    result, summary = sim_run(path)
    assert summary["error"] is None, summary["error"]
    assert summary["failed"] == [], "\n".join(summary["failed"])
    assert summary["steps_passed"] == 4 and summary["customer_code"] == "1001"
    assert result.returncode == 0


def test_screenshot_renders_the_desk_once_and_exits(tmp_path: Path) -> None:
    screen = VirtualScreen(*WINDOW)
    display = screen.start()
    out = tmp_path / "desk.png"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "simulator.cli", "desk", "--screenshot", str(out)],
            env={**os.environ, "DISPLAY": display, "KIVY_NO_ARGS": "1",
                 "KIVY_HOME": str(tmp_path / "kivy"),
                 "SELFREG_CONFIG": str(tmp_path / "none.toml")},
            capture_output=True, text=True, timeout=180, check=False)
    finally:
        screen.stop()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    from PIL import Image

    with Image.open(out) as image:
        assert image.size == WINDOW
        rgb = image.convert("RGB")
        # The kiosk's green header is on the left, the panel's dark grey on the right.
        greens = sum(1 for x in range(0, 900, 10) for y in range(0, 960, 10)
                     if rgb.getpixel((x, y)) == (11, 110, 79))
        assert greens > 50, greens
        panel = sum(1 for x in range(WINDOW[0] - 700, WINDOW[0], 10)
                    for y in range(0, 960, 10) if rgb.getpixel((x, y)) == (41, 46, 51))
        assert panel > 500, panel


def replays_headless(path: Path) -> None:
    result, summary = sim_run(path)
    assert summary["error"] is None, summary["error"]
    assert summary["failed"] == [], "\n".join(summary["failed"])
    assert summary["ok"] is True and summary["steps_passed"] == summary["steps"]
    assert result.returncode == 0


def test_network_cut_and_bridge_restart_on_the_desk_are_recorded_and_replay_headless(
        desk: Desk, tmp_path: Path) -> None:
    desk.wait_screen("idle", since=0, online=True)
    mark = desk.mark()
    desk.send("start_sale")
    desk.wait_screen("choose", since=mark)

    # The kiosk's cable is pulled: the customer screen says it is offline...
    mark = desk.mark()
    desk.send("network", what="cut", device="kiosk")
    offline = desk.wait_screen("offline", since=mark, online=False)
    assert "choose_numpad" not in offline["buttons"]
    # ...and once it is back the kiosk resumes the sale's choices by itself.
    mark = desk.mark()
    desk.send("network", what="restore", device="both")
    desk.wait_screen("choose", since=mark, online=True)

    # The bridge is killed and started again: the kiosk goes offline, reconnects, and the lane
    # is where it was (the same sale's choices); the register hears the same lane state.
    mark = desk.mark()
    status = desk.send("bridge_restart")["status"]
    desk.wait_screen("offline", since=mark, online=False)
    resumed = desk.wait_screen("choose", since=mark, online=True)
    assert "choose_numpad" in resumed["buttons"]
    assert status["steps"] == 5  # start, cut, restore, kill, start

    mark = desk.mark()
    desk.tap(resumed, "choose_numpad")
    desk.wait_screen("numpad", since=mark)
    mark = desk.mark()
    desk.send("end_sale")
    desk.wait_screen("idle", since=mark)

    path = Path(desk.send("save", name="desk-faults", path=str(tmp_path / "f.toml"))
                ["result"]["path"])
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    steps = raw["steps"]
    assert [s["do"] for s in steps] == ["start_sale", "network_cut", "network_restore",
                                        "bridge_kill", "bridge_start", "tap", "end_sale"]
    assert steps[1]["device"] == "kiosk"
    assert steps[1]["expect"] == {**steps[1]["expect"], "screen": "offline", "online": False}
    assert steps[2]["expect"]["screen"] == "choose"
    # The restart's step expects the resumed choices and the register's lane in the same phase.
    assert steps[4]["expect"]["screen"] == "choose"
    assert {"event": "state", "phase": "choosing"} in steps[4]["expect"]["register"]
    replays_headless(path)


def test_a_database_outage_on_the_desk_is_recorded_and_replays_headless(
        desk: Desk, tmp_path: Path) -> None:
    from kiosk.i18n import gettext
    from kiosk.screens import NOTICES

    try_again = gettext("sv", NOTICES["unavailable"])
    desk.wait_screen("idle", since=0, online=True)
    mark = desk.mark()
    desk.send("start_sale")
    choose = desk.wait_screen("choose", since=mark)
    mark = desk.mark()
    desk.tap(choose, "choose_numpad")
    numpad = desk.wait_screen("numpad", since=mark)

    down = desk.send("database", down=True)["status"]
    assert "a write waits 3 s for the lock" in down["status"]
    desk.type_digits(numpad, "198503121249")
    # The shopper's OK cannot be saved: she stays on Ange ID, online, asked to try again.
    mark = desk.mark()
    desk.tap(numpad, "key_ok")
    refused = desk.wait_text("numpad", try_again, since=mark)
    assert refused["online"] is True
    assert not any("1249" in t for t in refused["texts"])

    # The database is back: the same OK, her number still typed, connects her.
    desk.send("database", down=False)
    mark = desk.mark()
    desk.tap(refused, "key_ok")
    welcome = desk.wait_screen("welcome", since=mark)
    assert "Välkommen, Anna!" in welcome["texts"]
    assert try_again not in welcome["texts"]

    path = Path(desk.send("save", name="desk-outage", path=str(tmp_path / "o.toml"))
                ["result"]["path"])
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    steps = raw["steps"]
    assert [s["do"] for s in steps] == ["start_sale", "tap", "db_outage", "type", "tap",
                                        "db_restore", "tap"]
    # The replay's bridge waits for the lock as long as the desk's did.
    assert raw["bridge"]["settings"] == {"db_busy_timeout_s": 3}
    assert steps[4]["expect"]["screen"] == "numpad"
    assert try_again in steps[4]["expect"]["texts"]
    assert "{typed_1}" in steps[4]["expect"]["absent"]
    assert "Välkommen, Anna!" in steps[6]["expect"]["texts"]
    replays_headless(path)


def test_language_size_and_sliders_on_the_desk(desk: Desk, tmp_path: Path) -> None:
    from kiosk.i18n import gettext

    idle = desk.wait_screen("idle", since=0, online=True)
    assert "Hej! Är du medlem?" in idle["texts"]
    # At the default window the whole panel shows: nothing is below the fold.
    height, visible = desk.send("status")["status"]["panel"]
    assert height <= visible, (height, visible)

    # English: the kiosk's own texts change, on the screen it shows.
    mark = desk.mark()
    desk.send("language", language="en")
    english = desk.wait_screen("idle", since=mark)
    assert english["language"] == "en"
    assert gettext("en", "Hi! Are you a member?") in english["texts"], english["texts"]
    assert "Hej! Är du medlem?" not in english["texts"]

    # Each display size: the kiosk laid out again at that size, shown whole on the desk in
    # its proportions, its buttons inside it.
    for size in ("800x480", "1920x1080", "1280x800"):
        width, height = map(int, size.split("x"))
        mark = desk.mark()
        desk.send("size", size=size)
        shown = desk.wait_screen("idle", since=mark)
        assert shown["display"] == [width, height]
        x, y, w, h = shown["host"]
        assert abs(w / h - width / height) < 0.01
        assert x >= 0 and y >= 0 and x + w <= WINDOW[0] and y + h <= WINDOW[1]
        assert shown["language"] == "en" and "Hej! Är du medlem?" not in shown["texts"]
        for bx, by in shown["buttons"].values():
            assert x <= bx <= x + w and y <= by <= y + h, (size, bx, by)

    # A licence held far away and turned: the sliders' values are recorded with the item.
    mark = desk.mark()
    desk.send("start_sale")
    choose = desk.wait_screen("choose", since=mark)
    mark = desk.mark()
    desk.tap(choose, "choose_scan")
    desk.wait_screen("scan", since=mark)
    desk.send("present", item="licence")
    desk.send("flaws", distance=2.5, angle=30)
    path = Path(desk.send("save", name="desk-sliders", path=str(tmp_path / "s.toml"))
                ["result"]["path"])
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert raw["kiosk"]["settings"] == {"language": "en"}
    presents = [s for s in raw["steps"] if s["do"] == "present"]
    assert presents[0]["item"] == "licence" and "flaws" not in presents[0]
    assert presents[-1]["item"] == "licence"
    assert presents[-1]["flaws"] == {"distance": 2.5, "angle": 30.0}
    assert len(presents) == 2  # two sliders set at once: one step
    load(path)
