"""Simple line icons drawn with Kivy graphics, so they stay sharp at every screen size."""

from __future__ import annotations

from kivy.animation import Animation
from kivy.graphics import Color, Ellipse, Line, Rectangle, RoundedRectangle
from kivy.properties import ColorProperty, NumericProperty, StringProperty
from kivy.uix.widget import Widget

from kiosk import theme


class Icon(Widget):
    kind = StringProperty("")
    color = ColorProperty(theme.PRIMARY)
    angle = NumericProperty(0)  # the spinner's rotation

    def __init__(self, **kwargs: object) -> None:
        self._spin: Animation | None = None
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw, kind=self._redraw, color=self._redraw,
                  angle=self._redraw)

    def on_kind(self, *_: object) -> None:
        if self.kind == "spinner" and self._spin is None:
            self._spin = Animation(angle=360, duration=1.1)
            self._spin.repeat = True
            self._spin.start(self)

    def on_parent(self, _widget: Widget, parent: Widget | None) -> None:
        if parent is None and self._spin is not None:
            self._spin.cancel(self)
            self._spin = None

    def _redraw(self, *_: object) -> None:
        self.canvas.clear()
        s = min(self.width, self.height)
        if s <= 0:
            return
        ox = self.x + (self.width - s) / 2
        oy = self.y + (self.height - s) / 2
        draw = getattr(self, f"_draw_{self.kind}", None)
        if draw is None:
            return
        with self.canvas:
            Color(*self.color)
            draw(ox, oy, s, max(1.5, s * 0.06))

    # Each drawer gets the square's origin, its size and a stroke width.

    def _draw_phone(self, x: float, y: float, s: float, w: float) -> None:
        pw, ph = s * 0.5, s * 0.86
        px, py = x + (s - pw) / 2, y + (s - ph) / 2
        Line(rounded_rectangle=(px, py, pw, ph, s * 0.08), width=w)
        Line(points=[px + pw * 0.38, py + ph * 0.08, px + pw * 0.62, py + ph * 0.08], width=w)
        q = pw * 0.2  # a tiny QR code on the screen
        for cx, cy in ((0.3, 0.66), (0.7, 0.66), (0.3, 0.38)):
            Rectangle(pos=(px + pw * cx - q / 2, py + ph * cy - q / 2), size=(q, q))
        Rectangle(pos=(px + pw * 0.62, py + ph * 0.3), size=(q * 0.7, q * 0.7))

    def _draw_scan(self, x: float, y: float, s: float, w: float) -> None:
        c = s * 0.22
        corners = ((x + s * .06, y + s * .14, 1, 1), (x + s * .94, y + s * .14, -1, 1),
                   (x + s * .06, y + s * .86, 1, -1), (x + s * .94, y + s * .86, -1, -1))
        for ax, ay, dx, dy in corners:
            Line(points=[ax, ay + dy * c, ax, ay, ax + dx * c, ay], width=w, joint="round",
                 cap="round")
        bars = (0.05, 0.025, 0.05, 0.025, 0.075, 0.025, 0.05, 0.05, 0.025, 0.05)
        bx = x + s * 0.2
        for i, bw in enumerate(bars):
            if i % 2 == 0:
                Rectangle(pos=(bx, y + s * 0.3), size=(s * bw, s * 0.4))
            bx += s * bw + s * 0.012

    def _draw_keypad(self, x: float, y: float, s: float, w: float) -> None:
        k = s * 0.2
        gap = s * 0.08
        left = x + (s - 3 * k - 2 * gap) / 2
        top = y + s - (s - 4 * k * 0.8 - 3 * gap * 0.8) / 2
        for row in range(4):
            for col in range(3):
                if row == 3 and col != 1:
                    continue
                RoundedRectangle(pos=(left + col * (k + gap), top - (row + 1) * (k * 0.8)
                                      - row * gap * 0.8), size=(k, k * 0.8), radius=[k * 0.2])

    def _draw_check(self, x: float, y: float, s: float, w: float) -> None:
        Ellipse(pos=(x, y), size=(s, s))
        Color(*theme.WHITE)
        Line(points=[x + s * .28, y + s * .52, x + s * .44, y + s * .36, x + s * .73, y + s * .66],
             width=s * 0.055, joint="round", cap="round")

    def _draw_search(self, x: float, y: float, s: float, w: float) -> None:
        Line(circle=(x + s * .42, y + s * .58, s * .28), width=w)
        Line(points=[x + s * .62, y + s * .38, x + s * .86, y + s * .14], width=w * 1.3,
             cap="round")

    def _draw_not_found(self, x: float, y: float, s: float, w: float) -> None:
        self._draw_search(x, y, s, w)
        d = s * 0.1
        cx, cy = x + s * .42, y + s * .58
        Line(points=[cx - d, cy - d, cx + d, cy + d], width=w * 0.8, cap="round")
        Line(points=[cx - d, cy + d, cx + d, cy - d], width=w * 0.8, cap="round")

    def _draw_member(self, x: float, y: float, s: float, w: float) -> None:
        Line(circle=(x + s * .4, y + s * .66, s * .16), width=w)
        Line(ellipse=(x + s * .1, y - s * .02, s * .6, s * .6, -90, 90), width=w)
        px, py, d = x + s * .8, y + s * .62, s * .12
        Line(points=[px - d, py, px + d, py], width=w, cap="round")
        Line(points=[px, py - d, px, py + d], width=w, cap="round")

    def _draw_clock(self, x: float, y: float, s: float, w: float) -> None:
        cx, cy = x + s / 2, y + s / 2
        Line(circle=(cx, cy, s * .42), width=w)
        Line(points=[cx, cy + s * .26, cx, cy, cx + s * .18, cy - s * .1], width=w, cap="round",
             joint="round")

    def _draw_offline(self, x: float, y: float, s: float, w: float) -> None:
        cx, cy = x + s / 2, y + s * .22
        for r in (0.62, 0.42, 0.22):
            Line(circle=(cx, cy, s * r, -45, 45), width=w, cap="round")
        Ellipse(pos=(cx - s * .06, cy - s * .06), size=(s * .12, s * .12))
        Color(*theme.WARN_TEXT)
        Line(points=[x + s * .15, y + s * .9, x + s * .85, y + s * .05], width=w, cap="round")

    def _draw_globe(self, x: float, y: float, s: float, w: float) -> None:
        cx, cy, r = x + s / 2, y + s / 2, s * .44
        Line(circle=(cx, cy, r), width=w)
        Line(ellipse=(cx - r * .45, cy - r, r * .9, 2 * r), width=w)
        Line(points=[cx - r, cy, cx + r, cy], width=w)

    def _draw_back(self, x: float, y: float, s: float, w: float) -> None:
        Line(points=[x + s * .62, y + s * .2, x + s * .32, y + s * .5, x + s * .62, y + s * .8],
             width=w * 1.2, cap="round", joint="round")

    def _draw_backspace(self, x: float, y: float, s: float, w: float) -> None:
        Line(points=[x + s * .05, y + s * .5, x + s * .3, y + s * .8, x + s * .95, y + s * .8,
                     x + s * .95, y + s * .2, x + s * .3, y + s * .2], close=True, width=w,
             joint="round")
        d = s * .12
        cx, cy = x + s * .6, y + s * .5
        Line(points=[cx - d, cy - d, cx + d, cy + d], width=w, cap="round")
        Line(points=[cx - d, cy + d, cx + d, cy - d], width=w, cap="round")

    def _draw_logo(self, x: float, y: float, s: float, w: float) -> None:
        RoundedRectangle(pos=(x, y), size=(s, s), radius=[s * 0.28])
        Color(*theme.PRIMARY)
        Line(circle=(x + s / 2, y + s / 2, s * .3, 110, 250 + 360 - 360), width=s * .07,
             cap="round")
        Color(*theme.ACCENT)
        Ellipse(pos=(x + s * .58, y + s * .58), size=(s * .2, s * .2))

    def _draw_spinner(self, x: float, y: float, s: float, w: float) -> None:
        cx, cy, r = x + s / 2, y + s / 2, s * .42
        Color(*theme.LINE)
        Line(circle=(cx, cy, r), width=w)
        Color(*self.color)
        Line(circle=(cx, cy, r, self.angle, self.angle + 100), width=w, cap="round")
