"""Follow-ups: due dates agreed during a case, kept in the database so no timer has to survive a restart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import CaseSession, FollowUp

__all__ = ["follow_ups_of", "schedule_follow_up"]


def schedule_follow_up(session: Session, case: CaseSession, *, kind: str, due_at: datetime, now: datetime) -> FollowUp:
    follow_up = FollowUp(session_id=case.id, kind=kind, due_at=due_at, status="scheduled", created_at=now)
    session.add(follow_up)
    return follow_up


def follow_ups_of(session: Session, case_id: str) -> list[FollowUp]:
    return list(session.scalars(select(FollowUp).where(FollowUp.session_id == case_id).order_by(FollowUp.due_at)))
