"""The kiosk's building blocks; their look lives in kiosk.kv.

Every pressable widget carries a ``probe_id`` so the probe (and the tests and the simulator)
can find it by a stable name.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty, ColorProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from . import theme


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


class Badge(Label):
    """A short, happy line in a soft pill, e.g. "Coming soon!"."""


class MaskedId(BoxLayout):
    text = StringProperty("")


class Display(BoxLayout):
    text = StringProperty("")
    hint = StringProperty("")
