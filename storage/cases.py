"""Case sessions and their event log."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.models import CaseSession, EventRecord

__all__ = [
    "append_events",
    "create_case",
    "events_of",
    "find_open_case",
    "lock_case",
    "save_state",
    "unused_code",
]

_INSERT_EVENTS = insert(EventRecord)

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


# Built once, with parameters: these run on every step, and building a statement cost about as
# much as running it.
_CASE_BY_ID = select(CaseSession).where(CaseSession.id == bindparam("case_id")).with_for_update()
_OPEN_CASE = (
    select(CaseSession)
    .where(CaseSession.volunteer == bindparam("volunteer"), CaseSession.status.in_(("active", "paused")))
    .order_by(CaseSession.updated_at.desc())
    .limit(1)
)
_OPEN_CASE_LOCKED = _OPEN_CASE.with_for_update()


def lock_case(session: Session, case_id: str) -> CaseSession | None:
    """Read a case for a step. PostgreSQL locks the row; SQLite's BEGIN IMMEDIATE already serialises."""
    return session.scalars(_CASE_BY_ID, {"case_id": case_id}).one_or_none()


def find_open_case(session: Session, volunteer: str, *, lock: bool = False) -> CaseSession | None:
    """The volunteer's most recent unfinished (active or paused) case, if any; with `lock`, read
    for a step as `lock_case` does."""
    return session.scalars(_OPEN_CASE_LOCKED if lock else _OPEN_CASE, {"volunteer": volunteer}).one_or_none()


def save_state(session: Session, case: CaseSession, state: dict[str, Any], now: datetime) -> None:
    case.state = state
    case.status = str(state.get("status", case.status))
    case.updated_at = now
    if case.status == "ended" and case.ended_at is None:
        case.ended_at = now


def append_events(session: Session, case: CaseSession, events: Iterable[tuple[str, dict[str, Any]]], now: datetime) -> int:
    """Append events after the case's last one; returns how many. The log is never updated in place."""
    rows = []
    for event_type, payload in events:
        case.version += 1
        rows.append({"session_id": case.id, "seq": case.version, "type": event_type, "payload": payload, "created_at": now})
    if rows:
        # One Core statement for the step's events: the ORM's unit of work cost more than the insert.
        session.connection().execute(_INSERT_EVENTS, rows)
    return len(rows)


def events_of(session: Session, case_id: str) -> list[EventRecord]:
    return list(session.scalars(select(EventRecord).where(EventRecord.session_id == case_id).order_by(EventRecord.seq)))
