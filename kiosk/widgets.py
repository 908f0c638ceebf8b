"""The kiosk's building blocks; their look lives in kiosk.kv.

Every pressable widget carries a ``probe_id`` so the probe (and the tests and the simulator)
can find it by a stable name.
"""

from __future__ import annotations

from kivy.app import App
from kivy.graphics import Color, Line, Rectangle, RoundedRectangle
from kivy.properties import BooleanProperty, ColorProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk import theme


class Text(Label):
    """A wrapping label whose height follows its text."""


class PillButton(ButtonBehavior, Label):
    probe_id = StringProperty("")
    bg = ColorProperty(theme.PRIMARY)
    fg = ColorProperty(theme.WHITE)
    outline = BooleanProperty(False)
    icon = StringProperty("")


class KeyButton(ButtonBehavior, Label):
    probe_id = StringProperty("")
    small = BooleanProperty(False)
    icon = StringProperty("")


class ChoiceCard(ButtonBehavior, BoxLayout):
    probe_id = StringProperty("")
    icon = StringProperty("")
    title = StringProperty("")
    subtitle = StringProperty("")


class LangButton(ButtonBehavior, BoxLayout):
    probe_id = StringProperty("lang")
    text = StringProperty("")


class Notice(BoxLayout):
    text = StringProperty("")
    warn = BooleanProperty(True)


class MaskedId(BoxLayout):
    text = StringProperty("")


class Display(BoxLayout):
    text = StringProperty("")
    hint = StringProperty("")


class CameraPreview(Widget):
    """The live camera picture, shown as a mirror, with a frame guide and, when a code is found,
    an outline over its corners.  ``texture`` is set and refreshed by the scan session."""

    texture = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._corners: tuple[tuple[float, float], ...] | None = None
        self._frame_size = (1, 1)
        with self.canvas:
            Color(*theme.PREVIEW_BACKGROUND)
            self._back = RoundedRectangle()
            Color(1, 1, 1, 1)
            self._picture = Rectangle()
            Color(1, 1, 1, 0.85)
            self._guide = Line(width=2)
            self._outline_colour = Color(*theme.HIGHLIGHT)
            self._outline = Line(width=4, close=True)
        self.bind(pos=self._layout, size=self._layout, texture=self._layout)

    @property
    def live(self) -> bool:
        return self.texture is not None

    def show_code(self, corners: tuple[tuple[float, float], ...] | None,
                  frame_size: tuple[int, int]) -> None:
        self._corners = corners
        self._frame_size = frame_size
        self._place_outline()

    def _picture_box(self) -> tuple[float, float, float, float]:
        """Where the picture is drawn: as large as fits, its aspect ratio kept."""
        width, height = self.texture.size if self.texture is not None else (16, 9)
        scale = min(self.width / width, self.height / height)
        w, h = width * scale, height * scale
        return self.x + (self.width - w) / 2, self.y + (self.height - h) / 2, w, h

    def _layout(self, *_args: object) -> None:
        u = float(App.get_running_app().u) if App.get_running_app() else 1.0  # type: ignore[union-attr]
        x, y, w, h = self._picture_box()
        self._back.pos, self._back.size = (x, y), (w, h)
        self._back.radius = [16 * u]
        self._picture.pos, self._picture.size = (x, y), (w, h)
        self._picture.texture = self.texture
        # The guide: where to hold the card, a card's shape in the middle of the picture.
        gw, gh = w * 0.62, w * 0.62 * 54 / 85.6
        gh = min(gh, h * 0.8)
        self._guide.rounded_rectangle = (x + (w - gw) / 2, y + (h - gh) / 2, gw, gh, 18 * u)
        self._place_outline()

    def _place_outline(self) -> None:
        if not self._corners:
            self._outline_colour.a = 0  # a Line keeps its last points when given none
            return
        self._outline_colour.a = 1
        x, y, w, h = self._picture_box()
        fw, fh = self._frame_size
        points: list[float] = []
        for cx, cy in self._corners:
            # Mirror left-right like the picture; the frame's y grows downwards, Kivy's upwards.
            points += [x + (1 - cx / fw) * w, y + (1 - cy / fh) * h]
        self._outline.points = points
