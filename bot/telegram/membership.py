"""Who may use the bot: members looked up per update, invitations, and what strangers are told."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage import (
    Database,
    InviteProblem,
    Member,
    active_members,
    create_invite,
    find_member,
    redeem_invite,
    remove_member,
    set_availability,
)

__all__ = ["MEMBER_CACHE_SECONDS", "MemberView", "Membership", "StrangerLimiter"]

# How long a member looked up is trusted without asking the database again. Changes made through
# this process (removal, language, role) take effect at once; the window only matters for a
# change made by another process sharing the database.
MEMBER_CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class MemberView:
    """What a handler needs to know about the member behind an update."""

    id: int
    telegram_user_id: int
    role: str
    display_name: str
    language: str | None

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    @property
    def volunteer_key(self) -> str:
        return f"tg:{self.telegram_user_id}"


def _view(member: Member) -> MemberView:
    return MemberView(member.id, member.telegram_user_id, member.role, member.display_name, member.language)


class Membership:
    """Blocking storage calls, which the router runs in worker threads, and a short-lived memory of
    members so that most updates need no lookup at all. Strangers are never remembered here."""

    def __init__(self, database: Database, invite_valid_for: timedelta, *, cache_seconds: float = MEMBER_CACHE_SECONDS) -> None:
        self.database = database
        self.invite_valid_for = invite_valid_for
        self.cache_seconds = cache_seconds
        self._known: dict[int, tuple[MemberView, float]] = {}
        self._known_lock = threading.Lock()
        self._changes = 0  # bumped by every change, so a lookup that raced one is not remembered

    def cached(self, telegram_user_id: int) -> MemberView | None:
        """The member if looked up within the last `cache_seconds`; no I/O, so safe on the event loop."""
        with self._known_lock:
            known = self._known.get(telegram_user_id)
        if known is None or known[1] < time.monotonic():
            return None
        return known[0]

    def member(self, telegram_user_id: int) -> MemberView | None:
        with self._known_lock:
            changes = self._changes
        with self.database.reading() as session:
            member = find_member(session, telegram_user_id)
            view = _view(member) if member is not None else None
        with self._known_lock:
            if view is None or changes != self._changes:
                self._known.pop(telegram_user_id, None)
                return view
            now = time.monotonic()
            if len(self._known) >= 10_000:
                self._known = {key: value for key, value in self._known.items() if value[1] >= now}
            self._known[telegram_user_id] = (view, now + self.cache_seconds)
        return view

    def _forget(self, telegram_user_id: int) -> None:
        with self._known_lock:
            self._changes += 1
            self._known.pop(telegram_user_id, None)

    def redeem(self, token: str, telegram_user_id: int, display_name: str, now: datetime) -> MemberView | InviteProblem:
        self._forget(telegram_user_id)
        with self.database.transaction() as session:
            result = redeem_invite(session, token=token, telegram_user_id=telegram_user_id, display_name=display_name, now=now)
            return result if isinstance(result, InviteProblem) else _view(result)

    def invite(self, creator: MemberView, role: str, now: datetime) -> str:
        token = secrets.token_urlsafe(18)  # 24 characters; Telegram allows 64 in a start parameter
        with self.database.transaction() as session:
            member = find_member(session, creator.telegram_user_id)
            assert member is not None
            create_invite(session, token=token, role=role, created_by=member, now=now, valid_for=self.invite_valid_for)
        return token

    def listing(self) -> list[MemberView]:
        with self.database.transaction() as session:
            return [_view(member) for member in active_members(session)]

    def remove(self, telegram_user_id: int, now: datetime) -> MemberView | None:
        with self.database.transaction() as session:
            member = remove_member(session, telegram_user_id, now)
            removed = _view(member) if member is not None else None
        self._forget(telegram_user_id)  # after the commit, so no lookup in between re-remembers them
        return removed

    def set_availability(self, telegram_user_id: int, *, on_call: bool | None = None, backup: bool | None = None) -> None:
        with self.database.transaction() as session:
            set_availability(session, telegram_user_id, on_call=on_call, backup=backup)
        self._forget(telegram_user_id)

    def set_language(self, telegram_user_id: int, language: str) -> None:
        with self.database.transaction() as session:
            member = find_member(session, telegram_user_id)
            if member is not None:
                member.language = language
        self._forget(telegram_user_id)


class StrangerLimiter:
    """One reply per stranger per window, kept in memory only: nothing about strangers is stored."""

    def __init__(self, window_seconds: float = 600.0, capacity: int = 10_000) -> None:
        self.window = window_seconds
        self.capacity = capacity
        self._last: dict[int, float] = {}

    def allow(self, user_id: int) -> bool:
        now = time.monotonic()
        last = self._last.get(user_id)
        if last is not None and now - last < self.window:
            return False
        if len(self._last) >= self.capacity:
            self._last = {key: value for key, value in self._last.items() if now - value < self.window}
        self._last[user_id] = now
        return True
