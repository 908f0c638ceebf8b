"""The API's documentation page in a real browser under its Content-Security-Policy (issue 16):
Swagger UI still starts, lists every operation and breaks no rule of the policy, and no other
site may frame it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from simulator.processes import BridgeProcess


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    b = BridgeProcess(tmp_path_factory.mktemp("docs-bridge"))
    b.start()
    yield b
    b.stop()


def test_swagger_ui_works_under_the_page_s_policy(browser: Any, bridge: BridgeProcess) -> None:
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text)
            if "Content Security Policy" in m.text or m.type == "error" else None)
    page.on("pageerror", lambda e: refused.append(str(e)))
    answer = page.goto(f"{bridge.http_url}/docs")
    assert answer is not None and answer.status == 200
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    # Swagger UI ran (its start script is inline, allowed by hash) and read the document.
    expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=20_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/customers/{customer_id}")
           .first).to_be_visible()
    # Its stylesheet's icons (data: images) and fonts show without a violation.
    page.locator(".opblock-summary").first.click()
    expect(page.locator(".try-out__btn").first).to_be_visible()
    assert refused == []
    context.close()
