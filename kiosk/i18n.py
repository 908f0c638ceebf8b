"""Translations for the customer screen: gettext catalogs (``assets/locale/<lang>/LC_MESSAGES``).

Message ids are English; every language, English included, has its own ``selfreg.po``, read at
start-up with babel so that an edited catalog needs no compile step.  Swedish is the default.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from kiosk.paths import LOCALE_DIR

LANGUAGES: tuple[str, ...] = ("sv", "en", "nl")
DEFAULT_LANGUAGE = "sv"
DOMAIN = "selfreg"

# Each language is offered in its own words, so a shopper finds theirs without reading another.
ENDONYMS = {"sv": "Svenska", "en": "English", "nl": "Nederlands"}


def catalog_path(language: str, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def _messages(language: str) -> dict[str, str]:
    path = catalog_path(language)
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    return {m.id: m.string for m in catalog if m.id and isinstance(m.id, str) and m.string
            and not m.fuzzy}


def gettext(language: str, msgid: str, **fields: object) -> str:
    """The translation of ``msgid`` (the English text itself if missing), fields filled in."""
    text = _messages(language).get(msgid, msgid) if language in LANGUAGES else msgid
    return text.format(**fields) if fields else text


def next_language(language: str) -> str:
    """The language the toggle switches to: sv → en → nl → sv."""
    i = LANGUAGES.index(language) if language in LANGUAGES else -1
    return LANGUAGES[(i + 1) % len(LANGUAGES)]
