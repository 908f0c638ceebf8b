"""Scenario files as QA writes them: what loads, what a mistake says, and that saving keeps
everything the file said."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from simulator.scenario_file import (
    Action,
    Camera,
    RegisterEvent,
    Scenario,
    ScenarioError,
    Screen,
    builtin,
    dumps,
    find,
    load,
    parse,
    save,
)
from simulator.scenarios import known_customer, unknown_personnummer

EXAMPLE = '''
name = "ange-id-known-copy"
description = "Anna types her personnummer."

[vars]
pnr = "198503121249"

[bridge.settings]
mobile_token_s = 4

[[steps]]
do = "start_sale"
expect.screen = "choose"
expect.buttons = ["choose_numpad"]

[[steps]]
do = "tap"
button = "choose_numpad"
expect.screen = "numpad"

[[steps]]
do = "type"
digits = "{pnr}"

[[steps]]
do = "tap"
button = "key_ok"
note = "greeted by first name"
timeout_s = 20
expect.screen = "welcome"
expect.texts = ["Välkommen, Anna!"]
expect.absent = ["{pnr}"]
expect.register = [
    { event = "customer_connected", customer_code = "1001", is_new = false },
]

[[steps]]
do = "end_sale"
expect.screen = "idle"
expect.logs_absent = ["{pnr}", "{connected.phone}"]
'''


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse(tomllib.loads(text), "copy.toml")
    return caught.value.problems


def with_step(step: str) -> str:
    return f'name = "x"\n\n[[steps]]\ndo = "start_sale"\n\n[[steps]]\n{step}\n'


def test_a_scenario_file_reads_as_its_steps() -> None:
    scenario = parse(tomllib.loads(EXAMPLE))
    assert scenario.name == "ange-id-known-copy"
    assert [s.do for s in scenario.steps] == [Action.start_sale, Action.tap, Action.type,
                                               Action.tap, Action.end_sale]
    welcome = scenario.steps[3]
    assert welcome.describe() == "tap key_ok"
    assert welcome.expect.screen is Screen.welcome
    [event] = welcome.expect.events
    assert event.event is RegisterEvent.customer_connected
    assert event.fields == {"customer_code": "1001", "is_new": False}
    assert scenario.env(scenario.bridge) == {"SELFREG_MOBILE_TOKEN_S": "4"}
    assert scenario.kiosk.camera is Camera.none  # unless the file asks for the virtual one


def test_every_built_in_scenario_loads() -> None:
    scenarios = {name: load(path) for name, path in builtin().items()}
    assert {"ange-id-known", "bridge-restart", "skanna-card", "via-mobil-expired"} <= set(
        scenarios)
    for name, scenario in scenarios.items():
        assert scenario.name == name, f"{name}.toml calls itself {scenario.name}"
        assert scenario.description


def test_a_built_in_scenario_is_found_by_name_and_any_file_by_path(tmp_path: Path) -> None:
    assert find("skanna-card") == builtin()["skanna-card"]
    copy = tmp_path / "mine.toml"
    copy.write_text(EXAMPLE, encoding="utf-8")
    assert find(str(copy)) == copy
    assert find("no-such-scenario") is None
    assert find(str(tmp_path / "missing.toml")) is None


@pytest.mark.parametrize("path", sorted(builtin().values()), ids=lambda p: p.stem)
def test_saving_keeps_everything_the_file_said(path: Path, tmp_path: Path) -> None:
    scenario = load(path)
    copy = tmp_path / path.name
    save(scenario, copy)
    assert load(copy) == scenario
    assert dumps(load(copy)) == copy.read_text(encoding="utf-8")


def test_saving_writes_the_action_first_and_only_what_was_said() -> None:
    text = dumps(parse(tomllib.loads(EXAMPLE)))
    step = text.split("[[steps]]")[4]
    assert step.strip().splitlines()[:4] == [
        'do = "tap"', 'button = "key_ok"', 'note = "greeted by first name"', "timeout_s = 20.0"]
    assert '{ event = "customer_connected", customer_code = "1001", is_new = false }' in step
    assert "texts_any" not in text and "customers_created" not in text  # defaults stay out


@pytest.mark.parametrize(("step", "expected"), [
    ('do = "tapp"', "step 2 (tapp): do: 'tapp' is not an action (start_sale, end_sale, "),
    ('button = "yes"', "step 2: do: required (one of start_sale, "),
    ('do = "tap"', "step 2 (tap): button: required"),
    ('do = "tap"\nbutton = "yes"\nexpect.scren = "welcome"',
     "step 2 (tap): expect.scren: unknown key"),
    ('do = "tap"\nbutton = "yes"\nexpect.screen = "welcom"',
     "step 2 (tap): expect.screen: Input should be 'idle', 'choose', "),
    ('do = "tap"\nbutton = "yes"\nexpect.texts = ["Hej"]',
     "step 2 (tap): expect: texts need screen: the screen they are looked for on"),
    ('do = "tap"\nbutton = "yes"\nexpect.register = [{ event = "customer_connected", '
     'frist_name = "Anna" }]',
     "step 2 (tap): expect.register.0: frist_name is not a field of a customer_connected "
     "event (it has sale_id, id, customer_code, first_name, "),
    ('do = "tap"\nbutton = "yes"\nexpect.register = [{ event = "customer_conected" }]',
     "step 2 (tap): expect.register.0.event: Input should be 'state', "),
    ('do = "tap"\nbutton = "yes"\nexpect.register_totals = { customer_connected = -1 }',
     "step 2 (tap): expect.register_totals.customer_connected: Input should be greater than "
     "or equal to 0"),
    ('do = "type"\ndigits = "{pnrr}"',
     "step 2 (type): digits: {pnrr} names nothing (known: prompt, connected, qr, qr_before)"),
    ('do = "type"\ndigits = "12ab"', "step 2 (type): digits: String should match pattern "),
    ('do = "confirm_member"\nfirst_name = "Berit"\nlast_name = "{prompt.nmae}"',
     "step 2 (confirm_member): last_name: {prompt.nmae} needs one of the fields sale_id, "),
    ('do = "present"\nitem = "card-qr"',
     "step 2 (present): item: card-qr needs what it holds after a colon, e.g. card-qr:1001"),
    ('do = "present"\nitem = "passport"',
     "step 2 (present): item: 'passport' is not something the virtual camera can show"),
    ('do = "tap"\nbutton = "yes"\nexpect.matches = ["(Tack"]',
     "step 2 (tap): expect.matches: '(Tack' is not a regular expression: "),
    ('do = "wait"', "step 2 (wait): a wait step needs expect.screen or expect.register to "
                    "wait for"),
    ('do = "network_cut"\ndevice = "printer"',
     "step 2 (network_cut): device: Input should be 'kiosk', 'register' or 'both'"),
    ('do = "present"\nitem = "licence"\nflaws = { distance = 9 }',
     "step 2 (present): flaws.distance: Input should be less than or equal to 3"),
    ('do = "present"\nitem = "licence"\nflaws = { tilt = 10 }',
     "step 2 (present): flaws.tilt: unknown key"),
    ('do = "db_outage"\ndevice = "kiosk"', "step 2 (db_outage): device: unknown key"),
])
def test_a_mistake_names_the_step_and_the_key(step: str, expected: str) -> None:
    [problem] = problems(with_step(step))
    assert problem.startswith(expected), problem


def test_every_mistake_in_a_file_is_reported_at_once() -> None:
    text = with_step('do = "tap"') + '\n[[steps]]\ndo = "type"\n\n[kiosk]\ncamera = "webcam"\n'
    assert problems(text) == [
        "kiosk.camera: Input should be 'none' or 'virtual'",
        "step 2 (tap): button: required",
        "step 3 (type): digits: required",
    ]


@pytest.mark.parametrize(("text", "expected"), [
    ('description = "no name"\n[[steps]]\ndo = "end_sale"', "name: required"),
    ('name = "Has Spaces"\n[[steps]]\ndo = "end_sale"', "name: String should match pattern"),
    ('name = "x"\nsteps = []', "steps: List should have at least 1 item"),
    ('name = "x"\n[bridge.settings]\nmobile_tokens_s = 4\n[[steps]]\ndo = "end_sale"',
     "bridge.settings: unknown setting mobile_tokens_s (see README, Configuration)"),
    ('name = "x"\nseed = "all"\n[[steps]]\ndo = "end_sale"', "seed: Input should be 'demo' or"),
    ('name = "x"\n[vars]\nqr = "1"\n[[steps]]\ndo = "end_sale"',
     "vars.qr: the name is taken by a value the run learns"),
])
def test_a_mistake_outside_the_steps_names_the_key(text: str, expected: str) -> None:
    [problem] = problems(text)
    assert problem.startswith(expected), problem


def test_a_file_that_is_not_toml_says_where(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x"\n[[steps]\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load(broken)
    assert str(caught.value).startswith(f"{broken}: not TOML: ")
    assert "line 2" in str(caught.value)


def test_regular_expressions_keep_their_braces() -> None:
    scenario: Scenario = parse(tomllib.loads(with_step(
        'do = "tap"\nbutton = "yes"\nexpect.screen = "ask_member"\n'
        'expect.matches = ["^\\\\d{8}-[*]{4}$"]')))
    assert scenario.steps[1].expect.matches == ["^\\d{8}-[*]{4}$"]


def data_of(scenario: Scenario) -> dict[str, Any]:
    return tomllib.loads(dumps(scenario))


def test_event_fields_are_written_back_beside_the_event() -> None:
    scenario = load(builtin()["bridge-restart"])
    restart = next(s for s in data_of(scenario)["steps"] if s["do"] == "bridge_start")
    assert restart["expect"]["register"] == [
        {"event": "state", "phase": "await_cashier", "prompt_id": "{prompt.prompt_id}"}]


def test_the_people_in_the_built_in_scenarios_fit_the_demo_shop() -> None:
    # The files name people literally, as QA reads them: Anna (customer 1001) and a valid
    # personnummer that nobody in the demo data has.
    anna = re.sub(r"\D", "", known_customer()["personal_id"])
    nobody = unknown_personnummer()
    numbers = {name: s.vars["pnr"] for name, s in ((n, load(p)) for n, p in builtin().items())
               if "pnr" in s.vars}
    assert numbers and set(numbers.values()) <= {anna, nobody}, numbers
    assert numbers["ange-id-known"] == anna
    assert numbers["ange-id-new-member"] == nobody


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_list_names_every_built_in_scenario_with_what_it_shows() -> None:
    result = sim("list")
    assert result.returncode == 0
    listed = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert set(listed) == set(builtin())
    assert "Anna" in listed["ange-id-known"]


def test_check_reports_a_broken_copy_and_run_refuses_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(with_step('do = "tap"\nbutton = "yes"\nexpect.scren = "welcome"'),
                      encoding="utf-8")
    checked = sim("check", "ange-id-known", str(broken))
    assert checked.returncode == 1
    assert f"{builtin()['ange-id-known']}: ange-id-known, " in checked.stdout
    assert f"{broken}: step 2 (tap): expect.scren: unknown key" in checked.stderr
    run = sim("run", str(broken))
    assert run.returncode == 2
    assert "step 2 (tap): expect.scren: unknown key" in run.stderr
