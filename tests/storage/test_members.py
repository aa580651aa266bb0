"""Members, single-use expiring invitations and processed update ids, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage import (
    InviteProblem,
    active_members,
    add_member,
    create_invite,
    find_member,
    forget_processed_updates,
    record_update,
    redeem_invite,
    remove_member,
)
from storage.models import Invite


def supervisor(database, now):
    with database.transaction() as session:
        return add_member(session, telegram_user_id=1, role="supervisor", display_name="Sari", now=now)


def test_members_are_added_found_listed_and_removed(database, now):
    supervisor(database, now)
    with database.transaction() as session:
        add_member(session, telegram_user_id=2, role="volunteer", display_name="Ayu", now=now)
        assert [member.display_name for member in active_members(session, "volunteer")] == ["Ayu"]
        assert remove_member(session, 2, now).active is False
        assert find_member(session, 2) is None and find_member(session, 1).role == "supervisor"
    with pytest.raises(ValueError, match="role must be one of"):
        with database.transaction() as session:
            add_member(session, telegram_user_id=3, role="admin", display_name="X", now=now)


def test_an_invite_is_single_use_and_expires(database, now):
    boss = supervisor(database, now)
    with database.transaction() as session:
        create_invite(session, token="tok-1", role="volunteer", created_by=boss, now=now, valid_for=timedelta(hours=24))
        create_invite(session, token="tok-2", role="volunteer", created_by=boss, now=now, valid_for=timedelta(hours=1))
        stored = session.scalars(select(Invite.token_hash)).all()
    assert "tok-1" not in stored and len(stored[0]) == 64  # only hashes are kept
    with database.transaction() as session:
        member = redeem_invite(session, token="tok-1", telegram_user_id=5, display_name="Budi", now=now)
        assert member.role == "volunteer" and find_member(session, 5) is not None
    with database.transaction() as session:
        assert redeem_invite(session, token="tok-1", telegram_user_id=6, display_name="Eko", now=now) is InviteProblem.USED
        assert redeem_invite(session, token="nope", telegram_user_id=6, display_name="Eko", now=now) is InviteProblem.UNKNOWN
        later = now + timedelta(hours=2)
        assert redeem_invite(session, token="tok-2", telegram_user_id=6, display_name="Eko", now=later) is InviteProblem.EXPIRED
        assert find_member(session, 6) is None


def test_an_update_id_is_recorded_once(database, now):
    with database.transaction() as session:
        assert record_update(session, 1001, now) is True
        assert record_update(session, 1001, now) is False
        assert record_update(session, 1002, now) is True
    with database.transaction() as session:
        assert record_update(session, 1001, now) is False
        assert forget_processed_updates(session, now + timedelta(days=2)) == 2
        assert record_update(session, 1001, now) is True
