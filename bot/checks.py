"""`pendamping flows check`: hard errors stop, soft issues warn; `--strict` fails on both."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, TextIO

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.engine import Flow, FlowError, FlowLoadError, load_flow_file
from bot.engine.analysis import TELEGRAM_TEXT_LIMIT, analyse
from bot.i18n import LOCALES_DIR, SOURCE_LANGUAGE, SUPPORTED_LANGUAGES

__all__ = ["CheckWarning", "catalog_findings", "check_paths", "run_check"]


@dataclass(frozen=True)
class CheckWarning(FlowError):
    """A soft issue: the flow runs, but should not ship like this. Placed like a FlowError."""

    def __str__(self) -> str:
        where = f"node '{self.node}': " if self.node else ""
        return f"{self.path}:{self.line}: warning: {where}{self.message}"


def _flow_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    return files


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
        for text, line, where in flow.texts():
            message = catalog.get(text)
            node = where or None
            if message is None or not message.string:
                found.append(CheckWarning(path, line, node, f"no '{language}' translation for {_short(text)}"))
            elif message.fuzzy:
                found.append(CheckWarning(path, line, node, f"'{language}' translation is fuzzy (unchecked) for {_short(text)}"))
            elif len(str(message.string)) > TELEGRAM_TEXT_LIMIT:
                found.append(CheckWarning(path, line, node, f"'{language}' translation is over {TELEGRAM_TEXT_LIMIT} characters"))
    return found


def check_paths(paths: Iterable[Path]) -> tuple[list[str], list[CheckWarning], list[Flow]]:
    errors: list[str] = []
    warnings: list[CheckWarning] = []
    flows: list[Flow] = []
    catalogs = load_catalogs()
    files = _flow_files(paths)
    if not files:
        errors.append("no flow files found")
    for file in files:
        try:
            flow = load_flow_file(file)
        except FlowLoadError as error:
            errors.extend(str(item) for item in error.errors)
            continue
        flows.append(flow)
        warnings.extend(CheckWarning(str(file), f.line, f.node, f.message) for f in analyse(flow))
        warnings.extend(catalog_findings(flow, str(file), catalogs))
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
