"""Delivers the outbox to Telegram: woken by every commit, sweeping on a timer as a backstop.

Rows are claimed with a lease, sent outside any transaction, then recorded. A chat's rows go out
in order, different chats in parallel. Telegram's 429 is honoured to the second it names, other
failures back off exponentially; nothing is dropped. After a restart, unsent rows (and rows whose
lease ran out mid-send) are claimed again, so a committed message is sent at least once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy.orm import Session
from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, RetryAfter, TelegramError

from bot.dispatch import retry_delay
from bot.i18n import DEFAULT_LANGUAGE, translator
from bot.render import DONE
from bot.telegram.keyboards import ButtonSigner, alert_keyboard, keyboard_for, text_for
from storage import Database, Delivery, claim_pending, enqueue, record_failure, record_sent, release

__all__ = ["ChatPacer", "TelegramDelivery", "chat_id_of", "enqueue_notice", "recipient_for"]

LOGGER = logging.getLogger(__name__)
# One chat's outcome: rows sent, where alerts landed, the failure that stopped it, the rows held
# back (behind a failure, or waiting for the chat's pace) and when they are due again.
ChatResult = tuple[list[int], dict[int, str], list[tuple[Delivery, str, datetime]], list[int], datetime | None]


# Requests to the Bot API at once, over all chats. Enough to keep Telegram's 30 messages a second
# flowing at its round-trip times; more only grows the HTTP connection pool, which httpcore walks
# on every request.
MAX_CONCURRENT_SENDS = 16

# How soon finished sends are recorded when no commit wakes the loop first. A chat's next rows
# wait for its last ones to be recorded, so this bounds that wait; a "sent" mark is at most this
# late, which after a crash means the message is sent again.
RECORD_DELAY_SECONDS = 0.05

# How long a batch may hold up the next claim while one of its chats' sends hangs; after it, the
# hanging chat is left to finish on its own and the others go on.
HANG_GRACE_SECONDS = 0.5

# At shutdown, sends already under way get this long to finish and be recorded; one still hanging
# after it keeps its lease and is sent again by the next start.
SHUTDOWN_WAIT_SECONDS = 5.0


def _by_chat(claimed: list[Delivery]) -> list[list[Delivery]]:
    """Claimed rows grouped by recipient, each group in id order (the order they were written)."""
    chats: OrderedDict[str, list[Delivery]] = OrderedDict()
    for delivery in claimed:
        chats.setdefault(delivery.recipient, []).append(delivery)
    return list(chats.values())


def recipient_for(role: str, telegram_user_id: int) -> str:
    return f"{role}:tg:{telegram_user_id}"


def chat_id_of(recipient: str) -> int | None:
    """The Telegram chat of an outbox recipient such as volunteer:tg:123 (private chat id = user id)."""
    parts = recipient.split(":")
    if len(parts) == 3 and parts[1] == "tg" and parts[2].lstrip("-").isdigit():
        return int(parts[2])
    return None


def enqueue_notice(session: Session, recipient: str, text: str, now: datetime) -> None:
    """A message to a member that is not a case step (help, invitations): still through the outbox."""
    enqueue(session, kind="notice", recipient=recipient, payload={"text": text}, now=now)


class ChatPacer:
    """At most `burst` messages at once to one chat, then one per `interval` seconds; groups (negative
    chat ids) one per `group_interval`, under Telegram's 20 messages a minute per group."""

    def __init__(self, burst: int = 3, interval: float = 1.0, group_interval: float = 3.0) -> None:
        self.burst = burst
        self.interval = interval
        self.group_interval = group_interval
        self._tokens: dict[int, tuple[float, float]] = {}

    def reserve(self, chat_id: int) -> float:
        """Take a send slot for the chat now and return 0, or return how many seconds until one is
        free (taking nothing). Delivery reschedules a chat that must wait instead of sleeping, so a
        paced chat never holds up another chat's messages, alerts included."""
        interval = self.group_interval if chat_id < 0 else self.interval
        now = time.monotonic()
        tokens, last = self._tokens.get(chat_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) / interval)
        if tokens < 1:
            self._tokens[chat_id] = (tokens, now)
            return (1 - tokens) * interval
        self._tokens[chat_id] = (tokens - 1, now)
        if len(self._tokens) > 10_000:  # forget the oldest chats; their buckets are full again anyway
            for key in list(self._tokens)[:5_000]:
                del self._tokens[key]
        return 0.0


class TelegramDelivery:
    def __init__(
        self,
        database: Database,
        bot: Bot,
        signer: ButtonSigner,
        clock: Callable[[], datetime],
        *,
        lease: timedelta = timedelta(seconds=30),
        batch: int = 200,
        sweep_seconds: float = 1.0,
        pacer: ChatPacer | None = None,
        alert_labels: tuple[str, str] = ("Take case", "View summary"),
    ) -> None:
        self.database = database
        self.bot = bot
        self.signer = signer
        self.clock = clock
        self.lease = lease
        self.batch = batch
        self.sweep_seconds = sweep_seconds
        self.pacer = pacer or ChatPacer()
        self.alert_labels = alert_labels
        self._wake = asyncio.Event()
        self._stopped = False
        self._sends = asyncio.Semaphore(MAX_CONCURRENT_SENDS)

    def wake(self) -> None:
        """Called after a step commits, so its replies leave now rather than at the next sweep."""
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    async def run(self) -> None:
        """Claim a batch, send each chat's rows in a task of its own, and wait for the batch (at most
        HANG_GRACE_SECONDS) while new commits pile up for the next claim. Finished sends are recorded
        by that next claim's transaction, or after RECORD_DELAY_SECONDS when no commit comes first.
        A chat whose send hangs holds the others up once, for the grace at most: its rows stay
        leased, the claim's order rule keeps its later rows back, and later batches go without it."""
        sending: dict[asyncio.Task[ChatResult], int] = {}  # each chat's task, and how many rows it holds
        finished: list[ChatResult] = []
        loop = asyncio.get_running_loop()
        last_claim = finished_at = -float("inf")
        while not self._stopped:
            now = loop.time()
            due = self._wake.is_set() or now - last_claim >= self.sweep_seconds
            if due or (finished and now - finished_at >= RECORD_DELAY_SECONDS):
                batch: list[asyncio.Task[ChatResult]] = []
                try:
                    self._wake.clear()  # before the claim: a commit after it wakes the loop again
                    last_claim = now
                    claimed = await asyncio.to_thread(self._settle, finished, self.batch - sum(sending.values()))
                    finished = []
                    for rows in _by_chat(claimed):
                        batch.append(asyncio.create_task(self._send_chat(rows)))
                        sending[batch[-1]] = len(rows)
                except Exception:  # noqa: BLE001 - the loop must outlive a database hiccup
                    # What finished and was not recorded is sent again when its lease runs out.
                    LOGGER.exception("outbox delivery failed; retrying at the next sweep")
                    finished = []
                if batch:
                    await asyncio.wait(batch, timeout=HANG_GRACE_SECONDS)
            else:
                await self._wait(RECORD_DELAY_SECONDS if finished or sending else self.sweep_seconds)
            done = self._finished(sending)
            if done and not finished:
                finished_at = loop.time()
            finished += done
        if sending:
            await asyncio.wait(sending, timeout=SHUTDOWN_WAIT_SECONDS)
        finished += self._finished(sending)
        if finished:
            await asyncio.to_thread(self._settle, finished, 0)

    async def _wait(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    @staticmethod
    def _finished(sending: dict[asyncio.Task[ChatResult], int]) -> list[ChatResult]:
        """The results of the chats' tasks that are done, taken out of `sending`."""
        results = []
        for task in [task for task in sending if task.done()]:
            del sending[task]
            if task.cancelled() or task.exception() is not None:
                LOGGER.error("sending to a chat failed unexpectedly: %r", None if task.cancelled() else task.exception())
                continue  # its rows are claimed again when their lease runs out
            results.append(task.result())
        return results

    def _settle(self, results: list[ChatResult], room: int) -> list[Delivery]:
        """Record what finished, then claim up to `room` more rows, in one transaction.

        Not durable: a "sent" mark lost in a power cut means a message is sent twice, and a lost
        lease means a row is claimed again; neither loses a message."""
        with self.database.transaction(durable=False) as session:
            if results:
                self._record(session, results)
            return claim_pending(session, self.clock(), self.lease, room) if room > 0 else []

    async def _send_chat(self, rows: list[Delivery]) -> ChatResult:
        """Send one chat's rows in order; stop at the first failure and hold the rest behind it."""
        sent: list[int] = []
        refs: dict[int, str] = {}
        for position, delivery in enumerate(rows):
            chat_id = chat_id_of(delivery.recipient)
            wait = self.pacer.reserve(chat_id) if chat_id is not None else 0.0
            if wait > 0:
                # Not a failure: this chat's rows go back unsent, due when its pace allows.
                return sent, refs, [], [row.id for row in rows[position:]], self.clock() + timedelta(seconds=wait)
            try:
                async with self._sends:
                    ref = await self._send(delivery)
            except RetryAfter as error:
                wait = error.retry_after if isinstance(error.retry_after, (int, float)) else error.retry_after.total_seconds()
                retry_at = self.clock() + timedelta(seconds=float(wait))
                return sent, refs, [(delivery, f"RetryAfter: {wait}", retry_at)], [row.id for row in rows[position + 1 :]], retry_at
            except (TelegramError, OSError) as error:
                retry_at = self.clock() + retry_delay(delivery.attempts)
                LOGGER.warning("sending outbox row %s failed (%s); retrying", delivery.id, type(error).__name__)
                return sent, refs, [(delivery, f"{type(error).__name__}: {error}", retry_at)], [row.id for row in rows[position + 1 :]], retry_at
            sent.append(delivery.id)
            if ref is not None:
                refs[delivery.id] = ref
        if refs:
            # Alerts went out: their message ids are recorded now, not after RECORD_DELAY, so a
            # supervisor's Take can edit every copy however quickly it comes.
            self._wake.set()
        return sent, refs, [], [], None

    async def _send(self, delivery: Delivery) -> str | None:
        """Send one row; returns the Telegram message id of an alert, to edit its copy later."""
        chat_id = chat_id_of(delivery.recipient)
        if chat_id is None:
            raise TelegramError(f"recipient {delivery.recipient!r} is not a Telegram chat")
        payload = delivery.payload
        edit = payload.get("edit")
        if delivery.kind == "alert_taken" and isinstance(edit, dict):
            try:
                await self.bot.edit_message_text(chat_id=chat_id, message_id=int(edit["ref"]), text=str(edit["text"]), reply_markup=None)
                return None
            except BadRequest:
                pass  # the copy is gone or unchanged: say it as a new message instead
        if delivery.kind == "alert" and payload.get("alert_code"):
            markup: InlineKeyboardMarkup | None = alert_keyboard(str(payload["alert_code"]), self.signer, self.alert_labels)
        else:
            prompt = payload.get("prompt")
            markup = None
            if delivery.case_id:
                # A multi-choice prompt carries its Done label in the case's language (rows queued
                # before it did get the default language's).
                done = str((prompt or {}).get("done") or translator(DEFAULT_LANGUAGE).text(DONE))
                markup = keyboard_for(prompt, delivery.case_id, self.signer, done_label=done)
        message = await self.bot.send_message(chat_id=chat_id, text=text_for(str(payload.get("text", "")), payload.get("prompt")), reply_markup=markup)
        return str(message.message_id) if delivery.kind == "alert" else None

    def _record(self, session: Session, results: list[ChatResult]) -> None:
        now = self.clock()
        refs = {row: ref for _, chat_refs, _, _, _ in results for row, ref in chat_refs.items()}
        record_sent(session, [row for sent, _, _, _, _ in results for row in sent], now, refs)
        for _, _, failures, held, due in results:
            for delivery, error, retry_at in failures:
                record_failure(session, delivery.id, error, retry_at)
            if held and due is not None:
                release(session, held, due)
