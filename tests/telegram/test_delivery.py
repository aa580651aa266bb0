"""The outbox delivery on its own: a slow chat holds up only itself; replies ride on the transactions that queue them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from bot.cases import utcnow
from bot.telegram import delivery as delivery_module
from bot.telegram.delivery import ChatPacer, TelegramDelivery, enqueue_notice, recipient_for
from bot.telegram.keyboards import ButtonSigner
from storage import Database, pending_count
from storage.models import OutboxMessage

SLOW, QUICK = 501, 502


class SlowForOneChat:
    """A bot whose sends to one chat hang until released; every other chat is answered at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.sent: list[tuple[int, str]] = []

    async def do_api_request(self, endpoint: str, api_kwargs: dict[str, Any]) -> dict[str, Any]:
        assert endpoint == "sendMessage"
        chat_id, text = api_kwargs["chat_id"], api_kwargs["text"]
        if chat_id == SLOW:
            await self.release.wait()
        self.sent.append((chat_id, text))
        return {"message_id": len(self.sent), "chat": {"id": chat_id}, "text": text}


async def _until(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def _notice(database: Database, chat: int, text: str) -> None:
    with database.transaction() as session:
        enqueue_notice(session, recipient_for("volunteer", chat), text, utcnow())


def _pending(database: Database) -> int:
    with database.reading() as session:
        return pending_count(session)


def test_a_chat_whose_send_hangs_does_not_hold_up_other_chats(sqlite_database: Database) -> None:
    while_hanging, in_the_end = asyncio.run(_slow_and_quick(sqlite_database))
    assert while_hanging == [(QUICK, "quick 1")]  # the quick chat did not wait for the slow one
    assert in_the_end == [(SLOW, "slow 1"), (SLOW, "slow 2")]  # the slow chat kept its order
    assert _pending(sqlite_database) == 0  # and everything sent was recorded


async def _slow_and_quick(sqlite_database: Database) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """What was sent while the slow chat's send hung, and the slow chat's messages at the end."""
    bot = SlowForOneChat()
    delivery = TelegramDelivery(sqlite_database, bot, ButtonSigner(b"k"), utcnow, sweep_seconds=0.05, pacer=ChatPacer(burst=100))  # type: ignore[arg-type]
    running = asyncio.create_task(delivery.run())
    try:
        _notice(sqlite_database, SLOW, "slow 1")
        delivery.wake()
        await asyncio.sleep(0.1)  # the slow chat's send is under way and hangs
        _notice(sqlite_database, QUICK, "quick 1")
        _notice(sqlite_database, SLOW, "slow 2")  # behind the hanging one, so it must wait
        delivery.wake()
        await _until(lambda: (QUICK, "quick 1") in bot.sent)
        while_hanging = list(bot.sent)
        bot.release.set()
        await _until(lambda: len(bot.sent) == 3 and _pending(sqlite_database) == 0)
        return while_hanging, [sent for sent in bot.sent if sent[0] == SLOW]
    finally:
        delivery.stop()
        await asyncio.wait_for(running, timeout=10)


def test_what_was_sent_before_a_stop_is_recorded(sqlite_database: Database) -> None:
    async def scenario() -> None:
        bot = SlowForOneChat()
        delivery = TelegramDelivery(sqlite_database, bot, ButtonSigner(b"k"), utcnow, sweep_seconds=10, pacer=ChatPacer(burst=100))  # type: ignore[arg-type]
        running = asyncio.create_task(delivery.run())
        _notice(sqlite_database, SLOW, "last words")
        delivery.wake()
        await asyncio.sleep(0.1)  # the send is under way
        delivery.stop()
        bot.release.set()  # it finishes after the stop: the loop waits for it and records it
        await asyncio.wait_for(running, timeout=10)
        assert bot.sent == [(SLOW, "last words")]

    asyncio.run(scenario())
    assert _pending(sqlite_database) == 0


# ---- riding on the database's transactions ------------------------------------------------------

NEVER = 3600.0  # a sweep that never comes during a test: what is sent was handed over or claimed on purpose


def _sent_at(database: Database, text: str) -> list[object]:
    """The sent_at of the rows carrying `text`, read inside a write transaction."""
    with database.transaction() as session:
        rows = session.execute(select(OutboxMessage.sent_at, OutboxMessage.payload)).all()
    return [sent_at for sent_at, payload in rows if payload.get("text") == text]


def test_a_reply_is_sent_as_its_transaction_commits_without_a_claim_of_its_own(sqlite_database: Database) -> None:
    async def scenario() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        bot = SlowForOneChat()
        delivery = TelegramDelivery(sqlite_database, bot, ButtonSigner(b"k"), utcnow, sweep_seconds=NEVER, pacer=ChatPacer(burst=100))  # type: ignore[arg-type]
        running = asyncio.create_task(delivery.run())
        try:
            await asyncio.sleep(0.05)  # the loop's first claim, at start, found nothing
            before = list(bot.sent)
            _notice(sqlite_database, QUICK, "straight away")
            await _until(lambda: bool(bot.sent))
            return before, list(bot.sent)
        finally:
            delivery.stop()
            await asyncio.wait_for(running, timeout=10)

    before, after = asyncio.run(scenario())
    assert before == [] and after == [(QUICK, "straight away")]
    assert _pending(sqlite_database) == 0


def test_a_row_queued_behind_one_in_flight_follows_it_as_soon_as_that_send_ends(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Neither the sweep nor the delayed record comes during the test: the end of the send must wake the loop.
    monkeypatch.setattr(delivery_module, "RECORD_DELAY_SECONDS", NEVER)

    async def scenario() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        bot = SlowForOneChat()
        delivery = TelegramDelivery(sqlite_database, bot, ButtonSigner(b"k"), utcnow, sweep_seconds=NEVER, pacer=ChatPacer(burst=100))  # type: ignore[arg-type]
        running = asyncio.create_task(delivery.run())
        try:
            _notice(sqlite_database, SLOW, "first")
            await asyncio.sleep(0.1)  # its send hangs
            _notice(sqlite_database, SLOW, "second")  # its transaction cannot claim it: "first" is in flight
            await asyncio.sleep(0.1)
            while_hanging = list(bot.sent)
            bot.release.set()
            await _until(lambda: len(bot.sent) == 2, timeout=2.0)
            return while_hanging, list(bot.sent)
        finally:
            delivery.stop()
            await asyncio.wait_for(running, timeout=10)

    while_hanging, in_the_end = asyncio.run(scenario())
    assert while_hanging == []
    assert in_the_end == [(SLOW, "first"), (SLOW, "second")]
    assert _pending(sqlite_database) == 0


def test_a_transaction_reads_what_was_sent_before_it_began_and_a_failed_one_loses_no_record(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop would record finished sends only after this delay: every record below is made by
    # the transactions the test runs.
    monkeypatch.setattr(delivery_module, "RECORD_DELAY_SECONDS", NEVER)

    async def scenario() -> tuple[list[object], list[object], list[object]]:
        bot = SlowForOneChat()
        delivery = TelegramDelivery(sqlite_database, bot, ButtonSigner(b"k"), utcnow, sweep_seconds=NEVER, pacer=ChatPacer(burst=100))  # type: ignore[arg-type]
        running = asyncio.create_task(delivery.run())
        try:
            _notice(sqlite_database, QUICK, "copy")
            await _until(lambda: bool(bot.sent))
            await asyncio.sleep(0.05)  # the send's outcome is in, not recorded
            with pytest.raises(RuntimeError):
                with sqlite_database.transaction():
                    raise RuntimeError("this transaction fails after recording the send")
            with sqlite_database.reading() as session:
                after_failure = [row.sent_at for row in session.scalars(select(OutboxMessage))]
            seen_inside = await asyncio.to_thread(_sent_at, sqlite_database, "copy")
            with sqlite_database.reading() as session:
                in_the_end = [row.sent_at for row in session.scalars(select(OutboxMessage))]
            return after_failure, seen_inside, in_the_end
        finally:
            delivery.stop()
            await asyncio.wait_for(running, timeout=10)

    after_failure, seen_inside, in_the_end = asyncio.run(scenario())
    assert after_failure == [None]  # the failed transaction's record was rolled back with it...
    assert len(seen_inside) == 1 and seen_inside[0] is not None  # ...and made again by the next one, which reads it
    assert len(in_the_end) == 1 and in_the_end[0] is not None


def test_a_send_recorded_by_a_step_needs_no_claim_of_the_loop_and_one_no_step_records_gets_one(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    settles: list[int] = []
    settle = TelegramDelivery._settle

    def counted(self: TelegramDelivery, room: int) -> list[Any]:
        settles.append(room)
        return settle(self, room)

    monkeypatch.setattr(TelegramDelivery, "_settle", counted)
    wait = 3 * delivery_module.RECORD_DELAY_SECONDS

    async def scenario() -> tuple[int, int, list[object]]:
        bot = SlowForOneChat()
        delivery = TelegramDelivery(sqlite_database, bot, ButtonSigner(b"k"), utcnow, sweep_seconds=NEVER, pacer=ChatPacer(burst=100))  # type: ignore[arg-type]
        running = asyncio.create_task(delivery.run())
        try:
            await asyncio.sleep(0.05)  # the loop's first claim, at start
            settles.clear()
            _notice(sqlite_database, QUICK, "recorded by a step")
            await _until(lambda: len(bot.sent) == 1)
            await asyncio.sleep(0.01)
            with sqlite_database.transaction():
                pass  # any transaction, a step say, records the finished send as it begins
            await asyncio.sleep(wait)
            recorded_by_a_step = len(settles)
            _notice(sqlite_database, QUICK, "no step after it")
            await _until(lambda: len(bot.sent) == 2)
            await asyncio.sleep(wait)
            with sqlite_database.reading() as session:
                sent_at = [row.sent_at for row in session.scalars(select(OutboxMessage))]
            return recorded_by_a_step, len(settles) - recorded_by_a_step, sent_at
        finally:
            delivery.stop()
            await asyncio.wait_for(running, timeout=10)

    recorded_by_a_step, recorded_by_the_loop, sent_at = asyncio.run(scenario())
    assert recorded_by_a_step == 0  # nothing was left for the loop to record
    assert recorded_by_the_loop == 1  # the send no transaction followed is recorded all the same
    assert len(sent_at) == 2 and all(at is not None for at in sent_at)
