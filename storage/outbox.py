"""The outbox: messages written with the step that caused them, delivered after commit.

Delivery is claim, send, record, in three short steps so no transaction is open while the network
is slow. A claim hides rows for a lease; a sender that dies mid-send leaves them to be claimed again
when the lease runs out. Delivery is therefore at least once: after a crash a message may be sent
twice, but a committed message is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import Row, Select, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.sql.dml import ReturningUpdate
from sqlalchemy.orm import Session

from storage.models import OutboxMessage

__all__ = [
    "Delivery",
    "claim_pending",
    "claim_queued",
    "enqueue",
    "pending_count",
    "purge_sent",
    "queued_recipients",
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


# Where a transaction notes the recipients it queued rows for (and the latest `now` it gave), so
# that `claim_queued` can claim exactly those before it commits.
_QUEUED = "pendamping.outbox_queued"


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient: str,
    payload: dict[str, Any],
    now: datetime,
    case_id: str | None = None,
) -> None:
    # A Core insert: every step writes one or more of these, and the ORM's unit of work cost
    # several times the statement itself.
    row = {"session_id": case_id, "kind": kind, "recipient": recipient, "payload": payload, "created_at": now, "available_at": now, "attempts": 0}
    session.connection().execute(_INSERT, row)
    queued: dict[str, datetime] = session.info.setdefault(_QUEUED, {})
    queued[recipient] = max(now, queued.get(recipient, now))


_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]  # declared as a Table in models
_INSERT = insert(_OUTBOX)
_EARLIER = _OUTBOX.alias("earlier")
_ROW = (_OUTBOX.c.id, _OUTBOX.c.kind, _OUTBOX.c.recipient, _OUTBOX.c.payload, _OUTBOX.c.attempts, _OUTBOX.c.session_id)

# A row waits while an earlier unsent row for the same recipient is not due (backing off after a
# failure, or claimed by a send in progress): one chat's messages never overtake each other.
_WAITING_BEFORE = (
    select(_EARLIER.c.id)
    .where(
        _EARLIER.c.recipient == _OUTBOX.c.recipient,
        _EARLIER.c.sent_at.is_(None),
        _EARLIER.c.id < _OUTBOX.c.id,
        _EARLIER.c.available_at > bindparam("now"),
    )
    .exists()
)
# Ordered as the pending index (available_at, id) is, so the database walks unsent rows only and
# never the sent history. PostgreSQL skips rows another dispatcher has locked, so two workers never
# claim the same row; SQLite has one writer at a time anyway.
_CLAIMABLE = (
    select(_OUTBOX.c.id)
    .where(_OUTBOX.c.sent_at.is_(None), _OUTBOX.c.available_at <= bindparam("now"), ~_WAITING_BEFORE)
    .order_by(_OUTBOX.c.available_at, _OUTBOX.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)


def _claiming(claimable: Select[Any]) -> ReturningUpdate[Any]:
    """Lease the rows `claimable` selects and return them."""
    return update(_OUTBOX).where(_OUTBOX.c.id.in_(claimable.scalar_subquery())).values(available_at=bindparam("lease_until")).returning(*_ROW)


# Built once: the claim runs after every step, and building the statement cost more than running it.
_CLAIM = _claiming(_CLAIMABLE)
# The same claim, for the recipients one transaction wrote to. A step writes to one recipient, so
# that case gets a statement of its own: an expanding IN is rendered again on every execution.
_CLAIM_QUEUED = _claiming(_CLAIMABLE.where(_OUTBOX.c.recipient.in_(bindparam("recipients", expanding=True))))
_CLAIM_QUEUED_ONE = _claiming(_CLAIMABLE.where(_OUTBOX.c.recipient == bindparam("only_recipient")))
# Run once per row (executemany) rather than with an expanding IN, for the same reason.
_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(sent_at=bindparam("now"), attempts=_OUTBOX.c.attempts + 1, last_error=None)
)
_SENT_REF = update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id")).values(sent_ref=bindparam("ref"))


def claim_pending(session: Session, now: datetime, lease: timedelta, limit: int = 100) -> list[Delivery]:
    """Due, unsent rows, oldest first, hidden from other claims until `now + lease`; in one
    statement. A recipient's rows are handed out in id order, behind any earlier row still waiting."""
    return _deliveries(session.connection().execute(_CLAIM, {"now": now, "limit": limit, "lease_until": now + lease}))


def queued_recipients(session: Session) -> frozenset[str]:
    """The recipients this transaction has queued outbox rows for."""
    return frozenset(session.info.get(_QUEUED) or ())


def claim_queued(session: Session, lease: timedelta, limit: int = 100) -> list[Delivery]:
    """Claim, inside the transaction that queued them, the rows it queued, behind the same order rule
    as `claim_pending` (so with any earlier due row of the same recipients, and not a row waiting
    behind one in flight or backing off). Its caller can send them the moment it commits, without a
    claim of its own; a row left behind is claimed later as usual."""
    queued: dict[str, datetime] | None = session.info.get(_QUEUED)
    if not queued:
        return []
    now = max(queued.values())
    parameters: dict[str, Any] = {"now": now, "limit": limit, "lease_until": now + lease}
    if len(queued) == 1:
        [parameters["only_recipient"]] = queued
        return _deliveries(session.connection().execute(_CLAIM_QUEUED_ONE, parameters))
    parameters["recipients"] = sorted(queued)
    return _deliveries(session.connection().execute(_CLAIM_QUEUED, parameters))


def _deliveries(rows: Iterable[Row[Any]]) -> list[Delivery]:
    """Claimed rows in id order (RETURNING gives no order)."""
    claimed = [Delivery(row.id, row.kind, row.recipient, dict(row.payload), row.attempts, row.session_id) for row in rows]
    return sorted(claimed, key=lambda delivery: delivery.id)


def record_sent(session: Session, ids: list[int], now: datetime, refs: dict[int, str] | None = None) -> None:
    connection = session.connection()
    if ids:
        connection.execute(_SENT, [{"row_id": row_id, "now": now} for row_id in ids])
    if refs:
        connection.execute(_SENT_REF, [{"row_id": row_id, "ref": ref} for row_id, ref in refs.items()])


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
