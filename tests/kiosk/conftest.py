from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from kiosk_harness import FakeBridge, Kiosk, xvfb

# Some tests import Kivy in-process; keep it from writing to the user's home or parsing argv.
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="selfreg-kivy-test-"))
os.environ["KIVY_NO_ARGS"] = "1"
os.environ["KIVY_LOG_MODE"] = "PYTHON"


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.fail("the kiosk tests need Xvfb and xdotool (apt-get install xvfb xdotool)")
    with xvfb() as name:
        yield name


@pytest.fixture(scope="module")
def bridge() -> Iterator[FakeBridge]:
    fake = FakeBridge()
    fake.start()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def kiosk(display: str, bridge: FakeBridge, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Kiosk]:
    app = Kiosk(display, bridge.url, Path(tmp_path_factory.mktemp("kiosk")))
    app.wait_screen("idle")
    yield app
    app.close()
