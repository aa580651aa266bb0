"""Cases in progress that wait on a node the checked flow no longer has.

They are safe: a case finishes on the revision it started on, whose source the database keeps.
But the maintainer removing the node should know that volunteers are still on it, and how many.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Union

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from bot.checks.report import CheckWarning
from bot.engine import Flow, SessionStatus
from storage import CaseSession, Database, current_revision, head_revision

__all__ = ["DatabaseSource", "describe", "open_database", "reading", "removed_node_findings", "waiting_cases"]

# What the programmatic API accepts: a URL, an open Database, or a session already in a transaction.
DatabaseSource = Union[str, Database, Session]

# Every case not ended still has a volunteer on it, paused ones included.
OPEN_STATUSES = tuple(status.value for status in SessionStatus if status is not SessionStatus.ENDED)


def open_database(url: str) -> Database | str:
    """The database at `url` if it exists and is migrated; otherwise why not, as a short phrase.

    A SQLite file is looked for before connecting, since connecting would create an empty one
    (CI runs the check on a clean clone, which must stay clean).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"{url!r} is not a database URL"
    if parsed.get_backend_name() == "sqlite":
        name = parsed.database or ""
        if not name or name == ":memory:":
            return "an in-memory database holds no cases"
        if not Path(name).is_file():
            return f"there is no database file {name}"
    try:
        database = Database(url)
    except (SQLAlchemyError, ImportError) as error:  # a driver that is not installed, say
        return f"cannot open it ({type(error).__name__})"
    try:
        if current_revision(database) != head_revision():
            database.dispose()
            return "it is not migrated (run `pendamping db upgrade`)"
    except SQLAlchemyError as error:
        database.dispose()
        return f"cannot read it ({type(error).__name__})"
    return database


def describe(url: str) -> str:
    """A database URL fit to print: never its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


@contextmanager
def reading(source: Database | Session) -> Iterator[Session]:
    """A session to read from: the caller's own, or a short transaction on their database."""
    if isinstance(source, Session):
        yield source
        return
    with source.transaction() as session:
        yield session


def waiting_cases(session: Session, flow_ids: Iterable[str]) -> Counter[tuple[str, int, str]]:
    """Open (active or paused) cases by (flow, revision, node they wait on)."""
    node = CaseSession.state["node"].as_string()
    query = (
        select(CaseSession.flow_id, CaseSession.flow_revision, node, func.count())
        .where(CaseSession.status.in_(OPEN_STATUSES), CaseSession.flow_id.in_(list(flow_ids)))
        .group_by(CaseSession.flow_id, CaseSession.flow_revision, node)
    )
    return Counter({(row[0], row[1], str(row[2])): row[3] for row in session.execute(query)})


def removed_node_findings(flows: Iterable[Flow], session: Session) -> list[CheckWarning]:
    """One warning per node that open cases wait on and that the checked flow no longer has."""
    by_id = {flow.id: flow for flow in flows}
    gone: dict[tuple[str, str], Counter[int]] = {}
    for (flow_id, revision, node_id), count in waiting_cases(session, by_id).items():
        if node_id not in by_id[flow_id].nodes:
            gone.setdefault((flow_id, node_id), Counter())[revision] += count
    found = []
    for (flow_id, node_id), revisions in sorted(gone.items()):
        flow = by_id[flow_id]
        on = ", ".join(f"r{revision}" for revision in sorted(revisions))
        message = (
            f"removed, but {sum(revisions.values())} case(s) in progress wait on it (flow {flow_id} {on}); "
            f"they finish on their own revision"
        )
        if flow.revision in revisions:
            message += f"; but r{flow.revision} is the checked flow's own revision: raise `revision`, or the bot refuses the changed flow"
        found.append(CheckWarning(flow.file, flow.line, node_id, message))
    return found
