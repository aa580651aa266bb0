"""The step process: runs the case service's steps for the Telegram bot, one after another.

`python -m bot.telegram.step_worker FD` is started by `bot.telegram.steps.ProcessSteps` with one
end of a socket pair as FD, and is not meant to be started by hand. The first frame it reads holds
the settings; it answers with one frame once its case service is built, then serves calls until
the socket closes (the bot stopped or died), finishing the call it is in.

Every frame is a 4-byte big-endian length and a pickle. Both ends are this program, from the same
installation, so pickle carries the engine's inputs, outcomes and exceptions as they are.

The outbox hook of this process's database stands in for the bot process's delivery: a call
carries the sends that finished since the last one, its first transaction records them, and a
transaction that queued rows claims them before it commits. The answer says what was recorded and
claimed, and the delivery in the bot process sends the claimed rows the moment it reads it.
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
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
from storage import Delivery, claim_queued, queued_recipients

__all__ = ["HEADER", "Answer", "Call", "CarriedRide", "StepWorkerError", "encode_frame", "read_frame", "serve", "write_frame"]

LOGGER = logging.getLogger(__name__)
HEADER = struct.Struct("!I")


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


def _reload(service: CaseService) -> Any:
    return service.library.reload(service.database, service.clock())


# What a call may ask for, by name: the steps of the Telegram router, and a flow reload.
OPERATIONS: dict[str, Callable[..., Any]] = {
    "open_case": lambda service, *args, **kwargs: service.open_case(*args, **kwargs),
    "act": lambda service, *args, **kwargs: service.act(*args, **kwargs),
    "act_open": lambda service, *args, **kwargs: service.act_open(*args, **kwargs),
    "reload": lambda service: _reload(service),
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


def _answer(call: Call, ride: CarriedRide, service: CaseService) -> Answer:
    ride.reset(call.carried)
    try:
        value, ok = OPERATIONS[call.operation](service, *call.args, **call.kwargs), True
    except Exception as error:  # noqa: BLE001 - every failure goes back to the caller, who decides
        value, ok = error, False
    return Answer(call.call_id, ok, value, ride.recorded, ride.claimed, sorted(ride.waiting))


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
        while True:
            try:
                call = read_frame(sock)
            except EOFError:
                return
            answer = _answer(call, ride, service)
            try:
                write_frame(sock, answer)
            except (pickle.PicklingError, TypeError, AttributeError):
                # Pickled before a byte is written, so the frame can be replaced whole.
                LOGGER.exception("the answer to %s could not be sent back", call.operation)
                failed = StepWorkerError(f"{call.operation}: {type(answer.value).__name__}: {answer.value}"[:500])
                write_frame(sock, Answer(call.call_id, False, failed, answer.recorded, answer.claimed, answer.waiting))
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
