"""No route changes anything for a page of another site: every POST, PATCH, PUT and DELETE the
bridge serves is refused when the browser says another site's page sent it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from tests.bridge.test_bridge_server import Bridge, db

__all__ = ["db"]

SAFE = {"GET", "HEAD", "OPTIONS"}


@pytest.fixture
async def served(db: str) -> AsyncIterator[Bridge]:
    b = Bridge(db)
    await b.start()
    yield b
    await b.stop()


def writes(bridge: Bridge) -> list[tuple[str, str]]:
    """Every (method, path) of the app that may change something, with ids filled in."""
    found = []
    for route in iter_route_contexts(bridge.app.routes):
        if getattr(route, "methods", None):
            path = re.sub(r"\{[^}]+\}", "1", route.path.replace("{token}", "A" * 43))
            found += [(method, path) for method in sorted(route.methods - SAFE)]
    assert len(found) > 20, found  # the API, the back office, the console, the phone page
    assert all("{" not in path for _, path in found), found
    return found


async def test_every_write_from_another_sites_page_is_refused_before_any_route(
        served: Bridge) -> None:
    base = f"http://127.0.0.1:{served.port}"
    async with httpx.AsyncClient(base_url=base) as client:
        for method, path in writes(served):
            for headers in ({"Origin": f"http://127.0.0.1:{served.port + 1}"},
                            {"Origin": "https://evil.example"},
                            {"Sec-Fetch-Site": "same-site", "Origin": "null"},
                            {"Sec-Fetch-Site": "cross-site"}):
                answer = await client.request(method, path, headers=headers, content=b"x=1")
                assert answer.status_code == 403, (method, path, headers, answer.text)
                assert "another site" in answer.text, (method, path)
                if path.startswith("/api/"):
                    assert answer.json()["error"] == "forbidden"
                assert answer.headers["x-content-type-options"] == "nosniff"


async def test_the_bridges_own_pages_programs_and_tokens_still_get_through(
        served: Bridge) -> None:
    base = f"http://127.0.0.1:{served.port}"
    own = {"Origin": base, "Sec-Fetch-Site": "same-origin"}
    async with httpx.AsyncClient(base_url=base) as client:
        # Reaches the route, which then asks for credentials as it always did.
        for headers in (own, {"Origin": "null", "Sec-Fetch-Site": "same-origin"}, {}):
            answer = await client.post("/api/v1/customers", json={}, headers=headers)
            assert answer.status_code == 401, (headers, answer.text)
        # A program with its own token is no victim of ambient cookies, wherever it runs.
        answer = await client.post("/api/v1/customers", json={}, headers={
            "Origin": "https://pos-vendor.example", "Authorization": "Bearer sra_nope"})
        assert answer.status_code == 401 and "token" in answer.json()["message"]
        answer = await client.post("/console/sign-in", data={"code": ""}, headers=own)
        assert answer.status_code == 422
