"""The bridge's log under systemd: native journal entries with a priority and the line's fields
as journal fields (what ``journalctl -u selfreg-bridge LANE=… -p warning`` filters on), no
personal data in any of them, and the stream as a fallback when the journal's socket is away.
A real bridge process; a datagram socket of the test's stands in for journald."""

from __future__ import annotations

import array
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

from simulator.processes import BridgeProcess, VirtualScreen, free_port
from tests.ops.conftest import environment


class FakeJournal:
    """journald's native socket, read as journald reads it (all the time, on its own thread):
    each datagram one entry of KEY=value lines (or KEY, a 64-bit length and the bytes, for
    values with newlines)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.entries: list[dict[str, str]] = []
        self._arrived = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data, ancillary, _flags, _addr = self.sock.recvmsg(
                    1 << 20, socket.CMSG_SPACE(array.array("i", [0]).itemsize))
            except OSError:
                return  # closed
            for level, kind, fds in ancillary:  # a large entry comes as a sealed memfd
                if (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS):
                    with os.fdopen(array.array("i", fds)[0], "rb") as memfd:
                        memfd.seek(0)  # the sender's file, at the sender's offset
                        data = memfd.read()
            with self._arrived:
                self.entries.append(parse(data))
                self._arrived.notify_all()

    def wait_for(self, timeout: float = 30.0, mentions: str = "", **fields: str
                 ) -> dict[str, str]:
        """The first entry with these fields (and ``mentions`` in its MESSAGE)."""
        def found() -> dict[str, str] | None:
            return next((e for e in self.entries if fields.items() <= e.items()
                         and mentions in e.get("MESSAGE", "")), None)

        with self._arrived:
            if not self._arrived.wait_for(found, timeout):
                raise AssertionError(f"no entry with {fields}; got {self.entries[-5:]}")
            return found()  # type: ignore[return-value]

    def close(self) -> None:
        self.sock.close()


def parse(data: bytes) -> dict[str, str]:
    entry: dict[str, str] = {}
    while data:
        line, _, rest = data.partition(b"\n")
        if b"=" in line:
            key, _, value = line.partition(b"=")
            data = rest
        else:
            (size,) = struct.unpack("<Q", rest[:8])
            key, value, data = line, rest[8:8 + size], rest[8 + size + 1:]
        entry[key.decode()] = value.decode()
    return entry


def under_systemd(bridge: BridgeProcess, journal_socket: Path) -> dict[str, str]:
    """What systemd gives a service: JOURNAL_STREAM names its standard error (here the log
    file BridgeProcess sends it to)."""
    bridge.log_path.touch()
    st = os.stat(bridge.log_path)
    return {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}",
            "SELFREG_JOURNAL_SOCKET": str(journal_socket)}


def hello(bridge: BridgeProcess, lane: str, token: str) -> dict[str, object]:
    with connect(f"{bridge.url}/ws/kiosk") as ws:
        ws.send(json.dumps({"type": "hello", "role": "kiosk", "lane": lane, "token": token}))
        return json.loads(ws.recv(10))


def test_bridge_log_lines_are_journal_entries_with_priority_and_fields(tmp_path: Path) -> None:
    journal = FakeJournal(tmp_path / "journal.sock")
    bridge = BridgeProcess(tmp_path)
    bridge.start(env=under_systemd(bridge, journal.path))
    try:
        started = journal.wait_for(EVENT="bridge_started")
        assert started["PRIORITY"] == "6" and started["SYSLOG_IDENTIFIER"] == "selfreg-bridge"
        assert started["MESSAGE"].startswith("bridge_started db=sqlite:///")
        assert started["TOKENS_REQUIRED"] == "true" and started["LOGGER"] == "selfreg.server"

        assert hello(bridge, "lane-7", bridge.token("lane-7", "kiosk"))["type"] == "welcome"
        attached = journal.wait_for(EVENT="device_attached", LANE="lane-7")
        assert attached["ROLE"] == "kiosk" and attached["PRIORITY"] == "6"

        refused = hello(bridge, "lane-8", "not-a-token")
        assert refused["type"] == "error"
        warning = journal.wait_for(EVENT="device_refused", mentions="lane lane-8")
        assert warning["PRIORITY"] == "4"  # journalctl -p warning shows it
        assert warning["CODE"] == "unauthorized" and "LANE" not in warning  # not attached
        assert "lane=" not in warning["MESSAGE"]  # a missing field is left out, not "null"

        # A customer with everything personal, through the REST API: none of it in the journal.
        api_token = bridge.cli("token", "create", "--name", "t", "--scope", "write"
                               ).stdout.strip()
        person = {"first_name": "Ingegerd", "last_name": "Ödmansson", "phone": "070-765 43 21",
                  "email": "ingegerd.odmansson@example.se", "personal_id": "198503121249"}
        request = urllib.request.Request(
            f"{bridge.http_url}/api/v1/customers", json.dumps(person).encode(), method="POST",
            headers={"Authorization": f"Bearer {api_token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 201
        hello(bridge, "lane-9", "end-marker")  # an entry after the registration's, if any
        journal.wait_for(EVENT="device_refused", mentions="lane lane-9")
    finally:
        bridge.stop()
        journal.close()
    everything = json.dumps(journal.entries, ensure_ascii=False)
    for secret in ("Ingegerd", "Ödmansson", "765 43 21", "7654321", "odmansson", "19850312",
                   "8503121249", api_token):
        assert secret not in everything, secret
    # Every line went to the journal, none to the stream as well.
    assert "bridge_started" not in bridge.log_path.read_text()


def test_with_the_journal_socket_away_lines_reach_the_stream_with_their_priority(
        tmp_path: Path) -> None:
    bridge = BridgeProcess(tmp_path)
    bridge.start(auth="off", env=under_systemd(bridge, tmp_path / "no-journal-here.sock"))
    bridge.stop()
    lines = bridge.log_path.read_text().splitlines()
    assert any(line.startswith("<6>bridge_started db=") for line in lines), lines[:5]
    assert any(line.startswith("<4>pairing_off hint=") for line in lines), lines[:5]


LOGS = """
import logging, structlog
from cashier_bridge.logs import configure
configure()
log = structlog.get_logger("selfreg.test")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("intent_failed", lane="kassa-2", role="kiosk")
logging.getLogger("uvicorn.error").warning("a library's own line")
log.info("big", note="x" * 400_000, message="ours, not the journal's", priority="low")
"""


def test_tracebacks_library_lines_and_large_entries_reach_the_journal(tmp_path: Path) -> None:
    journal = FakeJournal(tmp_path / "journal.sock")
    stream = tmp_path / "stderr"
    stream.touch()
    st = os.stat(stream)
    with stream.open("ab") as err:
        subprocess.run([sys.executable, "-c", LOGS], stderr=err, timeout=60, check=True,
                       env={**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}",
                            "SELFREG_JOURNAL_SOCKET": str(journal.path)})
    failed = journal.wait_for(EVENT="intent_failed")
    assert failed["PRIORITY"] == "3" and failed["LANE"] == "kassa-2"
    assert failed["MESSAGE"].startswith("intent_failed lane=kassa-2 role=kiosk\nTraceback")
    assert "ZeroDivisionError" in failed["EXCEPTION"]
    foreign = journal.wait_for(EVENT="a library's own line")
    assert foreign["PRIORITY"] == "4" and foreign["LOGGER"] == "uvicorn.error"
    big = journal.wait_for(EVENT="big")  # past a datagram's size: sent as a memfd
    assert big["NOTE"] == "x" * 400_000
    # Fields named like the journal's own keep their value under our prefix.
    assert big["SELFREG_MESSAGE"] == "ours, not the journal's"
    assert big["SELFREG_PRIORITY"] == "low" and big["PRIORITY"] == "6"
    journal.close()
    assert stream.read_text() == ""  # all of it went to the journal


def test_kiosk_log_lines_are_journal_entries_of_their_own(tmp_path: Path) -> None:
    """The kiosk under its unit writes the same kind of entries, as selfreg-kiosk: a support
    person finds why a customer screen says "out of order" with journalctl -u selfreg-kiosk."""
    journal = FakeJournal(tmp_path / "journal.sock")
    screen = VirtualScreen(800, 600)
    display = screen.start()
    log_path = tmp_path / "kiosk.log"
    with log_path.open("wb") as log:
        st = os.fstat(log.fileno())
        env = environment(tmp_path, DISPLAY=display, SELFREG_CAMERA="none",
                          JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}",
                          SELFREG_JOURNAL_SOCKET=str(journal.path))
        # No bridge at that address: the kiosk logs that its link is down.
        kiosk = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "--bridge", f"ws://127.0.0.1:{free_port()}",
             "--lane", "lane-1", "--size", "800x600"],
            env=env, stdout=log, stderr=log)
    try:
        entry = journal.wait_for(60, mentions="bridge link down",
                                 SYSLOG_IDENTIFIER="selfreg-kiosk")
        assert entry["PRIORITY"] == "6"  # info
        assert entry["LOGGER"] == "selfreg.kiosk.link"
    finally:
        kiosk.terminate()
        kiosk.wait(30)
        screen.stop()
        journal.close()
