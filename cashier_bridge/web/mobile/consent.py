"""Marketing consents the phone page asks for: purposes and texts are configuration; a text's
version is a hash of what the shopper saw, so a changed text is a new version by itself."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from cashier_bridge.registry.consents import ConsentText

FALLBACK_LANGUAGES = ("sv", "en", "nl")


@dataclass(frozen=True, slots=True)
class ConsentOffer:
    purpose: str
    language: str
    text: str
    version: str


def version(purpose: str, language: str, text: str) -> str:
    digest = hashlib.sha256(f"{purpose}\0{language}\0{text}".encode()).hexdigest()
    return f"v-{digest[:16]}"


def offers(texts: Mapping[str, Mapping[str, str]], language: str) -> list[ConsentOffer]:
    """One box per purpose, in the shopper's language when the configuration has it."""
    result = []
    for purpose, by_language in texts.items():
        lang = next((x for x in (language, *FALLBACK_LANGUAGES) if x in by_language),
                    next(iter(by_language), None))
        if lang is None:
            continue  # a purpose without any text cannot be asked about
        text = by_language[lang]
        result.append(ConsentOffer(purpose, lang, text, version(purpose, lang, text)))
    return result


def archive(offered: list[ConsentOffer]) -> list[ConsentText]:
    return [ConsentText(o.version, o.purpose, o.language, o.text) for o in offered]
