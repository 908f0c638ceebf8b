"""The customer-screen app: renders the lane state the bridge sends and sends the shopper's intents.

It decides nothing about customers.  Its own duties are presentation: the language, the digits
typed so far, the moment the welcome name leaves the screen, the screen timeout, and showing the
offline screen while the bridge is unreachable.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kivy.app import App
from kivy.clock import Clock, ClockEvent
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.widget import Widget
from pydantic import BaseModel

from cashier_bridge.config import Settings
from cashier_bridge.protocol import (
    Cancel,
    Choose,
    Error,
    ErrorCode,
    KioskMessage,
    KioskState,
    KioskView,
    MemberAnswer,
    Method,
    Notice,
    Phase,
    RenewMobile,
    Scan,
    ScreenTimeout,
    SubmitId,
    Welcome,
)
from kiosk import EXIT_LEFT_KIOSK, probe, screens, theme, watchdog
from kiosk.exit_pin import ExitPin, Outcome
from kiosk.i18n import ENDONYMS, gettext, next_language
from kiosk.link import BridgeLink
from kiosk.masking import mask_typed
from kiosk.scan_session import ScanSession, no_feedback
from kiosk.screen_choice import TITLES, Screen, screen_for

if TYPE_CHECKING:
    from kiosk.camera import FrameSource
    from kiosk.platform import Monitor
    from kiosk.scanner import Code

# Error replies that mean "the registry is away", which the shopper is told as "one moment".
REGISTRY_TROUBLE = frozenset({ErrorCode.unavailable, ErrorCode.storage_full})

log = logging.getLogger("selfreg.kiosk")

KV_FILE = Path(__file__).with_name("kiosk.kv")
OFFLINE_GRACE_S = 1.0  # a blip shorter than this never shows the offline screen
MAX_DIGITS = 16
# Staff open the exit PIN pad by holding the top left corner (the logo) this long; a shopper
# resting a hand there lets go long before.
HIDDEN_PRESS_S = 3.0
CORNER = 120  # design pixels from the top left corner
PAD_IDLE_S = 30.0  # an exit pad left alone closes, so it never stays on the shopper's screen


class KioskApp(App):
    u = NumericProperty(1.0)
    language = StringProperty("sv")

    def __init__(self, settings: Settings, *, connect: bool = True,
                 probe_file: Path | None = None, monitor: Monitor | None = None) -> None:
        super().__init__()
        self.title = "selfreg"
        self.settings = settings
        self.language = settings.language
        self.state: KioskState | None = None
        self.screen = Screen.idle
        self.digits = ""
        self.offline_shown = False
        # The bridge refused this screen's pairing token (or it has none): the offline screen
        # tells whoever installs it what to run, instead of "reconnecting" forever.
        self.unpaired = False
        self.sent: deque[BaseModel] = deque(maxlen=32)  # recent intents, for support and tests
        self._sending: set[asyncio.Task[bool]] = set()
        self.probe_file = probe_file if probe_file is not None else probe.probe_path()
        self.link = BridgeLink(settings.bridge_url, settings.lane, on_message=self.on_message,
                               on_online=self.on_online,
                               token=settings.device_token) if connect else None
        self._welcome_seq: int | None = None
        self._welcome_over_seq: int | None = None
        self._timeout: ClockEvent | None = None
        self._welcome: ClockEvent | None = None
        self._grace: ClockEvent | None = None
        self._render_generation = 0
        self.bridge_notice: Notice | None = None
        self.revealing = False
        self._mobile_deadline: float | None = None
        self._mobile_tick: ClockEvent | None = None
        self._renewed_for: str | None = None
        self._probes_written = 0
        self._screen_widget: Widget | None = None
        self.kiosk_root: Widget | None = None  # the customer screen (build_kiosk)
        self.display_size = (0, 0)  # the customer display it is laid out for
        self.scan_session: ScanSession | None = None
        self._screen_model_camera = ""
        # Skanna ID's beep or buzz on hardware that has one; by default only logged.
        self.scan_feedback: Callable[[Code], None] = no_feedback
        # Kiosk mode: nothing but the exit PIN closes the window (not Escape, not the window
        # manager's close); leaving with it ends the process with EXIT_LEFT_KIOSK.
        self.kiosk_mode = settings.kiosk_fullscreen
        self.monitor = monitor
        self.exit_status = 0
        self.exit_pin = ExitPin(settings.kiosk_exit_pin) if settings.kiosk_exit_pin else None
        self.pin_pad_open = False
        self._leaving = False
        self._hidden_press: ClockEvent | None = None
        self._pad_idle: ClockEvent | None = None
        self._size_warned: set[str] = set()  # "b" buttons, "t" text: warned once each

    # --- Kivy life cycle ----------------------------------------------------------------------

    def load_kv(self, filename: str | None = None) -> bool:
        # App would load kiosk.kv by its class name; build() loads it once, explicitly.
        return False

    def build(self) -> Widget:
        from kivy.core.window import Window

        Window.clearcolor = theme.BACKGROUND
        Window.bind(on_touch_down=self._touched, on_touch_move=self._moved,
                    on_touch_up=self._let_go, size=self._resized,
                    on_request_close=self._close_requested)
        watchdog.install(Window)  # systemd: ready once drawn, pings while the clock runs
        root = self.build_kiosk(Window.size)
        self.root = root
        if self.monitor is not None:
            # Once the first screen is laid out, whichever it is (every screen has buttons).
            Clock.schedule_once(lambda _dt: self._check_touch_targets(), 0.5)
        return root

    def _check_touch_targets(self) -> None:
        """The first screen's sizes on the monitor, for the log; then every screen is checked
        as it is shown (_check_sizes) and a too small one is warned about once."""
        from kivy.metrics import Metrics

        assert self.monitor is not None
        log.info("monitor %s: %dx%d at +%d+%d, Kivy dpi %.0f, density %.2f", self.monitor.name,
                 self.monitor.width, self.monitor.height, self.monitor.x, self.monitor.y,
                 Metrics.dpi, Metrics.density)
        button_mm, text_mm = self._sizes_mm()
        if button_mm is None or text_mm is None:
            log.info("monitor %s does not say its physical size; sizes not checked",
                     self.monitor.name)
            return
        log.info("smallest button on monitor %s: %.1f mm", self.monitor.name, button_mm)
        log.info("smallest text on monitor %s: %.1f mm", self.monitor.name, text_mm)
        self._check_sizes()

    def _sizes_mm(self) -> tuple[float | None, float | None]:
        from kivy.uix.label import Label

        from kiosk.window import smallest_target_mm, smallest_text_mm

        assert self.kiosk_root is not None and self.monitor is not None
        shown = [w for w in self.kiosk_root.walk() if w.opacity > 0 and w.width > 0]
        buttons = [(w.width, w.height) for w in shown if getattr(w, "probe_id", "")]
        fonts = [float(w.font_size) for w in shown if isinstance(w, Label) and w.text.strip()]
        return (smallest_target_mm(buttons, self.monitor),
                smallest_text_mm(fonts, self.monitor))

    def _check_sizes(self) -> None:
        from kiosk.window import MIN_TEXT_MM, MIN_TOUCH_MM

        if self.monitor is None or self.kiosk_root is None or self._size_warned >= {"b", "t"}:
            return
        button_mm, text_mm = self._sizes_mm()
        where = f"on monitor {self.monitor.name} ({self.monitor.width_mm} mm wide)"
        if button_mm is not None and button_mm < MIN_TOUCH_MM and "b" not in self._size_warned:
            self._size_warned.add("b")
            log.warning("%s the smallest button is %.1f mm, under the %.0f mm a finger needs "
                        "(screen %s): use a larger customer screen", where, button_mm,
                        MIN_TOUCH_MM, self.screen)
        if text_mm is not None and text_mm < MIN_TEXT_MM and "t" not in self._size_warned:
            self._size_warned.add("t")
            log.warning("%s the smallest text is %.1f mm, under the %.0f mm a shopper reads at "
                        "arm's length (screen %s): use a larger customer screen", where, text_mm,
                        MIN_TEXT_MM, self.screen)

    def build_kiosk(self, size: tuple[int, int]) -> Widget:
        """The customer screen's root widget, laid out for a display of ``size``.  On the
        device it is the whole window; the QA desk (simulator/desk) hosts it beside its panel,
        so the kiosk keeps its own root rather than relying on ``App.root``."""
        self.display_size = (int(size[0]), int(size[1]))
        self.u = theme.unit_for(*self.display_size)
        Builder.load_file(str(KV_FILE))
        root = Factory.KioskRoot()
        root.ids.lang.bind(on_release=lambda *_: self.toggle_language())
        self.kiosk_root = root
        self.render()
        if self.link is not None and not self.link.online:
            self._grace = Clock.schedule_once(self._show_offline, OFFLINE_GRACE_S)
        return root

    async def run_with_bridge(self) -> None:
        """Run the window and the bridge link side by side until the window closes."""
        assert self.link is not None
        link_task = asyncio.create_task(self.link.run())
        # systemd stops the kiosk with SIGTERM; a handler of our own also keeps SDL from turning
        # it into a close request, which kiosk mode would refuse.
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.leave, 0)
        try:
            await self.async_run(async_lib="asyncio")
        finally:
            self._close_scan()
            await self.link.stop()
            link_task.cancel()

    def on_stop(self) -> None:
        self._close_scan()  # the camera is released whatever ends the app

    def leave(self, status: int) -> None:
        """End the app with this exit status (the one way out of kiosk mode)."""
        self.exit_status = status
        self._leaving = True
        self.stop()

    def _close_requested(self, _window: object, *args: object, **kwargs: object) -> bool:
        if self.kiosk_mode and not self._leaving:
            log.info("a request to close the kiosk window was refused (kiosk mode)")
            return True
        return False

    # --- leaving kiosk mode: the hidden corner and the exit PIN pad ---------------------------

    def _in_corner(self, touch: object) -> bool:
        root = self.kiosk_root
        if root is None or self.pin_pad_open:
            return False
        x, y = touch.pos  # type: ignore[attr-defined]
        reach = CORNER * self.u
        return root.x <= x <= root.x + reach and root.top - reach <= y <= root.top

    def _let_go(self, _window: object, _touch: object) -> None:
        if self._hidden_press is not None:
            self._cancel("_hidden_press")
            log.info("the exit corner was let go of before %g s: no exit pad", HIDDEN_PRESS_S)

    def _moved(self, _window: object, touch: object) -> None:
        if self._hidden_press is not None and not self._in_corner(touch):
            self._cancel("_hidden_press")  # a swipe that started on the logo is not a hold
            log.info("a touch moved off the exit corner: no exit pad")

    def _open_pin_pad(self, _dt: float) -> None:
        self._hidden_press = None
        if self.exit_pin is None:
            log.info("the exit corner was held, but no kiosk_exit_pin is set: the kiosk stays")
            return
        self.pin_pad_open = True
        self._pad_touched()
        self.render()

    def _pad_touched(self) -> None:
        self._cancel("_pad_idle")
        self._pad_idle = Clock.schedule_once(lambda _dt: self.pin_cancel(), PAD_IDLE_S)

    def pin_key(self, key: str) -> None:
        if self.exit_pin is not None:
            self.exit_pin.press(key)
            self._pad_touched()
            self.render()

    def pin_submit(self) -> None:
        if self.exit_pin is None:
            return
        outcome = self.exit_pin.submit()
        if outcome is Outcome.leave:
            log.warning("kiosk mode left with the exit PIN")
            self.leave(EXIT_LEFT_KIOSK)
            return
        if outcome is not Outcome.empty:
            log.warning("a wrong exit PIN was typed on the kiosk (%s)", outcome.value)
        self._pad_touched()
        self.render()

    def pin_cancel(self) -> None:
        self._cancel("_pad_idle")
        if self.exit_pin is not None:
            self.exit_pin.reset_view()
        if self.pin_pad_open:
            self.pin_pad_open = False
            self.render()

    def _resized(self, _window: object, size: tuple[int, int]) -> None:
        self.resize_display(size)

    def resize_display(self, size: tuple[int, int]) -> None:
        """The customer display changed size: lay every screen out again for it."""
        self.display_size = (int(size[0]), int(size[1]))
        self.u = theme.unit_for(*self.display_size)
        self.render()

    # --- from the bridge ----------------------------------------------------------------------

    def on_message(self, message: KioskMessage) -> None:
        if isinstance(message, KioskState):
            self.apply_state(message)
        elif isinstance(message, Error):
            # The shopper never sees protocol trouble; the bridge's answer is logged for support.
            log.warning("bridge refused an intent: %s %s (%s)", message.code.value,
                        message.message, message.ref)
            if message.code is ErrorCode.unauthorized:
                log.error("this kiosk is not paired with lane %s: %s", self.settings.lane,
                          message.message)
                self.unpaired = True
                self.render()
            elif message.code in REGISTRY_TROUBLE:
                # The registry is away (or full): nothing happened, so the shopper is asked to
                # try again in a moment, on the screen they are on, until the next state.
                self.bridge_notice = Notice.unavailable
                self.render()
        elif isinstance(message, Welcome):
            self.unpaired = False
            log.info("connected to bridge %s as kiosk of lane %s", message.server_version,
                     message.lane)

    def on_online(self, online: bool) -> None:
        if online:
            self._cancel("_grace")
            return
        self._cancel("_grace")
        self._grace = Clock.schedule_once(self._show_offline, OFFLINE_GRACE_S)

    def _show_offline(self, _dt: float) -> None:
        self._grace = None
        if self.link is not None and self.link.online:
            return
        self.offline_shown = True
        self.digits = ""
        self._cancel("_timeout")
        self.render()

    def apply_state(self, state: KioskState) -> None:
        previous = self.state
        self.state = state
        self.bridge_notice = None
        self._note_mobile_code(state)
        self.offline_shown = False
        if state.phase is Phase.idle and (previous is None or previous.phase is not Phase.idle):
            self.language = self.settings.language  # the next shopper starts in the default
        if state.phase is Phase.connected and state.seq != self._welcome_seq:
            self._welcome_seq = state.seq
            self._cancel("_welcome")
            self._welcome = Clock.schedule_once(lambda _dt: self._end_welcome(state.seq),
                                                self.settings.welcome_s)
        self.render()
        self._restart_timeout()

    def _end_welcome(self, seq: int) -> None:
        self._welcome = None
        self._welcome_over_seq = seq
        if self.state is not None and self.state.seq == seq:
            self.render()

    # --- screen timeout -----------------------------------------------------------------------

    def _touched(self, _window: object, touch: object) -> None:
        self._restart_timeout()
        self._cancel("_hidden_press")
        if self._in_corner(touch):
            self._hidden_press = Clock.schedule_once(self._open_pin_pad, HIDDEN_PRESS_S)
            log.info("the exit corner is being held")

    def _restart_timeout(self) -> None:
        self._cancel("_timeout")
        state = self.state
        if (state is None or self.offline_shown or not state.view.times_out
                or state.view.busy):
            return
        self._timeout = Clock.schedule_once(lambda _dt: self._timed_out(state.seq),
                                            self.settings.screen_timeout_s)

    def _timed_out(self, seq: int) -> None:
        self._timeout = None
        self.send(ScreenTimeout(seq=seq))

    def _cancel(self, name: str) -> None:
        event: ClockEvent | None = getattr(self, name)
        if event is not None:
            event.cancel()
            setattr(self, name, None)

    # --- shopper actions (screens.Actions) ----------------------------------------------------

    def choose(self, method: Method) -> None:
        self.send(Choose(method=method))

    def key(self, key: str) -> None:
        if key == "clear":
            self.digits = ""
        elif key == "back":
            self.digits = self.digits[:-1]
        elif key.isdigit() and len(self.digits) < MAX_DIGITS:
            self.digits += key
        # Only the display changes: rebuilding the keys would move them under a fast finger.
        self._show_digits()

    def reveal(self, on: bool) -> None:
        """The shopper holds (or lets go of) "show" to check the number they typed."""
        self.revealing = on
        self._show_digits()

    def _show_digits(self) -> None:
        display = getattr(self._screen_widget, "display", None)
        if display is None:
            self.render()
            return
        display.text = self.digits if self.revealing else mask_typed(self.digits)
        self._probe_soon()

    def submit(self) -> None:
        if self.digits:
            self.send(SubmitId(digits=self.digits))

    def cancel(self) -> None:
        self.send(Cancel())

    def answer(self, accept: bool) -> None:
        self.send(MemberAnswer(accept=accept))

    def camera_preview(self) -> Widget | None:
        session = self.scan_session
        if session is None:
            return None
        preview = session.preview
        if preview.parent is not None:
            preview.parent.remove_widget(preview)  # the screen is rebuilt around the same picture
        return preview

    def scanned(self, code: Code) -> None:
        """The scanner read a code for the first time: hand it to the lane."""
        state = self.state
        if self.screen is not Screen.scan or state is None or state.view.busy:
            log.info("a %s code was read while the lane is busy; not sent", code.format)
            return
        try:
            intent = Scan(text=code.text, symbology=code.format)
        except ValueError:
            log.warning("a %s code of %d characters cannot be sent", code.format, len(code.text))
            return
        self._restart_timeout()  # holding a card up is using the screen
        self.send(intent)

    def open_camera(self) -> FrameSource:
        from kiosk.camera import camera_from_settings

        return camera_from_settings(self.settings)

    def _scan_changed(self) -> None:
        session = self.scan_session
        if session is not None and self.screen is Screen.scan \
                and session.status != self._screen_model_camera:
            self.render()  # "Starting the camera…" goes, or the screen says there is no camera
            return
        self._probe_soon(frames=1)

    def _open_scan(self) -> None:
        if self.scan_session is None:
            self.scan_session = ScanSession(self.open_camera, on_code=self.scanned,
                                            on_change=self._scan_changed,
                                            feedback=self.scan_feedback,
                                            ean13_prefixes=self._ean13_prefixes())
            self.scan_session.start()

    def _ean13_prefixes(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.settings.scan_ean13_prefixes.split(",") if p.strip())

    def _close_scan(self) -> None:
        session, self.scan_session = self.scan_session, None
        if session is not None:
            session.close()

    def _note_mobile_code(self, state: KioskState | None) -> None:
        if state is not None and state.view.mobile_url and \
                state.view.mobile_expires_in_s is not None:
            # The code's lifetime counts from now; the bridge said how much of it is left.
            self._mobile_deadline = time.monotonic() + state.view.mobile_expires_in_s

    def _mobile_left(self) -> int | None:
        if self._mobile_deadline is None:
            return None
        return max(0, math.ceil(self._mobile_deadline - time.monotonic()))

    def _tick_mobile(self, _dt: float) -> None:
        state = self.state
        widget = self._screen_widget
        if state is None or self.screen is not Screen.mobile or widget is None:
            return
        left = self._mobile_left()
        model = screens.ScreenModel(language=self.language, view=state.view,
                                    mobile_left_s=left)
        countdown = getattr(widget, "countdown", None)
        if countdown is not None:
            countdown.text = screens.countdown_text(model)
            self._probe_soon()
        if left == 0 and self._renewed_for != state.view.mobile_url:
            # The code ran out unused: ask for a fresh one (once per code).
            self._renewed_for = state.view.mobile_url
            self.send(RenewMobile())

    def toggle_language(self) -> None:
        self.language = next_language(self.language)
        self.render()

    def send(self, intent: BaseModel) -> None:
        self.sent.append(intent)
        if self.link is not None:
            task = asyncio.get_running_loop().create_task(self.link.send(intent))
            self._sending.add(task)  # keep a reference until sent, or it may be collected
            task.add_done_callback(self._sending.discard)

    def present(self, state: KioskState | None, *, language: str, digits: str = "",
                offline: bool = False, welcome_over: bool = False) -> None:
        """Show a given state with no bridge involved (screenshots, previews)."""
        self.state = state
        self._note_mobile_code(state)
        self.language = language
        self.offline_shown = offline
        self._welcome_over_seq = state.seq if state is not None and welcome_over else None
        self.digits = digits
        self.render()

    # --- rendering ----------------------------------------------------------------------------

    @property
    def online(self) -> bool:
        return self.link.online if self.link is not None else not self.offline_shown

    def render(self) -> None:
        root = self.kiosk_root
        if root is None:
            return
        state = self.state
        self.screen = Screen.leave_kiosk if self.pin_pad_open else screen_for(
            state, offline=self.offline_shown,
            welcome_over=state is not None and state.seq == self._welcome_over_seq)
        if self.screen is not Screen.numpad:
            self.digits = ""  # typed digits never outlive the numpad screen
            self.revealing = False
        self.digits = self.digits[:MAX_DIGITS]
        view = state.view if state is not None and not self.offline_shown else KioskView()
        if self.bridge_notice is not None and not self.offline_shown:
            view = view.model_copy(update={"notice": self.bridge_notice})
        if self.screen is Screen.scan:
            self._open_scan()  # the camera runs exactly while the scan screen shows
        else:
            self._close_scan()
        session = self.scan_session
        self._screen_model_camera = session.status if session is not None else ""
        pin = self.exit_pin
        model = screens.ScreenModel(language=self.language, view=view, digits=self.digits,
                                    camera=self._screen_model_camera, reveal=self.revealing,
                                    mobile_left_s=self._mobile_left(),
                                    unpaired_lane=self.settings.lane if self.unpaired else "",
                                    pin_typed=len(pin.digits) if pin else 0,
                                    pin_outcome=pin.last.value if pin and pin.last else "",
                                    pin_tries_left=pin.tries_left if pin else 0,
                                    pin_paused_s=pin.paused_for() if pin else 0)
        self._cancel("_mobile_tick")
        if self.screen is Screen.mobile and view.mobile_url and not view.mobile_submitted:
            self._mobile_tick = Clock.schedule_interval(self._tick_mobile, 1.0)
        self.title = gettext(self.language, TITLES[self.screen])  # what a screen reader says
        root.ids.brand.text = gettext(self.language, "Customer club")
        root.ids.lang.text = ENDONYMS[next_language(self.language)]
        body = root.ids.body
        body.clear_widgets()
        self._screen_widget = screens.build(self.screen, model, self)
        body.add_widget(self._screen_widget)
        self._probe_soon()

    def _probe_soon(self, frames: int = 3) -> None:
        """Something on screen changed: report it to the probe once it has settled."""
        self._render_generation += 1
        if self.monitor is not None:
            self._after_layout(self._check_sizes, self._render_generation, frames)
        if self.probe_file is not None:
            self._after_layout(self._write_probe, self._render_generation, frames)

    def _after_layout(self, callback: object, generation: int, frames: int = 3) -> None:
        # Layouts and text textures settle over the next frames; report only then.
        def step(_dt: float, left: int = frames) -> None:
            if generation != self._render_generation:
                return
            if left <= 1:
                callback()  # type: ignore[operator]
            else:
                Clock.schedule_once(lambda dt: step(dt, left - 1), 0)
        Clock.schedule_once(step, 0)

    def snapshot(self) -> dict[str, object]:
        from kivy.core.window import Window

        state = self.state
        session = self.scan_session
        camera = None if session is None else {
            "status": session.status, "live": session.preview.live and session.status == "live",
            "highlight": session.highlight, "frames": session.frames_shown}
        assert self.kiosk_root is not None
        return probe.snapshot(self.kiosk_root, window_size=Window.size, screen=self.screen,
                              phase=state.phase.value if state is not None else None,
                              seq=state.seq if state is not None else None,
                              language=self.language, online=self.online, camera=camera)

    def _write_probe(self) -> None:
        assert self.probe_file is not None
        self._probes_written += 1
        probe.record(self.probe_file, self.snapshot(), self._probes_written)
