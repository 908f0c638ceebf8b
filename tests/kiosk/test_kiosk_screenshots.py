"""``selfreg-sim screenshots``: a real picture of every screen, per language and size."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from simulator.screenshots import _shots, run

pytestmark = pytest.mark.kiosk

BRAND_GREEN = (11, 110, 79)


@pytest.mark.parametrize("size", [(800, 480), (1920, 1080)])
def test_every_screen_is_written_at_its_size_with_the_brand_header(
        tmp_path: Path, size: tuple[int, int]) -> None:
    paths = run(tmp_path, sizes=(size,), languages=("sv", "en"))
    assert len(paths) == 2 * len(_shots())
    assert {p.name for p in paths} >= {f"welcome_sv_{size[0]}x{size[1]}.png",
                                       f"offline_en_{size[0]}x{size[1]}.png"}
    for path in paths:
        with Image.open(path) as image:
            assert image.size == size
            rgb = image.convert("RGB")
            header = rgb.getpixel((size[0] // 2, 5))
            body = rgb.getpixel((5, size[1] // 2))
            assert max(abs(a - b) for a, b in zip(header, BRAND_GREEN, strict=True)) < 8, path
            assert body != header, path
            # Something is drawn on the body: not a single flat colour.
            assert len(rgb.crop((0, size[1] // 5, size[0], size[1])).getcolors(1 << 16)
                       or range(99)) > 20, path
