"""Where the Telegram router's steps run: worker threads of the bot process, or a process of their own.

A step (find the case, run the engine, store state, events and outbox rows) is plain Python under
SQLAlchemy, and in a worker thread it shares the bot process's one interpreter lock with the event
loop that parses updates and sends replies. Under load the two halves then take turns on one CPU
while the second CPU idles, and updates queue. `ProcessSteps` runs the steps in a child process
(`bot.telegram.step_worker`) instead, so a step and the loop's work overlap; `pendamping run` uses
it, and still runs a step in a thread while steps come one at a time (see ProcessSteps).
`ThreadSteps` keeps everything in one process, for the in-process tests and tools.

Both keep the same promises: a call returns once its transaction has committed (or raises, having
stored nothing), and what a step queued is handed to the delivery the moment it has committed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import pickle
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from bot.cases import CaseService, StepOutcome
from bot.engine import Input
from bot.reloading import ReloadOutcome, ReloadStatus
from bot.settings import Settings, TelegramSettings
from bot.telegram.delivery import ChatResult
from bot.telegram.step_worker import HEADER, Answer, Call, StepWorkerError, encode_frame
from storage import Delivery

__all__ = ["OVERLAP_QUIET_SECONDS", "OVERLAP_SHARE", "OVERLAP_WINDOW", "HandOver", "ProcessSteps", "StepWorkerError", "Steps", "ThreadSteps"]

LOGGER = logging.getLogger(__name__)

# For the step process to import, load the flows and answer; a cold start of the interpreter with
# every module takes about a second.
START_SECONDS = 60.0
# After the socket is half-closed, for the step process to answer the calls it has and exit.
STOP_SECONDS = 10.0
# Steps go to the child once more than this share of the last OVERLAP_WINDOW steps found another
# step under way, and come back once none of them did: a lone step is cheaper here, steps that
# overlap are cheaper in the child.
OVERLAP_WINDOW = 50
OVERLAP_SHARE = 0.1
# ... and only once no step has found another under way for this long. Under a steady load (300
# updates/s, evenly spaced) a window of lone steps came every second or so; each time, the steps
# came back here, the bot process carried them beside its own work until they overlapped again,
# and its queue grew meanwhile (17 switches each way in 20 s).
OVERLAP_QUIET_SECONDS = 10.0


class HandOver(Protocol):
    """What `ProcessSteps` needs of the delivery (`TelegramDelivery` is one)."""

    @property
    def lease(self) -> timedelta: ...

    def hand_over(self) -> list[ChatResult]: ...

    def handed_back(self, results: list[ChatResult], recorded: bool, claimed: list[Delivery], waiting: list[str]) -> None: ...


class Steps(Protocol):
    """The steps the router runs; each returns once stored, as `CaseService`'s methods do."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def open_case(self, volunteer: str, language: str, volunteer_name: str | None, *, update_id: int | None) -> StepOutcome: ...

    async def act(
        self, case_id: str, action: Input, volunteer_name: str | None, *, update_id: int | None, expected_step: int | None, typed: bool
    ) -> StepOutcome: ...

    async def act_open(self, volunteer: str, action: Input, volunteer_name: str | None, *, update_id: int | None, typed: bool) -> StepOutcome | None: ...

    async def reload(self) -> ReloadOutcome: ...


class ThreadSteps:
    """Steps in worker threads of this process: its database's outbox hook hands their rows over."""

    def __init__(self, service: CaseService) -> None:
        self.service = service

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def open_case(self, volunteer: str, language: str, volunteer_name: str | None, *, update_id: int | None) -> StepOutcome:
        return await asyncio.to_thread(self.service.open_case, volunteer, language, volunteer_name, update_id=update_id)

    async def act(
        self, case_id: str, action: Input, volunteer_name: str | None, *, update_id: int | None, expected_step: int | None, typed: bool
    ) -> StepOutcome:
        return await asyncio.to_thread(
            self.service.act, case_id, action, volunteer_name, update_id=update_id, expected_step=expected_step, typed=typed
        )

    async def act_open(self, volunteer: str, action: Input, volunteer_name: str | None, *, update_id: int | None, typed: bool) -> StepOutcome | None:
        return await asyncio.to_thread(self.service.act_open, volunteer, action, volunteer_name, update_id=update_id, typed=typed)

    async def reload(self) -> ReloadOutcome:
        service = self.service
        return await asyncio.to_thread(service.library.reload, service.database, service.clock())


class ProcessSteps:
    """Steps in a child process, over a socket pair; the child is started again if it dies.

    Calls are answered in the order they were made, one at a time: SQLite takes one writer at a
    time anyway, and a chat's calls never overlap (the router holds the chat's lock). If the child
    dies, the calls waiting on it fail with StepWorkerError (the webhook answers 500 and Telegram
    sends those updates again) and the next call starts a new child.

    While steps come one at a time (`alone_here`), a step runs in a worker thread of this process
    instead: the child, idle between steps, took about twice a warm step's CPU to run one, and a
    lone step gained nothing from it (one chat: 6.4 ms median against 3.3 ms in threads, same run).
    Once more than OVERLAP_SHARE of the recent steps found another under way, steps go to the
    child, until a whole window of steps has come alone again and none has overlapped for
    OVERLAP_QUIET_SECONDS (`clock` tells the time). A step here and the child never write at once:
    the child's calls wait for it."""

    def __init__(
        self,
        service: CaseService,
        settings: Settings,
        telegram: TelegramSettings,
        delivery: HandOver,
        *,
        alone_here: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service  # this process's: a reload also refreshes its flows and catalogs
        self.settings = settings
        self.telegram = telegram
        self.delivery = delivery
        self.alone_here = alone_here
        self._here = ThreadSteps(service)
        self._running_here = 0
        self._none_here = asyncio.Event()
        self._none_here.set()
        self._recent: deque[bool] = deque(maxlen=OVERLAP_WINDOW)  # did each recent step find another under way?
        self.overlapping = False  # steps have been overlapping: every step goes to the child
        self._clock = clock
        self._last_overlap = -float("inf")  # when a step last found another under way
        self.stepped_here = 0  # how many steps ran in this process
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[asyncio.Future[Any], list[ChatResult]]] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    async def start(self) -> None:
        async with self._starting:
            if self._writer is None:
                await self._spawn()

    async def _spawn(self) -> None:
        parent, child = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "bot.telegram.step_worker", str(child.fileno())], pass_fds=(child.fileno(),)
            )
        finally:
            child.close()
        reader, writer = await asyncio.open_unix_connection(sock=parent)
        writer.write(encode_frame((self.settings, self.telegram, self.delivery.lease)))
        try:
            pid = await asyncio.wait_for(_read_frame(reader), START_SECONDS)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError) as error:
            writer.close()
            code = self._process.poll()
            if code is None:  # hung while starting: it must not linger beside the next one
                self._process.kill()
            raise StepWorkerError(f"the step process did not start (exit code {code}): {type(error).__name__}") from None
        LOGGER.info("step process %s is running", pid)
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read_answers(reader, writer))

    async def stop(self) -> None:
        """Half-close the socket: the child answers the calls it has, then exits."""
        self._stopping = True
        writer, process, reader = self._writer, self._process, self._reader_task
        if writer is not None and reader is not None:
            writer.write_eof()
            await asyncio.wait({reader}, timeout=STOP_SECONDS)
            writer.close()
        if process is not None:
            try:
                await asyncio.to_thread(process.wait, STOP_SECONDS)
            except subprocess.TimeoutExpired:
                LOGGER.error("step process %s did not stop; killing it", process.pid)
                process.kill()
                await asyncio.to_thread(process.wait)

    async def _read_answers(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                answer: Answer = await _read_frame(reader)
                future, carried = self._pending.pop(answer.call_id)
                self.delivery.handed_back(carried, answer.recorded, answer.claimed, answer.waiting)
                if future.done():
                    continue
                if answer.ok:
                    future.set_result(answer.value)
                else:
                    future.set_exception(answer.value)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the child closed its end: it exited, or was killed
        except Exception:  # noqa: BLE001 - an answer that cannot be read: this child is no use any more
            LOGGER.exception("an answer of the step process could not be read; stopping it")
            if self._process is not None:
                self._process.kill()
        finally:
            self._gone(writer)

    def _gone(self, writer: asyncio.StreamWriter) -> None:
        """The child closed its end: fail what waited on it, and let the next call start another."""
        if self._writer is writer:
            self._writer = None
        writer.close()
        pending, self._pending = self._pending, {}
        code = self._process.poll() if self._process is not None else None
        if pending or not self._stopping:
            LOGGER.error("the step process stopped (exit code %s); %d calls failed, the next call starts it again", code, len(pending))
        for future, carried in pending.values():
            self.delivery.handed_back(carried, False, [], [])
            if not future.done():
                future.set_exception(StepWorkerError("the step process stopped during the call; nothing of it is known to be stored"))

    async def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        if self._stopping:
            raise StepWorkerError("the bot is stopping; nothing was stored")
        if self._writer is None:
            await self.start()
        writer = self._writer
        assert writer is not None
        call_id = next(self._ids)
        carried = self.delivery.hand_over()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = (future, carried)
        writer.write(encode_frame(Call(call_id, operation, args, kwargs, carried)))
        return await future

    async def _step(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Here if the step comes alone and steps have been coming alone; in the child otherwise."""
        busy = bool(self._pending) or self._running_here > 0
        self._recent.append(busy)
        overlaps = sum(self._recent)
        now = self._clock()
        if busy:
            self._last_overlap = now
        # Into overlapping mode past OVERLAP_SHARE, out of it only after a whole window of lone steps
        # and a quiet spell: a load near the line does not flip the mode back and forth.
        if not self.overlapping and overlaps > OVERLAP_SHARE * len(self._recent):
            self.overlapping = True
            LOGGER.info("steps overlap: they run in the step process")
        elif self.overlapping and not overlaps and now - self._last_overlap >= OVERLAP_QUIET_SECONDS:
            self.overlapping = False
            LOGGER.info("steps come one at a time again: a lone step runs in the bot process")
        if self.alone_here and not busy and not self._stopping and not self.overlapping:
            self._running_here += 1
            self._none_here.clear()
            self.stepped_here += 1
            try:
                return await getattr(self._here, operation)(*args, **kwargs)
            finally:
                self._running_here -= 1
                if not self._running_here:
                    self._none_here.set()
        # Two processes writing at once would make one of them sleep in steps of milliseconds
        # (SQLite's busy handler): the child's call waits for the step under way here.
        await self._none_here.wait()
        return await self._call(operation, *args, **kwargs)

    async def open_case(self, volunteer: str, language: str, volunteer_name: str | None, *, update_id: int | None) -> StepOutcome:
        outcome: StepOutcome = await self._step("open_case", volunteer, language, volunteer_name, update_id=update_id)
        return outcome

    async def act(
        self, case_id: str, action: Input, volunteer_name: str | None, *, update_id: int | None, expected_step: int | None, typed: bool
    ) -> StepOutcome:
        outcome: StepOutcome = await self._step(
            "act", case_id, action, volunteer_name, update_id=update_id, expected_step=expected_step, typed=typed
        )
        return outcome

    async def act_open(self, volunteer: str, action: Input, volunteer_name: str | None, *, update_id: int | None, typed: bool) -> StepOutcome | None:
        outcome: StepOutcome | None = await self._step("act_open", volunteer, action, volunteer_name, update_id=update_id, typed=typed)
        return outcome

    async def reload(self) -> ReloadOutcome:
        """The step process reloads (it starts the cases, and stores new revisions); then this
        process, so its own readers (keyboards, /flag) know the new revisions and translations."""
        outcome: ReloadOutcome = await self._call("reload")
        if outcome.status is not ReloadStatus.REFUSED:
            service = self.service
            mine = await asyncio.to_thread(service.library.reload, service.database, service.clock())
            if mine.status is ReloadStatus.REFUSED:
                LOGGER.warning("the step process reloaded the flows but the bot process refused them: %s", mine.summary)
        return outcome


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    (length,) = HEADER.unpack(await reader.readexactly(HEADER.size))
    return pickle.loads(await reader.readexactly(length))

