from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from fake_android import FakeAndroid


@pytest.fixture
def android(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAndroid]:
    """A fake Android (jnius and python-for-android's android package) for this test."""
    from kiosk.camera import android as camera_android

    fake = FakeAndroid()
    for name, module in fake.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(camera_android._Listeners, "_made", None)  # built on this test's jnius
    yield fake
