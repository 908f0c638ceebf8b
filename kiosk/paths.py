"""Where the kiosk finds its assets (catalogs, images) inside the source tree."""

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
LOCALE_DIR = ASSETS_DIR / "locale"
IMAGES_DIR = ASSETS_DIR / "images"
