"""Case sessions and their event log."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import CaseSession, EventRecord

__all__ = [
    "append_events",
    "create_case",
    "events_of",
    "find_open_case",
    "lock_case",
    "new_code",
    "save_state",
]

# Crockford-style alphabet without I, L, O, U: codes are read aloud and typed on phones.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_code(prefix: str, length: int = 6) -> str:
    return prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


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
        case_code=_unused_case_code(session),
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


def _unused_case_code(session: Session) -> str:
    # 32^6 codes: a clash is rare, but a clash would merge two callers' alerts, so check.
    while True:
        code = new_code("K-")
        if session.scalar(select(func.count()).where(CaseSession.case_code == code)) == 0:
            return code


def lock_case(session: Session, case_id: str) -> CaseSession | None:
    """Read a case for a step. PostgreSQL locks the row; SQLite's BEGIN IMMEDIATE already serialises."""
    return session.scalars(select(CaseSession).where(CaseSession.id == case_id).with_for_update()).one_or_none()


def find_open_case(session: Session, volunteer: str) -> CaseSession | None:
    """The volunteer's most recent unfinished case, if any."""
    query = (
        select(CaseSession)
        .where(CaseSession.volunteer == volunteer, CaseSession.status == "active")
        .order_by(CaseSession.updated_at.desc())
        .limit(1)
    )
    return session.scalars(query).one_or_none()


def save_state(session: Session, case: CaseSession, state: dict[str, Any], now: datetime) -> None:
    case.state = state
    case.status = str(state.get("status", case.status))
    case.updated_at = now
    if case.status == "ended" and case.ended_at is None:
        case.ended_at = now


def append_events(session: Session, case: CaseSession, events: Iterable[tuple[str, dict[str, Any]]], now: datetime) -> int:
    """Append events after the case's last one; returns how many. The log is never updated in place."""
    count = 0
    for event_type, payload in events:
        case.version += 1
        session.add(EventRecord(session_id=case.id, seq=case.version, type=event_type, payload=payload, created_at=now))
        count += 1
    return count


def events_of(session: Session, case_id: str) -> list[EventRecord]:
    return list(session.scalars(select(EventRecord).where(EventRecord.session_id == case_id).order_by(EventRecord.seq)))
