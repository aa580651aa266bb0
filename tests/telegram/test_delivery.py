"""The outbox delivery loop on its own: a slow chat holds up only itself."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from bot.cases import utcnow
from bot.telegram.delivery import ChatPacer, TelegramDelivery, enqueue_notice, recipient_for
from bot.telegram.keyboards import ButtonSigner
from storage import Database, pending_count

SLOW, QUICK = 501, 502


@dataclass
class Sent:
    message_id: int


class SlowForOneChat:
    """A bot whose sends to one chat hang until released; every other chat is answered at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, reply_markup: Any = None) -> Sent:
        if chat_id == SLOW:
            await self.release.wait()
        self.sent.append((chat_id, text))
        return Sent(len(self.sent))


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
