"""The flows a process runs: the current files, and any older revision a running case still needs."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from bot.engine import Flow, FlowMachine, load_flows
from bot.engine.visit import Screener
from bot.engine import load_flow_source
from storage import flow_source, register_flow_revision

__all__ = ["DEFAULT_FLOWS_DIR", "FlowLibrary", "UnknownFlow"]

DEFAULT_FLOWS_DIR = Path(__file__).resolve().parent / "flows"


class UnknownFlow(LookupError):
    pass


class FlowLibrary:
    """One compiled `FlowMachine` per flow revision, built once and shared by every case on it."""

    def __init__(self, flows: dict[str, Flow], screener: Screener | None = None) -> None:
        self.current: dict[str, Flow] = dict(flows)
        self.screener = screener
        self._machines: dict[tuple[str, int], FlowMachine] = {
            flow.key: FlowMachine(flow, screener=screener) for flow in flows.values()
        }
        self._lock = threading.Lock()

    @classmethod
    def from_directory(cls, directory: Path = DEFAULT_FLOWS_DIR, screener: Screener | None = None) -> "FlowLibrary":
        return cls(load_flows(directory), screener)

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
        flow = self.current.get(flow_id)
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
