"""Case sessions and their event log."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import Row, Table, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import CaseSession, EventRecord

__all__ = [
    "CaseRecord",
    "append_events",
    "case_for_step",
    "create_case",
    "events_of",
    "find_open_case",
    "lock_case",
    "store_step",
    "unused_code",
]

_INSERT_EVENTS = insert(EventRecord)
_CASES: Table = CaseSession.__table__  # type: ignore[assignment]  # declared as a Table in models
# What a step changes on its case.
_STEP_COLUMNS = ("state", "status", "version", "updated_at", "ended_at")
_SAVE_STEP = (
    update(_CASES)
    .where(_CASES.c.id == bindparam("case_id"))
    .values({name: bindparam(name) for name in _STEP_COLUMNS})
)

# Crockford-style alphabet without I, L, O, U: codes are read aloud and typed on phones.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def unused_code(session: Session, column: InstrumentedAttribute[str], prefix: str, length: int) -> str:
    """A random code not yet in `column`. A clash is rare, but would merge two cases or alerts."""
    while True:
        code = prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
        if session.scalar(select(func.count()).where(column == code)) == 0:
            return code


def create_case(
    session: Session,
    *,
    volunteer: str,
    language: str,
    flow_id: str,
    flow_revision: int,
    state: dict[str, Any],
    now: datetime,
) -> CaseSession:
    case = CaseSession(
        id=str(uuid.uuid4()),
        case_code=unused_code(session, CaseSession.case_code, "K-", 6),
        volunteer=volunteer,
        language=language,
        flow_id=flow_id,
        flow_revision=flow_revision,
        status=str(state.get("status", "active")),
        state=state,
        version=0,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    return case


@dataclass(slots=True)
class CaseRecord:
    """A case as a step reads it: a copy of its row, which the ORM does not track. Loading the row
    into a `CaseSession` cost about a tenth of a step's instructions (callgrind), for an object a
    step only reads; `store_step` writes a step back and brings the copy up to date."""

    id: str
    case_code: str
    volunteer: str
    language: str
    flow_id: str
    flow_revision: int
    status: str
    state: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None


# Built once, with parameters: these run on every step, and building a statement cost about as
# much as running it. The open statuses are two comparisons, not an IN: SQLAlchemy renders an IN
# list into the SQL again on every execution, which cost more than the index lookup. SQLite and
# PostgreSQL plan both spellings alike.
_CASE_BY_ID = select(CaseSession).where(CaseSession.id == bindparam("case_id")).with_for_update()
_RECORD_BY_ID = select(*_CASES.c).where(_CASES.c.id == bindparam("case_id")).with_for_update()
_OPEN_CASE = (
    select(*_CASES.c)
    .where(_CASES.c.volunteer == bindparam("volunteer"), or_(_CASES.c.status == "active", _CASES.c.status == "paused"))
    .order_by(_CASES.c.updated_at.desc())
    .limit(1)
)
_OPEN_CASE_LOCKED = _OPEN_CASE.with_for_update()


def lock_case(session: Session, case_id: str) -> CaseSession | None:
    """Read a case to change it through the ORM (`append_events`). PostgreSQL locks the row;
    SQLite's BEGIN IMMEDIATE already serialises."""
    return session.scalars(_CASE_BY_ID, {"case_id": case_id}).one_or_none()


def case_for_step(session: Session, case_id: str) -> CaseRecord | None:
    """Read a case for a step, locked as `lock_case` locks it."""
    return _record(session.connection().execute(_RECORD_BY_ID, {"case_id": case_id}).first())


def find_open_case(session: Session, volunteer: str, *, lock: bool = False) -> CaseRecord | None:
    """The volunteer's most recent unfinished (active or paused) case, if any; with `lock`, read
    for a step as `case_for_step` does."""
    return _record(session.connection().execute(_OPEN_CASE_LOCKED if lock else _OPEN_CASE, {"volunteer": volunteer}).first())


def _record(row: Row[Any] | None) -> CaseRecord | None:
    return CaseRecord(**row._mapping) if row is not None else None


def store_step(
    session: Session, case: CaseSession | CaseRecord, state: dict[str, Any], events: list[tuple[str, dict[str, Any]]], now: datetime
) -> None:
    """A step's writes to its case: the events after the last one, and the new state with the
    version they advance it to, in two Core statements. The case then reads as stored; a
    `CaseSession` holds nothing for the ORM to flush: its unit of work cost several times these
    statements."""
    if events:
        session.connection().execute(_INSERT_EVENTS, _event_rows(case, events, now))
    status = str(state.get("status", case.status))
    values: dict[str, Any] = {
        "state": state,
        "status": status,
        "version": case.version + len(events),
        "updated_at": now,
        "ended_at": now if status == "ended" and case.ended_at is None else case.ended_at,
    }
    session.connection().execute(_SAVE_STEP, {"case_id": case.id, **values})
    store = setattr if isinstance(case, CaseRecord) else set_committed_value
    for name, value in values.items():
        store(case, name, value)


def append_events(session: Session, case: CaseSession, events: Iterable[tuple[str, dict[str, Any]]], now: datetime) -> int:
    """Append events after the case's last one; returns how many. The log is never updated in place.
    The case's new version reaches the database when the ORM flushes it, so a `CaseRecord`, which
    the ORM does not track, is refused: its next event would reuse a number."""
    if not isinstance(case, CaseSession):
        raise TypeError(f"append_events needs a CaseSession (from lock_case), not {type(case).__name__}")
    rows = _event_rows(case, list(events), now)
    if rows:
        # One Core statement for the events: the ORM's unit of work cost more than the insert.
        session.connection().execute(_INSERT_EVENTS, rows)
        case.version += len(rows)
    return len(rows)


def _event_rows(case: CaseSession | CaseRecord, events: list[tuple[str, dict[str, Any]]], now: datetime) -> list[dict[str, Any]]:
    """Rows for `events`, numbered on from the case's last stored event."""
    return [
        {"session_id": case.id, "seq": case.version + offset, "type": event_type, "payload": payload, "created_at": now}
        for offset, (event_type, payload) in enumerate(events, start=1)
    ]


def events_of(session: Session, case_id: str) -> list[EventRecord]:
    return list(session.scalars(select(EventRecord).where(EventRecord.session_id == case_id).order_by(EventRecord.seq)))
