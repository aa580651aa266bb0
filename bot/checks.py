"""`pendamping flows check`: hard errors stop, soft issues warn; `--strict` fails on both."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, TextIO

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.engine import Flow, FlowError, FlowLoadError, load_flow_file
from bot.engine.loader import MANIFEST, load_flow_dir
from bot.engine.analysis import TELEGRAM_TEXT_LIMIT, analyse
from bot.i18n import LOCALES_DIR, SOURCE_LANGUAGE, SUPPORTED_LANGUAGES

__all__ = ["CheckWarning", "catalog_findings", "check_paths", "run_check"]


@dataclass(frozen=True)
class CheckWarning(FlowError):
    """A soft issue: the flow runs, but should not ship like this. Placed like a FlowError."""

    def __str__(self) -> str:
        where = f"node '{self.node}': " if self.node else ""
        return f"{self.path}:{self.line}: warning: {where}{self.message}"


def _flow_paths(paths: Iterable[Path]) -> list[Path]:
    """Flow files and flow directories named, or found in the directories named."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir() and not (path / MANIFEST).exists():
            found.extend(sorted(path.glob("*.yaml")))
            found.extend(sorted(manifest.parent for manifest in path.glob(f"*/{MANIFEST}")))
        else:
            found.append(path)
    return found


def load_catalogs(locales: Path = LOCALES_DIR) -> dict[str, Catalog]:
    catalogs = {}
    for language in SUPPORTED_LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        po = locales / language / "LC_MESSAGES" / "messages.po"
        with po.open("rb") as handle:
            catalogs[language] = read_po(handle, locale=language)
    return catalogs


def catalog_findings(flow: Flow, path: str, catalogs: dict[str, Catalog]) -> list[CheckWarning]:
    """Flow texts with no translation, a fuzzy (changed, unchecked) one, or one over Telegram's limit."""
    found: list[CheckWarning] = []
    for language, catalog in catalogs.items():
        for text in flow.texts():
            message = catalog.get(text.msgid)
            where = (text.file or path, text.line, text.where or None)
            if message is None or not message.string:
                found.append(CheckWarning(*where, f"no '{language}' translation for {_short(text.msgid)}"))
            elif message.fuzzy:
                found.append(CheckWarning(*where, f"'{language}' translation is fuzzy (unchecked) for {_short(text.msgid)}"))
            elif len(str(message.string)) > TELEGRAM_TEXT_LIMIT:
                found.append(CheckWarning(*where, f"'{language}' translation is over {TELEGRAM_TEXT_LIMIT} characters"))
    return found


def check_paths(paths: Iterable[Path]) -> tuple[list[str], list[CheckWarning], list[Flow]]:
    errors: list[str] = []
    warnings: list[CheckWarning] = []
    flows: list[Flow] = []
    catalogs = load_catalogs()
    found = _flow_paths(paths)
    if not found:
        errors.append("no flow files found")
    for path in found:
        try:
            flow = load_flow_dir(path) if path.is_dir() else load_flow_file(path)
        except FlowLoadError as error:
            errors.extend(str(item) for item in error.errors)
            continue
        flows.append(flow)
        warnings.extend(CheckWarning(f.file or str(path), f.line, f.node, f.message) for f in analyse(flow))
        warnings.extend(catalog_findings(flow, str(path), catalogs))
    return errors, warnings, flows


def run_check(paths: Iterable[Path], *, strict: bool, out: TextIO) -> int:
    errors, warnings, flows = check_paths(paths)
    for error in errors:
        out.write(f"{error}\n")
    for warning in warnings:
        out.write(f"{warning}\n")
    summary = f"{len(flows)} flow(s) checked: {len(errors)} error(s), {len(warnings)} warning(s)"
    out.write(summary + "\n")
    if errors or (strict and warnings):
        return 1
    return 0


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
