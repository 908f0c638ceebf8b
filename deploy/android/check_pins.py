"""Runs the APK's Python payload on Linux with the pure-Python versions buildozer.spec pins and
no zxing-cpp, to catch a pin that breaks the kiosk before a device does.

    python3 -m venv /tmp/pins && /tmp/pins/bin/pip install --no-deps <the spec's pins> \\
        pydantic-core==2.41.4 kivy==2.3.1 numpy==2.3.0 opencv-python-headless==4.12.0.88 \\
        pyzbar==0.1.9 pillow==11.3.0      # Linux wheels at the recipes' versions
    ./prepare.sh /tmp/app && cd /tmp/app && /tmp/pins/bin/python .../check_pins.py

It imports every module the kiosk runs (the APK's main.py too), loads a configuration file,
builds and parses protocol messages, reads the translations and decodes a QR photo with zbar.
Prints one JSON object; exits 1 on the first failure.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
from pathlib import Path

MODULES = ("main", "kiosk.app", "kiosk.cli", "kiosk.scanner", "kiosk.scan_session",
           "kiosk.camera.android", "kiosk.platform.android", "kiosk.platform.choose",
           "cashier_bridge.config", "cashier_bridge.protocol")


def main() -> int:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kivy-"))
    sys.path.insert(0, os.getcwd())
    result: dict[str, object] = {"python": sys.version.split()[0]}
    for name in MODULES:
        module = importlib.import_module(name)
        assert Path(module.__file__ or "").resolve().is_relative_to(Path.cwd()), module.__file__
    import pydantic

    result["pydantic"] = pydantic.VERSION
    result["zxingcpp"] = importlib.util.find_spec("zxingcpp") is not None

    config = Path(tempfile.mkdtemp()) / "selfreg.toml"
    config.write_text('bridge_url = "ws://10.0.0.5:8765/ws"\nlane = "kassa-1"\ncamera = "0"\n')
    os.environ["SELFREG_CONFIG"] = str(config)
    from cashier_bridge.config import load_settings

    settings = load_settings()
    assert (settings.lane, settings.camera) == ("kassa-1", "0"), settings

    from cashier_bridge.protocol import Scan, parse_intent

    sent = Scan(text="1001", symbology="QRCode").model_dump_json()
    assert parse_intent(sent) == Scan(text="1001", symbology="QRCode")

    from kiosk import i18n

    result["messages"] = {lang: len(i18n._messages(lang)) for lang in ("sv", "en", "nl")}
    assert all(result["messages"].values()), "the translations did not load"  # type: ignore[union-attr]

    from kiosk import scanner

    photo = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if photo is not None:
        codes = scanner.decode(scanner.load_image(photo))
        result["decoded"] = [c.text for c in codes]
    result["decoder"] = scanner.Scanner().decoder
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
