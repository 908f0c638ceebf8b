"""Where the kiosk finds its assets (catalogs, images).

From a source checkout (the editable install the scripts make): ``assets/`` beside the packages.
From a wheel: the catalogs installed as data files under ``<prefix>/share/selfreg``.
"""

import sys
from pathlib import Path

_SOURCE_ASSETS = Path(__file__).resolve().parent.parent / "assets"
_INSTALLED_ASSETS = Path(sys.prefix) / "share" / "selfreg"

ASSETS_DIR = _SOURCE_ASSETS if _SOURCE_ASSETS.is_dir() else _INSTALLED_ASSETS
LOCALE_DIR = ASSETS_DIR / "locale"
IMAGES_DIR = ASSETS_DIR / "images"
