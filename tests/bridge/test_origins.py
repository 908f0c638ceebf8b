"""The Origin rule on its own: which pages may open the bridge's websockets."""

from __future__ import annotations

import pytest

from cashier_bridge.config import load_settings
from cashier_bridge.web.origins import Origin, OriginPolicy

POLICY = OriginPolicy.of(["https://kund.butiken.se", "http://kassa-3.local:8765"])
LOOPBACK = ("127.0.0.1", 8765)
LAN = ("192.168.1.20", 8765)


@pytest.mark.parametrize(("origin", "local", "secure"), [
    ("http://127.0.0.1:8765", LOOPBACK, False),  # the console opened as pair prints it
    ("http://localhost:8765", LOOPBACK, False),  # the machine's own name for loopback
    ("http://localhost:8765", ("::1", 8765), False),
    ("http://[::1]:8765", ("::1", 8765), False),
    ("http://192.168.1.20:8765", LAN, False),  # the till's LAN address, listening on 0.0.0.0
    ("http://192.168.1.20:8765", ("::ffff:192.168.1.20", 8765), False),  # a dual-stack socket
    ("https://192.168.1.20:8765", LAN, True),  # tls_cert set
    ("https://kund.butiken.se", ("10.0.0.5", 8801), True),  # public_url, behind Caddy
    ("https://kund.butiken.se:443", None, False),
    ("http://kassa-3.local:8765", LAN, False),  # allowed_origins
])
def test_the_bridges_own_pages_may_connect(origin: str, local: tuple[str, int] | None,
                                           secure: bool) -> None:
    assert POLICY.allows(origin, local=local, secure=secure)


@pytest.mark.parametrize(("origin", "local", "secure"), [
    ("http://127.0.0.1:8766", LOOPBACK, False),  # another port: another program's page
    ("http://127.0.0.1", LOOPBACK, False),
    ("https://127.0.0.1:8765", LOOPBACK, False),  # a scheme this socket does not serve
    ("http://127.0.0.1:8765", LOOPBACK, True),
    ("http://evil.example:8765", LOOPBACK, False),  # DNS rebinding: a name made to resolve here
    ("http://127.0.0.1.nip.io:8765", LOOPBACK, False),
    ("http://localhost:8765", LAN, False),  # came in over the LAN: "localhost" is not its page
    ("http://[::1]:8765", LOOPBACK, False),  # another socket (something else may listen there)
    ("http://192.168.1.21:8765", LAN, False),
    ("http://kassa-3.local:8766", LAN, False),
    ("http://kund.butiken.se", LAN, False),
    ("null", LOOPBACK, False),  # a sandboxed frame or a file
    ("file://", LOOPBACK, False),
    ("chrome-extension://abc", LOOPBACK, False),
    ("http://user@127.0.0.1:8765", LOOPBACK, False),
    ("http://127.0.0.1:99999", LOOPBACK, False),
    ("", LOOPBACK, False),
    ("http://127.0.0.1:8765", None, False),  # nothing known about the socket: names only
])
def test_other_pages_may_not(origin: str, local: tuple[str, int] | None, secure: bool) -> None:
    assert not POLICY.allows(origin, local=local, secure=secure)


def test_origins_are_compared_as_the_browser_writes_them() -> None:
    assert Origin.parse("HTTPS://Kund.Butiken.SE.") == Origin("https", "kund.butiken.se", 443)
    assert Origin.parse("http://[0:0::1]:80/path?q") == Origin("http", "::1", 80)
    assert str(Origin("http", "::1", 8765)) == "http://[::1]:8765"
    assert Origin.parse("http://") is None and Origin.parse("ws://127.0.0.1:1") is None


def test_allowed_origins_are_checked_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFREG_CONFIG", "/nonexistent/selfreg.toml")
    monkeypatch.setenv("SELFREG_ALLOWED_ORIGINS", "http://kassa-3.local:8765 https://kassa")
    assert load_settings().allowed_origins == ["http://kassa-3.local:8765", "https://kassa"]
    with pytest.raises(ValueError, match="allowed_origins") as refused:
        load_settings(allowed_origins=["kassa-3.local"])
    assert "scheme://host[:port]" in str(refused.value)
