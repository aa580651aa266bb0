"""Members, invitations and processed update ids."""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import Invite, Member, ProcessedUpdate

__all__ = [
    "InviteProblem",
    "active_members",
    "add_member",
    "create_invite",
    "find_member",
    "forget_processed_updates",
    "hash_token",
    "record_update",
    "redeem_invite",
    "remove_member",
    "set_availability",
    "supervisors_for_tier",
]

ROLES = ("volunteer", "supervisor")


class InviteProblem(str, enum.Enum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_member(session: Session, *, telegram_user_id: int, role: str, display_name: str, now: datetime) -> Member:
    """Register someone, or bring a removed member back with the given role."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    member = session.scalars(select(Member).where(Member.telegram_user_id == telegram_user_id)).one_or_none()
    if member is None:
        member = Member(telegram_user_id=telegram_user_id, role=role, display_name=display_name[:64], active=True, created_at=now)
        session.add(member)
    else:
        member.role, member.display_name, member.active, member.removed_at = role, display_name[:64], True, None
    session.flush()
    return member


def find_member(session: Session, telegram_user_id: int) -> Member | None:
    """The active member with this Telegram id, if any."""
    return session.scalars(_ACTIVE_MEMBER, {"telegram_user_id": telegram_user_id}).one_or_none()


# Built once: looked up for every update from someone not looked up recently.
_ACTIVE_MEMBER = select(Member).where(Member.telegram_user_id == bindparam("telegram_user_id"), Member.active.is_(True))


def active_members(session: Session, role: str | None = None) -> list[Member]:
    query = select(Member).where(Member.active.is_(True)).order_by(Member.display_name)
    if role is not None:
        query = query.where(Member.role == role)
    return list(session.scalars(query))


def remove_member(session: Session, telegram_user_id: int, now: datetime) -> Member | None:
    member = find_member(session, telegram_user_id)
    if member is not None:
        member.active, member.removed_at = False, now
    return member


def create_invite(session: Session, *, token: str, role: str, created_by: Member, now: datetime, valid_for: timedelta) -> Invite:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    invite = Invite(token_hash=hash_token(token), role=role, created_by=created_by.id, created_at=now, expires_at=now + valid_for)
    session.add(invite)
    return invite


def redeem_invite(
    session: Session, *, token: str, telegram_user_id: int, display_name: str, now: datetime
) -> Member | InviteProblem:
    """Use an invitation once: the person becomes a member with the invited role."""
    invite = session.scalars(select(Invite).where(Invite.token_hash == hash_token(token)).with_for_update()).one_or_none()
    if invite is None:
        return InviteProblem.UNKNOWN
    if invite.used_at is not None:
        return InviteProblem.USED
    if invite.expires_at <= now:
        return InviteProblem.EXPIRED
    member = add_member(session, telegram_user_id=telegram_user_id, role=invite.role, display_name=display_name, now=now)
    invite.used_at, invite.used_by = now, member.id
    return member


_RECORD_UPDATE = {
    # RETURNING, because rowcount is not reported for these inserts by every driver (psycopg: -1).
    "sqlite": sqlite_insert(ProcessedUpdate).on_conflict_do_nothing(index_elements=["update_id"]).returning(ProcessedUpdate.update_id),
    "postgresql": postgresql_insert(ProcessedUpdate).on_conflict_do_nothing(index_elements=["update_id"]).returning(ProcessedUpdate.update_id),
}


def record_update(session: Session, update_id: int, now: datetime) -> bool:
    """Note an update as handled in the caller's transaction; False if it was handled before.
    One statement that inserts nothing for a known id: cheaper than a savepoint and a failed insert."""
    connection = session.connection()
    statement = _RECORD_UPDATE.get(connection.dialect.name)
    if statement is None:
        raise NotImplementedError(f"record_update has no statement for {connection.dialect.name}")
    inserted = connection.execute(statement, {"update_id": update_id, "processed_at": now}).first()
    return inserted is not None


def forget_processed_updates(session: Session, older_than: datetime) -> int:
    """Telegram redelivers for a day at most; older ids only take space."""
    result = session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)


def set_availability(session: Session, telegram_user_id: int, *, on_call: bool | None = None, backup: bool | None = None) -> Member | None:
    member = find_member(session, telegram_user_id)
    if member is None or member.role != "supervisor":
        return None
    if on_call is not None:
        member.on_call = on_call
    if backup is not None:
        member.backup = backup
    return member


def supervisors_for_tier(session: Session, tier: int) -> list[Member]:
    """Tier 0: supervisors on call; tier 1: backups; tier 2 and beyond: every supervisor."""
    query = select(Member).where(Member.active.is_(True), Member.role == "supervisor").order_by(Member.id)
    if tier == 0:
        query = query.where(Member.on_call.is_(True))
    elif tier == 1:
        query = query.where(Member.backup.is_(True))
    return list(session.scalars(query))
