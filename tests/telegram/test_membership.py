"""The short memory of members: it saves a lookup per update, and forgets at once on any change."""

from __future__ import annotations

from datetime import timedelta

from bot.telegram import membership as membership_module
from bot.telegram.membership import Membership
from storage import Database, add_member


def _membership(database: Database, now, cache_seconds: float = 60.0) -> Membership:
    with database.transaction() as session:
        add_member(session, telegram_user_id=7, role="volunteer", display_name="Sari", now=now)
    return Membership(database, timedelta(hours=1), cache_seconds=cache_seconds)


def test_a_member_looked_up_is_remembered_and_a_stranger_is_not(sqlite_database: Database, now):
    membership = _membership(sqlite_database, now)
    assert membership.cached(7) is None
    looked_up = membership.member(7)
    assert looked_up is not None and membership.cached(7) == looked_up
    assert membership.member(8) is None and membership.cached(8) is None


def test_a_removed_member_is_forgotten_at_once(sqlite_database: Database, now):
    membership = _membership(sqlite_database, now)
    membership.member(7)
    assert membership.remove(7, now) is not None
    assert membership.cached(7) is None
    assert membership.member(7) is None


def test_a_language_change_is_seen_at_once(sqlite_database: Database, now):
    membership = _membership(sqlite_database, now)
    assert membership.member(7).language is None
    membership.set_language(7, "en")
    assert membership.cached(7) is None
    assert membership.member(7).language == "en"


def test_a_lookup_that_raced_a_change_is_not_remembered(sqlite_database: Database, now, mocker):
    membership = _membership(sqlite_database, now)
    real_find = membership_module.find_member

    def find_then_removed(session, telegram_user_id):
        found = real_find(session, telegram_user_id)  # read while still a member ...
        membership.remove(telegram_user_id, now)  # ... and removed before the lookup is remembered
        return found

    mocker.patch.object(membership_module, "find_member", side_effect=find_then_removed)
    assert membership.member(7) is not None
    assert membership.cached(7) is None


def test_the_memory_expires(sqlite_database: Database, now):
    membership = _membership(sqlite_database, now, cache_seconds=0.0)
    membership.member(7)
    assert membership.cached(7) is None
