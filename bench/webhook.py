"""The bot end to end over its webhook, as a separate process, against a bare python-telegram-bot echo bot.

One update's latency runs from the start of its HTTP POST to the webhook (with the secret header)
to the moment the fake Bot API (tests/telegram/fake_api.py, real HTTP on 127.0.0.1) has recorded
the sendMessage that answers it. In between, for Pendamping: the webhook server queues the update,
the router looks up the member and the open case, `CaseService.act` commits the step and its
outbox row (claimed for the delivery in the same transaction), the delivery sends it, and a later
transaction records it as sent.

Every update is the same typed answer, "maybe", to the yes/no question a new case waits at: the
step is committed (its event and the reply are stored) and the reply, a polite rejection with the
question again, is one message. The echo bot (bench/echo_bot.py) gets the same updates and
answers each with its text.

Loads: closed loops (each chat sends an update, waits for its reply, sends the next) over 1, 10
and 100 chats; and open loops, updates to 100 chats in turn on a fixed schedule whatever the
replies do, where a latency is counted from the scheduled time so that a late load generator does
not hide queueing. The load generator speaks HTTP/1.1 on asyncio streams, a keep-alive connection
per chat: httpx cost it as much CPU per update as the echo bot spends, on the same two CPUs.

Targets:
* `pendamping`: bench/webhook_runner.py, the bot with Telegram's limits lifted (global rate and
  per-chat pacer); what the code costs.
* `threaded`: the same, with its steps in worker threads of the bot process instead of its step
  process (`--thread-steps`): run at one chat and in the first open loop only, to show what the
  step process buys.
* `echo`: bench/echo_bot.py with the same lifted global rate.
* `shipped`: `python -m bot run --webhook` as deployed: 30 messages/s over all chats, and at most
  3 at once then 1 a second per chat. Its runs are capped in time: the limits, not the code, set
  its numbers.

Each process gets a fresh SQLite database in a temporary directory, and is stopped (SIGTERM,
then SIGKILL) whatever happens. All traffic stays on 127.0.0.1. The load generator, the fake Bot
API and the bot share the machine's CPUs, so the numbers include their contention.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from time import perf_counter
from typing import Any

from bench.timing import Summary, summarise
from tests.telegram.fake_api import FakeBotApi, FakeBotApiServer, JsonDict
from tests.telegram.processes import SECRET, free_port, webhook_env

__all__ = [
    "ECHO",
    "OURS",
    "SHIPPED",
    "THREADED",
    "SHIPPED_GLOBAL_RATE",
    "LoadRun",
    "WebhookPlan",
    "WebhookResult",
    "measure_webhook",
]

ROOT = Path(__file__).resolve().parent.parent
FIRST_CHAT = 5_000_001  # private chats: chat id = user id
ANSWER = "maybe"  # not yes or no: rejected, question repeated, one message; a committed step all the same
LIFTED_RATE = 10_000.0
SHIPPED_GLOBAL_RATE = 30.0  # bot.telegram.app.build_application's default
OURS, ECHO, SHIPPED, THREADED = "pendamping", "echo", "shipped", "threaded"
START_SECONDS = 60.0  # for a process to set its webhook and listen
REPLY_SECONDS = 30.0  # for any one reply
STOP_SECONDS = 15.0  # between SIGTERM and SIGKILL
REFILL_SECONDS = 3.5  # for the shipped bot's buckets to fill again: 3 per chat at 1 a second, 30 at 30 a second


class BenchError(RuntimeError):
    """The benchmark could not measure (a process died, a reply never came)."""


@dataclass(frozen=True)
class WebhookPlan:
    closed: tuple[tuple[int, int], ...]  # (chats, updates) of each closed-loop run
    open_chats: int
    open_rates: tuple[float, ...]  # updates per second offered over all chats, one open-loop run each
    open_seconds: float
    warmup_rounds: int  # typed answers per chat after /new, before measuring
    shipped_seconds: float  # cap of each closed-loop run of the shipped bot
    shipped_open_seconds: float


@dataclass(frozen=True)
class LoadRun:
    target: str
    chats: int
    offered: float | None  # updates/s of an open loop; None for a closed loop
    seconds: float  # from the first POST (or its scheduled time) to the last reply
    latency: Summary
    cpu_seconds: float  # CPU time of the bot process (all threads) during the run
    lag_ms: float  # open loop: how far the load generator fell behind its schedule at worst

    @property
    def updates(self) -> int:
        return self.latency.count

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_update(self) -> float:
        return 1000 * self.cpu_seconds / self.updates if self.updates else 0.0

    @property
    def load(self) -> str:
        chats = f"{self.chats} chat{'s' if self.chats != 1 else ''}"
        if self.offered is None:
            return f"closed loop, {chats}"
        return f"open loop, {chats}, {self.offered:.0f}/s offered"


@dataclass(frozen=True)
class WebhookResult:
    runs: tuple[LoadRun, ...]
    lifted_rate: float
    shipped_rate: float
    outbox_rows: int | None  # in the lifted bot's outbox after its last run: every reply adds one
    library: str  # python-telegram-bot and its version

    def find(self, target: str, chats: int, offered: float | None = None) -> LoadRun | None:
        """The run of `target` over `chats`: the closed loop, or the open loop offered `offered` a second."""
        for run in self.runs:
            if run.target == target and run.chats == chats and run.offered == offered:
                return run
        return None

    def pairs(self) -> list[tuple[LoadRun, LoadRun]]:
        """(ours, echo) for every load both ran; a load run more than once pairs its runs in order."""
        found = []
        taken: set[int] = set()
        for run in self.runs:
            if run.target != OURS:
                continue
            echo = next(
                (index for index, other in enumerate(self.runs)
                 if index not in taken and other.target == ECHO and (other.chats, other.offered) == (run.chats, run.offered)),
                None,
            )
            if echo is not None:
                taken.add(echo)
                found.append((run, self.runs[echo]))
        return found


# ---- the fake Bot API, with the time of every reply --------------------------------------------


class ReplyClock(FakeBotApi):
    """A FakeBotApi that tells a listener (chat id, perf_counter()) as soon as it has recorded a
    sendMessage. The listener runs on the HTTP server's thread and must only hand the news on."""

    def __init__(self) -> None:
        super().__init__(loopback_webhooks=True)
        self.listener: Callable[[int, float], None] | None = None

    def handle(self, method: str, params: Mapping[str, Any] | None = None) -> tuple[int, JsonDict]:
        status, body = super().handle(method, params)
        if status == 200 and method.lower() == "sendmessage":
            now = perf_counter()
            listener = self.listener
            if listener is not None:
                listener(int(body["result"]["chat"]["id"]), now)
        return status, body





# ---- processes ---------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    api: ReplyClock
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    database: Path | None

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def outbox_rows(self) -> int | None:
        """Rows in the bot's outbox table (sent ones are kept), read without writing."""
        if self.database is None:
            return None
        with closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5)) as connection:
            return int(connection.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def cpu_seconds(self) -> float:
        """user + system CPU time so far of the process and of its live child processes (the bot's
        step process), from /proc, all threads."""
        return _cpu_of(self.process.pid) + sum(_cpu_of(child) for child in _children(self.process.pid))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _cpu_of(pid: int) -> float:
    fields = _stat_fields(pid)
    if fields is None:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """Live processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and fields[1] == str(pid):
                found.append(int(entry.name))
    return found


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _add_volunteers(database_url: str, chats: Sequence[int]) -> None:
    """What `python -m bot members add --role volunteer` does for each chat, in one transaction (a
    process per member would take over a second each)."""
    from bot.cases import utcnow
    from storage import Database, add_member

    database = Database(database_url)
    try:
        with database.transaction() as session:
            for chat in chats:
                add_member(session, telegram_user_id=chat, role="volunteer", display_name=f"Relawan {chat}", now=utcnow())
    finally:
        database.dispose()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
            return
        except subprocess.TimeoutExpired:
            process.kill()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pass


@contextmanager
def running(name: str, argv: Sequence[str], chats: Sequence[int], *, database: bool) -> Iterator[Target]:
    """A bot process in webhook mode against its own fake Bot API, with a fresh SQLite database
    (migrated, the chats registered as volunteers) in a temporary directory; always stopped."""
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"pendamping-bench-{name}-")))
        api = ReplyClock()
        server = FakeBotApiServer(api)
        base_url = server.start()
        stack.callback(server.stop)
        port = free_port()
        env = webhook_env(directory / "bot.db", base_url, port)
        if database:
            subprocess.run(
                [sys.executable, "-m", "bot", "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=120
            )
            _add_volunteers(env["DATABASE_URL"], chats)
        log = directory / "bot.log"
        with open(log, "wb") as output:
            process = subprocess.Popen([sys.executable, *argv], env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        stack.callback(_stop, process)
        target = Target(name, api, f"http://127.0.0.1:{port}/telegram", process, log, directory / "bot.db" if database else None)
        deadline = time.monotonic() + START_SECONDS
        while not (api.webhook is not None and _listening(port)):
            target.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"{name} did not start within {START_SECONDS:.0f} s:\n{target.tail()}")
            api.wait_until(lambda: api.webhook is not None, timeout=0.1)
        yield target


# ---- load ---------------------------------------------------------------------------------------


class WebhookClient:
    """HTTP/1.1 POSTs to the webhook over keep-alive connections, one per chat (a chat's updates
    go in order), on asyncio streams: a fraction of httpx's CPU per request."""

    def __init__(self, url: str) -> None:
        split = urllib.parse.urlsplit(url)
        if split.hostname != "127.0.0.1" or split.port is None:
            raise BenchError(f"the load goes to 127.0.0.1 only, not {url}")
        self.port = split.port
        self.head = (
            f"POST {split.path} HTTP/1.1\r\nHost: 127.0.0.1:{split.port}\r\nContent-Type: application/json\r\n"
            f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nContent-Length: "
        ).encode("ascii")
        self.connections: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        self.locks: dict[int, asyncio.Lock] = {}

    async def post(self, chat: int, body: bytes) -> int:
        """The HTTP status of one POST."""
        async with self.locks.setdefault(chat, asyncio.Lock()):
            connection = self.connections.pop(chat, None)
            if connection is None:
                connection = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), REPLY_SECONDS)
            reader, writer = connection
            writer.write(self.head + str(len(body)).encode("ascii") + b"\r\n\r\n" + body)
            await asyncio.wait_for(writer.drain(), REPLY_SECONDS)
            status, keep = await asyncio.wait_for(self._response(reader), REPLY_SECONDS)
            if keep:
                self.connections[chat] = connection
            else:
                writer.close()
            return status

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bool]:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {name.strip().lower(): value.strip().lower() for name, _, value in (line.partition(":") for line in head[1:] if line)}
        if "chunked" in headers.get("transfer-encoding", ""):
            raise BenchError("the webhook answered with a chunked body")
        length = int(headers.get("content-length", "0"))
        if length:
            await reader.readexactly(length)
        return status, headers.get("connection") != "close"

    async def close(self) -> None:
        for _, writer in self.connections.values():
            writer.close()
        self.connections.clear()


@dataclass
class _Measuring:
    started: float
    cpu: float
    latencies: list[int] = field(default_factory=list)
    last_reply: float = 0.0
    lag: float = 0.0


class Generator:
    """Posts updates to one target and matches each reply to the oldest unanswered update of its chat."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.client = WebhookClient(target.url)
        self.loop = asyncio.get_running_loop()
        self.pending: dict[int, deque[float]] = {}
        self.waiters: dict[int, asyncio.Future[None]] = {}
        self.outstanding = 0
        self.idle = asyncio.Event()
        self.stray = 0
        self.measuring: _Measuring | None = None
        target.api.listener = self._heard

    async def close(self) -> None:
        self.target.api.listener = None
        await self.client.close()

    def _heard(self, chat: int, at: float) -> None:  # on the fake's HTTP thread
        self.loop.call_soon_threadsafe(self._reply, chat, at)

    def _reply(self, chat: int, at: float) -> None:
        starts = self.pending.get(chat)
        if not starts:
            self.stray += 1
            return
        start = starts.popleft()
        if self.measuring is not None:
            self.measuring.latencies.append(round((at - start) * 1e9))
            self.measuring.last_reply = max(self.measuring.last_reply, at)
        self.outstanding -= 1
        if self.outstanding == 0:
            self.idle.set()
        waiter = self.waiters.pop(chat, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def check_stray(self) -> None:
        if self.stray:
            raise BenchError(f"{self.target.name}: {self.stray} messages answered no update")

    def _body(self, chat: int, text: str) -> bytes:
        return json.dumps(self.target.api.message_update(chat, text)).encode()

    async def _post(self, chat: int, body: bytes, start: float) -> None:
        self.pending.setdefault(chat, deque()).append(start)
        self.outstanding += 1
        self.idle.clear()
        status = await self.client.post(chat, body)
        if status != 200:
            raise BenchError(f"{self.target.name} answered the webhook POST with {status}")

    async def _wait_reply(self, waiter: asyncio.Future[None]) -> None:
        try:
            await asyncio.wait_for(waiter, REPLY_SECONDS)
        except asyncio.TimeoutError:
            self.target.check_alive()
            raise BenchError(f"{self.target.name}: no reply within {REPLY_SECONDS:.0f} s:\n{self.target.tail()}") from None

    def _begin(self) -> _Measuring:
        if self.outstanding:
            raise BenchError(f"{self.target.name}: {self.outstanding} updates still unanswered")
        # This process runs the load generator and the fake Bot API that times every reply. A full
        # collection of its heap (every call the fakes recorded) stopped both for about 50 ms in
        # the middle of a run, which read as a stall of the bot under test. Collected here, and not
        # during the run: `_end` (or `_abandon`, if the run fails) lets the collector run again.
        gc.collect()
        gc.disable()
        self.measuring = _Measuring(perf_counter(), self.target.cpu_seconds())
        return self.measuring

    def _abandon(self) -> None:
        self.measuring = None
        gc.enable()

    def _end(self, measuring: _Measuring, chats: int, offered: float | None) -> LoadRun:
        self._abandon()
        cpu = self.target.cpu_seconds() - measuring.cpu
        if not measuring.latencies:
            raise BenchError(f"{self.target.name}: no update was answered")
        seconds = measuring.last_reply - measuring.started
        return LoadRun(self.target.name, chats, offered, seconds, summarise(measuring.latencies), cpu, measuring.lag * 1000)

    async def closed(self, chats: Sequence[int], updates: int, text: str = ANSWER, cap_seconds: float = 600.0) -> LoadRun:
        """Each chat: POST, wait for the reply, POST the next; `updates` over all chats, or fewer
        if `cap_seconds` runs out first (no chat starts an update after it)."""
        measuring = self._begin()
        deadline = measuring.started + cap_seconds

        async def chat_loop(chat: int, count: int) -> None:
            for _ in range(count):
                if perf_counter() >= deadline:
                    return
                body = self._body(chat, text)
                waiter: asyncio.Future[None] = self.loop.create_future()
                self.waiters[chat] = waiter
                await self._post(chat, body, perf_counter())
                await self._wait_reply(waiter)

        share, extra = divmod(updates, len(chats))
        try:
            async with asyncio.TaskGroup() as group:
                for index, chat in enumerate(chats):
                    group.create_task(chat_loop(chat, share + (1 if index < extra else 0)))
        except BaseException:
            self._abandon()
            raise
        return self._end(measuring, len(chats), None)

    async def open(self, chats: Sequence[int], rate: float, seconds: float, text: str = ANSWER) -> LoadRun:
        """`rate` updates a second for `seconds`, chat after chat in turn, whatever the replies do;
        then wait for every reply."""
        total = max(1, round(rate * seconds))
        bodies = [self._body(chats[index % len(chats)], text) for index in range(total)]
        measuring = self._begin()
        try:
            begin = measuring.started + 0.01
            measuring.started = begin
            async with asyncio.TaskGroup() as group:
                for index, body in enumerate(bodies):
                    due = begin + index / rate
                    delay = due - perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    else:
                        measuring.lag = max(measuring.lag, -delay)
                    group.create_task(self._post(chats[index % len(chats)], body, due))
            drain = max(REPLY_SECONDS, 3 * total / SHIPPED_GLOBAL_RATE)
            try:
                await asyncio.wait_for(self.idle.wait(), drain)
            except asyncio.TimeoutError:
                self.target.check_alive()
                raise BenchError(f"{self.target.name}: {self.outstanding} of {total} updates unanswered after {drain:.0f} s") from None
        except BaseException:
            self._abandon()
            raise
        return self._end(measuring, len(chats), rate)


def _chats(count: int) -> list[int]:
    return [FIRST_CHAT + index for index in range(count)]


WARMUP_UPDATES = 100


async def _warm_up(generator: Generator, chats: Sequence[int], rounds: int) -> None:
    """A case for every chat (the echo bot just echoes /new), then typed answers: `rounds` per chat,
    and at least WARMUP_UPDATES in all, so caches (SQLAlchemy's compiled statements, imports made
    on first use) are warm before the first measured update even when a load uses one chat."""
    if not chats:
        return
    await generator.closed(chats, len(chats), text="/new")
    if rounds:
        await generator.closed(chats, max(rounds * len(chats), WARMUP_UPDATES))


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _compare(plan: WebhookPlan, ours: Target, echo: Target, threaded: Target, chats: list[int]) -> list[LoadRun]:
    """Ours and the echo bot, run after run in turn so drift on the host hits both alike; ours with
    its steps in threads only at one chat and in the first open loop (what the step process buys)."""
    runs: list[LoadRun] = []
    generators = [Generator(ours), Generator(echo), Generator(threaded)]
    warmed = 0
    try:
        for count, updates in plan.closed:
            running_now = generators if count == 1 else generators[:2]
            # Only the chats a load uses are warmed before it: a bot's HTTP pool grown by a hundred
            # chats at once would otherwise still be walked during the one-chat loop.
            for generator in running_now:
                await _warm_up(generator, chats[warmed:count], plan.warmup_rounds)
            warmed = max(warmed, count)
            for generator in running_now:
                _say(f"webhook: {generator.target.name}, closed loop, {count} chats, {updates} updates")
                runs.append(await generator.closed(chats[:count], updates))
        await _warm_up(generators[2], chats[1 : plan.open_chats], plan.warmup_rounds)
        for generator in generators[:2]:
            await _warm_up(generator, chats[warmed : plan.open_chats], plan.warmup_rounds)
        for index, rate in enumerate(plan.open_rates):
            for generator in generators if index == 0 else generators[:2]:
                _say(f"webhook: {generator.target.name}, open loop, {rate:.0f}/s for {plan.open_seconds:g} s")
                runs.append(await generator.open(chats[: plan.open_chats], rate, plan.open_seconds))
        for generator in generators:
            generator.check_stray()
    finally:
        for generator in generators:
            await generator.close()
    return runs


async def _shipped(plan: WebhookPlan, shipped: Target, chats: list[int]) -> list[LoadRun]:
    runs: list[LoadRun] = []
    generator = Generator(shipped)
    try:
        await _warm_up(generator, chats, 0)
        await asyncio.sleep(REFILL_SECONDS)
        for count, updates in plan.closed:
            _say(f"webhook: {shipped.name}, closed loop, {count} chats, at most {plan.shipped_seconds:g} s")
            runs.append(await generator.closed(chats[:count], updates, cap_seconds=plan.shipped_seconds))
            await asyncio.sleep(REFILL_SECONDS)
        rate = max(plan.open_rates)
        _say(f"webhook: {shipped.name}, open loop, {rate:.0f}/s for {plan.shipped_open_seconds:g} s")
        runs.append(await generator.open(chats[: plan.open_chats], rate, plan.shipped_open_seconds))
        generator.check_stray()
    finally:
        await generator.close()
    return runs


def measure_webhook(plan: WebhookPlan) -> WebhookResult:
    chats = _chats(max(max(count for count, _ in plan.closed), plan.open_chats))
    lifted = ["--global-rate", f"{LIFTED_RATE:g}"]
    with ExitStack() as stack:
        _say("webhook: starting the bot (limits lifted) and the echo bot")
        ours = stack.enter_context(running(OURS, ["-m", "bench.webhook_runner", *lifted, "--no-chat-pacer"], chats, database=True))
        echo = stack.enter_context(running(ECHO, ["-m", "bench.echo_bot", *lifted], chats, database=False))
        threaded = stack.enter_context(
            running(THREADED, ["-m", "bench.webhook_runner", *lifted, "--no-chat-pacer", "--thread-steps"], chats, database=True)
        )
        runs = asyncio.run(_compare(plan, ours, echo, threaded, chats))
        outbox = ours.outbox_rows()
    _say("webhook: starting the bot as shipped (python -m bot run --webhook)")
    with running(SHIPPED, ["-m", "bot", "run", "--webhook"], chats, database=True) as shipped:
        runs += asyncio.run(_shipped(plan, shipped, chats))
    library = f"python-telegram-bot {version('python-telegram-bot')}"
    return WebhookResult(tuple(runs), LIFTED_RATE, SHIPPED_GLOBAL_RATE, outbox, library)
