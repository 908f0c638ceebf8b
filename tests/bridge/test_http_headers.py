"""Every HTTP answer of the bridge carries its security headers (issue 16): each GET route of
the app — walked from ``app.routes``, so a new page is checked the day it is added — is asked
for with a back-office sign-in and a cashier console's cookie, and every HTML answer has a
Content-Security-Policy with ``frame-ancestors 'none'``, ``nosniff``, ``no-referrer`` and
``no-store``; every other answer ``nosniff`` and, unless it is a static file, ``no-store``.
HSTS comes with HTTPS only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from cashier_bridge.registry import NewCustomer, Registry
from cashier_bridge.web.cookies import DEVICE_COOKIE
from cashier_bridge.web.http_headers import DEFAULT_CSP, with_frame_ancestors
from tests.admin.conftest import Clock, make_client
from tests.admin.test_admin_http import login, staffed_sqlite

STATIC = ("text/css", "text/javascript", "application/javascript", "image/")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    reg = staffed_sqlite(tmp_path / "headers.db", Clock())
    anna, _ = reg.customers.create_new("a", NewCustomer("Anna", "Andersson", customer_code="1001",
                                                        phone="+46701234567"))
    bo, _ = reg.customers.create_new("b", NewCustomer("Anna", "Andersson", customer_code="1002"))
    reg.groups.create("Staff", actor="test")
    reg.merges.merge(anna.id, bo.id, actor="test")
    yield reg
    reg.close()


@pytest.fixture
def client(registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[TestClient]:
    with make_client(registry, tmp_path, monkeypatch) as c:
        yield c


def samples(registry: Registry) -> dict[str, str]:
    """A value for each path parameter a GET route of the app has."""
    group = next(g for g in registry.groups.list() if g.name == "Staff")
    merge = registry.merges.merges_of(1)[0]
    return {"customer_id": "1", "group_id": str(group.id), "entry_id": str(merge.entry_id),
            "batch_id": "1", "job_id": "no-such-job", "username": "kim",
            "token": "A" * 43, "name": "console.js"}


def get_routes(client: TestClient) -> list[str]:
    return [route.path for route in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
            if "GET" in (getattr(route, "methods", None) or ())]


def check(response: httpx.Response, url: str) -> None:
    headers = response.headers
    said = f"{url} ({response.status_code}): {dict(headers)}"
    assert headers.get("x-content-type-options") == "nosniff", said
    kind = headers.get("content-type", "")
    if kind.startswith("text/html"):
        policy = headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy, said
        assert headers.get("referrer-policy") == "no-referrer", said
        assert headers.get("cache-control") == "no-store", said
    elif not kind.startswith(STATIC):
        assert headers.get("cache-control") == "no-store", said
    assert "strict-transport-security" not in headers, said  # plain HTTP


def test_every_get_route_answers_with_its_security_headers(client: TestClient,
                                                           registry: Registry) -> None:
    check(client.get("/admin/login"), "/admin/login")  # signed in, it is a redirect
    login(client, "root")
    client.cookies.set(DEVICE_COOKIE, registry.devices.pair("kassa-1", "register").token)
    api = {"Authorization": "Bearer " + registry.api_tokens.create("t", "admin").token}
    values = samples(registry)
    html_pages = []
    for path in get_routes(client):
        url = path
        for name in [p[1:-1] for p in path.split("/") if p.startswith("{")]:
            assert name in values, f"{path}: give the test a sample value for {{{name}}}"
            url = url.replace("{" + name + "}", values[name])
        response = client.get(url, headers=api if url.startswith("/api/") else None)
        assert response.status_code < 500, (url, response.text)
        check(response, url)
        if response.headers.get("content-type", "").startswith("text/html"):
            html_pages.append(url)
    # The walk reached the pages of every part (a walk that finds nothing proves nothing).
    for page in ("/admin/customers", "/admin/customers/1", "/admin/customers/1/export",
                 "/admin/settings", "/console", "/console/sign-in", "/m/privacy", "/docs",
                 "/admin/audit/" + values["entry_id"] + "/undo-merge"):
        assert page in html_pages, (page, html_pages)
    # Swagger UI's files are the same for everyone: cached, and still nosniff.
    asset = client.get("/docs/assets/swagger-ui.css")
    assert asset.status_code == 200 and asset.headers["cache-control"].startswith("max-age")
    assert asset.headers["x-content-type-options"] == "nosniff"


def test_personal_data_is_never_cached(client: TestClient, registry: Registry) -> None:
    login(client, "root")
    token = registry.api_tokens.create("t", "admin").token
    for url, kwargs in (("/api/v1/customers/1", {"headers": {"Authorization": f"Bearer {token}"}}),
                        ("/api/v1/customers/1/export", {"headers": {
                            "Authorization": f"Bearer {token}"}}),
                        ("/admin/customers/1/export.json", {}),
                        ("/admin/import-export/export.csv", {}),
                        ("/admin/customers/1", {})):
        response = client.get(url, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 200, (url, response.text)
        assert response.headers["cache-control"] == "no-store", url
    # A refusal too: it may name who was asked about.
    missing = client.get("/api/v1/customers/999", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(("base_url", "headers"), [
    ("https://testserver", {}),  # TLS at the bridge (tls_cert)
    ("http://testserver", {"X-Forwarded-Proto": "https"}),  # TLS at a proxy in front
])
def test_hsts_when_the_request_came_over_https(registry: Registry, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, base_url: str,
                                               headers: dict[str, str]) -> None:
    with make_client(registry, tmp_path, monkeypatch, base_url=base_url) as client:
        for url in ("/admin/login", "/health", "/m/privacy"):
            answer = client.get(url, headers=headers)
            assert answer.headers["strict-transport-security"] == "max-age=31536000", url
        plain = client.get("/health", headers={"X-Forwarded-Proto": "http"})
        if base_url.startswith("http:"):
            assert "strict-transport-security" not in plain.headers


def test_a_page_s_own_policy_is_kept_and_gets_frame_ancestors(client: TestClient) -> None:
    # The documentation page sets a policy of its own (Swagger UI's start script by hash).
    docs = client.get("/docs").headers["content-security-policy"]
    assert docs.startswith("default-src 'none'; script-src 'self' 'sha256-")
    assert docs.endswith("frame-ancestors 'none'")
    # A page's policy without frame-ancestors gets it; one that has its own keeps it.
    assert with_frame_ancestors("default-src 'self'") == \
        "default-src 'self'; frame-ancestors 'none'"
    assert "frame-ancestors 'none'" in DEFAULT_CSP
