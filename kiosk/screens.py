"""One builder per screen: each returns the widget tree for the kiosk's body area.

Builders read a :class:`ScreenModel` (what to show) and wire buttons to :class:`Actions` (which
intent to send).  They are rebuilt on every change, which keeps them free of state of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kivy.factory import Factory
from kivy.uix.anchorlayout import AnchorLayout
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from cashier_bridge.protocol import KioskView, Method
from cashier_bridge.protocol import Notice as LaneNotice
from kiosk import theme
from kiosk.i18n import gettext
from kiosk.icons import Icon
from kiosk.masking import mask_typed
from kiosk.screen_choice import Screen
from kiosk.widgets import ChoiceCard, Display, KeyButton, MaskedId, Notice, PillButton

N = LaneNotice
# Every notice's text for the shopper (each in every language: tests/kiosk/test_kiosk_texts.py).
NOTICES: dict[LaneNotice, str] = {
    N.invalid: "That is not a number we can use – please check it",
    N.invalid_checksum: "The check digit does not match – please check the number",
    N.invalid_date: "That date does not exist – please check the number",
    N.invalid_length: "The number has too few or too many digits",
    N.invalid_format: "We could not read that number – please try again",
    N.interim_number: "Interim numbers cannot be used – please use your personnummer",
    N.incomplete: "Only part of the code was read – please hold it still and try again",
    N.no_identity: "The card has no name or contact details we can use",
    N.unrecognised: "We do not recognise that – please use your personal ID, phone or customer "
                    "number",
    N.unreadable: "We could not read that – please try again",
    N.not_found: "We could not find that number – please check it",
    N.unavailable: "We cannot look you up right now – please try again in a moment",
    N.storage_full: "We cannot save anything right now – please ask the cashier",
    N.member_aborted: "The membership was not created. You can try again.",
    N.member_declined: "No problem – you can become a member another time.",
    # Via mobil: the phone's details do not match the member on file.  The shopper in front of
    # the screen may not be who they said: ask them to the till, and say nothing else.
    N.ask_cashier: "Please turn to the cashier – they will help you finish.",
    # Ange ID is paused on this lane after too many look-ups in a minute.
    N.too_many_tries: "Too many tries in a short time – please wait {seconds} seconds, or ask "
                      "the cashier.",
    # The cashier's new member collides with someone on file: the register says with whom; the
    # shopper hears only that the cashier is on it.
    N.duplicate_phone: "That phone number is already a member's – the cashier will help you",
    N.duplicate_email: "That e-mail address is already a member's – the cashier will help you",
    N.duplicate_customer_code: "That customer number is already taken – the cashier will help "
                               "you",
    N.invalid_details: "The cashier needs to check some of your details",
}
# A scanned code that is not an identifier fails for a reason worded for typed numbers; the
# shopper who held up a card gets words about the card.
NOT_AN_ID = "This code is not a member card or ID we can use – please try another"
SCAN_NOTICES: dict[LaneNotice, str] = {
    N.invalid_checksum: NOT_AN_ID,
    N.invalid_date: NOT_AN_ID,
    N.invalid_length: NOT_AN_ID,
    N.invalid_format: NOT_AN_ID,
    N.interim_number: NOT_AN_ID,
    N.not_found: "We could not find that card – try another or enter your ID",
}
del N
GENERIC_NOTICE = "Something went wrong – please try again"
FRIENDLY_NOTICES = frozenset({LaneNotice.member_declined})


class PinActions(Protocol):
    def pin_key(self, key: str) -> None: ...
    def pin_submit(self) -> None: ...
    def pin_cancel(self) -> None: ...


class Actions(Protocol):
    def choose(self, method: Method) -> None: ...
    def key(self, key: str) -> None: ...
    def submit(self) -> None: ...
    def cancel(self) -> None: ...
    def answer(self, accept: bool) -> None: ...
    def reveal(self, on: bool) -> None: ...
    def camera_preview(self) -> Widget | None: ...


@dataclass(frozen=True)
class ScreenModel:
    language: str
    view: KioskView
    digits: str = ""
    camera: str = ""  # Skanna ID's camera: "starting", "live" or "failed"
    mobile_left_s: int | None = None  # seconds the Via mobil code on screen still lasts
    reveal: bool = False  # the shopper holds "show": the typed number unmasked
    unpaired_lane: str = ""  # the bridge refused this screen's token: what to pair, for staff
    # The exit PIN pad (staff leaving kiosk mode): digits typed, the last outcome ("wrong",
    # "paused" or ""), wrong tries left, seconds of pause left.
    pin_typed: int = 0
    pin_outcome: str = ""
    pin_tries_left: int = 0
    pin_paused_s: int = 0

    def t(self, msgid: str, **fields: object) -> str:
        return gettext(self.language, msgid, **fields)

    def notice(self) -> str:
        code = self.view.notice
        if not code:
            return ""
        if self.view.method is Method.scan and code in SCAN_NOTICES:
            return self.t(SCAN_NOTICES[code])
        if code == LaneNotice.too_many_tries:
            return self.t(NOTICES[code], seconds=self.view.retry_in_s or 60)
        return self.t(NOTICES.get(code, GENERIC_NOTICE))


def _u() -> float:
    from kivy.app import App
    return float(App.get_running_app().u)  # type: ignore[union-attr]


def _column(*children: Widget, spacing: float = 24) -> AnchorLayout:
    """Children stacked and centred on the screen, at most a comfortable reading width."""
    u = _u()
    box = BoxLayout(orientation="vertical", size_hint=(None, None), spacing=spacing * u,
                    width=900 * u)
    for child in children:
        box.add_widget(child)
    box.height = sum(c.height for c in children) + spacing * u * (len(children) - 1)
    for child in children:
        child.bind(height=lambda *_: setattr(box, "height", sum(c.height for c in box.children)
                                             + spacing * u * (len(box.children) - 1)))
    outer = AnchorLayout()
    outer.add_widget(box)
    return outer


def _centred(widget: Widget, height: float | None = None) -> AnchorLayout:
    box = AnchorLayout(size_hint_y=None, height=height or widget.height)
    box.add_widget(widget)
    return box


def _icon(kind: str, size: float = 140, color: tuple = theme.PRIMARY) -> AnchorLayout:
    u = _u()
    return _centred(Icon(kind=kind, color=color, size_hint=(None, None), size=(size * u, size * u)))


def _title(text: str, size: float = 52) -> Widget:
    return Factory.Title(text=text, font_size=size * _u())


def _body(text: str) -> Widget:
    return Factory.Body(text=text)


def _buttons(*buttons: PillButton) -> AnchorLayout:
    u = _u()
    row = BoxLayout(size_hint=(None, None), spacing=32 * u, height=buttons[0].height)
    row.width = sum(b.width for b in buttons) + 32 * u * (len(buttons) - 1)
    for b in buttons:
        row.add_widget(b)
    return _centred(row, row.height + 8 * u)


def _pill(probe_id: str, text: str, on_press: Callable[[], None], *, primary: bool = True,
          icon: str = "") -> PillButton:
    button = PillButton(probe_id=probe_id, text=text, icon=icon)
    if not primary:
        button.outline = True
        button.fg = theme.TEXT
    button.bind(on_release=lambda *_: on_press())
    return button


def idle(m: ScreenModel, a: Actions) -> Widget:
    return _column(_icon("logo", 170, theme.PRIMARY_SOFT), _title(m.t("Hi! Are you a member?"), 64),
                   _body(m.t("Identify yourself here when the cashier starts your purchase – or "
                             "become a member in a few seconds.")), spacing=32)


def choose(m: ScreenModel, a: Actions) -> Widget:
    u = _u()
    root = BoxLayout(orientation="vertical", spacing=28 * u)
    root.add_widget(_title(m.t("How would you like to identify yourself?"), 46))
    if m.view.notice:
        root.add_widget(_centred(Notice(text=m.notice(), size_hint_x=None, width=900 * u,
                                        warn=m.view.notice not in FRIENDLY_NOTICES)))
    cards = BoxLayout(spacing=32 * u)
    for method, probe_id, icon, title, sub in (
        (Method.mobile, "choose_mobile", "phone", "Via mobile", "Scan a QR code with your phone"),
        (Method.scan, "choose_scan", "scan", "Scan ID", "Member card, driving licence or ID card"),
        (Method.numpad, "choose_numpad", "keypad", "Enter ID",
         "Personal ID, phone or customer number"),
    ):
        card = ChoiceCard(probe_id=probe_id, icon=icon, title=m.t(title), subtitle=m.t(sub))
        card.bind(on_release=lambda *_, meth=method: a.choose(meth))
        cards.add_widget(card)
    root.add_widget(cards)
    root.add_widget(Widget(size_hint_y=None, height=4 * u))
    return root


def numpad(m: ScreenModel, a: Actions) -> Widget:
    u = _u()
    root = BoxLayout(spacing=56 * u)
    left = BoxLayout(orientation="vertical", spacing=22 * u)
    left.add_widget(Factory.Title(text=m.t("Enter your personal ID, phone or customer number"),
                                  font_size=38 * u, halign="left"))
    display = Display(text=m.digits if m.reveal else mask_typed(m.digits),
                      hint=m.t("YYYYMMDD-XXXX or 07X-XXX XX XX"))
    left.add_widget(display)
    root.display = display  # type: ignore[attr-defined]  # typing updates only the digits
    # Held down, the whole number shows to the shopper checking it; let go, it hides again.
    show = KeyButton(probe_id="key_show", text=m.t("Hold to show the number"), small=True)
    show.size_hint_y = None
    show.height = 56 * u
    show.bind(on_press=lambda *_: a.reveal(True), on_release=lambda *_: a.reveal(False))
    left.add_widget(show)
    left.add_widget(Notice(text=m.notice()))
    left.add_widget(Widget())
    back = _pill("cancel", m.t("Back"), a.cancel, primary=False, icon="back")
    left.add_widget(back)
    root.add_widget(left)

    root.add_widget(_keypad(m, "key", a.key, m.t("Continue"), a.submit, back_icon="backspace"))
    return root


def _keypad(m: ScreenModel, prefix: str, press: Callable[[str], None], ok_text: str,
            ok: Callable[[], None], *, back_icon: str = "") -> Widget:
    """Digits 1–9, Clear, 0, Delete and a wide OK below: the numpad's and the exit PIN's."""
    u = _u()
    right = BoxLayout(orientation="vertical", spacing=16 * u, size_hint_x=None, width=480 * u)
    grid = GridLayout(cols=3, spacing=14 * u)
    for key in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "back"):
        text = {"clear": m.t("Clear"), "back": m.t("Delete")}.get(key, key)
        grid.add_widget(_key(f"{prefix}_{key}", text, press, key, small=not key.isdigit(),
                             icon=back_icon if key == "back" else ""))
    right.add_widget(grid)
    button = PillButton(probe_id=f"{prefix}_ok", text=ok_text)
    button.size_hint = (1, None)
    button.height = 96 * u
    button.bind(on_release=lambda *_: ok())
    right.add_widget(button)
    return right


def _key(probe_id: str, text: str, press: Callable[[str], None], key: str, *,
         small: bool = False, icon: str = "") -> KeyButton:
    button = KeyButton(probe_id=probe_id, text=text, small=small, icon=icon)
    if icon:
        button.valign = "bottom"
        button.halign = "center"
        button.padding = (0, 14 * _u())
        button.text_size = (None, None)
        button.bind(size=lambda b, s: setattr(b, "text_size", s))
    button.bind(on_release=lambda *_: press(key))
    return button


def mobile(m: ScreenModel, a: Actions) -> Widget:
    """Via mobil: a QR code to the phone page on the left, what to do and how long the code
    lasts on the right.  Once the phone has sent its details, the screen points to the phone."""
    from kivy.uix.image import Image

    from kiosk.qr import qr_texture

    u = _u()
    root = BoxLayout(spacing=40 * u)
    view = m.view
    if view.mobile_url and not view.mobile_submitted:
        holder = AnchorLayout(size_hint=(0.5, 1))
        side_px = 440 * u
        holder.add_widget(Image(texture=qr_texture(view.mobile_url), size_hint=(None, None),
                                size=(side_px, side_px), fit_mode="contain"))
        root.add_widget(holder)
    side = BoxLayout(orientation="vertical", spacing=22 * u,
                     size_hint_x=0.5 if len(root.children) else 1)
    if view.mobile_submitted or not view.mobile_url:
        side.add_widget(_icon("phone", 120))
        side.add_widget(_title(m.t("Continue on your phone"), 44))
        side.add_widget(_body(m.t("Searching…") if view.busy else
                              m.t("Follow the steps on your phone.")))
    else:
        side.add_widget(Factory.Title(text=m.t("Via mobile"), font_size=44 * u, halign="left"))
        side.add_widget(Factory.Body(text=m.t("Scan the code with your phone's camera and fill "
                                              "in your details on your phone."), halign="left"))
        countdown = Notice(text=countdown_text(m), warn=False)
        side.add_widget(countdown)
        root.countdown = countdown  # type: ignore[attr-defined]  # ticked by the app
    _other_ways(side, m, a, enter_id_first=False)
    root.add_widget(side)
    return root


def _other_ways(side: BoxLayout, m: ScreenModel, a: Actions, *, enter_id_first: bool) -> None:
    """Below what a side panel says: Ange ID instead, or back to the choices."""
    side.add_widget(Widget())
    numpad = _pill("enter_id", m.t("Enter ID"), lambda: a.choose(Method.numpad),
                   primary=enter_id_first, icon="keypad")
    back = _pill("cancel", m.t("Back"), a.cancel, primary=False, icon="back")
    for button in (numpad, back):
        button.size_hint_x = 1
        side.add_widget(button)


def countdown_text(m: ScreenModel) -> str:
    left = max(0, m.mobile_left_s or 0)
    if left == 0:
        return m.t("Getting a new code…")
    return m.t("The code is valid for {time}", time=f"{left // 60}:{left % 60:02d}")


def scan(m: ScreenModel, a: Actions) -> Widget:
    """Skanna ID: the live picture with a guide on the left, what to do and the lane's answer on
    the right.  With no camera it says so and offers Ange ID."""
    u = _u()
    root = BoxLayout(spacing=40 * u)
    preview = a.camera_preview() if m.camera != "failed" else None
    if preview is not None:
        preview.size_hint = (0.62, 1)  # the picture takes most of the screen
        root.add_widget(preview)
    side = BoxLayout(orientation="vertical", spacing=22 * u,
                     size_hint_x=0.38 if preview is not None else 1)
    if preview is None:
        side.add_widget(_icon("scan", 120, theme.MUTED))
        side.add_widget(_title(m.t("The camera is not available"), 44))
        side.add_widget(_body(m.t("Please enter your ID instead, or ask the cashier for help.")))
    else:
        side.add_widget(Factory.Title(text=m.t("Scan ID"), font_size=44 * u, halign="left"))
        side.add_widget(Factory.Body(text=m.t("Hold your card, licence or phone still in the "
                                              "frame"), halign="left"))
        if m.view.busy:
            status = m.t("Searching…")
        elif m.camera == "starting":
            status = m.t("Starting the camera…")
        else:
            status = ""
        notice = m.notice()
        side.add_widget(Notice(text=notice or status, warn=bool(notice)))
    _other_ways(side, m, a, enter_id_first=preview is None)
    root.add_widget(side)
    return root


def searching(m: ScreenModel, a: Actions) -> Widget:
    return _column(_icon("spinner", 130), _title(m.t("Searching…")), _body(m.t("One moment")))


def not_found(m: ScreenModel, a: Actions) -> Widget:
    parts: list[Widget] = [_icon("not_found", 130, theme.MUTED),
                           _title(m.t("We could not find you"))]
    if m.view.masked_id:
        parts.append(_centred(MaskedId(text=m.view.masked_id)))
    scanned = m.view.method is Method.scan
    parts.append(_body((m.notice() or m.t(SCAN_NOTICES[LaneNotice.not_found])) if scanned else
                       m.t("Check the number and try again, or ask the cashier for help.")))
    again = Method.scan if scanned else Method.numpad  # try again the way they tried
    parts.append(_buttons(_pill("cancel", m.t("Back"), a.cancel, primary=False, icon="back"),
                          _pill("retry", m.t("Try again"), lambda: a.choose(again))))
    return _column(*parts)


def ask_member(m: ScreenModel, a: Actions) -> Widget:
    parts: list[Widget] = [_icon("member", 130), _title(m.t("Would you like to become a member?"))]
    if m.view.masked_id:
        parts.append(_centred(MaskedId(text=m.view.masked_id)))
    parts.append(_body(m.t("We did not find you in the customer club. The cashier completes your "
                           "membership with you.")))
    parts.append(_buttons(_pill("no", m.t("No"), lambda: a.answer(False), primary=False),
                          _pill("yes", m.t("Yes"), lambda: a.answer(True))))
    return _column(*parts)


def waiting(m: ScreenModel, a: Actions) -> Widget:
    asked = m.view.notice is LaneNotice.ask_cashier  # not a membership: the cashier checks ID
    parts: list[Widget] = [_icon("spinner" if m.view.busy else "clock", 130),
                           _title(m.t("Waiting for the cashier")),
                           _body(m.notice() if asked else
                                 m.t("The cashier is completing your membership. It only takes a "
                                     "moment."))]
    if not m.view.busy:  # once the cashier is creating the member, cancelling is not possible
        parts.append(_buttons(_pill("cancel", m.t("Cancel"), a.cancel, primary=False)))
    return _column(*parts)


def welcome(m: ScreenModel, a: Actions) -> Widget:
    return _column(_icon("check", 150), _title(m.t("Welcome, {name}!", name=m.view.first_name), 68),
                   _body(m.t("You are now connected to your purchase.")), spacing=32)


def thanks(m: ScreenModel, a: Actions) -> Widget:
    return _column(_icon("check", 150), _title(m.t("Thank you!"), 68),
                   _body(m.t("You are connected to this purchase.")), spacing=32)


def offline(m: ScreenModel, a: Actions) -> Widget:
    if m.unpaired_lane:
        return _column(_icon("offline", 140, theme.MUTED),
                       _title(m.t("This screen is not paired with the register")),
                       _body(m.t("Staff: run selfreg-bridge pair --lane {lane} --role kiosk and "
                                 "start the screen with the token it prints.",
                                 lane=m.unpaired_lane)), spacing=28)
    # The shopper is told what to do, not what broke; the screen comes back by itself.
    return _column(_icon("offline", 140, theme.MUTED),
                   _title(m.t("Out of order – please ask the cashier")),
                   _body(m.t("Reconnecting…")), _icon("spinner", 56), spacing=28)


def leave_kiosk(m: ScreenModel, a: PinActions) -> Widget:
    """Staff only, after the hidden long press: the exit PIN, shown as dots."""
    u = _u()
    root = BoxLayout(spacing=56 * u)
    left = BoxLayout(orientation="vertical", spacing=22 * u)
    left.add_widget(Factory.Title(text=m.t("Staff: enter the PIN to close the customer screen"),
                                  font_size=38 * u, halign="left"))
    left.add_widget(Display(text="•" * m.pin_typed, hint=m.t("PIN")))
    if m.pin_outcome == "paused" or m.pin_paused_s:
        notice = m.t("Too many wrong PINs – try again in {seconds} seconds",
                     seconds=m.pin_paused_s)
    elif m.pin_outcome == "wrong":
        notice = m.t("Wrong PIN – tries left: {tries}", tries=m.pin_tries_left)
    else:
        notice = ""
    left.add_widget(Notice(text=notice))
    left.add_widget(Widget())
    left.add_widget(_pill("pin_cancel", m.t("Cancel"), a.pin_cancel, primary=False,
                          icon="back"))
    root.add_widget(left)
    root.add_widget(_keypad(m, "pin", a.pin_key, m.t("Close the screen"), a.pin_submit))
    return root


BUILDERS: dict[Screen, Callable[[ScreenModel, Actions], Widget]] = {
    Screen.idle: idle, Screen.choose: choose, Screen.numpad: numpad, Screen.scan: scan,
    Screen.mobile: mobile, Screen.searching: searching, Screen.not_found: not_found,
    Screen.ask_member: ask_member, Screen.waiting: waiting, Screen.welcome: welcome,
    Screen.thanks: thanks, Screen.offline: offline,
    Screen.leave_kiosk: leave_kiosk,  # type: ignore[dict-item]  # the app is both kinds of Actions
}


def build(name: Screen, model: ScreenModel, actions: Actions) -> Widget:
    return BUILDERS[name](model, actions)
