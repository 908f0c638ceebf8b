"""Debian's chromium driven by Playwright: the one way the tests and the screenshot tools start
a real browser (see ../shared/STACK-NOTES.md for why these flags)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class NoChromium(RuntimeError):
    """Debian's chromium is not installed."""


def available() -> bool:
    return shutil.which(CHROMIUM) is not None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium (a Playwright ``Browser``), closed on the way out."""
    if not available():
        raise NoChromium(f"Debian's chromium is not installed at {CHROMIUM} (./test.sh "
                         "installs it; or apt install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     headless=True)
        try:
            yield browser
        finally:
            browser.close()
