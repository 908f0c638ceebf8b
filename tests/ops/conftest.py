"""Running selfreg as a till runs it: under a (fake) service manager, its programs as real
processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.processes import ProcessFailed


def _tail(path: Path, lines: int = 30) -> str:
    """The end of a program's log, for a failure message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class NotifySocket:
    """What systemd listens on for a ``Type=notify`` service: a Unix datagram socket whose
    address is given to the service as ``$NOTIFY_SOCKET``; every message it receives is kept."""

    def __init__(self, address: str) -> None:
        self.address = address  # as $NOTIFY_SOCKET says it: a path, or @name (abstract)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.received: list[str] = []

    def receive(self, timeout: float) -> str | None:
        """The next message, or None when none comes within ``timeout`` seconds."""
        self.sock.settimeout(timeout)
        try:
            message = self.sock.recv(65536).decode()
        except TimeoutError:
            return None
        self.received.append(message)
        return message

    def wait_for(self, line: str, timeout: float, proc: subprocess.Popen[bytes] | None = None,
                 log: Path | None = None) -> str:
        """The first message holding ``line`` (one of its KEY=value lines)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self.receive(min(left, 0.5))
            if message is not None and line in message.split("\n"):
                return message
            if proc is not None and proc.poll() is not None:
                raise ProcessFailed(f"exited with {proc.returncode} before {line}:\n"
                                    f"{_tail(log) if log else ''}")
        raise ProcessFailed(f"no {line} within {timeout} s; got {self.received[-5:]}"
                            + (f"\n{_tail(log)}" if log else ""))

    def drain(self) -> list[str]:
        """Every message already queued (sent before now)."""
        drained = []
        self.sock.setblocking(False)
        try:
            while True:
                drained.append(self.sock.recv(65536).decode())
        except BlockingIOError:
            pass
        self.received.extend(drained)
        return drained

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    listener = NotifySocket(str(tmp_path / "notify.sock"))
    yield listener
    listener.close()


def environment(workdir: Path, **extra: str) -> dict[str, str]:
    """A program's environment as a unit gives it: its own data directory and configuration."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")}
    env.update(SELFREG_DATA_DIR=str(workdir / "data"), SELFREG_CONFIG=str(workdir / "none.toml"),
               KIVY_HOME=str(workdir / "kivy"), KIVY_NO_ARGS="1", KIVY_LOG_MODE="PYTHON")
    env.update(extra)
    return env


class Freezer:
    """A program started through ``cashier_bridge.devtools.freeze``: its main thread (event
    loop, Kivy clock) can be stopped and let go on purpose."""

    def __init__(self, workdir: Path, module: str, *args: str, env: dict[str, str]) -> None:
        self.fifo = workdir / "freeze.fifo"
        os.mkfifo(self.fifo)
        self.log = workdir / f"{module}.log"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cashier_bridge.devtools.freeze", str(self.fifo), module,
                 *args], stdout=out, stderr=subprocess.STDOUT, env=env)

    @contextlib.contextmanager
    def frozen(self, timeout: float = 30.0) -> Iterator[None]:
        """Frozen inside the block: entered once the main thread is stuck in the freeze."""
        self.proc.send_signal(signal.SIGUSR1)
        # Opening a pipe's writing end succeeds once its reader has it open: the freeze began.
        deadline = time.monotonic() + timeout
        while True:
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:  # ENXIO: no reader yet
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise ProcessFailed(f"never froze:\n{_tail(self.log)}") from None
                time.sleep(0.01)
        try:
            yield
        finally:
            os.close(fd)  # the reader sees the end of the pipe: the main thread goes on

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode
