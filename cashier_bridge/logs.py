"""Structured logging for every program of selfreg (structlog over the standard library).

Log lines carry lane names, phases and customer ids, never names, phone numbers or personal IDs.

Under systemd (``$JOURNAL_STREAM`` names our standard error) each line goes to the journal as a
native entry: ``PRIORITY`` from its level, ``SYSLOG_IDENTIFIER``, a readable ``MESSAGE`` (the
event and its fields as ``key=value``) and every field of the line as a journal field of its
own (``EVENT=device_disconnected``, ``LANE=lane-2``, ``ROLE=kiosk``…), so a support person can
ask ``journalctl -u selfreg-bridge LANE=lane-2 -p warning``.  The journal rotates and caps its
files itself.  If the journal's socket cannot be written, the line goes to standard error with a
``<N>`` priority prefix, which journald reads on the stream it gave us: nothing is lost.
"""

from __future__ import annotations

import json as jsonlib
import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

import structlog

# Where journald listens for native entries; SELFREG_JOURNAL_SOCKET points elsewhere (tests, a
# container that mounts the journal's socket at another path).
JOURNAL_SOCKET = "/run/systemd/journal/socket"
# syslog(3) priorities, what journalctl -p filters on.
PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
              logging.CRITICAL: 2}
# Fields the journal itself gives a meaning to: ours of the same name get a SELFREG_ prefix.
_JOURNAL_OWN = frozenset({
    "MESSAGE", "MESSAGE_ID", "PRIORITY", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "ERRNO", "TID",
    "INVOCATION_ID", "USER_INVOCATION_ID", "SYSLOG_FACILITY", "SYSLOG_IDENTIFIER", "SYSLOG_PID",
    "SYSLOG_TIMESTAMP", "SYSLOG_RAW", "DOCUMENTATION", "UNIT", "USER_UNIT", "COREDUMP_UNIT",
    "OBJECT_PID", "COREDUMP_USER_UNIT"})
# Said by the journal already (time, priority) or by MESSAGE.
_NOT_FIELDS = frozenset({"timestamp", "level", "exc_info"})


def configure(level: str = "INFO", *, json: bool = False, identifier: str | None = None) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler: logging.Handler
    if under_journal():
        # The journal wants the fields, not a rendered line: the formatter hands the handler
        # the line's fields as JSON (tracebacks included as text).
        handler = JournalHandler(identifier or _program_name())
        renderer: structlog.types.Processor = structlog.processors.JSONRenderer()
        processors = [structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                      structlog.processors.format_exc_info, renderer]
    else:
        handler = logging.StreamHandler(sys.stderr)
        renderer = (structlog.processors.JSONRenderer() if json
                    else structlog.dev.ConsoleRenderer(colors=False))
        processors = [structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared,
                                                             processors=processors))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def under_journal(environ: Mapping[str, str] | None = None) -> bool:
    """Whether our standard error is the journal's stream (systemd sets ``$JOURNAL_STREAM`` to
    its device and inode; a shell or a pipe started from the service has another)."""
    stream = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = stream.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(device), int(inode))


class JournalHandler(logging.Handler):
    """Each record as one native journal entry (logging-journald's transport does the
    protocol, long entries included)."""

    def __init__(self, identifier: str, socket_path: str | None = None) -> None:
        super().__init__()
        self.identifier = identifier
        self.socket_path = socket_path or os.environ.get("SELFREG_JOURNAL_SOCKET",
                                                         JOURNAL_SOCKET)
        self._transport: Any = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = jsonlib.loads(self.format(record))
        except Exception:
            self.handleError(record)
            return
        priority = PRIORITIES.get(record.levelno, 6)
        message = readable(fields)
        entry = [("MESSAGE", message), ("PRIORITY", priority),
                 ("SYSLOG_IDENTIFIER", self.identifier), *journal_fields(fields)]
        try:
            self._send(entry)
        except OSError:
            # journald away or restarting: the stream it gave us still reaches it.
            sys.stderr.write("".join(f"<{priority}>{line}\n" for line in message.split("\n")))
            sys.stderr.flush()

    def _send(self, entry: list[tuple[str, Any]]) -> None:
        if self._transport is None:
            from logging_journald import JournaldTransport

            transport = JournaldTransport(self.socket_path, connected=False)
            # A journal that falls behind must not stall the event loop: a full queue is an
            # error here (the line goes to the stream instead), not a wait.
            transport.socket.setblocking(False)
            self._transport = transport
        self._transport.send(entry)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.socket.close()
            self._transport = None
        super().close()


def readable(fields: Mapping[str, Any]) -> str:
    """``event key=value …`` (and a traceback below it), the line ``journalctl`` shows."""
    parts = [str(fields.get("event", ""))]
    for key, value in fields.items():
        if key in ("event", "exception", "logger") or key in _NOT_FIELDS or value is None:
            continue
        shown = value if isinstance(value, str) else jsonlib.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={shown}")
    text = " ".join(parts)
    if fields.get("exception"):
        text += "\n" + str(fields["exception"])
    return text


def journal_fields(fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The line's fields under journal names: upper case, letters, digits and underscores."""
    out = []
    for key, value in fields.items():
        if key in _NOT_FIELDS or value is None:
            continue
        name = re.sub(r"[^A-Z0-9_]", "_", key.upper()).lstrip("_0123456789")[:56]
        if not name:
            continue
        if name in _JOURNAL_OWN:
            name = f"SELFREG_{name}"
        out.append((name, value if isinstance(value, str)
                    else jsonlib.dumps(value, ensure_ascii=False)))
    return out


def _program_name() -> str:
    """``selfreg-bridge`` for the bridge, whatever started it (its script, ``python -m``)."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name.startswith("selfreg") else "selfreg-bridge"
