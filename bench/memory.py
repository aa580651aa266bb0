"""Process memory against the number of stored open sessions: nothing in the process may hold sessions."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from datetime import datetime, timezone

from bot.cases import CaseService
from bot.engine import Flow, FlowMachine, Start, step
from storage import CaseSession, append_events, create_case

from bench.durable import ANSWER, temporary_service

__all__ = ["MemoryPoint", "MemoryResult", "measure_memory", "rss_kib"]


def rss_kib() -> int:
    """Resident set size of this process, after a full collection."""
    gc.collect()
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


@dataclass(frozen=True)
class MemoryPoint:
    label: str
    stored_open: int
    rss_kib: int
    live_objects: int  # objects the garbage collector tracks
    live_cases: int  # CaseSession ORM instances still alive
    live_machines: int  # FlowMachine instances still alive


@dataclass(frozen=True)
class MemoryResult:
    points: tuple[MemoryPoint, ...]
    steps: int
    attached_models: int  # models left on the shared machine after every step (must be 0)

    @property
    def growth_kib(self) -> int:
        """RSS after the steps over every stored session minus RSS after the steps over the first 100."""
        return self.points[-1].rss_kib - self.points[0].rss_kib


def _point(label: str, stored_open: int) -> MemoryPoint:
    rss = rss_kib()
    objects = gc.get_objects()
    cases = sum(1 for item in objects if isinstance(item, CaseSession))
    machines = sum(1 for item in objects if isinstance(item, FlowMachine))
    return MemoryPoint(label, stored_open, rss, len(objects), cases, machines)


def _bulk_open(service: CaseService, count: int, batch: int) -> None:
    """Open `count` cases as `open_case` would store them, `batch` cases per transaction."""
    machine = service.library.latest(service.start_flow)
    flow = machine.flow
    now = datetime.now(timezone.utc)
    started = step(machine, None, Start(), now)
    records = [(event.type, event.payload()) for event in started.events]
    for first in range(0, count, batch):
        with service.database.transaction() as session:
            for index in range(first, min(count, first + batch)):
                case = create_case(
                    session,
                    volunteer=f"bulk-{index}",
                    language="en",
                    flow_id=flow.id,
                    flow_revision=flow.revision,
                    state=started.state.to_dict(),
                    now=now,
                )
                append_events(session, case, records, now)


def _steps(service: CaseService, ids: list[str], count: int) -> None:
    """`count` answers spread evenly over every case in `ids`."""
    for index in range(count):
        service.act(ids[index * len(ids) // count], ANSWER)


def measure_memory(flow: Flow, small: int, large: int, steps: int, batch: int = 500) -> MemoryResult:
    with temporary_service(flow) as service:
        ids = [service.open_case(f"volunteer-{index}", "en").case.id for index in range(small)]
        _steps(service, ids, steps // 2)  # warm-up: caches of SQLAlchemy, SQLite and the allocator
        _steps(service, ids, steps)
        points = [_point(f"{small} open cases, after {steps} steps", small)]
        _bulk_open(service, large - small, batch)
        with service.database.engine.connect() as connection:
            ids = [row[0] for row in connection.exec_driver_sql("SELECT id FROM case_sessions WHERE status = 'active'")]
        if len(ids) != large:
            raise RuntimeError(f"expected {large} open cases, found {len(ids)}")
        points.append(_point(f"{large} open cases, after bulk insert", large))
        _steps(service, ids, steps)
        del ids
        points.append(_point(f"{large} open cases, after {steps} steps over all", large))
        machine = service.library.latest(flow.id)
        return MemoryResult(tuple(points), steps, machine.attached_models)
