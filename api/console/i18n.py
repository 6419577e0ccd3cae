"""The console's languages: message catalogues and the choice of language per request.

Catalogues are flat JSON objects (``messages/en.json``, ``messages/fr.json``, and one
per area of the console under ``messages/AREA/``) from a
dotted key to a text; ``{name}`` placeholders are filled by keyword. The same
catalogue is used by the templates (through ``Translator``) and by the browser
scripts (the page embeds it as JSON), so a text is translated in one place.

English is the reference: a key missing from another catalogue falls back to the
English text, and a key missing everywhere shows as the key itself (and a test
keeps both catalogues complete).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "fr"  # the first customers are French towns
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}
MESSAGES_DIR = Path(__file__).resolve().parent / "messages"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The messages of one language (read once): ``messages/LANG.json`` and each area's
    ``messages/AREA/LANG.json`` (prediction, dimming, ...), which may not redefine a key."""
    if lang not in LANGUAGES:
        raise KeyError(f"unknown console language {lang!r}")
    messages: dict[str, str] = {}
    for path in [MESSAGES_DIR / f"{lang}.json", *sorted(MESSAGES_DIR.glob(f"*/{lang}.json"))]:
        part = _read(path)
        if clash := sorted(messages.keys() & part.keys()):
            raise ValueError(f"{path.relative_to(MESSAGES_DIR)} redefines {', '.join(clash)}")
        messages |= part
    return messages


def _read(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8") as f:
        messages = json.load(f)
    if not isinstance(messages, dict) or not all(isinstance(v, str) for v in messages.values()):
        raise ValueError(f"{path.name} must be a flat object of strings")
    return messages


def supported(lang: str | None) -> str | None:
    """`lang` if the console speaks it (case-insensitive, region ignored), else None."""
    if not lang:
        return None
    base = lang.strip().lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The best supported language of an Accept-Language header, or None."""
    if not header:
        return None
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        lang = supported(tag)
        if lang and quality > 0:
            choices.append((-quality, index, lang))
    return min(choices)[2] if choices else None


class Translator:
    """`t("key", name=value)` in one language, falling back to English, then to the key."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.messages = catalogue(self.lang)
        self._fallback = catalogue("en")

    def __call__(self, key: str, **params: Any) -> str:
        text = self.messages.get(key) or self._fallback.get(key) or key
        if params:
            try:
                return text.format(**params)
            except (KeyError, IndexError, ValueError):
                return text
        return text
