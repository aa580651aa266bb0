"""Delivers the outbox to Telegram: a transaction's rows as it commits, the rest by claims.

While the delivery runs it is its database's outbox hook (`storage.OutboxHook`): every transaction
first records what has been sent since the last one, and one that queued rows claims them before
it commits and hands them over after, so a step's reply is sent with no transaction of its own.
The loop claims the rest: retries that fall due, a row that waited behind an earlier one of its
chat, rows written by another process. Rows are claimed with a lease, sent outside any
transaction, then recorded. A chat's rows go out in order, different chats in parallel. Telegram's
429 is honoured to the second it names, other failures back off exponentially; nothing is dropped.
After a restart, unsent rows (and rows whose lease ran out mid-send) are claimed again, so a
committed message is sent at least once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from sqlalchemy.orm import Session
from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.warnings import PTBUserWarning

from bot.dispatch import retry_delay
from bot.i18n import DEFAULT_LANGUAGE, translator
from bot.render import DONE
from bot.telegram.keyboards import ButtonSigner, alert_keyboard, keyboard_for, text_for
from storage import Database, Delivery, claim_pending, claim_queued, enqueue, queued_recipients, record_failure, record_sent, release

__all__ = ["ChatPacer", "ChatResult", "TelegramDelivery", "chat_id_of", "enqueue_notice", "record_results", "recipient_for"]

LOGGER = logging.getLogger(__name__)
# One chat's outcome: rows sent, where alerts landed, the failure that stopped it, the rows held
# back (behind a failure, or waiting for the chat's pace) and when they are due again.
ChatResult = tuple[list[int], dict[int, str], list[tuple[Delivery, str, datetime]], list[int], datetime | None]


# Requests to the Bot API at once, over all chats. Enough to keep Telegram's 30 messages a second
# flowing at its round-trip times; more only grows the HTTP connection pool, which httpcore walks
# on every request.
MAX_CONCURRENT_SENDS = 16

# How soon after a send finishes the loop records it and claims, when no transaction has recorded
# it first. A row queued while an earlier one of its chat was in flight waits for this claim, so it
# bounds that wait; a "sent" mark is at most this late, which after a crash means a second send.
RECORD_DELAY_SECONDS = 0.05

# How long a batch may hold up the next claim while one of its chats' sends hangs; after it, the
# hanging chat is left to finish on its own and the others go on.
HANG_GRACE_SECONDS = 0.5

# Replies go out through `Bot.do_api_request`, which hands back Telegram's answer as it came: the
# delivery needs only an alert copy's message id, and `Bot.send_message` would first build a
# Message of every reply, keyboard and all (about a tenth of the bot process's CPU per update).
# The request still passes the rate limiter and the request code of `Bot.send_message`; the
# warning that a named method exists for it is expected here, and only here.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.sendMessage'", category=PTBUserWarning)

# At shutdown, sends already under way get this long to finish and be recorded; one still hanging
# after it keeps its lease and is sent again by the next start.
SHUTDOWN_WAIT_SECONDS = 5.0


def _by_chat(claimed: list[Delivery]) -> list[list[Delivery]]:
    """Claimed rows grouped by recipient, each group in id order (the order they were written)."""
    chats: OrderedDict[str, list[Delivery]] = OrderedDict()
    for delivery in claimed:
        chats.setdefault(delivery.recipient, []).append(delivery)
    return list(chats.values())


def record_results(session: Session, results: list[ChatResult], now: datetime) -> None:
    """Store what the chats' sends came to: rows sent (with the message id of each alert copy),
    failures with their retry time, and rows held back released for when they are due."""
    refs = {row: ref for _, chat_refs, _, _, _ in results for row, ref in chat_refs.items()}
    record_sent(session, [row for sent, _, _, _, _ in results for row in sent], now, refs)
    for _, _, failures, held, due in results:
        for delivery, error, retry_at in failures:
            record_failure(session, delivery.id, error, retry_at)
        if held and due is not None:
            release(session, held, due)


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


@dataclass(frozen=True)
class _Ride:
    """What a transaction did for the delivery: results it recorded, rows it claimed."""

    recorded: list[ChatResult]
    claimed: list[Delivery]
    wake: bool = False  # a queued row waits behind one no longer in flight: claim it now


class TelegramDelivery:
    """The outbox's sender on Telegram, and the outbox hook of its database while it runs."""

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
        self._signal = asyncio.Event()  # the loop has something to look at
        self._claim_wanted = False
        self._stopped = False
        self._sends = asyncio.Semaphore(MAX_CONCURRENT_SENDS)
        self._sending: dict[asyncio.Task[None], tuple[str, int]] = {}  # each chat's task: its recipient and how many rows it holds
        self._loop: asyncio.AbstractEventLoop | None = None
        # Shared with the threads that run transactions, under `_lock`: what finished sending and
        # is not recorded yet (whichever transaction commits first records it); the chats with a
        # send in flight; and the chats with a queued row waiting for that send to finish.
        self._lock = threading.Lock()
        self._unrecorded: list[ChatResult] = []
        self._in_flight: set[str] = set()
        self._blocked: set[str] = set()
        self._finished_at: float | None = None  # loop time of the first send to finish since the last claim

    def wake(self) -> None:
        """Record and claim now rather than at the next sweep."""
        self._claim_wanted = True
        self._signal.set()

    def stop(self) -> None:
        self._stopped = True
        self._signal.set()

    async def sends_to(self, recipient: str, timeout: float) -> None:
        """Wait, `timeout` at most, for the sends to `recipient` under way now to end."""
        tasks = [task for task, (to, _) in self._sending.items() if to == recipient]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    # ---- the outbox hook: riding on the database's transactions ------------------------------

    def begin(self, session: Session) -> _Ride | None:
        """Record what finished sending, so the transaction reads it as sent (a supervisor's Take
        finds every copy of an alert to edit)."""
        recorded = self._record_finished(session)
        return _Ride(recorded, []) if recorded else None

    def before_commit(self, session: Session, taken: _Ride | None) -> _Ride:
        """Record what finished meanwhile, then claim the rows the transaction queued. A row behind
        an earlier one of its chat is left to the loop, which claims it as soon as that send has
        finished (or, behind a failed one, when its retry is due)."""
        recorded = (taken.recorded if taken is not None else []) + self._record_finished(session)
        claimed = claim_queued(session, self.lease)
        waiting = queued_recipients(session) - {delivery.recipient for delivery in claimed}
        return _Ride(recorded, claimed, self._behind(waiting))

    def _behind(self, waiting: Iterable[str]) -> bool:
        """Rows of `waiting` recipients wait behind an earlier one of theirs: a chat with a send in
        flight is woken for when it ends; True if one's send has ended already (claim at once)."""
        wake = False
        with self._lock:
            for recipient in waiting:
                if recipient in self._in_flight:
                    self._blocked.add(recipient)
                else:
                    wake = True
        return wake

    def _record_finished(self, session: Session) -> list[ChatResult]:
        results = self._take_unrecorded()
        if results:
            try:
                record_results(session, results, self.clock())
            except BaseException:
                self._give_back(results)
                raise
        return results

    def after(self, taken: _Ride, committed: bool) -> None:
        """Send what the transaction claimed; if it failed, a later transaction records its results."""
        loop = self._loop
        if not committed:
            self._give_back(taken.recorded)
        elif (taken.claimed or taken.wake) and loop is not None:
            try:
                loop.call_soon_threadsafe(self._accept, taken.claimed, taken.wake)
            except RuntimeError:
                pass  # the loop has closed: the rows keep their lease and the next start sends them

    def _accept(self, claimed: list[Delivery], wake: bool) -> None:
        for rows in _by_chat(claimed):
            self._start(rows)
        if wake:
            self.wake()

    # ---- transactions of another process (bot.telegram.steps.ProcessSteps) --------------------

    def hand_over(self) -> list[ChatResult]:
        """What finished sending and is not recorded yet, for a transaction of another process to
        record; `handed_back` says whether it did."""
        return self._take_unrecorded()

    def handed_back(self, results: list[ChatResult], recorded: bool, claimed: list[Delivery], waiting: list[str]) -> None:
        """On the loop: what a transaction of another process did for the delivery. It recorded
        `results` (or gave them back), claimed the rows it queued, and left rows of `waiting`
        recipients behind an earlier row: those follow as soon as their chat's send ends."""
        if not recorded:
            self._give_back(results)
        if self._loop is None:
            return  # not running: what was claimed keeps its lease and the next start sends it
        self._accept(claimed, self._behind(waiting))

    # ---- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Claim what no transaction handed over: due retries, rows that waited behind an earlier
        one of their chat, rows from other processes. A claim (its transaction records what
        finished) runs when woken, which the end of a send does when a row of its chat waits behind
        it; each `sweep_seconds`; and RECORD_DELAY_SECONDS after a send finished, so a "sent" mark is
        never later than that even when no step comes. After a claim the loop waits for its batch (at
        most HANG_GRACE_SECONDS): a chat whose send hangs holds the others up once, for the grace at
        most; its rows stay leased, the claim's order rule keeps its later rows back, and later
        batches go without it."""
        loop = self._loop = asyncio.get_running_loop()
        self.database.attach_outbox_hook(self)
        try:
            await self._deliver(loop)
            # Sends under way (and rows handed over meanwhile) get a last chance to finish.
            deadline = loop.time() + SHUTDOWN_WAIT_SECONDS
            while self._sending and loop.time() < deadline:
                await asyncio.wait(list(self._sending), timeout=deadline - loop.time())
                self._reap()
            self._loop = None  # what is claimed from now on keeps its lease for the next start
            await asyncio.to_thread(self._settle, 0)  # records what finished
        finally:
            self._loop = None
            self.database.attach_outbox_hook(None)

    async def _deliver(self, loop: asyncio.AbstractEventLoop) -> None:
        last_claim = -float("inf")
        while not self._stopped:
            self._reap()
            now = loop.time()
            # A send finished: its record is due even if no transaction comes to make it. Usually a
            # step's transaction has made it meanwhile, and there is nothing left to settle.
            settle_due = self._finished_at is not None and now - self._finished_at >= RECORD_DELAY_SECONDS
            if settle_due and not self._has_unrecorded():
                self._finished_at, settle_due = None, False
            if self._claim_wanted or settle_due or now - last_claim >= self.sweep_seconds:
                self._claim_wanted = False
                self._finished_at = None
                self._signal.clear()  # before the claim: what comes during it is looked at next
                last_claim = now
                batch: list[asyncio.Task[None]] = []
                try:
                    claimed = await asyncio.to_thread(self._settle, self.batch - sum(count for _, count in self._sending.values()))
                    batch = [self._start(rows) for rows in _by_chat(claimed)]
                except Exception:  # noqa: BLE001 - the loop must outlive a database hiccup
                    LOGGER.exception("outbox delivery failed; retrying at the next sweep")
                if batch:
                    await asyncio.wait(batch, timeout=HANG_GRACE_SECONDS)
            else:
                self._signal.clear()
                busy = self._finished_at is not None or self._sending
                await self._wait(RECORD_DELAY_SECONDS if busy else self.sweep_seconds - (now - last_claim))

    async def _wait(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._signal.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    def _start(self, rows: list[Delivery]) -> asyncio.Task[None]:
        with self._lock:
            self._in_flight.add(rows[0].recipient)
        task = asyncio.create_task(self._send_chat(rows))
        self._sending[task] = (rows[0].recipient, len(rows))
        return task

    def _reap(self) -> None:
        """Forget the chats' tasks that are done; their outcomes are already among the unrecorded."""
        for task in [task for task in self._sending if task.done()]:
            recipient, _ = self._sending.pop(task)
            if task.cancelled() or task.exception() is not None:
                LOGGER.error("sending to a chat failed unexpectedly: %r", None if task.cancelled() else task.exception())
                with self._lock:  # its rows are claimed again when their lease runs out
                    self._in_flight.discard(recipient)

    def _has_unrecorded(self) -> bool:
        with self._lock:
            return bool(self._unrecorded)

    def _take_unrecorded(self) -> list[ChatResult]:
        with self._lock:
            results, self._unrecorded = self._unrecorded, []
        return results

    def _give_back(self, results: list[ChatResult]) -> None:
        if results:
            with self._lock:
                self._unrecorded[:0] = results

    def _finish(self, recipient: str, result: ChatResult, *, now: bool) -> None:
        """A chat's send is over: its outcome waits to be recorded, at once if `now` or if a row of
        the chat waits behind it."""
        with self._lock:
            self._unrecorded.append(result)
            self._in_flight.discard(recipient)
            if recipient in self._blocked:
                self._blocked.discard(recipient)
                now = True
        if self._finished_at is None:
            self._finished_at = asyncio.get_running_loop().time()
        if now:
            self.wake()
        else:
            self._signal.set()  # the loop times its next claim from here

    def _settle(self, room: int) -> list[Delivery]:
        """Record what finished (the transaction's `begin` does), then claim up to `room` more rows.

        Not durable: a "sent" mark lost in a power cut means a message is sent twice, and a lost
        lease means a row is claimed again; neither loses a message."""
        with self.database.transaction(durable=False) as session:
            return claim_pending(session, self.clock(), self.lease, room) if room > 0 else []

    async def _send_chat(self, rows: list[Delivery]) -> None:
        """Send one chat's rows and hand over the outcome. When every row went and some were alerts,
        their message ids are recorded now, not after RECORD_DELAY, so a supervisor's Take can edit
        every copy however quickly it comes."""
        result = await self._send_rows(rows)
        _sent, refs, _failures, _held, due = result
        self._finish(rows[0].recipient, result, now=bool(refs) and due is None)

    async def _send_rows(self, rows: list[Delivery]) -> ChatResult:
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
        text = text_for(str(payload.get("text", "")), payload.get("prompt"))
        message = await self.bot.do_api_request("sendMessage", api_kwargs={"chat_id": chat_id, "text": text, "reply_markup": markup})
        return str(message["message_id"]) if delivery.kind == "alert" else None
