"""Escalations: requests for a human social worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.cases import unused_code
from storage.models import CaseSession, Escalation

__all__ = ["escalations_of", "open_escalation"]


def open_escalation(
    session: Session,
    case: CaseSession,
    *,
    level: str,
    flags: list[str],
    reason: str,
    node: str,
    now: datetime,
) -> Escalation:
    escalation = Escalation(
        session_id=case.id,
        alert_code=unused_code(session, Escalation.alert_code, "A-", 5),
        level=level,
        flags=flags,
        reason=reason,
        node=node,
        status="open",
        requested_at=now,
    )
    session.add(escalation)
    session.flush()
    return escalation


def escalations_of(session: Session, case_id: str) -> list[Escalation]:
    query = select(Escalation).where(Escalation.session_id == case_id).order_by(Escalation.id)
    return list(session.scalars(query))
