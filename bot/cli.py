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
from storage import FlowRevisionConflict

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pendamping", description="Companion bot for hotline volunteers.")
    commands = parser.add_subparsers(dest="command", required=True)

    console = commands.add_parser("console", help="act as a volunteer in the terminal, one input per line")
    console.add_argument("--lang", choices=SUPPORTED_LANGUAGES, help="language (default: PENDAMPING_LANGUAGE or id)")
    console.add_argument("--volunteer", default="console", help="whose cases to open and resume (default: console)")

    run = commands.add_parser("run", help="run the Telegram bot (long polling, or a webhook server)")
    run.add_argument("--webhook", action="store_true", help="serve WEBHOOK_URL instead of long polling")

    members = commands.add_parser("members", help="volunteers and supervisors")
    member_commands = members.add_subparsers(dest="members_command", required=True)
    add = member_commands.add_parser("add", help="register a member directly (the first supervisor, say)")
    add.add_argument("--telegram-id", type=int, required=True, help="their numeric Telegram user id")
    add.add_argument("--name", required=True, help="the name shown to supervisors")
    add.add_argument("--role", choices=("volunteer", "supervisor"), default="supervisor")
    member_commands.add_parser("list", help="list active members")

    db = commands.add_parser("db", help="database tasks")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply all database migrations")

    flows = commands.add_parser("flows", help="flow tasks for maintainers")
    flow_commands = flows.add_subparsers(dest="flows_command", required=True)
    check = flow_commands.add_parser("check", help="load flows and report errors and warnings")
    check.add_argument("paths", nargs="*", type=Path, help="flow files or directories (default: the shipped flows)")
    check.add_argument("--strict", action="store_true", help="fail on warnings too")
    check.add_argument(
        "--database", metavar="URL",
        help="look for cases in progress on removed nodes here (default: DATABASE_URL, if it exists and is migrated)",
    )
    graph = flow_commands.add_parser("graph", help="draw a flow as a diagram (Mermaid; SVG or PNG with Graphviz)")
    graph.add_argument("flow", metavar="FLOW", help="a flow id in the flows directory, or a flow file or directory")
    graph.add_argument(
        "--format", choices=("mermaid", "markdown", "svg", "png"),
        help="mermaid (default), markdown (the diagram in a page with a legend, as in docs/flows/), svg or png "
        "(these need Graphviz); by default taken from the --output suffix",
    )
    graph.add_argument("--output", type=Path, metavar="PATH", help="write here instead of standard output")
    test = flow_commands.add_parser("test", help="run the transcript scenarios in every language and compare")
    test.add_argument("paths", nargs="*", type=Path, help="scenario files or directories (default: tests/transcripts)")
    test.add_argument("--update", action="store_true", help="write what is produced as the expected output (review the diff)")
    test.add_argument("--lang", choices=SUPPORTED_LANGUAGES, help="only this language (default: all)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command == "flows" and args.flows_command == "graph":
            from bot.flowgraph import run_graph

            return run_graph(
                args.flow, fmt=args.format, output=args.output, flows_dir=settings.flows_dir, out=sys.stdout, err=sys.stderr
            )
        if args.command == "flows" and args.flows_command == "test":
            from bot.transcripts import run_suite

            return run_suite(
                args.paths, out=sys.stdout, languages=[args.lang] if args.lang else SUPPORTED_LANGUAGES,
                update=args.update, flows_dir=settings.flows_dir, start_flow=settings.start_flow,
            )
        if args.command == "flows":
            from bot.checks import run_check

            return run_check(
                args.paths or [settings.flows_dir], strict=args.strict, out=sys.stdout,
                database=args.database, configured_database=settings.database_url,
            )
        if args.command == "db":
            return _db_upgrade(settings)
        if args.command == "members":
            return _members(settings, args)
        if args.command == "run":
            return _run(settings, webhook=args.webhook)
        if args.command == "console":
            return _console(settings, pick_language(args.lang, default=settings.language), args.volunteer)
    except (SettingsError, CatalogMissing, DirectoryError, LexiconError) as error:
        print(f"pendamping: {error}", file=sys.stderr)
        return 2
    except FlowLoadError as error:
        print("pendamping: the flows have errors; nothing was started:", file=sys.stderr)
        print(error, file=sys.stderr)
        return 2
    except FlowRevisionConflict as error:
        print(f"pendamping: {error}; nothing was started", file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled command {args.command}")


def _db_upgrade(settings: Settings) -> int:
    from storage import Database, current_revision, upgrade

    database = Database(settings.database_url)
    upgrade(database)
    print(f"database {database.url.render_as_string(hide_password=True)} is at revision {current_revision(database)}")
    return 0


def _migrated(url: str) -> bool:
    from storage import Database, current_revision, head_revision

    database = Database(url)
    try:
        return current_revision(database) == head_revision()
    finally:
        database.dispose()


NOT_MIGRATED = "pendamping: the database is not migrated; run `pendamping db upgrade` (make run does it)"


def _run(settings: Settings, *, webhook: bool) -> int:
    from bot.settings import TelegramSettings
    from bot.telegram.app import configure_logging, run

    telegram = TelegramSettings.from_env(webhook=webhook)
    if not _migrated(settings.database_url):
        print(NOT_MIGRATED, file=sys.stderr)
        return 2
    configure_logging()
    run(settings, telegram, webhook=webhook)
    return 0


def _members(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cases import utcnow
    from storage import Database, active_members, add_member

    if not _migrated(settings.database_url):
        print(NOT_MIGRATED, file=sys.stderr)
        return 2
    database = Database(settings.database_url)
    try:
        with database.transaction() as session:
            if args.members_command == "add":
                member = add_member(session, telegram_user_id=args.telegram_id, role=args.role, display_name=args.name, now=utcnow())
                print(f"{member.display_name} ({member.telegram_user_id}) is a {member.role}")
            else:
                for member in active_members(session):
                    print(f"{member.telegram_user_id}\t{member.role}\t{member.display_name}")
    finally:
        database.dispose()
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
        print(NOT_MIGRATED, file=sys.stderr)
        return 2
    service = CaseService(
        database, library, start_flow=settings.start_flow, supervisor_language=language, directory=directory, zone=settings.zone
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
