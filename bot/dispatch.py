"""Delivers the outbox: claim due rows, send them outside any transaction, record the result.

A failed send is retried with exponential backoff, and the rows queued behind it for the same
recipient wait for it, so one chat always receives its messages in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Protocol

from storage import Database, Delivery, claim_pending, record_failure, record_sent, release

__all__ = ["DeliveryReport", "Dispatcher", "Sender", "retry_delay"]

# An alert must not sit for minutes after Telegram recovers: retries stay at most 30 s apart.
MAX_RETRY_DELAY = timedelta(seconds=30)


class Sender(Protocol):
    def send(self, delivery: Delivery) -> None:
        """Deliver one message or raise; raising means "try again later"."""


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    failed: int


def retry_delay(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s ... capped at 30 s: alerts keep being retried, never given up."""
    return min(timedelta(seconds=2 ** min(attempts, 16)), MAX_RETRY_DELAY)


class Dispatcher:
    def __init__(
        self,
        database: Database,
        sender: Sender,
        clock: Callable[[], datetime],
        *,
        lease: timedelta = timedelta(seconds=30),
        batch: int = 100,
    ) -> None:
        self.database = database
        self.sender = sender
        self.clock = clock
        self.lease = lease
        self.batch = batch

    def deliver_pending(self) -> DeliveryReport:
        with self.database.transaction(durable=False) as session:  # a lost lease only repeats a send
            claimed = claim_pending(session, self.clock(), self.lease, self.batch)
        sent: list[int] = []
        failures: list[tuple[Delivery, str]] = []
        blocked: dict[str, list[int]] = {}
        for delivery in claimed:
            if delivery.recipient in blocked:
                blocked[delivery.recipient].append(delivery.id)
                continue
            try:
                self.sender.send(delivery)
            except Exception as error:  # noqa: BLE001 - any failure means "retry later", never "drop"
                failures.append((delivery, f"{type(error).__name__}: {error}"))
                blocked[delivery.recipient] = []
            else:
                sent.append(delivery.id)
        now = self.clock()
        with self.database.transaction(durable=False) as session:  # a lost "sent" mark only repeats a send
            record_sent(session, sent, now)
            for delivery, reason in failures:
                retry_at = now + retry_delay(delivery.attempts)
                record_failure(session, delivery.id, reason, retry_at)
                release(session, blocked[delivery.recipient], retry_at)
        return DeliveryReport(len(sent), len(failures))
