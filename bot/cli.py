"""The `pendamping` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from bot.directory import DirectoryError
from bot.engine import FlowLoadError
from bot.engine.screening import LexiconError
from bot.i18n import SUPPORTED_LANGUAGES, CatalogMissing, pick_language, translator
from bot.settings import Settings, SettingsError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pendamping", description="Companion bot for hotline volunteers.")
    commands = parser.add_subparsers(dest="command", required=True)

    console = commands.add_parser("console", help="act as a volunteer in the terminal, one input per line")
    console.add_argument("--lang", choices=SUPPORTED_LANGUAGES, help="language (default: PENDAMPING_LANGUAGE or id)")
    console.add_argument("--volunteer", default="console", help="whose cases to open and resume (default: console)")

    db = commands.add_parser("db", help="database tasks")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply all database migrations")

    flows = commands.add_parser("flows", help="flow tasks for maintainers")
    flow_commands = flows.add_subparsers(dest="flows_command", required=True)
    check = flow_commands.add_parser("check", help="load flows and report errors and warnings")
    check.add_argument("paths", nargs="*", type=Path, help="flow files or directories (default: the shipped flows)")
    check.add_argument("--strict", action="store_true", help="fail on warnings too")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command == "flows":
            from bot.checks import run_check

            return run_check(args.paths or [settings.flows_dir], strict=args.strict, out=sys.stdout)
        if args.command == "db":
            return _db_upgrade(settings)
        if args.command == "console":
            return _console(settings, pick_language(args.lang, default=settings.language), args.volunteer)
    except (SettingsError, CatalogMissing, DirectoryError, LexiconError) as error:
        print(f"pendamping: {error}", file=sys.stderr)
        return 2
    except FlowLoadError as error:
        print("pendamping: the flows have errors; nothing was started:", file=sys.stderr)
        print(error, file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled command {args.command}")


def _db_upgrade(settings: Settings) -> int:
    from storage import Database, current_revision, upgrade

    database = Database(settings.database_url)
    upgrade(database)
    print(f"database {database.url.render_as_string(hide_password=True)} is at revision {current_revision(database)}")
    return 0


def _console(settings: Settings, language: str, volunteer: str) -> int:
    from bot.cases import CaseService
    from bot.console import ConsoleRunner
    from bot.library import FlowLibrary
    from storage import Database, current_revision, head_revision

    from bot.directory import load_directory
    from bot.lexicon import load_lexicon

    # Everything the protocol reads is checked before a volunteer sees a word.
    library = FlowLibrary.from_directory(settings.flows_dir, screener=load_lexicon())
    directory = load_directory()
    database = Database(settings.database_url)
    if current_revision(database) != head_revision():
        print("pendamping: the database is not migrated; run `pendamping db upgrade` (make run does it)", file=sys.stderr)
        return 2
    service = CaseService(
        database, library, start_flow=settings.start_flow, supervisor_language=language, directory=directory
    )
    service.register_flows()
    runner = ConsoleRunner(service, sys.stdin, sys.stdout, translator(language), volunteer=volunteer)
    try:
        return runner.run()
    except KeyboardInterrupt:
        print()
        return 130
    finally:
        database.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
