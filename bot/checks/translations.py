"""Translations per language: texts that are new, changed (fuzzy) or missing in a catalog.

A text is *new* when its catalog has no entry for it (`make translations` has not been run since
it was written), *changed* when the entry is fuzzy (Babel matched it to an older text and nobody
has checked the translation), and *missing* when the entry is there but empty. Each of them shows
the volunteer English in the middle of an Indonesian call.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Iterable

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from bot.checks.report import CheckWarning, TranslationCount
from bot.directory import Directory
from bot.directory.reading import key_lines
from bot.engine import Flow
from bot.engine.analysis import TELEGRAM_TEXT_LIMIT
from bot.engine.flow import Text
from bot.i18n import LOCALES_DIR, SOURCE_LANGUAGE, SUPPORTED_LANGUAGES

__all__ = [
    "TextState",
    "catalog_findings",
    "directory_texts",
    "load_catalogs",
    "program_texts",
    "text_findings",
    "text_state",
    "translation_counts",
]

# The program's own texts: what babel.cfg extracts as `[python: bot/**.py]`.
PROGRAM_DIR = Path(__file__).resolve().parent.parent


class TextState(str, enum.Enum):
    NEW = "new"
    CHANGED = "changed"
    MISSING = "missing"


def load_catalogs(locales: Path = LOCALES_DIR) -> dict[str, Catalog]:
    """Every translated language's catalog; the source language needs none."""
    catalogs = {}
    for language in SUPPORTED_LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        po = locales / language / "LC_MESSAGES" / "messages.po"
        with po.open("rb") as handle:
            catalogs[language] = read_po(handle, locale=language)
    return catalogs


def text_state(catalog: Catalog, msgid: str) -> TextState | None:
    """Why `msgid` is not ready in this catalog, or None when it is translated and checked."""
    message = catalog.get(msgid)
    if message is None:
        return TextState.NEW
    if not message.string:
        return TextState.MISSING
    if message.fuzzy:
        return TextState.CHANGED
    return None


def text_findings(texts: Iterable[Text], catalogs: dict[str, Catalog], path: str = "") -> list[CheckWarning]:
    """A warning per text and language not ready, or whose translation is over Telegram's limit."""
    found: list[CheckWarning] = []
    for language, catalog in catalogs.items():
        for text in texts:
            where = (text.file or path, text.line, text.where or None)
            state = text_state(catalog, text.msgid)
            if state is TextState.NEW:
                message = f"no '{language}' translation for {_short(text.msgid)}: a new text, not in the catalog yet (run `make translations`)"
            elif state is TextState.MISSING:
                message = f"no '{language}' translation for {_short(text.msgid)}: its catalog entry is empty"
            elif state is TextState.CHANGED:
                message = f"'{language}' translation is fuzzy (the text changed; check it) for {_short(text.msgid)}"
            elif len(str(catalog[text.msgid].string)) > TELEGRAM_TEXT_LIMIT:
                message = f"'{language}' translation is over {TELEGRAM_TEXT_LIMIT} characters"
            else:
                continue
            found.append(CheckWarning(*where, message))
    return found


def catalog_findings(flow: Flow, path: str, catalogs: dict[str, Catalog]) -> list[CheckWarning]:
    """Flow texts with no translation, a fuzzy (changed, unchecked) one, or one over Telegram's limit."""
    return text_findings(flow.texts(), catalogs, path)


def translation_counts(texts: Iterable[Text], catalogs: dict[str, Catalog]) -> list[TranslationCount]:
    """Per language, how many distinct texts are new, changed and missing."""
    msgids = {text.msgid for text in texts}
    counts = []
    for language, catalog in catalogs.items():
        states = [text_state(catalog, msgid) for msgid in msgids]
        counts.append(
            TranslationCount(
                language,
                new=states.count(TextState.NEW),
                changed=states.count(TextState.CHANGED),
                missing=states.count(TextState.MISSING),
                total=len(msgids),
            )
        )
    return counts


def program_texts(package: Path = PROGRAM_DIR) -> list[Text]:
    """The texts the code marks for translation, found as `pybabel extract` finds them."""
    texts = []
    for filename, line, message, _comments, _context in extract_from_dir(
        package, method_map=[("**.py", "python")], keywords=DEFAULT_KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            texts.append(Text(msgid, _shown(package / filename), line, ""))
    return texts


def directory_texts(directory: Directory, path: Path) -> list[Text]:
    """Descriptions and hours of the referral directory, placed by line and service."""
    try:
        lines = key_lines(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        lines = {}
    texts = []
    for service in directory:
        where = lines.get(service.id, {})
        line = where.get("id", 1)
        texts.append(Text(service.description, _shown(path), where.get("description", line), f"service:{service.id}"))
        if service.hours is not None:
            texts.append(Text(service.hours, _shown(path), where.get("hours", line), f"service:{service.id}"))
    return texts


def _shown(path: Path) -> str:
    """A path as the maintainer would type it: relative to where the check runs, if inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
