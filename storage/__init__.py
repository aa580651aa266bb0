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
from storage.escalations import (
    TakeResult,
    due_escalations,
    escalation_by_code,
    escalations_of,
    open_escalation,
    queue,
    resolve_escalation,
    take_escalation,
)
from storage.follow_ups import due_follow_ups, follow_ups_of, schedule_follow_up
from storage.flows import FlowRevisionConflict, flow_source, register_flow_revision
from storage.members import (
    InviteProblem,
    active_members,
    add_member,
    create_invite,
    find_member,
    forget_processed_updates,
    hash_token,
    record_update,
    redeem_invite,
    remove_member,
    set_availability,
    supervisors_for_tier,
)
from storage.migrate import current_revision, head_revision, upgrade
from storage.models import (
    CaseSession,
    Escalation,
    EventRecord,
    FlowRevision,
    FollowUp,
    Invite,
    Member,
    OutboxMessage,
    ProcessedUpdate,
)
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
    "Invite",
    "InviteProblem",
    "Member",
    "OutboxMessage",
    "ProcessedUpdate",
    "TakeResult",
    "active_members",
    "add_member",
    "append_events",
    "claim_pending",
    "create_case",
    "create_invite",
    "current_revision",
    "due_escalations",
    "due_follow_ups",
    "enqueue",
    "escalation_by_code",
    "escalations_of",
    "events_of",
    "find_member",
    "find_open_case",
    "flow_source",
    "follow_ups_of",
    "forget_processed_updates",
    "hash_token",
    "head_revision",
    "lock_case",
    "open_escalation",
    "pending_count",
    "queue",
    "record_failure",
    "record_sent",
    "record_update",
    "redeem_invite",
    "register_flow_revision",
    "release",
    "remove_member",
    "resolve_escalation",
    "save_state",
    "schedule_follow_up",
    "set_availability",
    "supervisors_for_tier",
    "take_escalation",
    "upgrade",
]
