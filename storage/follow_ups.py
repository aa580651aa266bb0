"""Follow-ups: due dates agreed during a case, kept in the database so no timer has to survive a restart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.cases import CaseRecord
from storage.models import CaseSession, FollowUp

__all__ = ["due_follow_ups", "follow_ups_of", "schedule_follow_up"]


def schedule_follow_up(session: Session, case: CaseSession | CaseRecord, *, kind: str, due_at: datetime, now: datetime) -> FollowUp:
    follow_up = FollowUp(session_id=case.id, kind=kind, due_at=due_at, status="scheduled", created_at=now)
    session.add(follow_up)
    return follow_up


def follow_ups_of(session: Session, case_id: str) -> list[FollowUp]:
    return list(session.scalars(select(FollowUp).where(FollowUp.session_id == case_id).order_by(FollowUp.due_at)))


def due_follow_ups(session: Session, now: datetime, limit: int = 50) -> list[FollowUp]:
    """Scheduled follow-ups whose time has come, oldest first; PostgreSQL skips those another
    sweeper holds, so each is reminded of once."""
    query = (
        select(FollowUp)
        .where(FollowUp.status == "scheduled", FollowUp.due_at <= now)
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))
