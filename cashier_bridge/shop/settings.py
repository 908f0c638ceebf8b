"""The shop's own settings: the ONE table of what a shop owner changes in the back office
(``/admin/settings``), how each is read from the form, where its value comes from and the rules
between them.

A setting is stored in the registry once an admin saves it (``shop_settings``, audited with the
value before and after) and read by every page as it is served, so a change reaches every
bridge process of a chain with the next page, without a restart.  Until it is saved, the
configuration file's value stands (the settings that lived only there before: the shop's name,
the data controller, the privacy notice), else the default here.  What the configuration file
alone sets (the database, TLS, secrets, ports) stays there: the settings page shows it read-only.

A colour pair whose text would be hard to read on its background is refused with the contrast
ratio it has: WCAG 2.1 AA asks 4.5:1 for normal text.  The values are checked here so a page can
put a stored colour into its style sheet as it is (nothing but ``#rrggbb`` gets stored).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from coloraide import Color

from cashier_bridge.config import Settings as FileSettings

# WCAG 2.1 success criterion 1.4.3 (AA): normal text against its background.
AA_CONTRAST = 4.5


class Section(StrEnum):
    shop = "shop"
    privacy = "privacy"
    consents = "consents"
    brand = "brand"


SECTION_TITLES = {Section.shop: "The shop", Section.privacy: "Privacy",
                  Section.consents: "Consents the shopper is asked for",
                  Section.brand: "Brand colours"}
# The languages a consent text is written in: those of the phone page and the kiosk.
CONSENT_LANGUAGES = {"sv": "Svenska", "en": "English", "nl": "Nederlands"}
MAX_CONSENT_TEXT = 500


class Source(StrEnum):
    """Where a setting's value comes from, as the settings page says it."""

    back_office = "back office"
    config_file = "configuration file"
    default = "default"


class InvalidSettings(ValueError):
    """One reason per setting that cannot be saved as given; nothing is saved."""

    def __init__(self, reasons: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in reasons.items()))
        self.reasons = dict(reasons)


class _Bad(ValueError):
    pass


Reader = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    label: str
    help: str
    section: Section
    read: Reader  # the form's text → the stored value; raises _Bad with the reason
    default: Any = None
    config: str | None = None  # the configuration file's key that stands until it is saved
    input: str = "text"  # the form's input type ("texts": one text area per part)
    max_length: int | None = None

    def from_file(self, file: FileSettings) -> Any:
        return getattr(file, self.config) if self.config else None

    def parts(self, value: Any) -> list[tuple[str, str, str]]:
        """A value of several texts (``input == "texts"``) as the form's fields: (name, label,
        text); the consent texts: one per purpose and language, ``consent_texts.marketing.sv``."""
        return [(f"{self.key}.{purpose}.{lang}", part_label(purpose, lang),
                 value.get(purpose, {}).get(lang, ""))
                for purpose in value for lang in CONSENT_LANGUAGES]


def part_label(purpose: str, lang: str) -> str:
    """How the form and its refusals name one text of a many-text setting."""
    return f"{purpose} ({CONSENT_LANGUAGES.get(lang, lang)})"


def _text(max_length: int, *, required: bool = False) -> Reader:
    def read(text: str) -> str | None:
        value = " ".join(text.split())
        if not value:
            if required:
                raise _Bad("cannot be empty")
            return None
        if len(value) > max_length:
            raise _Bad(f"is at most {max_length} characters (this is {len(value)})")
        if any(ord(c) < 32 for c in value):
            raise _Bad("cannot hold control characters")
        return value
    return read


def _https_url(text: str) -> str | None:
    value = text.strip()
    if not value:
        return None
    if len(value) > 300:
        raise _Bad("is at most 300 characters")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or " " in value:
        raise _Bad("must be a whole https:// address, like https://butiken.se/integritet")
    return value


def _consent_text(text: str) -> str:
    value = " ".join(text.split())
    if not value:
        raise _Bad("cannot be empty: the shopper must read what they agree to")
    if len(value) > MAX_CONSENT_TEXT:
        raise _Bad(f"is at most {MAX_CONSENT_TEXT} characters (this is {len(value)})")
    if any(ord(c) < 32 for c in value):
        raise _Bad("cannot hold control characters")
    return value


def _years(text: str) -> int | None:
    value = text.strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_RETENTION_YEARS:
        raise _Bad(f"is a whole number of years from 1 to {MAX_RETENTION_YEARS}, or empty "
                   "(members are kept until erased)")
    return int(value)


MAX_RETENTION_YEARS = 20


def _colour(text: str) -> str:
    value = text.strip().lower()
    if not value:
        raise _Bad("cannot be empty")
    try:
        colour = Color(value)
    except ValueError:
        raise _Bad("is not a colour; write it like #0b5cad") from None
    if colour.alpha() < 1:
        raise _Bad("must be solid (not transparent)")
    # One stored form whatever was typed (rgb(…), a name, #abc): what pages put in their CSS.
    return colour.convert("srgb").fit().to_string(hex=True, alpha=False)


SETTINGS: tuple[Setting, ...] = (
    Setting("shop_name", "Shop name",
            "Shown on the phone page, the member card, the cashier console and the back office.",
            Section.shop, _text(60, required=True), config="shop_name", max_length=60),
    Setting("data_controller", "Data controller",
            "The company responsible for members' personal data, named on the phone page's "
            "privacy notice and in every personal-data export. Empty: the shop's name.",
            Section.privacy, _text(200), config="data_controller", max_length=200),
    Setting("privacy_url", "Privacy notice address",
            "Where the phone page's privacy link goes. Empty: the bridge's own notice "
            "(/m/privacy).", Section.privacy, _https_url, config="privacy_url", input="url",
            max_length=300),
    Setting("retention_years", "Review members inactive for (years)",
            "Members with no sale and no sign-in at a register for this many years are listed "
            "for review under Retention, where a manager can erase them (GDPR: "
            "personal data is kept no longer than needed). Empty: members are kept until "
            "erased.", Section.privacy, _years, input="number"),
    Setting("consent_texts", "Consent texts",
            "What the phone page and the back office ask each consent with, in each language. "
            "A changed text is a new version: every customer's answer keeps the version they "
            "read, and every text ever shown stays in the log below.",
            Section.consents, _consent_text, config="consent_texts", input="texts",
            max_length=MAX_CONSENT_TEXT),
    Setting("brand_colour", "Brand colour",
            "The background of the phone page's and the console's bar and buttons.",
            Section.brand, _colour, default="#0b5cad", input="color"),
    Setting("brand_text_colour", "Text on the brand colour",
            "Must be readable on the brand colour: a contrast of at least 4.5:1 (WCAG AA).",
            Section.brand, _colour, default="#ffffff", input="color"),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}


def retention_cutoff(years: int, now: dt.datetime) -> dt.datetime:
    """The moment ``years`` before ``now``: members quiet since then are due for review.

    >>> retention_cutoff(3, dt.datetime(2028, 2, 29, 12, 0))  # no 29 February in 2025
    datetime.datetime(2025, 2, 28, 12, 0)
    """
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def contrast(a: str, b: str) -> float:
    """The WCAG 2.1 contrast ratio of two colours, 1 to 21.

    >>> round(contrast("#0b5cad", "#ffffff"), 2), round(contrast("#ffff00", "#ffffff"), 2)
    (6.67, 1.07)
    """
    return float(Color(a).contrast(b, method="wcag21"))


def _cross_checks(values: Mapping[str, Any]) -> dict[str, str]:
    ratio = contrast(values["brand_colour"], values["brand_text_colour"])
    if ratio < AA_CONTRAST:
        return {"brand_text_colour": "Text on the brand colour is too hard to read on it: "
                f"contrast {ratio:.2f}:1, and at least {AA_CONTRAST}:1 is needed (WCAG AA)"}
    return {}


@dataclass(frozen=True, slots=True)
class Stored:
    """A saved value and who saved it when (from the registry)."""

    value: Any
    at: Any = None
    by: str | None = None


class Current(Mapping[str, Any]):
    """Every setting's value now, and where each comes from; ``current.shop_name`` reads as
    ``current["shop_name"]`` (for templates)."""

    def __init__(self, stored: Mapping[str, Stored], file: FileSettings) -> None:
        self._values: dict[str, Any] = {}
        self._sources: dict[str, Source] = {}
        self._stored = dict(stored)
        for s in SETTINGS:
            if s.key in stored:
                self._values[s.key], self._sources[s.key] = stored[s.key].value, Source.back_office
            elif s.config and (from_file := s.from_file(file)) is not None:
                self._values[s.key], self._sources[s.key] = from_file, Source.config_file
            else:
                self._values[s.key], self._sources[s.key] = s.default, Source.default

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def source(self, key: str) -> Source:
        return self._sources[key]

    def saved(self, key: str) -> Stored | None:
        return self._stored.get(key)

    @property
    def controller(self) -> str:
        """Who answers for members' personal data: the data controller, else the shop."""
        return self._values["data_controller"] or self._values["shop_name"]


def _part_label(setting: Setting, name: str) -> str:
    """How a reason names the field: the setting, or the part of it ("marketing (Svenska)")."""
    _key, _, rest = name.partition(".")
    purpose, _, lang = rest.partition(".")
    return part_label(purpose, lang) if rest else setting.label


def _read_part(setting: Setting, name: str, text: str, current: Mapping[str, Any],
               read: dict[str, Any]) -> None:
    """One text of a many-text setting into ``read[setting.key]`` (a copy of the current
    value): only the purposes the shop has and the languages the screens speak."""
    _key, _, rest = name.partition(".")
    purpose, _, lang = rest.partition(".")
    value = read.setdefault(setting.key, {p: dict(t) for p, t in current[setting.key].items()})
    if purpose not in value:
        raise _Bad("is no consent purpose of this shop (purposes are set in the configuration "
                    "file)")
    if lang not in CONSENT_LANGUAGES:
        raise _Bad("is in a language the screens do not speak")
    value[purpose][lang] = setting.read(text)


def changes(form: Mapping[str, str], current: Mapping[str, Any]) -> dict[str, Any]:
    """The settings ``form`` changes, read and checked: {key: new value}.  Raises
    :class:`InvalidSettings` with one reason per bad or unknown setting (nothing is saved then).
    A setting the form leaves out keeps its value."""
    reasons: dict[str, str] = {}
    read: dict[str, Any] = {}
    for key, text in form.items():
        setting = BY_KEY.get(key.split(".", 1)[0])
        if setting is None or (setting.input == "texts") != (key != setting.key):
            reasons[key] = f"“{key}” is not a setting"
            continue
        try:
            if setting.input == "texts":
                _read_part(setting, key, text, current, read)
            else:
                read[key] = setting.read(text)
        except _Bad as bad:
            reasons[key] = f"{_part_label(setting, key)} {bad}"
    if not reasons:
        reasons = _cross_checks({**current, **read})
    if reasons:
        raise InvalidSettings(reasons)
    return {k: v for k, v in read.items() if v != current.get(k)}


__all__ = [
    "AA_CONTRAST",
    "BY_KEY",
    "CONSENT_LANGUAGES",
    "MAX_RETENTION_YEARS",
    "SETTINGS",
    "Current",
    "InvalidSettings",
    "Section",
    "Setting",
    "Source",
    "Stored",
    "changes",
    "contrast",
    "retention_cutoff",
]
