"""Storage: everything a step produces is written in one transaction.

SQLAlchemy 2.x models with Alembic migrations. SQLite (WAL, synchronous=FULL) by default; any
SQLAlchemy URL, PostgreSQL in particular, through DATABASE_URL.
"""

from storage.cases import (
    append_events,
    create_case,
    events_of,
    find_open_case,
    lock_case,
    save_state,
)
from storage.database import DEFAULT_DATABASE_URL, Database, DatabaseUrlError
from storage.escalations import escalations_of, open_escalation
from storage.follow_ups import due_follow_ups, follow_ups_of, schedule_follow_up
from storage.flows import FlowRevisionConflict, flow_source, register_flow_revision
from storage.migrate import current_revision, head_revision, upgrade
from storage.models import CaseSession, Escalation, EventRecord, FlowRevision, FollowUp, OutboxMessage
from storage.outbox import Delivery, claim_pending, enqueue, pending_count, record_failure, record_sent, release

__all__ = [
    "DEFAULT_DATABASE_URL",
    "CaseSession",
    "Database",
    "DatabaseUrlError",
    "Delivery",
    "Escalation",
    "EventRecord",
    "FlowRevision",
    "FlowRevisionConflict",
    "FollowUp",
    "OutboxMessage",
    "append_events",
    "claim_pending",
    "create_case",
    "current_revision",
    "due_follow_ups",
    "enqueue",
    "escalations_of",
    "events_of",
    "find_open_case",
    "flow_source",
    "follow_ups_of",
    "head_revision",
    "lock_case",
    "open_escalation",
    "pending_count",
    "record_failure",
    "record_sent",
    "register_flow_revision",
    "release",
    "save_state",
    "schedule_follow_up",
    "upgrade",
]
