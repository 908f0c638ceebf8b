"""systemd's watchdog for the bridge and the kiosk: ``READY=1`` when they serve, ``WATCHDOG=1``
from the loop that does the work while it works, none while that loop is blocked (so systemd
restarts the program), ``STOPPING=1`` when the bridge stops.  Real processes, a real datagram
socket in place of systemd's."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path

import pytest

from cashier_bridge.systemd import Notifier
from simulator.processes import VirtualScreen, free_port
from tests.ops.conftest import Freezer, NotifySocket, environment

# Pings every 0.25 s: quick tests, and a blocked loop's silence is 20 missed pings below.
WATCHDOG_USEC = 500_000
SILENCE_S = 5.0


def health(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
        return json.loads(answer.read())


def test_bridge_is_ready_when_it_serves_pings_while_healthy_and_not_while_its_loop_is_blocked(
        tmp_path: Path, notify_socket: NotifySocket) -> None:
    port = free_port()
    bridge = Freezer(tmp_path, "cashier_bridge.cli", "serve", "--port", str(port), "--db",
                     f"sqlite:///{tmp_path / 'bridge.db'}",
                     env=environment(tmp_path, NOTIFY_SOCKET=notify_socket.address,
                                     WATCHDOG_USEC=str(WATCHDOG_USEC), SELFREG_AUTH="off"))
    try:
        ready = notify_socket.wait_for("READY=1", 60, bridge.proc, bridge.log)
        assert f"STATUS=serving on 127.0.0.1:{port}" in ready.split("\n")
        assert health(port)["status"] == "ok"  # READY=1 came once it accepts connections
        for _ in range(3):
            notify_socket.wait_for("WATCHDOG=1", 5, bridge.proc, bridge.log)

        with bridge.frozen():
            notify_socket.drain()  # pings sent before the loop stopped
            assert notify_socket.receive(SILENCE_S) is None, "pinged with its loop blocked"

        # Let go, the loop pings again by itself.
        notify_socket.wait_for("WATCHDOG=1", 10, bridge.proc, bridge.log)
        assert health(port)["status"] == "ok"
    finally:
        bridge.proc.terminate()
        stopping = notify_socket.wait_for("STOPPING=1", 30, None)
        # uvicorn ends by the signal it was stopped with, which systemd counts as a clean stop.
        assert bridge.stop() in (0, -signal.SIGTERM)
    assert stopping and "bridge_stopped" in bridge.log.read_text()


def test_the_abstract_namespace_socket_systemd_usually_gives(tmp_path: Path) -> None:
    listener = NotifySocket(f"@selfreg-test-{tmp_path.name}")
    try:
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": listener.address,
                                              "WATCHDOG_USEC": "30000000"}, pid=4242)
        assert notifier.watchdog_interval_s == 15.0
        assert notifier.ready("serving") and notifier.watchdog() and notifier.stopping()
        assert [listener.receive(5) for _ in range(3)] == [
            "READY=1\nSTATUS=serving", "WATCHDOG=1", "STOPPING=1"]
        notifier.close()
    finally:
        listener.close()


@pytest.mark.parametrize("usec", ["", "0", "²", "-5", "30s", "9" * 40])
def test_no_watchdog_without_a_usable_period(notify_socket: NotifySocket, usec: str) -> None:
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": notify_socket.address,
                                          "WATCHDOG_USEC": usec})
    assert notifier.enabled and notifier.watchdog_interval_s is None


@pytest.mark.parametrize("environ", [
    {},  # a shell, the tests, ./demo.sh
    {"NOTIFY_SOCKET": ""},
    {"NOTIFY_SOCKET": "vsock:2:1234"},  # a virtual machine's service manager: not a till's
])
def test_without_systemd_nothing_is_sent_and_nothing_fails(environ: dict[str, str]) -> None:
    notifier = Notifier.from_environment({**environ, "WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled and notifier.watchdog_interval_s is None
    assert notifier.ready() is False and notifier.watchdog() is False


def test_a_child_that_inherited_the_variables_is_not_the_watched_process(
        notify_socket: NotifySocket) -> None:
    env = {"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "2000000",
           "WATCHDOG_PID": "4242"}
    assert Notifier.from_environment(env, pid=4243).watchdog_interval_s is None
    assert Notifier.from_environment(env, pid=4242).watchdog_interval_s == 1.0


def test_a_gone_service_manager_costs_one_warning_not_the_service(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(str(tmp_path / "nobody-listens.sock"), 1_000_000)
    assert notifier.watchdog() is False and notifier.watchdog() is False
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["systemd_notify_failed"]


def test_kiosk_is_ready_once_drawn_and_pings_from_its_clock_not_while_the_ui_is_frozen(
        tmp_path: Path, notify_socket: NotifySocket) -> None:
    screen = VirtualScreen(800, 600)
    display = screen.start()
    # No bridge there: the kiosk draws its "out of order" screen, which is drawing all the same.
    kiosk = Freezer(tmp_path, "kiosk.cli", "--bridge", f"ws://127.0.0.1:{free_port()}",
                    "--lane", "lane-1", "--size", "800x600",
                    env=environment(tmp_path, DISPLAY=display, SELFREG_CAMERA="none",
                                    NOTIFY_SOCKET=notify_socket.address,
                                    WATCHDOG_USEC=str(WATCHDOG_USEC)))
    try:
        ready = notify_socket.wait_for("READY=1", 60, kiosk.proc, kiosk.log)
        assert "STATUS=customer screen shown" in ready.split("\n")
        for _ in range(3):
            notify_socket.wait_for("WATCHDOG=1", 5, kiosk.proc, kiosk.log)

        with kiosk.frozen():
            notify_socket.drain()
            assert notify_socket.receive(SILENCE_S) is None, "pinged with its UI frozen"

        notify_socket.wait_for("WATCHDOG=1", 10, kiosk.proc, kiosk.log)
    finally:
        kiosk.stop()
        screen.stop()
