"""The dispatcher: retries with backoff, keeps per-recipient order, resends after a crash."""

from __future__ import annotations

from datetime import timedelta

from bot.dispatch import Dispatcher, retry_delay
from storage import Delivery, enqueue, pending_count


class FlakySender:
    def __init__(self, failing: set[str] | None = None) -> None:
        self.failing = failing or set()
        self.sent: list[tuple[str, int]] = []

    def send(self, delivery: Delivery) -> None:
        if delivery.recipient in self.failing:
            raise ConnectionError("network down")
        self.sent.append((delivery.recipient, delivery.payload["n"]))


def fill(database, now, *recipients: str) -> None:
    with database.transaction() as session:
        for number, recipient in enumerate(recipients):
            enqueue(session, kind="message", recipient=recipient, payload={"n": number}, now=now)


def test_everything_due_is_sent_in_order(database, clock):
    fill(database, clock.now, "a", "b", "a")
    sender = FlakySender()
    report = Dispatcher(database, sender, clock).deliver_pending()
    assert (report.sent, report.failed) == (3, 0)
    assert sender.sent == [("a", 0), ("b", 1), ("a", 2)]
    with database.transaction() as session:
        assert pending_count(session) == 0


def test_a_failing_recipient_waits_in_order_while_others_are_served(database, clock):
    fill(database, clock.now, "a", "b", "a", "b")
    sender = FlakySender(failing={"a"})
    dispatcher = Dispatcher(database, sender, clock)
    report = dispatcher.deliver_pending()
    assert (report.sent, report.failed) == (2, 1)
    assert sender.sent == [("b", 1), ("b", 3)]
    assert dispatcher.deliver_pending().sent == 0  # backing off
    sender.failing.clear()
    clock.advance(retry_delay(0).total_seconds())
    dispatcher.deliver_pending()
    assert sender.sent[2:] == [("a", 0), ("a", 2)]


def test_backoff_grows_and_is_capped():
    assert [retry_delay(n).total_seconds() for n in range(4)] == [1, 2, 4, 8]
    assert retry_delay(50) == timedelta(seconds=30)


def test_a_crash_between_send_and_record_resends_after_the_lease(database, clock):
    fill(database, clock.now, "a")

    class DiesAfterSending(FlakySender):
        def send(self, delivery: Delivery) -> None:
            super().send(delivery)
            raise SystemExit  # the process dies before the send is recorded

    first = DiesAfterSending()
    try:
        Dispatcher(database, first, clock, lease=timedelta(seconds=30)).deliver_pending()
    except SystemExit:
        pass
    second = FlakySender()
    restarted = Dispatcher(database, second, clock, lease=timedelta(seconds=30))
    assert restarted.deliver_pending().sent == 0
    clock.advance(31)
    assert restarted.deliver_pending().sent == 1
    assert first.sent == second.sent == [("a", 0)]
