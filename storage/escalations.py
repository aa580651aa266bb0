"""Escalations: requests for a human social worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.cases import CaseRecord, unused_code
from storage.models import CaseSession, Escalation

__all__ = [
    "TakeResult",
    "due_escalations",
    "escalation_by_code",
    "escalations_of",
    "open_escalation",
    "queue",
    "resolve_escalation",
    "take_escalation",
    "taken_for_volunteer",
]

WAITING = ("open", "review")


def open_escalation(
    session: Session,
    case: CaseSession | CaseRecord,
    *,
    level: str,
    flags: list[str],
    reason: str,
    node: str,
    now: datetime,
    status: str = "open",
    tier: int = 0,
    deadline_at: datetime | None = None,
) -> Escalation:
    escalation = Escalation(
        session_id=case.id,
        alert_code=unused_code(session, Escalation.alert_code, "A-", 5),
        level=level,
        flags=flags,
        reason=reason,
        node=node,
        status=status,
        requested_at=now,
        tier=tier,
        deadline_at=deadline_at,
    )
    session.add(escalation)
    session.flush()
    return escalation


def escalations_of(session: Session, case_id: str) -> list[Escalation]:
    query = select(Escalation).where(Escalation.session_id == case_id).order_by(Escalation.id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class TakeResult:
    won: bool  # this supervisor has the case (now, or from an earlier press)
    taken_by: str | None
    taken_at: datetime | None
    changed: bool  # this very press took it


def take_escalation(session: Session, alert_code: str, supervisor: str, now: datetime) -> TakeResult | None:
    """The first Take wins. One conditional UPDATE decides, so two presses at once cannot both win,
    on SQLite or PostgreSQL. Taking again by the winner is harmless. None for an unknown code."""
    result = session.execute(
        update(Escalation)
        .where(Escalation.alert_code == alert_code, Escalation.status.in_(WAITING))
        .values(status="taken", taken_by=supervisor, taken_at=now, deadline_at=None)
    )
    escalation = escalation_by_code(session, alert_code)
    if escalation is None:
        return None
    changed = getattr(result, "rowcount", 0) == 1
    return TakeResult(changed or escalation.taken_by == supervisor, escalation.taken_by, escalation.taken_at, changed)


def escalation_by_code(session: Session, alert_code: str) -> Escalation | None:
    return session.scalars(select(Escalation).where(Escalation.alert_code == alert_code)).one_or_none()


def resolve_escalation(session: Session, alert_code: str, outcome: str, now: datetime) -> Escalation | None:
    escalation = escalation_by_code(session, alert_code)
    if escalation is None or escalation.status == "resolved":
        return None
    escalation.status, escalation.outcome, escalation.resolved_at, escalation.deadline_at = "resolved", outcome[:40], now, None
    return escalation


def due_escalations(session: Session, now: datetime) -> list[Escalation]:
    """Open escalations whose deadline passed: nobody took them, the ladder moves on."""
    query = (
        select(Escalation)
        .where(Escalation.status == "open", Escalation.deadline_at <= now)
        .order_by(Escalation.deadline_at)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def taken_for_volunteer(session: Session, volunteer: str) -> Escalation | None:
    """The volunteer's most recently taken, unresolved escalation: where their messages go."""
    query = (
        select(Escalation)
        .join(CaseSession, CaseSession.id == Escalation.session_id)
        .where(CaseSession.volunteer == volunteer, Escalation.status == "taken")
        .order_by(Escalation.taken_at.desc())
        .limit(1)
    )
    return session.scalars(query).one_or_none()


def queue(session: Session) -> list[Escalation]:
    """Escalations not yet resolved: paging, in review, or taken; most urgent and oldest first."""
    query = select(Escalation).where(Escalation.status != "resolved").order_by(Escalation.level, Escalation.requested_at)
    return list(session.scalars(query))
