"""One durable step on SQLite (WAL, synchronous=FULL): lock and load the case, run the engine, commit."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter_ns
from typing import Iterator

from bot.cases import CaseService
from bot.directory import Directory
from bot.engine import Answer, Flow
from bot.library import FlowLibrary
from storage import Database, upgrade

from bench.timing import Summary, summarise

__all__ = ["DurableResult", "measure_durable", "service_on", "temporary_service"]

ANSWER = Answer("yes")  # on the loop flow, "yes" always moves to the other question


@dataclass(frozen=True)
class DurableResult:
    cases: int
    steps: Summary
    journal_mode: str
    synchronous: str


def service_on(database: Database, flow: Flow) -> CaseService:
    service = CaseService(
        database, FlowLibrary({flow.id: flow}), start_flow=flow.id, supervisor_language="en", directory=Directory([])
    )
    service.register_flows()
    return service


@contextmanager
def temporary_service(flow: Flow) -> Iterator[CaseService]:
    """A migrated SQLite file in a fresh temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="pendamping-bench-") as directory:
        database = Database(f"sqlite:///{Path(directory) / 'bench.db'}")
        try:
            upgrade(database)
            yield service_on(database, flow)
        finally:
            database.dispose()


def _pragmas(service: CaseService) -> tuple[str, str]:
    with service.database.engine.connect() as connection:
        journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return str(journal), names.get(int(synchronous or 0), str(synchronous))


def measure_durable(flow: Flow, cases: int, steps: int, warmup: int) -> DurableResult:
    """`steps` answers spread round-robin over `cases` open cases, each timed end to end."""
    with temporary_service(flow) as service:
        ids = [service.open_case(f"volunteer-{index}", "en").case.id for index in range(cases)]
        for index in range(warmup):
            service.act(ids[index % cases], ANSWER)
        samples: list[int] = []
        for index in range(steps):
            case_id = ids[index % cases]
            started = perf_counter_ns()
            outcome = service.act(case_id, ANSWER)
            samples.append(perf_counter_ns() - started)
            if outcome.ended:
                raise RuntimeError("the loop flow ended; every step must be a real transition")
        journal, synchronous = _pragmas(service)
    return DurableResult(cases, summarise(samples), journal, synchronous)
