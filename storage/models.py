"""Tables: case sessions, the append-only event log, the outbox, escalations and flow revisions."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "CaseSession",
    "Escalation",
    "EventRecord",
    "FlowRevision",
    "FollowUp",
    "Invite",
    "Member",
    "OutboxMessage",
    "ProcessedUpdate",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database; SQLite would otherwise hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC time")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids for the logs.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class FlowRevision(Base):
    """The source of every flow revision a case ever started on, so it can finish on it."""

    __tablename__ = "flow_revisions"
    __table_args__ = (UniqueConstraint("flow_id", "revision", name="uq_flow_revisions_flow_revision"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    flow_id: Mapped[str] = mapped_column(String(60))
    revision: Mapped[int] = mapped_column(Integer)
    spec_version: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseSession(Base):
    """One call handled by one volunteer. `state` is the engine's JSON document."""

    __tablename__ = "case_sessions"
    __table_args__ = (Index("ix_case_sessions_volunteer_status", "volunteer", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Pseudonymous code used in alerts and conversation; callers are never named.
    case_code: Mapped[str] = mapped_column(String(16), unique=True)
    volunteer: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    flow_id: Mapped[str] = mapped_column(String(60))
    flow_revision: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    state: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    # Number of stored steps; the next event's sequence number, and a guard against lost updates.
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class EventRecord(Base):
    """The append-only audit log: what the engine and the hosts did, in order, with times."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("session_id", "seq", name="uq_events_session_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("case_sessions.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """A message to deliver, written in the same transaction as the step that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "available_at",
            "id",
            sqlite_where=text("sent_at IS NULL"),
            postgresql_where=text("sent_at IS NULL"),
        ),
        Index(
            "ix_outbox_pending_recipient",
            "recipient",
            "id",
            sqlite_where=text("sent_at IS NULL"),
            postgresql_where=text("sent_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("case_sessions.id"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Where the message landed (a Telegram message id), so an alert's copies can be edited later.
    sent_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Escalation(Base):
    """A request for a human social worker, opened in the transaction of the step that raised it."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_status_level", "status", "level"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("case_sessions.id"), index=True)
    # Short code printed on every copy of the alert, so duplicates are recognisable as one alert.
    alert_code: Mapped[str] = mapped_column(String(16), unique=True)
    level: Mapped[str] = mapped_column(String(2))
    flags: Mapped[list[str]] = mapped_column(JSONDocument)
    reason: Mapped[str] = mapped_column(Text)
    node: Mapped[str] = mapped_column(String(60))
    # open (paging), review (P2/P3: a queue, nobody paged), taken, resolved.
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The ladder: 0 on-call supervisors, 1 backups, 2 every supervisor; the sweeper moves it on at
    # `deadline_at` while nobody has taken the case.
    tier: Mapped[int] = mapped_column(Integer, default=0)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    taken_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(40), nullable=True)


class FollowUp(Base):
    """A follow-up agreed in a case (a callback, monitoring after return home), with its due date."""

    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("case_sessions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Member(Base):
    """A registered volunteer or supervisor. Only members reach the protocol."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(64))
    # The member's own choice (/lang); None means "use Telegram's language, then the default".
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Supervisors only: paged first while on call; backups are paged when on-call staff do not take.
    on_call: Mapped[bool] = mapped_column(default=False)
    backup: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Invite(Base):
    """A single-use, expiring invitation. Only a hash of the token is kept: a database leak gives no links."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"), nullable=True)


class ProcessedUpdate(Base):
    """Telegram update ids already handled, so a redelivered update changes nothing twice."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
