"""The step process: runs the case service's steps for the Telegram bot, in the order they come.

`python -m bot.telegram.step_worker FD` is started by `bot.telegram.steps.ProcessSteps` with one
end of a socket pair as FD, and is not meant to be started by hand. The first frame it reads holds
the settings; it answers with one frame once its case service is built, then serves calls until
the socket closes (the bot stopped or died), finishing the calls it has read. Steps that are
already waiting when one is read are stored together (`Database.batch()`).

Every frame is a 4-byte big-endian length and a pickle. Both ends are this program, from the same
installation, so pickle carries the engine's inputs, outcomes and exceptions as they are.

The outbox hook of this process's database stands in for the bot process's delivery: a call
carries the sends that finished since the last one, its first transaction records them, and a
transaction that queued rows claims them before it commits. The answer says what was recorded and
claimed, and the delivery in the bot process sends the claimed rows the moment it reads it.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import pickle
import select
import signal
import socket
import struct
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy.orm import Session

from bot.cases import CaseService, utcnow
from bot.settings import Settings, TelegramSettings
from bot.telegram.delivery import ChatResult, record_results
from storage import BatchUndone, Delivery, claim_queued, queued_recipients

__all__ = ["HEADER", "Answer", "Call", "CarriedRide", "StepWorkerError", "encode_frame", "read_frame", "serve", "write_frame"]

LOGGER = logging.getLogger(__name__)
HEADER = struct.Struct("!I")
# Calls already waiting when one is read run with it in one transaction, this many at most: more
# would make the first of them wait long for the last.
MAX_BATCH = 16
BATCHED = frozenset({"open_case", "act", "act_open"})


class StepWorkerError(RuntimeError):
    """The step process failed in a way that cannot be sent back as it is."""


@dataclass(frozen=True)
class Call:
    call_id: int
    operation: str  # a key of OPERATIONS
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    carried: list[ChatResult]  # finished sends for the call's first transaction to record


@dataclass(frozen=True)
class Answer:
    call_id: int
    ok: bool
    value: Any  # the result, or the exception raised
    recorded: bool  # `carried` is stored; if False the bot process keeps it for a later transaction
    claimed: list[Delivery]
    waiting: list[str]  # recipients with a queued row left behind an earlier one of theirs


@dataclass
class CarriedRide:
    """The outbox hook of the step process's database, for the call being served."""

    lease: timedelta
    carried: list[ChatResult] = field(default_factory=list)
    recorded: bool = False
    claimed: list[Delivery] = field(default_factory=list)
    waiting: set[str] = field(default_factory=set)

    def reset(self, carried: list[ChatResult]) -> None:
        self.carried, self.recorded, self.claimed, self.waiting = carried, False, [], set()

    def begin(self, session: Session) -> bool | None:
        if self.carried and not self.recorded:
            record_results(session, self.carried, utcnow())
            return True
        return None

    def before_commit(self, session: Session, taken: bool | None) -> tuple[bool, list[Delivery], set[str]]:
        claimed = claim_queued(session, self.lease)
        return bool(taken), claimed, set(queued_recipients(session)) - {delivery.recipient for delivery in claimed}

    def after(self, taken: bool | tuple[bool, list[Delivery], set[str]], committed: bool) -> None:
        if not committed:
            return  # nothing of it was stored: `carried` waits for the call's next transaction
        if isinstance(taken, tuple):
            recorded, claimed, waiting = taken
            self.claimed += claimed
            self.waiting |= waiting
        else:
            recorded = taken
        self.recorded = self.recorded or recorded


# What a call may ask for, by name: the steps of the Telegram router, and a flow reload.
OPERATIONS: dict[str, Callable[..., Any]] = {
    "open_case": lambda service, *args, **kwargs: service.open_case(*args, **kwargs),
    "act": lambda service, *args, **kwargs: service.act(*args, **kwargs),
    "act_open": lambda service, *args, **kwargs: service.act_open(*args, **kwargs),
    "reload": lambda service: service.library.reload(service.database, service.clock()),
}


def encode_frame(value: Any) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def write_frame(sock: socket.socket, value: Any) -> None:
    sock.sendall(encode_frame(value))


def read_frame(sock: socket.socket) -> Any:
    """The next frame's value; EOFError when the other end has closed."""
    (length,) = HEADER.unpack(_read_exactly(sock, HEADER.size))
    return pickle.loads(_read_exactly(sock, length))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _run(call: Call, service: CaseService) -> tuple[bool, Any]:
    try:
        return True, OPERATIONS[call.operation](service, *call.args, **call.kwargs)
    except Exception as error:  # noqa: BLE001 - every failure goes back to the caller, who decides
        return False, error


def _serve_batch(calls: list[Call], ride: CarriedRide, service: CaseService) -> list[Answer]:
    """Run calls in one transaction of the database's `batch()`: under load the lock, the fsync and
    the outbox claim are paid once for every call waiting. Nothing is answered before the batch has
    committed; if it fails to, every call fails. A call that fails (a repeated update, a stale
    button) undoes the batch, and every call of it then runs alone, so it fails alone."""
    if len(calls) == 1:
        return [_serve_alone(calls[0], ride, service)]
    ride.reset([result for call in calls for result in call.carried])
    outcomes: list[tuple[bool, Any]] = []
    try:
        with service.database.batch():
            for call in calls:
                outcomes.append(_run(call, service))
                if not outcomes[-1][0]:
                    # Whether or not it failed inside a transaction block, it may have written
                    # something: the batch is rolled back here, and every call runs again alone.
                    raise BatchUndone(f"call {call.call_id} failed")
    except BatchUndone:
        return [_serve_alone(call, ride, service) for call in calls]
    except Exception as error:  # noqa: BLE001 - the commit failed: none of the calls is stored
        outcomes = [(False, error)] * len(calls)
    # What the batch claimed goes back once, with the first answer; `recorded` holds for all.
    return [
        Answer(call.call_id, ok, value, ride.recorded, ride.claimed if index == 0 else [], sorted(ride.waiting) if index == 0 else [])
        for index, (call, (ok, value)) in enumerate(zip(calls, outcomes))
    ]


def _serve_alone(call: Call, ride: CarriedRide, service: CaseService) -> Answer:
    ride.reset(call.carried)
    ok, value = _run(call, service)
    return Answer(call.call_id, ok, value, ride.recorded, ride.claimed, sorted(ride.waiting))


def _waiting_calls(sock: socket.socket, first: Call) -> tuple[list[Call], bool]:
    """`first` and the calls already sent after it, up to MAX_BATCH; True if the socket closed."""
    calls = [first]
    while len(calls) < MAX_BATCH and select.select([sock], [], [], 0)[0]:
        try:
            calls.append(read_frame(sock))
        except EOFError:
            return calls, True
    return calls, False


def _send_answers(sock: socket.socket, answers: list[Answer]) -> None:
    frames = []
    for answer in answers:
        try:
            frames.append(encode_frame(answer))
        except (pickle.PicklingError, TypeError, AttributeError):
            LOGGER.exception("an answer could not be sent back as it is")
            failed = StepWorkerError(f"{type(answer.value).__name__}: {answer.value}"[:500])
            frames.append(encode_frame(Answer(answer.call_id, False, failed, answer.recorded, answer.claimed, answer.waiting)))
    sock.sendall(b"".join(frames))


def serve(sock: socket.socket) -> None:
    """Build the case service from the first frame's settings, then answer calls until EOF."""
    settings, telegram, lease = read_frame(sock)
    assert isinstance(settings, Settings) and isinstance(telegram, TelegramSettings)
    from bot.telegram.app import build_service  # the heavy imports, once the settings are here

    service = build_service(settings, telegram)
    ride = CarriedRide(lease)
    service.database.attach_outbox_hook(ride)
    try:
        service.register_flows()
        # As in the bot process: what exists now lives as long as this process, and the collector
        # need not walk it on every full collection.
        gc.collect()
        gc.freeze()
        write_frame(sock, os.getpid())
        closed = False
        while not closed:
            try:
                first = read_frame(sock)
            except EOFError:
                return
            calls, closed = _waiting_calls(sock, first)
            answers: list[Answer] = []
            # In order: runs of steps go in batches; anything else (a reload) on its own.
            for batched, run in itertools.groupby(calls, key=lambda call: call.operation in BATCHED):
                group = list(run)
                answers += _serve_batch(group, ride, service) if batched else [_serve_alone(call, ride, service) for call in group]
            _send_answers(sock, answers)
    finally:
        service.database.dispose()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m bot.telegram.step_worker FD (started by the bot, not by hand)", file=sys.stderr)
        return 2
    # The bot process decides when this one ends (it closes the socket): a Ctrl-C or a SIGHUP sent
    # to the whole process group must not cut a step short. SIGTERM still ends it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[steps]: %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)
    with socket.socket(fileno=int(args[0])) as sock:
        try:
            serve(sock)
        except (EOFError, BrokenPipeError, ConnectionResetError):
            pass  # the bot process went away before or between calls
    return 0


if __name__ == "__main__":
    # Run as the module's importable name, so that what this process pickles names its classes
    # bot.telegram.step_worker.Answer and so on, which the bot process can load, not __main__.Answer.
    from bot.telegram import step_worker

    raise SystemExit(step_worker.main())
