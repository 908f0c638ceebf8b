"""The bridge's network face: an ASGI app (FastAPI on uvicorn) with websocket endpoints for
kiosks and registers and a health endpoint.

FastAPI rather than the bare websockets library because the same process also serves the REST
API (OpenAPI), the phone page and the cashier console; the lane logic does not depend on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from websockets.frames import CloseCode

from cashier_bridge.config import Settings, auth_refusal, tokens_required
from cashier_bridge.lanes.bus import PostgresBus
from cashier_bridge.lanes.hub import SERVER_VERSION, LaneHub
from cashier_bridge.pools import Pools
from cashier_bridge.protocol import (
    KIOSK_INTENTS,
    REGISTER_INTENTS,
    ErrorCode,
    Hello,
    Ping,
    Pong,
    ProtocolError,
    Role,
    dump,
    parse_intent,
)
from cashier_bridge.registry import Registry
from cashier_bridge.registry.faults import MESSAGES as FAULT_MESSAGES
from cashier_bridge.registry.faults import registry_fault
from cashier_bridge.registry.secret_hash import stored_hash
from cashier_bridge.registry.timestamps import utcnow
from cashier_bridge.systemd import Notifier
from cashier_bridge.web.admin import install_admin
from cashier_bridge.web.api import install_api
from cashier_bridge.web.console.routes import console_router
from cashier_bridge.web.cookies import DEVICE_COOKIE
from cashier_bridge.web.health import CustomerCount
from cashier_bridge.web.http_headers import SecurityHeaders
from cashier_bridge.web.mobile.routes import mobile_router
from cashier_bridge.web.mobile.setup import mobile_options, public_url
from cashier_bridge.web.origins import OriginPolicy
from cashier_bridge.web.same_origin import SameOriginWrites
from cashier_bridge.web.shop import LoadShopSettings, ShopSettings
from cashier_bridge.web.sign_in_gate import SignInGate

log = structlog.get_logger("selfreg.server")

# A device that says nothing at all for this long is assumed gone (phones, pulled cables).
HELLO_TIMEOUT_S = 30.0
SEND_TIMEOUT_S = 5.0
# HTTP request bodies beyond this get 413 (announced or streamed); the bridge's HTTP requests are
# small forms and JSON. An endpoint that takes uploads sets its own limit.
MAX_HTTP_BODY_BYTES = 1024 * 1024


uvicorn_log = logging.getLogger("uvicorn.error")


def _not_a_crash(record: logging.LogRecord) -> bool:
    """Leave out uvicorn's traceback for a text frame that is not UTF-8: uvicorn closes that
    connection (1007), and our device_disconnected line already says so."""
    return record.msg != "Invalid UTF-8 sequence received from client."


class WebSocketPeer:
    def __init__(self, ws: WebSocket, role: Role) -> None:
        self.ws = ws
        self.role = role
        self.lane = ""
        self.token_hash: str | None = None  # the paired device it proved to be, if any
        self._send_lock = asyncio.Lock()

    async def send(self, text: str) -> None:
        async with self._send_lock:
            # A gone device is noticed by the receive loop, which detaches the peer; a stalled
            # one must not hold up its lane (states are sent under the lane's lock).
            # asyncio.timeout, not wait_for: that makes a task of every frame sent.
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError, TimeoutError):
                async with asyncio.timeout(SEND_TIMEOUT_S):
                    await self.ws.send_text(text)


def app_from_environment() -> FastAPI:
    """The app as a worker process of ``selfreg-bridge serve --workers N`` builds it."""
    from cashier_bridge.config import load_settings
    from cashier_bridge.logs import configure

    settings = load_settings()
    configure(settings.log_level, json=settings.log_json)
    return create_app(settings)


def create_app(settings: Settings, registry: Registry | None = None) -> FastAPI:
    refusal = auth_refusal(settings)
    if refusal is not None:
        raise ValueError(refusal)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reg = registry or await asyncio.to_thread(
            Registry.open, settings.db_url, busy_timeout_s=settings.db_busy_timeout_s,
            personal_id_key=settings.personal_id_key)
        app.state.registry = reg
        app.state.shop = ShopSettings(reg, settings)
        app.state.customer_count = CustomerCount(reg.customers.count, reg.ping)
        app.state.customer_count.start()
        reg.lookups.per_minute = settings.personal_id_lookups_per_minute
        app.state.pools = pools = Pools()
        hub = LaneHub(reg, region=settings.phone_region, max_lanes=settings.max_lanes,
                      mobile=await asyncio.to_thread(mobile_options, settings),
                      pool=pools.lanes, ange_id_limit=settings.ange_id_lookups_per_minute)
        app.state.hub = hub
        # A shared (PostgreSQL) registry may have other bridge processes: hear their steps.
        await hub.start(PostgresBus(reg.engine.url.render_as_string(hide_password=False),
                                    hub.notified, hub.caught_up_all)
                        if reg.lanes.shared else None)
        app.state.tokens_required = tokens_required(settings)
        app.state.origins = OriginPolicy.of(
            [await asyncio.to_thread(public_url, settings), *settings.allowed_origins])
        app.state.refusals = RefusalLog()
        app.state.peers = set()
        watcher = (asyncio.create_task(_send_away_unpaired(app, settings.revocation_check_s))
                   if app.state.tokens_required else None)
        uvicorn_log.addFilter(_not_a_crash)
        log.info("bridge_started", db=_safe_url(settings.db_url), version=SERVER_VERSION,
                 tokens_required=app.state.tokens_required,
                 origins=sorted(map(str, app.state.origins.named)))
        if not app.state.tokens_required:
            log.warning("pairing_off", hint='auth = "off": any program on this machine may '
                        "connect as any lane's kiosk or register and read customers; for "
                        "development only (remove auth and pair the devices)")
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await hub.close()
            await app.state.customer_count.close()
            app.state.refusals.flush()
            pools.close()
            if registry is None:
                reg.close()
            uvicorn_log.removeFilter(_not_a_crash)
            log.info("bridge_stopped")

    # docs_url=None: FastAPI's own page loads Swagger UI from a CDN; install_api serves it.
    app = FastAPI(title="selfreg cashier bridge", version=SERVER_VERSION, lifespan=lifespan,
                  max_body_size=MAX_HTTP_BODY_BYTES, docs_url=None, redoc_url=None)

    app.add_middleware(LoadShopSettings)  # request.state.shop: the shop's settings now
    app.add_middleware(SameOriginWrites)  # no changes from another site's page
    # A flood of the sign-in pages is refused at the door, per address, before any work.
    app.add_middleware(SignInGate, per_minute=settings.sign_in_requests_per_minute)
    # Added last, so outermost: its headers go on every answer, refusals included.
    app.add_middleware(SecurityHeaders)  # nosniff, no-store, CSP with frame-ancestors, HSTS
    app.include_router(mobile_router(settings))  # Via mobil's phone page, /m/…
    app.include_router(console_router(settings))  # the cashier console, /console…
    install_api(app, settings)  # the REST API, /api/v1, and its documentation page, /docs
    install_admin(app, settings)  # the back office, /admin

    @app.get("/health")
    async def health() -> JSONResponse:
        hub: LaneHub = app.state.hub
        try:
            customers, age = await app.state.customer_count.get()
        except Exception as exc:  # the database is what health is about
            return JSONResponse({"status": "error", "db": str(exc)}, status_code=503)
        # A big registry is counted now and then, not on every request (see web/health.py).
        return JSONResponse({"status": "ok", "version": SERVER_VERSION,
                             "lanes": hub.lane_count, "customers": customers,
                             "customers_counted_s_ago": round(age, 1)})

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """For a load balancer: send devices here only when the database answers and, in a
        chain, this process hears the other processes' lane steps."""
        hub: LaneHub = app.state.hub
        try:
            await asyncio.to_thread(app.state.registry.ping)
        except Exception as exc:
            log.warning("not_ready", reason="database", error=type(exc).__name__)
            return JSONResponse({"status": "unavailable", "reason": "database"},
                                status_code=503)
        if not hub.listening:
            return JSONResponse({"status": "unavailable", "reason": "lane_bus"},
                                status_code=503)
        return JSONResponse({"status": "ready", "process": hub.process_key})

    @app.websocket("/ws/kiosk")
    async def kiosk_socket(ws: WebSocket) -> None:
        await _serve_device(ws, app, Role.kiosk)

    @app.websocket("/ws/register")
    async def register_socket(ws: WebSocket) -> None:
        await _serve_device(ws, app, Role.register)

    return app


async def _serve_device(ws: WebSocket, app: FastAPI, role: Role) -> None:
    hub: LaneHub = app.state.hub
    origin = ws.headers.get("origin")
    if origin is not None and not app.state.origins.allows(
            origin, local=ws.scope.get("server"), secure=ws.url.scheme == "wss"):
        await _refuse_page(ws, app, role, origin)
        return
    await ws.accept()
    peer = WebSocketPeer(ws, role)
    code: int | None = None
    app.state.peers.add(peer)
    try:
        code = await _converse(ws, peer, app)
    finally:
        app.state.peers.discard(peer)
        hub.detach(peer)
        # A device leaving is ordinary: one line, however it left.
        log.info("device_disconnected", role=role.value, lane=peer.lane or None, code=code,
                 close=_close_name(code))


async def _converse(ws: WebSocket, peer: WebSocketPeer, app: FastAPI) -> int:
    """Answer one device's frames until it leaves or is sent away; returns the close code."""
    hub: LaneHub = app.state.hub
    role = peer.role
    allowed = KIOSK_INTENTS if role is Role.kiosk else REGISTER_INTENTS
    attached = False
    while True:
        silent = False
        try:
            # Not receive_text(): it refuses to read once a send has failed, and a binary frame
            # is the device's mistake to be told about, not a crash.
            message = await asyncio.wait_for(ws.receive(),
                                             None if attached else HELLO_TIMEOUT_S)
        except TimeoutError:
            silent = True
        try:
            if silent:
                raise ProtocolError(ErrorCode.hello_required, "no hello received; closing")
            if message["type"] == "websocket.disconnect":
                return int(message.get("code", CloseCode.NO_STATUS_RCVD))
            text = message.get("text")
            if text is None:
                raise ProtocolError(ErrorCode.binary_frame,
                                    "messages are JSON in text frames; this frame was binary")
            intent = parse_intent(text)
            if isinstance(intent, Ping):
                await peer.send(dump(Pong()))
            elif isinstance(intent, Hello):
                if intent.role is not role:
                    raise ProtocolError(ErrorCode.wrong_role,
                                        f"this endpoint is for {role.value} devices", "hello")
                # A cashier console's browser proves itself with its cookie, not in the hello.
                token = intent.token or ws.cookies.get(DEVICE_COOKIE)
                if app.state.tokens_required and not await app.state.pools.lanes.run(
                        hub.registry.devices.allowed, intent.lane, role.value, token):
                    raise ProtocolError(ErrorCode.unauthorized,
                                        _not_paired(role, intent.lane, token), "hello")
                peer.token_hash = stored_hash(token) if token else None
                if attached:
                    hub.detach(peer)
                attached = False
                await hub.attach(peer, intent)
                attached = True
            elif not attached:
                raise ProtocolError(ErrorCode.hello_required,
                                    "send hello with your role and lane first", intent.type)
            elif intent.type not in allowed:
                raise ProtocolError(ErrorCode.wrong_role,
                                    f"{intent.type} is not a {role.value} intent", intent.type)
            else:
                await hub.handle(peer, intent)
        except ProtocolError as err:
            sent_away = silent or err.code in _SENDS_AWAY
            about = {"role": role.value, "lane": peer.lane or None, "code": err.code.value,
                     "ref": err.ref, "detail": str(err)}
            if sent_away:
                app.state.refusals.refused(**about)
            else:
                log.info("protocol_error", **about)
            await peer.send(dump(err.reply()))
            if sent_away:
                with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                    await ws.close(code=CloseCode.POLICY_VIOLATION)
                return int(CloseCode.POLICY_VIOLATION)
        except DBAPIError as exc:
            # The registry is away or its disk is full: expected weather, not a bug.  The
            # transaction rolled back, so nothing was half-done; the device may retry.
            code = registry_fault(exc) or ErrorCode.unavailable
            log.warning(f"registry_{code.value}", role=role.value, lane=peer.lane or None,
                        error=type(exc.orig or exc).__name__)
            await peer.send(dump(ProtocolError(code, FAULT_MESSAGES[code]).reply()))
        except Exception:
            # A bug must not cost the device its connection.
            log.exception("intent_failed", role=role.value, lane=peer.lane or None)
            await peer.send(dump(ProtocolError(ErrorCode.internal,
                                               "the bridge could not carry this out; "
                                               "try again").reply()))


async def _refuse_page(ws: WebSocket, app: FastAPI, role: Role, origin: str) -> None:
    """Refuse a web page that is not the bridge's own before the handshake completes (a close
    before accept is HTTP 403): its script learns nothing and can send nothing, and no lane or
    peer is made.  The operator reads why in the log; the page's script could not."""
    app.state.refusals.refused(role=role.value, lane=None, code="forbidden_origin",
                               origin=origin[:100], hint="a console opened under this address? "
                               "add it to allowed_origins")
    await ws.close(code=CloseCode.POLICY_VIOLATION)


class RefusalLog:
    """The ``device_refused`` warnings, bounded: the first ``burst`` in every ``window_s`` are
    written in full, the rest only counted and summed up in one ``device_refused_suppressed``
    line per window (and at shutdown).  A flood of strangers (lane names, origins, tokens
    tried one after another) costs a bounded number of lines, not one each."""

    def __init__(self, burst: int = 20, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 write: Callable[..., Any] | None = None) -> None:
        self.burst = burst
        self.window_s = window_s
        self._clock = clock
        self._write = write or log.warning
        self._window_start = clock()
        self._written = 0
        self._suppressed = 0

    def refused(self, **about: Any) -> None:
        now = self._clock()
        if now - self._window_start >= self.window_s:
            self.flush()
            self._window_start, self._written = now, 0
        if self._written < self.burst:
            self._written += 1
            self._write("device_refused", **about)
        else:
            self._suppressed += 1

    def flush(self) -> None:
        if self._suppressed:
            self._write("device_refused_suppressed", count=self._suppressed,
                        window_s=self.window_s)
            self._suppressed = 0


async def _send_away_unpaired(app: FastAPI, every_s: float) -> None:
    """Close the connections of devices unpaired while connected (``selfreg-bridge unpair``
    runs in another process, a console signs out through any bridge of a chain): a revoked
    register must stop receiving customers' details within seconds."""
    registry: Registry = app.state.registry
    since = utcnow()
    while True:
        await asyncio.sleep(every_s)
        # Overlapping windows: a revocation committed while the last query ran is not missed
        # (and one seen twice is harmless).
        checked = utcnow()
        try:
            revoked = await asyncio.to_thread(registry.devices.revoked_since,
                                              since - dt.timedelta(seconds=every_s))
        except DBAPIError:
            continue  # the registry is away: /ready says so; try again next round
        since = checked
        for peer in [p for p in app.state.peers if p.token_hash in revoked]:
            log.warning("device_unpaired", role=peer.role.value, lane=peer.lane or None)
            await peer.send(dump(ProtocolError(
                ErrorCode.unauthorized, "this device was unpaired (selfreg-bridge unpair, or "
                "signed out); pair it again to reconnect").reply()))
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await peer.ws.close(code=CloseCode.POLICY_VIOLATION)


def _not_paired(role: Role, lane: str, token: str | None) -> str:
    """What the installer reads when a device is refused: what to run, whatever was wrong."""
    pair = f"`selfreg-bridge pair --lane {lane} --role {role.value}`"
    if role is Role.kiosk:
        then = "and start the kiosk with the token it prints (--token or SELFREG_DEVICE_TOKEN)"
    else:
        then = ("and give the register the token it prints (a cashier console: open the "
                "sign-in link it prints)")
    why = "no token was sent" if not token else "this token is not a live one for it"
    return f"this {role.value} is not paired with lane {lane} ({why}): run {pair} {then}"


# Errors after which the device is disconnected: it cannot be served until someone acts.
_SENDS_AWAY = frozenset({ErrorCode.unauthorized, ErrorCode.lane_limit})


def _close_name(code: int | None) -> str | None:
    """``message_too_big`` rather than 1009, for whoever reads the log."""
    if code is None:
        return None
    try:
        return CloseCode(code).name.lower()
    except ValueError:
        return "other"


def _safe_url(url: str) -> str:
    """The database URL without its password, for logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


class NotifyingServer(uvicorn.Server):
    """uvicorn's server telling systemd how it is (:mod:`.systemd`): ``READY=1`` once it
    accepts connections, ``WATCHDOG=1`` from its own event loop every half ``WatchdogSec`` (a
    blocked loop sends none, and systemd restarts the bridge), ``STOPPING=1`` when it stops.
    Outside systemd it is uvicorn's server as it is."""

    def __init__(self, config: uvicorn.Config, notifier: Notifier | None = None) -> None:
        super().__init__(config)
        self.notifier = notifier or Notifier.from_environment()
        self._pinging: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.notifier.ready(f"serving on {self.config.host}:{self.config.port}")
            self._pinging = asyncio.create_task(self.notifier.ping_forever())

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.notifier.stopping("stopping")
        if self._pinging is not None:
            self._pinging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinging
        await super().shutdown(sockets)
