"""``selfreg-sim screenshots`` pictures the phone page (its own Playwright, so its own module:
two sync Playwright sessions cannot share a thread)."""

from __future__ import annotations

from pathlib import Path


def test_selfreg_sim_screenshots_shows_the_phone_page_in_every_state(tmp_path: Path) -> None:
    from PIL import Image

    from simulator.phone_screenshots import run

    shots = run(tmp_path, ("en",))
    assert [p.name for p in shots] == [f"phone-{state}_en_375x812.png" for state in
                                       ("form", "error", "waiting", "card", "expired")]
    for path in shots:
        with Image.open(path) as image:
            assert image.width == 375 and image.height >= 600, path
