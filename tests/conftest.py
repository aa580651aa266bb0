"""Shared fixtures: flows written inline, and databases on SQLite and (when reachable) PostgreSQL."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bot.engine import Flow, FlowMachine, load_flow_text
from storage import Database, upgrade

POSTGRES_URL = os.environ.get("PENDAMPING_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

DEMO_FLOW = """\
spec_version: 1
id: demo
revision: 1
title: Demo screen
start: welcome
flags:
  danger:
    level: P0
    label: Immediate danger
    guidance: Call 112 now.
  child:
    level: P1
    label: A child is involved
    guidance: Refer to SAPA 129 today.
  distress:
    level: P2
    label: Severe distress
    guidance: Offer grounding.
nodes:
  welcome:
    say: Read the consent script.
    next: safe
  safe:
    ask: yes_no
    text: Can the caller talk safely?
    next:
      yes: age
      no: flag_danger
  flag_danger:
    flag: danger
    next: escalate_danger
  escalate_danger:
    escalate: The caller is in danger.
    next: age
  age:
    ask: number
    text: How old is the person at risk?
    min: 0
    max: 120
    next:
      "< 18": flag_child
      else: caller
  flag_child:
    flag: child
    next: escalate_child
  escalate_child:
    escalate: A child is involved.
    next: caller
  caller:
    ask: choice
    text: Who is calling?
    options:
      victim: The victim
      family: A family member
      other: Someone else
    next:
      victim: feeling
      else: note
  feeling:
    ask: yes_no
    text: Is the caller in severe distress?
    next:
      yes: flag_distress
      no: note
  flag_distress:
    flag: distress
    next: note
  note:
    ask: text
    text: Note in a few words.
    max_length: 50
    next: done
  done:
    end: completed
    text: Screen complete.
"""


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 24, 2, 30, tzinfo=timezone.utc)


@pytest.fixture
def demo_flow() -> Flow:
    return load_flow_text(DEMO_FLOW, "demo.yaml")


@pytest.fixture
def demo_machine(demo_flow: Flow) -> FlowMachine:
    return FlowMachine(demo_flow)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


def _postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_reachable() -> bool:
    available = _postgres_available()
    if not available and os.environ.get("CI"):
        pytest.fail(f"CI expects PostgreSQL at {POSTGRES_URL}; it is not reachable")
    return available


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: a SQLite file, or a fresh schema on the PostgreSQL server."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'test.db'}")
        upgrade(db)
        yield db
        db.dispose()
        return
    if not request.getfixturevalue("postgres_reachable"):
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} (outside CI)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(db)
        yield db
    finally:
        db.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'test.db'}")
    upgrade(db)
    yield db
    db.dispose()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="rewrite golden transcripts from the current output instead of comparing (review the diff!)",
    )


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden")) or os.environ.get("PENDAMPING_REGEN_GOLDEN") == "1"
