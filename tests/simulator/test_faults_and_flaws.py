"""The database outage and the camera's flaws as scenario steps: what a file may say, what the
virtual camera makes of a present step's flaws, and the outage's lock as the bridge meets it."""

from __future__ import annotations

import sqlite3
import tomllib
from pathlib import Path

import pytest

from simulator.dbfault import DatabaseFaultError, DatabaseOutage
from simulator.scenario_file import Action, Present, dumps, parse
from simulator.virtual_camera import Flaws, VirtualCamera, present, read_control

STEPS = '''
name = "x"
[[steps]]
do = "db_outage"
[[steps]]
do = "present"
item = "licence"
flaws = { distance = 2.5, light = 0.4 }
[[steps]]
do = "db_restore"
'''


def test_outage_steps_and_flaws_read_and_write_back_as_written() -> None:
    scenario = parse(tomllib.loads(STEPS))
    assert [s.do for s in scenario.steps] == [Action.db_outage, Action.present,
                                             Action.db_restore]
    held = scenario.steps[1]
    assert isinstance(held, Present) and held.flaws is not None
    # What the file did not say is the camera's default.
    assert held.flaws.values() == {"distance": 2.5, "angle": 0.0, "blur": 1.0, "glare": 1.0,
                                   "light": 0.4}
    text = dumps(scenario)
    assert "flaws = { distance = 2.5, light = 0.4 }" in text  # only what differs is written
    assert parse(tomllib.loads(text)) == scenario


def test_a_present_with_flaws_reaches_the_running_camera_and_one_without_resets_them(
        tmp_path: Path) -> None:
    control = tmp_path / "camera-control"
    camera = VirtualCamera(control=control)
    present(control, "licence", {"distance": 2.5, "angle": 30.0})
    camera._check_control()  # what the camera's thread does before every frame
    assert camera.item.kind == "licence"
    assert camera._scene_args["flaws"] == Flaws(distance=2.5, angle=30.0)
    present(control, "card-qr:1001")
    camera._check_control()
    assert (camera.item.kind, camera.item.payload) == ("card-qr", "1001")
    assert camera._scene_args["flaws"] == Flaws()


@pytest.mark.parametrize(("text", "problem"), [
    ('{"item": "licence", "flaws": {"tilt": 3}}', "unknown flaws tilt"),
    ('{"flaws": {}}', 'expected {"item": ITEM'),
    ('{"item": "licence", ', "not JSON"),
])
def test_a_broken_control_file_is_refused_with_why(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("{", r"\{")):
        read_control(text)


def test_the_outage_holds_the_write_lock_so_a_write_gives_up_and_works_after_restore(
        tmp_path: Path) -> None:
    db = tmp_path / "registry.db"
    bridge = sqlite3.connect(db, timeout=0.2, isolation_level=None)
    bridge.execute("PRAGMA journal_mode=WAL")
    bridge.execute("CREATE TABLE lane (seq INTEGER)")
    outage = DatabaseOutage(f"sqlite:///{db}")
    outage.start()
    assert outage.down
    # Reads go on; a write waits its busy timeout and fails as the bridge's would.
    assert bridge.execute("SELECT count(*) FROM lane").fetchone() == (0,)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        bridge.execute("BEGIN IMMEDIATE")
    outage.stop()
    assert not outage.down
    bridge.execute("BEGIN IMMEDIATE")
    bridge.execute("INSERT INTO lane VALUES (1)")
    bridge.execute("COMMIT")
    assert bridge.execute("SELECT seq FROM lane").fetchall() == [(1,)]


def test_an_outage_on_postgresql_is_refused_with_what_to_do() -> None:
    with pytest.raises(DatabaseFaultError, match="stop the server itself"):
        DatabaseOutage("postgresql+psycopg://shop@db/selfreg")
