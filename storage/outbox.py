"""The outbox: messages written with the step that caused them, delivered after commit.

Delivery is claim, send, record, in three short steps so no transaction is open while the network
is slow. A claim hides rows for a lease; a sender that dies mid-send leaves them to be claimed again
when the lease runs out. Delivery is therefore at least once: after a crash a message may be sent
twice, but a committed message is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, aliased

from storage.models import OutboxMessage

__all__ = [
    "Delivery",
    "claim_pending",
    "enqueue",
    "pending_count",
    "purge_sent",
    "record_failure",
    "record_sent",
    "release",
    "sent_copies",
]


@dataclass(frozen=True)
class Delivery:
    """A claimed outbox row, detached from the transaction that claimed it."""

    id: int
    kind: str
    recipient: str
    payload: dict[str, Any]
    attempts: int
    case_id: str | None


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient: str,
    payload: dict[str, Any],
    now: datetime,
    case_id: str | None = None,
) -> OutboxMessage:
    message = OutboxMessage(
        session_id=case_id,
        kind=kind,
        recipient=recipient,
        payload=payload,
        created_at=now,
        available_at=now,
        attempts=0,
    )
    session.add(message)
    return message


def claim_pending(session: Session, now: datetime, lease: timedelta, limit: int = 100) -> list[Delivery]:
    """Due, unsent rows, oldest first, hidden from other claims until `now + lease`.

    A row waits while an earlier unsent row for the same recipient is not due (backing off after a
    failure, or claimed by a send in progress): one chat's messages never overtake each other.
    PostgreSQL skips rows another dispatcher has locked, so two workers never claim the same row.
    """
    earlier = aliased(OutboxMessage)
    waiting_before = (
        select(earlier.id)
        .where(
            earlier.recipient == OutboxMessage.recipient,
            earlier.sent_at.is_(None),
            earlier.id < OutboxMessage.id,
            earlier.available_at > now,
        )
        .exists()
    )
    # Ordered as the pending index (available_at, id) is, so the database walks unsent rows only
    # and never the sent history. Rows are handed out by id: a recipient's order is by id.
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.available_at <= now, ~waiting_before)
        .order_by(OutboxMessage.available_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = []
    for row in session.scalars(query):
        row.available_at = now + lease
        claimed.append(Delivery(row.id, row.kind, row.recipient, dict(row.payload), row.attempts, row.session_id))
    return sorted(claimed, key=lambda delivery: delivery.id)


def record_sent(session: Session, ids: list[int], now: datetime, refs: dict[int, str] | None = None) -> None:
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(sent_at=now, attempts=OutboxMessage.attempts + 1, last_error=None)
        )
    for message_id, ref in (refs or {}).items():
        session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(sent_ref=ref))


def sent_copies(session: Session, case_id: str, kind: str, alert_code: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(recipient, sent_ref, payload) of every sent copy of one alert of a case."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.session_id == case_id, OutboxMessage.kind == kind, OutboxMessage.sent_ref.is_not(None))
        .order_by(OutboxMessage.id)
    )
    return [
        (row.recipient, str(row.sent_ref), dict(row.payload))
        for row in session.scalars(query)
        if row.payload.get("alert_code") == alert_code
    ]


def record_failure(session: Session, message_id: int, error: str, retry_at: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(attempts=OutboxMessage.attempts + 1, last_error=error[:2000], available_at=retry_at)
    )


def release(session: Session, ids: list[int], available_at: datetime) -> None:
    """Give claimed rows back unsent (for example those queued behind a failed row for one chat)."""
    if ids:
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(available_at=available_at))


def purge_sent(session: Session, older_than: datetime) -> int:
    """Delivered messages are kept for a while for the audit trail, then removed."""
    result = session.execute(delete(OutboxMessage).where(OutboxMessage.sent_at.is_not(None), OutboxMessage.sent_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)


def pending_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))) or 0)
