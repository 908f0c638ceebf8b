"""Web pages in the till's browser that are not the bridge's own cannot open its websockets,
even with the cashier console signed in in the same browser (its device cookie present).

The pages run in the real browser (Debian's chromium): a page from another port of this
machine, and a page under a name that resolves to 127.0.0.1 (DNS rebinding, played with
chromium's host resolver rules), each try ``/ws/register`` and ``/ws/kiosk`` as an attacker's
script would: say hello for the console's lane, and hope the cookie does the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from simulator.browser import CHROMIUM, CHROMIUM_ARGS
from simulator.processes import BridgeProcess
from tests.console.conftest import TILL, Till, sign_in_code

# What a stranger's script does: open the socket, say hello for the lane, collect what comes.
# Resolves with what it learned, or after 6 s of silence.
ATTACK = """async ([url, role, lane]) => await new Promise((resolve) => {
  const got = [];
  let opened = false;
  const ws = new WebSocket(url);
  ws.onopen = () => {
    opened = true;
    ws.send(JSON.stringify({v: 1, type: "hello", role: role, lane: lane}));
  };
  ws.onmessage = (e) => got.push(JSON.parse(e.data));
  ws.onclose = (e) => resolve({opened, code: e.code, got});
  setTimeout(() => resolve({opened, code: null, got}), 6000);
})"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>Dagens erbjudanden</title><p>Nothing to see here."
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def other_site() -> Iterator[str]:
    """Some other program's web page on another port of the till (a printer's, a router's,
    a compromised intranet page)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def attack(page: Any, ws_base: str, role: str, lane: str) -> dict[str, Any]:
    return dict(page.evaluate(ATTACK, [f"{ws_base}/ws/{role}", role, lane]))


def assert_refused(outcome: dict[str, Any]) -> None:
    # Refused before the handshake: the script never had an open socket and heard nothing.
    assert outcome == {"opened": False, "code": 1006, "got": []}, outcome


def test_a_page_from_another_port_cannot_use_the_signed_in_console(
        bridge: BridgeProcess, till: Till, other_site: str) -> None:
    from playwright.sync_api import expect

    stranger = till.context.new_page()  # the same browser: the console's cookie is there
    stranger.goto(other_site)
    for role in ("register", "kiosk"):
        assert_refused(attack(stranger, bridge.url, role, till.lane))
    # The console itself, on the bridge's own page, is still connected and works.
    expect(till.page.locator("#connection")).to_have_text("live")
    till.page.click("#start-sale")
    till.kiosk.next("state", phase="choosing")
    # The operator reads who was refused, and what to do if it was their own console.
    refused = [line for line in bridge.log_path.read_text(errors="replace").splitlines()
               if f"origin={other_site} " in line]
    assert len(refused) == 2 and all("code=forbidden_origin" in line and "allowed_origins" in line
                                     for line in refused)


def test_a_page_under_a_name_rebound_to_this_machine_is_refused(
        bridge: BridgeProcess, browser: Any) -> None:
    """DNS rebinding: the page's own name resolves to 127.0.0.1, so its Origin and the Host
    it sends agree; it is still not the bridge's page."""
    rebound = f"http://rebound.test:{bridge.port}"
    # A browser of its own whose resolver maps the name to this machine, as a rebinding
    # attacker's DNS answers.
    resolving = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebound.test 127.0.0.1"])
    try:
        page = resolving.new_context(**TILL).new_page()
        page.goto(f"{rebound}/console/sign-in")  # served by the bridge, under that name
        assert page.locator("#code").count() == 1
        for role in ("register", "kiosk"):
            assert_refused(attack(page, rebound.replace("http:", "ws:"), role, "lane-1"))
    finally:
        resolving.close()


def test_the_console_opened_as_localhost_is_the_bridges_own(
        bridge: BridgeProcess, browser: Any) -> None:
    from playwright.sync_api import expect

    lane = "till-localhost"
    context = browser.new_context(**TILL)
    try:
        page = context.new_page()
        page.goto(f"http://localhost:{bridge.port}/console/sign-in"
                  f"?code={sign_in_code(bridge, lane)}")
        expect(page.locator("#connection")).to_have_text("live")
        expect(page.locator("#phase")).to_have_text("No sale open")
    finally:
        context.close()


# A stranger's script posts a form to the bridge: the browser sends the console's cookie along
# (cookies ignore ports), which would sign the till's console out.
FORGE = """([action]) => {
  const form = document.createElement("form");
  form.method = "POST";
  form.action = action;
  document.body.appendChild(form);
  form.submit();
}"""


def test_a_page_from_another_port_cannot_post_to_the_bridge_with_the_consoles_cookie(
        bridge: BridgeProcess, till: Till, other_site: str) -> None:
    from playwright.sync_api import expect

    stranger = till.context.new_page()
    stranger.goto(other_site)
    with stranger.expect_navigation():
        stranger.evaluate(FORGE, [f"{bridge.http_url}/console/sign-out"])
    assert "from a page of another site" in stranger.locator("body").inner_text()
    # The till's console is still signed in: reloaded, it is the lane's console, live.
    till.page.reload()
    expect(till.page.locator("#connection")).to_have_text("live")
    assert till.page.url.endswith("/console")
    refused = [line for line in bridge.log_path.read_text(errors="replace").splitlines()
               if "cross_origin_write_refused" in line and f"origin={other_site}" in line]
    assert refused and all("path=/console/sign-out" in line for line in refused)


def test_the_consoles_own_sign_out_still_signs_it_out(bridge: BridgeProcess, browser: Any) -> None:
    from playwright.sync_api import expect

    lane = "till-own-sign-out"
    context = browser.new_context(**TILL)
    try:
        page = context.new_page()
        page.goto(f"{bridge.http_url}/console/sign-in?code={sign_in_code(bridge, lane)}")
        expect(page.locator("#connection")).to_have_text("live")
        with page.expect_navigation():
            page.evaluate(FORGE, [f"{bridge.http_url}/console/sign-out"])
        assert "/console/sign-in" in page.url
    finally:
        context.close()
