"""Who is paged for an escalation, and when the ladder moves on if nobody takes it.

Tier 0 is the supervisors on call, tier 1 the backups, tier 2 every supervisor. An empty tier is
skipped. Past the last tier every supervisor is paged again at each deadline: an alert never waits
in silence. P2 and P3 go to a review queue instead of paging anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Sequence

from sqlalchemy.orm import Session

from bot.engine import Level

__all__ = ["LAST_TIER", "Deadlines", "Ladder", "Page", "TierRecipients", "fixed_tiers"]

LAST_TIER = 2
TierRecipients = Callable[[Session, int], Sequence[str]]


def fixed_tiers(*recipients: str) -> TierRecipients:
    """The same recipients at every tier (the console's one supervisor, say)."""
    return lambda session, tier: recipients


@dataclass(frozen=True)
class Deadlines:
    """How long an alert waits for a Take before the ladder moves on, by level."""

    p0: timedelta = timedelta(minutes=2)
    p1: timedelta = timedelta(minutes=10)

    def for_level(self, level: Level) -> timedelta | None:
        return {Level.P0: self.p0, Level.P1: self.p1}.get(level)


@dataclass(frozen=True)
class Page:
    status: str  # "open" pages supervisors; "review" waits in the queue
    tier: int
    deadline_at: datetime | None
    recipients: tuple[str, ...]


class Ladder:
    def __init__(self, tiers: TierRecipients, deadlines: Deadlines = Deadlines()) -> None:
        self.tiers = tiers
        self.deadlines = deadlines

    def first(self, session: Session, level: Level, now: datetime) -> Page:
        wait = self.deadlines.for_level(level)
        if wait is None:
            return Page("review", 0, None, ())
        return self._from_tier(session, 0, now + wait)

    def next(self, session: Session, level: Level, tier: int, now: datetime) -> Page:
        wait = self.deadlines.for_level(level) or self.deadlines.p1
        return self._from_tier(session, min(tier + 1, LAST_TIER), now + wait)

    def on_duty(self, session: Session) -> tuple[str, ...]:
        """Whoever a page would reach first now: on call, else backup, else every supervisor."""
        return self._from_tier(session, 0, None).recipients

    def _from_tier(self, session: Session, tier: int, deadline_at: datetime | None) -> Page:
        for candidate in range(tier, LAST_TIER + 1):
            recipients = tuple(self.tiers(session, candidate))
            if recipients:
                return Page("open", candidate, deadline_at, recipients)
        return Page("open", LAST_TIER, deadline_at, ())
