"""``selfreg-sim screenshots`` pictures the cashier console (its own Playwright, so its own
module: two sync Playwright sessions cannot share a thread)."""

from __future__ import annotations

from pathlib import Path


def test_selfreg_sim_screenshots_shows_the_console_in_every_state(tmp_path: Path) -> None:
    from PIL import Image

    from simulator.console_screenshots import STATES, run

    shots = run(tmp_path, ((1280, 800),))
    assert [p.name for p in shots] == [f"console-{state}_en_1280x800.png" for state in STATES]
    for path in shots:
        with Image.open(path) as image:
            assert image.width == 1280 and image.height >= 800, path
