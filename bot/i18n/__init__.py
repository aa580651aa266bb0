"""Languages and Babel catalogs.

English is the source language: flow files and code are written in English and those texts are the
msgids. Indonesian, the default for volunteers, comes from `bot/locales/id/LC_MESSAGES/messages.po`.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.support import Translations

__all__ = [
    "DEFAULT_LANGUAGE",
    "LOCALES_DIR",
    "SOURCE_LANGUAGE",
    "SUPPORTED_LANGUAGES",
    "CatalogMissing",
    "N_",
    "Translator",
    "pick_language",
    "translator",
]

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"
DEFAULT_LANGUAGE = "id"
SUPPORTED_LANGUAGES: tuple[str, ...] = ("id", "en")


def N_(msgid: str) -> str:
    """Marks a text for extraction; it is translated where it is shown, in the reader's language."""
    return msgid


class CatalogMissing(RuntimeError):
    pass


class Translator:
    """Texts in one language. `text` translates a msgid and fills its {placeholders}."""

    def __init__(self, language: str, translations: gettext.NullTranslations) -> None:
        self.language = language
        self._translations = translations

    def text(self, msgid: str, **params: Any) -> str:
        translated = self._translations.gettext(msgid)
        # Only texts that take parameters are formatted, so a literal brace in a flow text is safe.
        return translated.format(**params) if params else translated

    def refresh(self, translations: gettext.NullTranslations) -> bool:
        """Serve newly compiled texts; False if they are the texts already served. What only the
        previous catalog knew stays as its fallback: cases still on an older flow revision show
        texts the new catalog may have dropped."""
        if getattr(translations, "_catalog", None) == getattr(self._translations, "_catalog", object()):
            return False  # the same texts: a chain of identical fallbacks would only grow with every reload
        translations.add_fallback(self._translations)
        self._translations = translations  # one assignment: a reader sees the old or the new, whole
        return True


def pick_language(*candidates: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The first supported candidate: the volunteer's choice, then Telegram's language, then default."""
    for candidate in candidates:
        if candidate:
            base = candidate.replace("_", "-").split("-")[0].lower()
            if base in SUPPORTED_LANGUAGES:
                return base
    return default


@lru_cache(maxsize=None)
def translator(language: str) -> Translator:
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; supported: {', '.join(SUPPORTED_LANGUAGES)}")
    if language == SOURCE_LANGUAGE:
        return Translator(language, gettext.NullTranslations())
    compiled = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not compiled.exists():
        # Babel would quietly fall back to English; on a hotline that is a wrong language, not a default.
        raise CatalogMissing(f"the '{language}' catalog is not compiled ({compiled}); run `make catalogs`")
    return Translator(language, Translations.load(str(LOCALES_DIR), [language], DOMAIN))
