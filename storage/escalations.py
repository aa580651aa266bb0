"""Escalations: requests for a human social worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.cases import new_code
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
        alert_code=_unused_alert_code(session),
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


def _unused_alert_code(session: Session) -> str:
    while True:
        code = new_code("A-", 5)
        if session.scalars(select(Escalation.id).where(Escalation.alert_code == code)).first() is None:
            return code


def escalations_of(session: Session, case_id: str) -> list[Escalation]:
    query = select(Escalation).where(Escalation.session_id == case_id).order_by(Escalation.id)
    return list(session.scalars(query))
