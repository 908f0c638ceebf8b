"""Run a selfreg program whose main thread can be frozen on purpose: the watchdog tests' way of
blocking the bridge's event loop or the kiosk's Kivy clock.  Never used by the programs.

    python -m cashier_bridge.devtools.freeze FIFO MODULE [ARGS...]

runs ``python -m MODULE ARGS...`` with one addition: on SIGUSR1 the main thread (where the
event loop and the Kivy clock run) opens the named pipe FIFO and reads it until its writer
closes it.  Opening the pipe for writing therefore returns exactly when the freeze has begun,
and closing it ends the freeze: the test waits for events, not for time.  Other threads (the
database pool, uvicorn's helpers) keep running, as they would behind a real hang.
"""

from __future__ import annotations

import runpy
import signal
import sys
from types import FrameType


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit("usage: python -m cashier_bridge.devtools.freeze FIFO MODULE [ARGS...]")
    fifo, module, *args = argv

    def freeze(_signum: int, _frame: FrameType | None) -> None:
        # A Python signal handler runs in the main thread between bytecodes: while it reads,
        # nothing else of the main thread runs.
        with open(fifo, "rb") as pipe:
            pipe.read()

    signal.signal(signal.SIGUSR1, freeze)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
