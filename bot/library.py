"""The flows a process runs: the current files, and any older revision a running case still needs.

The current flows can change while the process runs (`reload`): new cases start on the new
revisions, and every revision ever loaded stays compiled, so a case finishes on the one it started on.
"""

from __future__ import annotations

import gettext
import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.engine import Flow, FlowMachine, load_flows
from bot.engine.visit import Screener
from bot.engine import load_flow_source
from bot.i18n import translator
from bot.reloading import (
    ReloadOutcome,
    ReloadStatus,
    check_directory,
    compiled_catalogs,
    missing_flows,
    revision_problems,
    shorten,
)
from storage import Database, FlowRevisionConflict, flow_source, register_flow_revision

__all__ = ["DEFAULT_FLOWS_DIR", "FlowLibrary", "UnknownFlow"]

DEFAULT_FLOWS_DIR = Path(__file__).resolve().parent / "flows"
LOGGER = logging.getLogger(__name__)


class UnknownFlow(LookupError):
    pass


class FlowLibrary:
    """One compiled `FlowMachine` per flow revision, built once and shared by every case on it."""

    def __init__(self, flows: dict[str, Flow], screener: Screener | None = None, directory: Path | None = None) -> None:
        # Replaced whole by a reload, never changed in place: a step that read it sees one version.
        self._current: Mapping[str, Flow] = dict(flows)
        self.screener = screener
        self.directory = directory
        self._machines: dict[tuple[str, int], FlowMachine] = {
            flow.key: FlowMachine(flow, screener=screener) for flow in flows.values()
        }
        self._lock = threading.Lock()
        self._reloading = threading.Lock()  # a SIGHUP and a /reload at once run one after the other

    @classmethod
    def from_directory(cls, directory: Path = DEFAULT_FLOWS_DIR, screener: Screener | None = None) -> "FlowLibrary":
        return cls(load_flows(directory), screener, directory)

    @property
    def current(self) -> Mapping[str, Flow]:
        """The flows new cases start on."""
        return self._current

    def register(self, session: Session, now: datetime) -> list[str]:
        """Store the current revisions so cases started on them can finish after the files change."""
        added = []
        for flow in self.current.values():
            if register_flow_revision(
                session,
                flow_id=flow.id,
                revision=flow.revision,
                spec_version=flow.spec_version,
                checksum=flow.checksum,
                source=flow.source,
                now=now,
            ):
                added.append(f"{flow.id} r{flow.revision}")
        return added

    def latest(self, flow_id: str) -> FlowMachine:
        flow = self._current.get(flow_id)
        if flow is None:
            raise UnknownFlow(f"no flow named '{flow_id}' (have: {', '.join(sorted(self.current))})")
        return self._machines[flow.key]

    def machine(self, session: Session, flow_id: str, revision: int) -> FlowMachine:
        """The machine of an exact revision; an older one is rebuilt from the database once."""
        key = (flow_id, revision)
        machine = self._machines.get(key)
        if machine is not None:
            return machine
        source = flow_source(session, flow_id, revision)
        if source is None:
            raise UnknownFlow(f"flow '{flow_id}' revision {revision} is neither loaded nor stored")
        flow = load_flow_source(source, f"<stored {flow_id} r{revision}>")
        with self._lock:
            return self._machines.setdefault(key, FlowMachine(flow, screener=self.screener))

    def reload(self, database: Database, now: datetime, directory: Path | None = None) -> ReloadOutcome:
        """Read the flows directory again; only a change that passes the strict check goes live.

        Runs in a worker thread, never on the event loop: it reads files, compiles machines and
        writes the database. Steps keep running meanwhile, on the flows they had."""
        directory = directory or self.directory
        with self._reloading:
            running = self._current
            catalogs: dict[str, gettext.NullTranslations] = {}
            if directory is None:
                return _refused(running, ("these flows were not loaded from a directory",))
            try:
                problems, flows = check_directory(directory, database)
                with self._lock:
                    known = {key: machine.flow.checksum for key, machine in self._machines.items()}
                problems += revision_problems(flows, known)
                if not problems:
                    # Only now: a flow with hard errors is missing from `flows` without being gone.
                    problems = missing_flows(flows, running)
                if not problems:
                    problems, catalogs = compiled_catalogs(flows)
            except Exception as error:  # noqa: BLE001 - a reload that breaks must leave the bot running
                LOGGER.exception("flow reload failed")
                return _refused(running, shorten([f"the check itself failed: {error}"], directory))
            if problems:
                return _refused(running, shorten(problems, directory))
            new = {flow.id: flow for flow in flows}
            try:
                # Compiled before anything is stored or swapped, outside the lock (milliseconds each);
                # a revision compiled before is reused.
                machines = {flow.key: FlowMachine(flow, screener=self.screener) for flow in flows if flow.key not in known}
            except Exception as error:  # noqa: BLE001 - as above
                LOGGER.exception("flow reload could not compile the flows")
                return _refused(running, shorten([f"the flows could not be compiled: {error}"], directory))
            changes = tuple(
                f"{flow.id} r{running[flow.id].revision} -> r{flow.revision}" if flow.id in running else f"{flow.id} r{flow.revision} (new)"
                for flow in sorted(new.values(), key=lambda flow: flow.id)
                if flow.id not in running or running[flow.id].key != flow.key
            )
            try:
                # All new revisions in one transaction: a refusal stores none, so the database never
                # holds a revision no process ran.
                with database.transaction() as session:
                    for flow in new.values():
                        register_flow_revision(
                            session, flow_id=flow.id, revision=flow.revision, spec_version=flow.spec_version,
                            checksum=flow.checksum, source=flow.source, now=now,
                        )
            except FlowRevisionConflict as conflict:  # another process stored a different text under this number
                return _refused(running, shorten([str(conflict)], directory))
            except SQLAlchemyError as error:
                LOGGER.exception("flow reload could not store the new revisions")
                return _refused(running, (f"the database did not store the new revisions: {type(error).__name__}",))
            # Catalogs first: the first case on a new revision must find its texts translated. Cases
            # on older revisions keep theirs (the previous catalog stays as a fallback).
            retranslated = tuple(
                f"translations ({language})" for language, catalog in catalogs.items() if translator(language).refresh(catalog)
            )
            with self._lock:
                for key, machine in machines.items():
                    self._machines.setdefault(key, machine)
                self._current = new
            status = ReloadStatus.RELOADED if changes or retranslated else ReloadStatus.UNCHANGED
            return ReloadOutcome(status, _names(new), changes + retranslated)


def _names(flows: Mapping[str, Flow]) -> tuple[str, ...]:
    return tuple(f"{flow.id} r{flow.revision}" for flow in sorted(flows.values(), key=lambda flow: flow.id))


def _refused(running: Mapping[str, Flow], reasons: tuple[str, ...]) -> ReloadOutcome:
    return ReloadOutcome(ReloadStatus.REFUSED, _names(running), reasons=reasons)
