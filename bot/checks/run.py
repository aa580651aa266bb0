"""`pendamping flows check`: hard errors stop, soft issues warn; `--strict` fails on both."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, TextIO

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.checks.buttons import callback_findings
from bot.checks.lexicon import lexicon_findings
from bot.checks.referrals import referral_findings
from bot.checks.report import CheckReport, CheckWarning
from bot.checks.sessions import DatabaseSource, describe, open_database, reading, removed_node_findings
from bot.checks.translations import (
    catalog_findings,
    directory_texts,
    load_catalogs,
    program_texts,
    text_findings,
    translation_counts,
)
from bot.directory import DIRECTORY_PATH, Directory, DirectoryError, load_directory
from bot.engine import Flow, FlowLoadError, load_flow_file
from bot.engine.analysis import analyse
from bot.engine.flow import Text
from bot.engine.loader import MANIFEST, load_flow_dir
from bot.engine.screening import Lexicon, LexiconError
from bot.i18n import LOCALES_DIR
from bot.lexicon import LEXICON_PATH, load_lexicon
from storage import Database

__all__ = ["check_flows", "check_paths", "run_check"]

NOT_CHECKED = "cases in progress not checked for removed nodes"


def check_flows(
    paths: Iterable[Path],
    *,
    database: DatabaseSource | None = None,
    configured_database: str | None = None,
    directory: Path = DIRECTORY_PATH,
    locales: Path = LOCALES_DIR,
    lexicon: Path = LEXICON_PATH,
) -> CheckReport:
    """Load every flow named (or found in the directories named) and check it.

    `database` (a URL, a Database or an open Session) is compared with the flows: cases in
    progress on a node a flow no longer has are reported; a database that cannot be read is an
    error. `configured_database` is used the same way only if it exists and is migrated, so a
    clean clone with no database still passes; without either, that check is skipped with a note.
    """
    report = CheckReport()
    catalogs = load_catalogs(locales)
    try:
        services: Directory | None = load_directory(directory)
    except DirectoryError as error:
        report.errors.extend(error.problems)
        services = None
    try:
        terms: Lexicon | None = load_lexicon(lexicon)
    except LexiconError as error:
        report.errors.append(str(error))
        terms = None
    found = _flow_paths(paths)
    if not found:
        report.errors.append("no flow files found")
    texts: list[Text] = []
    for path in found:
        try:
            flow = load_flow_dir(path) if path.is_dir() else load_flow_file(path)
        except FlowLoadError as error:
            report.errors.extend(str(item) for item in error.errors)
            continue
        report.flows.append(flow)
        report.warnings.extend(CheckWarning(f.file or str(path), f.line, f.node, f.message) for f in analyse(flow))
        report.warnings.extend(callback_findings(flow, str(path)))
        if services is not None:
            report.warnings.extend(referral_findings(flow, services, str(path)))
        if terms is not None:
            report.warnings.extend(lexicon_findings(flow, terms, str(path), lexicon.name))
        report.warnings.extend(catalog_findings(flow, str(path), catalogs))
        texts.extend(flow.texts())
    # The program's and the directory's texts are in the same catalogs, shown in the same calls.
    shared = program_texts() + (directory_texts(services, directory) if services is not None else [])
    report.warnings.extend(text_findings(shared, catalogs))
    report.translations = translation_counts(texts + shared, catalogs)
    _check_sessions(report, database, configured_database)
    return report


def check_paths(
    paths: Iterable[Path],
    *,
    database: DatabaseSource | None = None,
    configured_database: str | None = None,
    directory: Path = DIRECTORY_PATH,
    locales: Path = LOCALES_DIR,
    lexicon: Path = LEXICON_PATH,
) -> tuple[list[str], list[CheckWarning], list[Flow]]:
    """`check_flows` as (errors, warnings, flows), for callers that need no notes or counts."""
    report = check_flows(
        paths, database=database, configured_database=configured_database, directory=directory, locales=locales,
        lexicon=lexicon,
    )
    return report.errors, report.warnings, report.flows


def run_check(
    paths: Iterable[Path],
    *,
    strict: bool,
    out: TextIO,
    database: DatabaseSource | None = None,
    configured_database: str | None = None,
) -> int:
    """Print the report; 1 on errors (and on warnings when strict), else 0."""
    report = check_flows(paths, database=database, configured_database=configured_database)
    for error in report.errors:
        out.write(f"{error}\n")
    for warning in report.warnings:
        out.write(f"{warning}\n")
    for note in report.notes:
        out.write(f"info: {note}\n")
    for count in report.translations:
        out.write(f"translations {count}\n")
    summary = f"{len(report.flows)} flow(s) checked: {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    out.write(summary + "\n")
    return 1 if report.failed(strict=strict) else 0


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


def _check_sessions(report: CheckReport, database: DatabaseSource | None, configured: str | None) -> None:
    if not report.flows:
        return
    if database is None and configured is None:
        report.notes.append(f"{NOT_CHECKED}: no database given (--database URL)")
        return
    owned: Database | None = None
    source: Database | Session
    if isinstance(database, str) or database is None:
        url = database if database is not None else str(configured)
        opened = open_database(url)
        if isinstance(opened, str):
            if database is not None:  # asked for by name: a check that cannot run must not pass
                report.errors.append(f"database {describe(url)}: {opened}; cases in progress cannot be checked")
            else:
                report.notes.append(f"{NOT_CHECKED}: {opened} ({describe(url)}; or give --database URL)")
            return
        owned = source = opened
    else:
        source = database
    where = "the session given" if not isinstance(source, Database) else source.url.render_as_string(hide_password=True)
    try:
        with reading(source) as session:
            report.warnings.extend(removed_node_findings(report.flows, session))
        report.notes.append(f"cases in progress checked for removed nodes in {where}")
    except SQLAlchemyError as error:
        report.errors.append(f"database {where}: cannot read the cases in progress ({type(error).__name__})")
    finally:
        if owned is not None:
            owned.dispose()
