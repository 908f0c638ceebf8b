"""The desk's window: the real customer screen beside the QA engineer's control panel.

:class:`DeskApp` *is* the kiosk app (a :class:`kiosk.app.KioskApp` subclass): the kiosk's kv
rules and screens ask the running app for its layout unit and language, so hosting the kiosk
in-process means the running app is the kiosk.  Its root widget is laid out at the customer
display's size inside a :class:`~kivy.uix.scatter.Scatter` that only scales it down to fit, so
every screen is the one the device shows, touches go to the real buttons, and the kiosk talks to
the bridge over its own websocket like on the device — through a relay whose cable the faults
panel can pull.  Its camera is the virtual camera, whose item and flaws the camera panel sets.

Every panel action goes through one ``act_*`` coroutine that first records the step and then
acts; the buttons and the test-only control socket (``--control``) call the same coroutines.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.graphics import Color, Rectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.checkbox import CheckBox
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.scatter import Scatter
from kivy.uix.scrollview import ScrollView
from kivy.uix.slider import Slider
from kivy.uix.spinner import Spinner
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from cashier_bridge.config import Settings
from cashier_bridge.protocol import (
    CustomerConnected,
    Error,
    MemberDetails,
    MemberPromptEvent,
    PromptKind,
    PromptWithdrawn,
    RegisterMessage,
    RegisterState,
)
from kiosk.app import KioskApp
from kiosk.camera import FrameSource
from simulator.desk.gallery import gallery, phone_presets
from simulator.desk.recorder import Recorder
from simulator.desk.rig import DeskError, DeskRig
from simulator.phone import Phone
from simulator.scenario_file import save
from simulator.virtual_camera import Flaws, VirtualCamera, held, parse_item

log = logging.getLogger("selfreg.desk")

PANEL_WIDTH = 720
SIZES = ("1280x800", "800x480", "1920x1080")
LANGUAGES = ("sv", "en", "nl")
ROW = 30  # panel row height, pixels: with FONT, both columns fit a 1680x960 window unscrolled
FONT = 13  # the panel's text, pixels
PANEL_BG = (0.16, 0.18, 0.2, 1)
PHONE_PAGE = re.compile(r"/m/[A-Za-z0-9_-]+$")


class LogLines(logging.Handler):
    """The kiosk's log as the desk shows it: the newest lines, and the whole text for checks."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.INFO)
        self.lines: collections.deque[str] = collections.deque(maxlen=12)
        self.path = path
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s",
                                            "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        self.lines.append(line)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


class KioskHost(Scatter):
    """The customer screen at its real size, scaled down (never up) to the space it has.  A
    touch on it is recorded as a tap on the kiosk button under the finger, before the button
    acts, so the step's marks precede what the tap causes."""

    def __init__(self, desk: DeskApp, **kwargs: Any) -> None:
        super().__init__(do_rotation=False, do_scale=False, do_translation=False,
                         size_hint=(None, None), **kwargs)
        self.desk = desk

    def on_touch_down(self, touch: Any) -> bool:
        if self.collide_point(*touch.pos):
            button = self.desk.button_at(touch.pos)
            if button:
                self.desk.recorder.record_tap(button)
            self.desk.kiosk_touched()
        return bool(super().on_touch_down(touch))


def _label(text: str = "", *, height: int = ROW, bold: bool = False,
           color: tuple[float, ...] = (1, 1, 1, 1)) -> Label:
    label = Label(text=text, size_hint_y=None, height=height, bold=bold, color=color,
                  halign="left", valign="middle", markup=False, font_size=FONT)
    label.bind(size=lambda w, s: setattr(w, "text_size", s))
    return label


def _button(text: str, action: Callable[[], None]) -> Button:
    button = Button(text=text, size_hint_y=None, height=ROW, font_size=FONT, shorten=True,
                    halign="center", valign="middle")
    # A long label (a corpus photo's file name) is cut short rather than drawn over its
    # neighbour.
    button.bind(size=lambda w, s: setattr(w, "text_size", (max(1, s[0] - 8), s[1])))
    button.bind(on_release=lambda *_: action())
    return button


def _row(*widgets: Widget, height: int = ROW) -> BoxLayout:
    row = BoxLayout(size_hint_y=None, height=height, spacing=4)
    for widget in widgets:
        row.add_widget(widget)
    return row


def _input(hint: str, text: str = "") -> TextInput:
    return TextInput(hint_text=hint, text=text, multiline=False, size_hint_y=None, height=ROW,
                     font_size=FONT, write_tab=False, padding=(6, 6))


class DeskApp(KioskApp):
    def __init__(self, settings: Settings, *, rig: DeskRig, workdir: Path,
                 display: tuple[int, int], screenshot: Path | None = None,
                 control: Path | None = None) -> None:
        super().__init__(settings, probe_file=workdir / "kiosk-probe.json")
        self.title = "selfreg QA desk"
        self.rig = rig
        self.workdir = workdir
        self.display = display
        self.screenshot_path = screenshot
        self.control_path = control
        self.shown: list[dict[str, Any]] = []  # every settled kiosk snapshot, with time ``t``
        self._shown_changed = asyncio.Event()
        self.camera_item = "nothing"
        self.flaws = Flaws()
        self.camera: VirtualCamera | None = None
        self.phone: Phone | None = None
        self.phone_page = ""
        self.qr_read: list[str] = []
        self.status_text = ""
        self.log_lines = LogLines(workdir / "kiosk.log")
        logging.getLogger("selfreg.kiosk").addHandler(self.log_lines)
        assert rig.register is not None
        self.register = rig.register
        self.recorder = Recorder(lambda: self.shown, lambda: self.register.received,
                                 time.monotonic)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen_messages = 0
        self.saved: Path | None = None

    # --- the window -----------------------------------------------------------------------

    def build(self) -> Widget:
        Window.clearcolor = PANEL_BG
        root = BoxLayout()
        self.area = FloatLayout()
        self.host = KioskHost(self, size=self.display)
        kiosk = self.build_kiosk(self.display)
        kiosk.size_hint = (None, None)
        kiosk.size = self.display
        self.host.add_widget(kiosk)
        self.area.add_widget(self.host)
        self.area.bind(size=self._fit, pos=self._fit)
        root.add_widget(self.area)
        scroll = ScrollView(size_hint_x=None, width=PANEL_WIDTH, bar_width=8)
        self.scroll = scroll
        # Two columns, so that on a 1680x960 window every control shows without scrolling.
        self.panel = BoxLayout(size_hint_y=None, spacing=8, padding=6)
        self.columns = [GridLayout(cols=1, size_hint_y=None, spacing=3, pos_hint={"top": 1})
                        for _ in range(2)]
        for column in self.columns:
            column.bind(minimum_height=column.setter("height"))
            column.bind(minimum_height=lambda *_: self._panel_height())
            self.panel.add_widget(column)
        self.col = self.columns[0]
        self._build_panel()
        scroll.add_widget(self.panel)
        root.add_widget(scroll)
        with root.canvas.before:
            Color(0.1, 0.1, 0.11, 1)
            self._area_bg = Rectangle()
        self.area.bind(size=lambda *_: self._paint_area(), pos=lambda *_: self._paint_area())
        self.root = root
        Clock.schedule_interval(lambda _dt: self.refresh_panel(), 0.25)
        return root

    def _paint_area(self) -> None:
        self._area_bg.pos, self._area_bg.size = self.area.pos, self.area.size

    def _fit(self, *_args: object) -> None:
        """Scale the customer screen to the space left of the panel, centred, never enlarged:
        its layout stays the one the display of that size shows."""
        w, h = self.display
        aw, ah = self.area.size
        scale = min(1.0, (aw - 16) / w, (ah - 16) / h)
        if scale <= 0:
            return
        self.host.scale = scale
        self.host.pos = (self.area.x + (aw - w * scale) / 2, self.area.y + (ah - h * scale) / 2)

    def set_display(self, size: tuple[int, int]) -> None:
        self.display = size
        self.host.size = size
        assert self.kiosk_root is not None
        self.kiosk_root.size = size
        self.resize_display(size)
        self._fit()

    def kiosk_touched(self) -> None:
        self._restart_timeout()  # a touch on the customer screen is the shopper using it

    def button_at(self, pos: tuple[float, float]) -> str:
        """The probe id of the kiosk button under a window position, or ""."""
        root = self.kiosk_root
        if root is None:
            return ""
        found = ""
        for widget in root.walk():
            probe_id = getattr(widget, "probe_id", "")
            if not probe_id or widget.disabled or widget.opacity == 0:
                continue
            x0, y0 = widget.to_window(widget.x, widget.y)
            x1, y1 = widget.to_window(widget.right, widget.top)
            if x0 <= pos[0] <= x1 and y0 <= pos[1] <= y1:
                found = probe_id  # the innermost (walked last) wins
        return found

    # --- the kiosk's camera and probe -----------------------------------------------------

    def open_camera(self) -> FrameSource:
        """Skanna ID's camera is the desk's virtual camera, showing what the panel holds up."""
        camera = VirtualCamera(parse_item(self.camera_item), seed=7, flaws=self.flaws)
        self.camera = camera
        return camera

    def _write_probe(self) -> None:
        super()._write_probe()
        # Beside the kiosk's own probe: the display it is laid out for and where the customer
        # screen sits on the desk (window pixels, top left), so a size change can be checked.
        snapshot = {**self.snapshot(), "n": self._probes_written, "t": time.monotonic(),
                    "display": [round(v) for v in self.kiosk_root.size]
                    if self.kiosk_root is not None else None, "host": self.host_rect()}
        self.shown.append(snapshot)
        self._shown_changed.set()

    def host_rect(self) -> list[int]:
        """The customer screen on the desk: x, y (from the window's top), width, height."""
        w, h = (v * self.host.scale for v in self.host.size)
        return [round(self.host.x), round(Window.height - self.host.y - h), round(w), round(h)]

    async def wait_screen(self, predicate: Callable[[dict[str, Any]], bool], *, since: int,
                          timeout: float = 30.0) -> dict[str, Any]:
        """The first snapshot after number ``since`` that satisfies ``predicate``."""

        async def scan() -> dict[str, Any]:
            index = 0
            while True:
                for snapshot in self.shown[index:]:
                    if snapshot["n"] > since and predicate(snapshot):
                        return snapshot
                index = len(self.shown)
                self._shown_changed.clear()
                await self._shown_changed.wait()

        return await asyncio.wait_for(scan(), timeout)

    @property
    def last_n(self) -> int:
        return int(self.shown[-1]["n"]) if self.shown else 0

    # --- the panel ------------------------------------------------------------------------

    def _panel_height(self) -> None:
        self.panel.height = max(c.minimum_height for c in self.columns) + 12

    def _section(self, title: str) -> None:
        self.col.add_widget(_label(title, bold=True, color=(0.55, 0.85, 0.7, 1)))

    def _build_panel(self) -> None:
        # What the desk last said (a refusal, a save) heads the right column, over the camera.
        self.status = _label("", height=2 * ROW, color=(1, 0.85, 0.5, 1))
        self.columns[1].add_widget(self.status)

        self._section("Register")
        self.register_state = _label("", height=2 * ROW)
        self.col.add_widget(self.register_state)
        self.col.add_widget(_row(_button("Start sale", self.do(self.act_start_sale)),
                                   _button("End sale", self.do(self.act_end_sale))))
        self.prompt_text = _label("", height=2 * ROW)
        self.col.add_widget(self.prompt_text)
        self.first_name = _input("first name")
        self.last_name = _input("last name")
        self.col.add_widget(_row(self.first_name, self.last_name))
        self.col.add_widget(_row(_button("Confirm member", self.do(self.act_confirm)),
                                   _button("Abort", self.do(self.act_abort))))
        self.duplicates = _row(height=0)  # a row only while a prompt offers duplicates
        self.col.add_widget(self.duplicates)
        self.events_text = _label("", height=3 * ROW, color=(0.8, 0.8, 0.8, 1))
        self.col.add_widget(self.events_text)

        self.col = self.columns[1]
        self._section("Camera (Skanna ID): hold up")
        # Two buttons a row: a column of them would push the faults below the fold.
        items = GridLayout(cols=2, size_hint_y=None, spacing=3)
        items.bind(minimum_height=items.setter("height"))
        for entry in gallery():
            items.add_widget(_button(entry.label, self.do(self.act_present, entry.item)))
        self.col.add_widget(items)
        self.sliders: dict[str, Slider] = {}
        self.slider_labels: dict[str, Label] = {}  # each slider's name and value, as recorded
        for name, low, high, value in (("distance", 0.5, 3.0, 1.0), ("angle", 0.0, 60.0, 0.0),
                                       ("blur", 0.0, 4.0, 1.0), ("glare", 0.0, 3.0, 1.0),
                                       ("light", 0.2, 2.0, 1.0)):
            slider = Slider(min=low, max=high, value=value)
            slider.bind(value=lambda *_: self.slider_moved())
            shown = _label(f"{name} {value:g}", height=ROW)
            shown.size_hint_x = 0.35
            self.sliders[name] = slider
            self.slider_labels[name] = shown
            self.col.add_widget(_row(shown, slider))

        self.col = self.columns[0]
        self._section("Phone (Via mobil)")
        self.phone_fields = {key: _input(key) for key in
                             ("first_name", "last_name", "phone", "personal_id")}
        self.phone_member = CheckBox(size_hint_x=0.15, active=False)
        presets = [_button(p.label, lambda p=p: self.fill_phone(p)) for p in phone_presets()]
        self.col.add_widget(_row(*presets))
        self.col.add_widget(_row(self.phone_fields["first_name"],
                                   self.phone_fields["last_name"]))
        self.phone_fields["personal_id"].password = True  # nobody behind the QA reads it
        self.col.add_widget(_row(self.phone_fields["phone"], self.phone_fields["personal_id"]))
        self.col.add_widget(_row(_label("make me a member"), self.phone_member))
        self.col.add_widget(_row(_button("Read the kiosk's QR + open", self.do(
            self.act_phone_open)), _button("Send the form", self.do(self.act_phone_send))))
        self.phone_text = _label("", height=2 * ROW, color=(0.8, 0.8, 0.8, 1))
        self.col.add_widget(self.phone_text)

        self.col = self.columns[1]
        self._section("Faults")
        self.col.add_widget(_row(
            _button("Cut kiosk", self.do(self.act_network, "cut", "kiosk")),
            _button("Cut register", self.do(self.act_network, "cut", "register")),
            _button("Restore both", self.do(self.act_network, "restore", "both"))))
        self.col.add_widget(_row(
            _button("Kill bridge", self.do(self.act_bridge_kill)),
            _button("Start bridge", self.do(self.act_bridge_start)),
            _button("Restart bridge", self.do(self.act_bridge_restart))))
        self.col.add_widget(_row(
            _button("Database outage", self.do(self.act_database, True)),
            _button("Database back", self.do(self.act_database, False))))
        self.faults_text = _label("", color=(0.8, 0.8, 0.8, 1))
        self.col.add_widget(self.faults_text)

        self._section("Kiosk")
        language = Spinner(text=self.settings.language, values=LANGUAGES, size_hint_y=None,
                           height=ROW)
        language.bind(text=lambda _w, value: self.do(self.act_language, value)())
        size = Spinner(text="x".join(map(str, self.display)), values=SIZES, size_hint_y=None,
                       height=ROW)
        size.bind(text=lambda _w, value: self.do(self.act_size, value)())
        self.col.add_widget(_row(_label("language"), language, _label("screen"), size))
        self.log_text = _label("", height=3 * ROW, color=(0.75, 0.75, 0.75, 1))
        self.log_text.font_size = 11
        self.col.add_widget(self.log_text)

        self.col = self.columns[0]
        self._section("Recording")
        self.steps_text = _label("", height=3 * ROW, color=(0.8, 0.8, 0.8, 1))
        self.col.add_widget(self.steps_text)
        self.scenario_name = _input("scenario name", "desk-session")
        self.scenario_path = _input("file (default ./scenarios-recorded/NAME.toml)")
        self.col.add_widget(_row(self.scenario_name, self.scenario_path))
        self.col.add_widget(_row(_button("Save as scenario", self.do(self.act_save)),
                                   _button("Clear recording", self.do(self.act_clear))))
        self.command_text = TextInput(readonly=True, size_hint_y=None, height=ROW,
                                      font_size=FONT, padding=(6, 6))
        self.col.add_widget(self.command_text)

    def do(self, action: Callable[..., Awaitable[Any]], *args: Any) -> Callable[[], None]:
        """A button's handler: run ``action`` on the loop; a refusal is shown, not raised."""

        def handler() -> None:
            self.spawn(action(*args))

        return handler

    def spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guarded(self, work: Awaitable[Any]) -> Any:
        try:
            return await work
        except (DeskError, ValueError, TimeoutError) as exc:
            self.say(str(exc) or type(exc).__name__)
            return None

    def say(self, text: str) -> None:
        self.status_text = text
        self.status.text = text

    def refresh_panel(self) -> None:
        """What the register, the faults and the recording stand at (four times a second)."""
        state = self.register.state
        view = state.view if state is not None else None
        customer = view.customer if view is not None else None
        lines = [f"lane {state.phase.value if state else '?'}"
                 f"  sale {view.sale_id if view and view.sale_id else '-'}"
                 f"  register {'online' if self.register._ws is not None else 'OFFLINE'}"]
        if customer is not None:
            lines.append(f"connected: {customer.customer_code} {customer.first_name} "
                         f"{customer.last_name} {customer.personal_id_masked or ''}"
                         f"{' (new)' if customer.is_new else ''}")
        self.register_state.text = "\n".join(lines)
        prompt = view.prompt if view is not None else None
        if prompt is None:
            self.prompt_text.text = "no member prompt"
        else:
            # A phone that named a member with other details: connect (after ID) or abort.
            title = "DETAILS DON'T MATCH THE MEMBER ON FILE" \
                if prompt.kind is PromptKind.details_mismatch else "MEMBER PROMPT"
            self.prompt_text.text = (
                f"{title} ({prompt.source}): id {prompt.personal_id_masked or '-'}, "
                f"born {prompt.birth_date or '-'}, phone {prompt.phone or '-'}\n"
                f"name {prompt.first_name or '-'} {prompt.last_name or ''}"
                f"{', ' + prompt.document if prompt.document else ''}")
        self._refresh_duplicates(prompt)
        received = self.register.received
        if len(received) != self._seen_messages:
            self._seen_messages = len(received)
            described = [d for d in map(describe, received[-30:]) if d]
            self.events_text.text = "\n".join(described[-4:])
        rig = self.rig
        kiosk_in = rig.kiosk_link is not None and rig.kiosk_link.up
        register_in = rig.register_link is not None and rig.register_link.up
        bridge = "attached" if rig.bridge is None else \
            "running" if rig.bridge_running else "DOWN"
        self.faults_text.text = (
            f"kiosk cable {'in' if kiosk_in else 'OUT'}, register cable "
            f"{'in' if register_in else 'OUT'}, bridge {bridge}, "
            f"database {'DOWN' if rig.database_down else 'up'}")
        self.log_text.text = "\n".join(list(self.log_lines.lines)[-6:])  # what fits
        steps = [e.action.get("do", "") + " " + " ".join(
            str(v) for k, v in e.action.items() if k != "do") for e in self.recorder.entries]
        self.steps_text.text = f"{len(steps)} steps recorded\n" + "\n".join(steps[-3:])

    def _refresh_duplicates(self, prompt: Any) -> None:
        codes = [d.customer_code for d in prompt.possible_duplicates] if prompt else []
        shown = [c.text for c in self.duplicates.children]
        wanted = [f"Connect {code}" for code in codes]
        if sorted(shown) == sorted(wanted):
            return
        self.duplicates.clear_widgets()
        self.duplicates.height = ROW if codes else 0
        for code in codes:
            self.duplicates.add_widget(_button(f"Connect {code}",
                                               self.do(self.act_connect_existing, code)))

    def fill_phone(self, preset: Any) -> None:
        for key in self.phone_fields:
            self.phone_fields[key].text = getattr(preset, key)
        self.phone_member.active = preset.member

    def slider_values(self) -> dict[str, float]:
        return {name: float(slider.value) for name, slider in self.sliders.items()}

    def slider_moved(self) -> None:
        """A camera slider moved: the item is held differently from now on, a step of its own
        (moves in a row are one step, see Recorder.record_present)."""
        values = self.slider_values()
        self.recorder.record_present(self.camera_item, values, slider=True)
        for name, value in values.items():
            self.slider_labels[name].text = f"{name} {round(value, 2):g}"
        self.set_flaws(values)

    def set_flaws(self, values: dict[str, float]) -> None:
        # The same Flaws a replayed present step gets (virtual_camera.held): what the sliders
        # set, the rest the camera's default, so the desk and the replay render alike.
        self.flaws = held(values)
        if self.camera is not None:
            self.camera.set_flaws(self.flaws)

    # --- the actions (the buttons and the control socket) ---------------------------------

    async def act_start_sale(self) -> None:
        self.recorder.record("start_sale")
        await self.register.start_sale()

    async def act_end_sale(self) -> None:
        self.recorder.record("end_sale")
        await self.register.end_sale()

    def _prompt(self) -> Any:
        state = self.register.state
        prompt = state.view.prompt if state is not None else None
        if prompt is None:
            raise DeskError("no member prompt is open at the register")
        return prompt

    async def act_confirm(self, first_name: str | None = None,
                          last_name: str | None = None) -> None:
        prompt = self._prompt()
        first = (first_name if first_name is not None else self.first_name.text).strip() \
            or (prompt.first_name or "")
        last = (last_name if last_name is not None else self.last_name.text).strip() \
            or (prompt.last_name or "")
        if not first or not last:
            raise DeskError("the cashier needs the new member's first and last name")
        first_var = self.recorder.new_var("member_first_name", first, personal=True)
        last_var = self.recorder.new_var("member_last_name", last, personal=True)
        self.recorder.record("confirm_member", first_name=f"{{{first_var}}}",
                             last_name=f"{{{last_var}}}")
        await self.register.confirm(prompt.prompt_id, MemberDetails(first_name=first,
                                                                    last_name=last))

    async def act_abort(self) -> None:
        prompt = self._prompt()
        self.recorder.record("abort_member")
        await self.register.abort(prompt.prompt_id)

    async def act_connect_existing(self, customer_code: str) -> None:
        prompt = self._prompt()
        offered = {c.customer_code: c.id for c in prompt.possible_duplicates}
        if customer_code not in offered:
            raise DeskError(f"customer {customer_code} is not offered by the prompt")
        self.recorder.record("connect_existing", customer_code=customer_code)
        await self.register.connect_existing(prompt.prompt_id, offered[customer_code])

    async def act_present(self, item: str) -> None:
        parse_item(item)  # a typo is refused before anything is recorded
        self.recorder.record_present(item, self.slider_values())
        self.camera_item = item
        if self.camera is not None:
            self.camera.present(item)

    async def act_flaws(self, **values: float) -> None:
        for name in values:
            if name not in self.sliders:
                raise DeskError(f"no slider {name!r} ({', '.join(self.sliders)})")
        for name, value in values.items():
            self.sliders[name].value = value  # the slider moves, is recorded, and applies it

    async def act_tap(self, button: str) -> None:
        """A tap on a kiosk button without a finger (the control socket): recorded the same
        way and dispatched as the button's own press and release."""
        root = self.kiosk_root
        assert root is not None
        target = next((w for w in root.walk() if getattr(w, "probe_id", "") == button
                       and not w.disabled), None)
        if target is None:
            raise DeskError(f"the kiosk shows no button {button!r}")
        self.recorder.record_tap(button)
        self.kiosk_touched()
        target.trigger_action(duration=0.05)

    async def act_phone_open(self) -> str:
        codes = await self.read_qr()
        pages = [c for c in codes if PHONE_PAGE.search(c)]
        if len(pages) != 1:
            raise DeskError("the phone sees no Via mobil code on the customer screen "
                            f"(read: {codes or 'nothing'})")
        url = pages[0]
        before = self.qr_read[-1:]
        self.qr_read.append(url)
        # The code belongs to the step that put it on the screen: the replay reads it there.
        self.recorder.annotate(qr="new_phone_page" if before and before[0] != url
                               else "phone_page")
        self.recorder.record("phone_open")
        self.phone = Phone(language=self.language)
        page = await asyncio.to_thread(self.phone.open, url)
        self._show_page(page)
        return url

    async def read_qr(self) -> list[str]:
        """What a phone camera pointed at the customer screen reads: the kiosk's own pixels,
        rendered at the display's size (not the scaled-down picture on the desk)."""
        import numpy as np

        from kiosk.scanner import decode

        root = self.kiosk_root
        assert root is not None
        image = root.export_as_image()
        w, h = image.texture.size
        rgba = np.frombuffer(image.texture.pixels, np.uint8).reshape(h, w, 4)
        bgr = np.ascontiguousarray(rgba[::-1, :, 2::-1])  # Kivy's rows run bottom-up
        codes = await asyncio.to_thread(decode, bgr)
        return [c.text for c in codes]

    async def act_phone_send(self, **fields: Any) -> None:
        if self.phone is None:
            raise DeskError("open the phone page first (read the kiosk's QR)")
        for key, value in fields.items():
            if key == "member":
                self.phone_member.active = bool(value)
            elif key in self.phone_fields:
                self.phone_fields[key].text = str(value)
            else:
                raise DeskError(f"the phone form has no field {key!r}")
        values = {k: w.text for k, w in self.phone_fields.items()}
        names = {k: self.recorder.new_var(f"phone_{k}", v, personal=True)
                 for k, v in values.items()}
        self.recorder.record("phone_send", **{k: f"{{{n}}}" for k, n in names.items()},
                             member=self.phone_member.active or None)
        page = await asyncio.to_thread(self.phone.send, values["first_name"],
                                       values["last_name"], values["phone"],
                                       values["personal_id"], member=self.phone_member.active)
        self._show_page(page)

    def _show_page(self, page: Any) -> None:
        self.phone_page = page.text
        self.phone_text.text = f"phone ({page.status}): {page.text[:160]}"

    async def act_network(self, what: str, device: str) -> None:
        links = self.rig.links(device)
        self.recorder.record(f"network_{what}", device=None if device == "both" else device)
        for link in links:
            if what == "cut":
                link.cut()
            else:
                link.restore()

    async def act_bridge_kill(self) -> None:
        self.rig.own_bridge()
        self.recorder.record("bridge_kill")
        await self.rig.bridge_kill()

    async def act_bridge_start(self) -> None:
        self.rig.own_bridge()
        if self.rig.bridge_running:
            raise DeskError("the bridge is running: kill it first")
        self.recorder.record("bridge_start")
        await self.rig.bridge_start()

    async def act_bridge_restart(self) -> None:
        await self.act_bridge_kill()
        await self.act_bridge_start()

    async def act_database(self, down: bool) -> None:
        self.rig.own_bridge()  # refused (with why) before anything is recorded
        self.recorder.bridge_settings.update(self.rig.bridge_settings)
        entry = self.recorder.record("db_outage" if down else "db_restore")
        try:
            if down:
                self.rig.database_outage()
            else:
                self.rig.database_back()
        except DeskError:
            self.recorder.entries.remove(entry)  # it did not happen: the file must not say so
            raise
        timeout = self.rig.bridge_settings.get("db_busy_timeout_s", 15)
        self.say(f"database outage: a write waits {timeout} s for the lock, then the bridge "
                 "answers 'unavailable'" if down else "database back")

    async def act_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise DeskError(f"language {language!r}: one of {', '.join(LANGUAGES)}")
        if self.recorder.entries and language != self.settings.language:
            self.say("the scenario's language is set when it starts; use the kiosk's own "
                     "language button to record a switch")
        if not self.recorder.entries:
            self.recorder.kiosk_settings["language"] = language
        self.settings = self.settings.model_copy(update={"language": language})
        self.language = language
        self.render()

    async def act_size(self, size: str) -> None:
        width, _, height = size.partition("x")
        if size not in SIZES:
            raise DeskError(f"screen size {size!r}: one of {', '.join(SIZES)}")
        self.set_display((int(width), int(height)))

    async def act_clear(self) -> None:
        self.recorder.clear()
        self.saved = None
        self.command_text.text = ""

    async def act_save(self, name: str | None = None, path: str | None = None) -> dict[str, str]:
        name = (name or self.scenario_name.text).strip()
        target = Path((path or self.scenario_path.text).strip()
                      or f"scenarios-recorded/{name}.toml")
        logs = [self.log_lines.path.read_text(errors="replace")
                if self.log_lines.path.exists() else ""]
        if self.rig.bridge is not None and self.rig.bridge.log_path.exists():
            logs.append(self.rig.bridge.log_path.read_text(errors="replace"))
        size = "x".join(map(str, self.display))
        scenario = self.recorder.scenario(
            name, f"Recorded on the QA desk ({size}, language "
                  f"{self.recorder.kiosk_settings.get('language', 'sv')}).", logs=logs)
        target.parent.mkdir(parents=True, exist_ok=True)
        save(scenario, target)
        self.saved = target
        command = f"selfreg-sim run {target}" + ("" if size == "1280x800" else f" --size {size}")
        self.command_text.text = command
        self.say(f"saved {len(scenario.steps)} steps to {target}")
        return {"path": str(target), "command": command}

    def status_report(self) -> dict[str, Any]:
        last = self.shown[-1] if self.shown else {}
        return {"screen": last.get("screen"), "n": self.last_n, "online": self.online,
                "steps": len(self.recorder.entries), "status": self.status_text,
                "register_messages": len(self.register.received),
                "display": list(self.display), "language": self.language,
                # How tall the panel is against what the window shows of it: it fits when the
                # first is not more than the second.
                "panel": [round(self.panel.height), round(self.scroll.height)]}


def describe(message: RegisterMessage) -> str | None:
    """One line for the register's event list, as the cashier would read it."""
    if isinstance(message, CustomerConnected):
        c = message.customer
        return (f"customer connected{' (NEW)' if c.is_new else ''}: {c.customer_code} "
                f"{c.first_name} {c.last_name} ({c.matched_on or '-'})")
    if isinstance(message, MemberPromptEvent):
        return f"member prompt ({message.prompt.source})"
    if isinstance(message, PromptWithdrawn):
        return f"prompt withdrawn ({message.reason})"
    if isinstance(message, RegisterState):
        return f"lane {message.phase.value}"
    if isinstance(message, Error):
        return f"error {message.code.value}: {message.message}"
    return None

