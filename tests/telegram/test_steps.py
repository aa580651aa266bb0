"""Steps in a process of their own: stored there, handed back here, and a dead child replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.cases import DuplicateUpdate, StaleStep
from bot.engine import Answer
from bot.reloading import ReloadStatus
from bot.settings import Settings, TelegramSettings
from bot.telegram import step_worker
from bot.telegram.app import build_service
from bot.telegram.delivery import ChatResult
from bot.telegram.steps import OVERLAP_QUIET_SECONDS, OVERLAP_WINDOW, ProcessSteps, StepWorkerError
from storage import Database, Delivery, upgrade
from storage.models import CaseSession, OutboxMessage
from tests.flowdir import change_the_intro, copy_flows, set_revision
from tests.telegram.fake_api import DEFAULT_TOKEN

VOLUNTEER = "tg:2002"


class HandOverLog:
    """Stands in for the delivery: what the next call carries, and what each call handed back."""

    lease = timedelta(seconds=30)

    def __init__(self) -> None:
        self.to_carry: list[ChatResult] = []
        self.back: list[tuple[list[ChatResult], bool, list[Delivery], list[str]]] = []

    def hand_over(self) -> list[ChatResult]:
        carried, self.to_carry = self.to_carry, []
        return carried

    def handed_back(self, results: list[ChatResult], recorded: bool, claimed: list[Delivery], waiting: list[str]) -> None:
        self.back.append((results, recorded, claimed, waiting))


def _steps(
    tmp_path: Path, flows: Path | None = None, *, alone_here: bool = False, clock: Callable[[], float] = time.monotonic
) -> tuple[ProcessSteps, HandOverLog, Database]:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    database = Database(url)
    upgrade(database)
    settings = Settings(database_url=url, language="en")
    if flows is not None:
        settings = replace(settings, flows_dir=flows)
    telegram = TelegramSettings(token=DEFAULT_TOKEN)
    log = HandOverLog()
    return ProcessSteps(build_service(settings, telegram), settings, telegram, log, alone_here=alone_here, clock=clock), log, database


@asynccontextmanager
async def running(steps: ProcessSteps) -> AsyncIterator[None]:
    await steps.start()
    try:
        yield
    finally:
        await steps.stop()


def _sent_at(database: Database, row_id: int) -> Any:
    with database.reading() as session:
        return session.scalar(select(OutboxMessage.sent_at).where(OutboxMessage.id == row_id))


def test_a_step_is_stored_by_the_step_process_and_its_reply_handed_back_claimed(tmp_path: Path) -> None:
    steps, log, database = _steps(tmp_path)

    async def main() -> None:
        async with running(steps):
            opened = await steps.open_case(VOLUNTEER, "en", "Ayu", update_id=1)
            assert steps.pid is not None and steps.pid != os.getpid()
            [(carried, recorded, claimed, waiting)] = log.back
            assert (carried, recorded, waiting) == ([], False, [])
            assert claimed and {row.recipient for row in claimed} == {f"volunteer:{VOLUNTEER}"}
            assert all(_sent_at(database, row.id) is None for row in claimed)

            # What finished sending rides on the next call, and its transaction records it.
            log.to_carry = [([row.id for row in claimed], {}, [], [], None)]
            answered = await steps.act_open(VOLUNTEER, Answer("1"), "Ayu", update_id=2, typed=True)
            assert answered is not None and answered.case.id == opened.case.id
            assert answered.case.step > opened.case.step
            assert log.back[-1][1] is True
            assert all(_sent_at(database, row.id) is not None for row in claimed)

            # The engine's refusals come back as the same exceptions, and store nothing.
            with pytest.raises(DuplicateUpdate):
                await steps.act_open(VOLUNTEER, Answer("1"), "Ayu", update_id=2, typed=True)
            with pytest.raises(StaleStep):
                await steps.act(opened.case.id, Answer("1"), "Ayu", update_id=3, expected_step=opened.case.step, typed=True)
            assert log.back[-1][2] == []  # nothing claimed: nothing was queued
            assert await steps.act_open("tg:9999", Answer("1"), "Nobody", update_id=4, typed=True) is None

    asyncio.run(main())
    assert steps.pid is None


def test_results_carried_by_a_lone_call_that_stores_nothing_are_handed_back_unrecorded(tmp_path: Path) -> None:
    steps, log, database = _steps(tmp_path)

    async def main() -> None:
        async with running(steps):
            opened = await steps.open_case(VOLUNTEER, "en", "Ayu", update_id=1)
            claimed = log.back[-1][2]
            result: ChatResult = ([row.id for row in claimed], {}, [], [], None)
            log.to_carry = [result]
            with pytest.raises(DuplicateUpdate):  # rolled back: its record of the sends too
                await steps.act(opened.case.id, Answer("1"), "Ayu", update_id=1, expected_step=None, typed=True)
            assert log.back[-1][:2] == ([result], False)  # the delivery keeps them for the next call
            assert all(_sent_at(database, row.id) is None for row in claimed)

    asyncio.run(main())


def test_calls_sent_together_are_stored_in_one_batch_and_a_refused_one_fails_alone(tmp_path: Path) -> None:
    steps, log, database = _steps(tmp_path)
    volunteers = [f"tg:{3000 + index}" for index in range(6)]

    async def main() -> None:
        async with running(steps):
            for index, volunteer in enumerate(volunteers):
                await steps.open_case(volunteer, "en", "Ayu", update_id=index + 1)
            # Their first messages went out: the batch below records that before it claims.
            log.to_carry = [([row.id for _, _, rows, _ in log.back for row in rows], {}, [], [], None)]
            log.back.clear()
            # Written before any answer is read: the step process finds them waiting together.
            stepped = await asyncio.gather(
                *(steps.act_open(volunteer, Answer("1"), "Ayu", update_id=100 + index, typed=True) for index, volunteer in enumerate(volunteers))
            )
            assert all(outcome is not None for outcome in stepped)
            claimed = [row for _, _, rows, _ in log.back for row in rows]
            # A batch's claim comes back with its first answer: fewer claims than calls means some
            # calls shared a transaction.
            assert 1 <= sum(1 for _, _, rows, _ in log.back if rows) < len(volunteers)
            assert {row.recipient for row in claimed} == {f"volunteer:{volunteer}" for volunteer in volunteers}
            # A repeated update among calls sent together undoes their batch; each call then runs
            # alone, so only the repeated one is refused.
            answers = await asyncio.gather(
                *(steps.act_open(volunteer, Answer("1"), "Ayu", update_id=200 + index, typed=True) for index, volunteer in enumerate(volunteers[:3])),
                steps.act_open(volunteers[3], Answer("1"), "Ayu", update_id=100, typed=True),  # handled before
                *(steps.act_open(volunteer, Answer("1"), "Ayu", update_id=200 + index, typed=True) for index, volunteer in enumerate(volunteers[4:], start=4)),
                return_exceptions=True,
            )
            assert isinstance(answers[3], DuplicateUpdate)
            assert all(outcome is not None and not isinstance(outcome, BaseException) for index, outcome in enumerate(answers) if index != 3)

    asyncio.run(main())
    with database.reading() as session:
        stored = {row.volunteer: row.state["step"] for row in session.execute(select(CaseSession.volunteer, CaseSession.state))}
    # Each case moved once per stored answer: twice, except the refused repeat's.
    assert stored == {volunteer: 2 if volunteer == volunteers[3] else 3 for volunteer in volunteers}


def test_a_killed_step_process_fails_the_call_it_had_and_the_next_call_starts_another(tmp_path: Path) -> None:
    steps, log, database = _steps(tmp_path)

    async def main() -> None:
        async with running(steps):
            opened = await steps.open_case(VOLUNTEER, "en", "Ayu", update_id=1)
            first = steps.pid
            assert first is not None
            os.kill(first, signal.SIGSTOP)  # the call below waits on a child that can no longer answer
            call = asyncio.create_task(steps.act_open(VOLUNTEER, Answer("1"), "Ayu", update_id=2, typed=True))
            await asyncio.sleep(0.2)
            assert not call.done()
            os.kill(first, signal.SIGKILL)
            with pytest.raises(StepWorkerError):
                await call
            answered = await steps.act_open(VOLUNTEER, Answer("1"), "Ayu", update_id=2, typed=True)
            assert answered is not None and answered.case.step > opened.case.step
            assert steps.pid not in (None, first)

    asyncio.run(main())


def test_a_reload_goes_to_the_step_process_and_new_cases_there_start_on_the_new_revision(tmp_path: Path) -> None:
    flows = copy_flows(tmp_path)
    steps, log, database = _steps(tmp_path, flows)

    async def main() -> None:
        async with running(steps):
            before = await steps.open_case(VOLUNTEER, "en", "Ayu", update_id=1)
            assert (await steps.reload()).status is ReloadStatus.UNCHANGED
            change_the_intro(flows)
            set_revision(flows, before.case.flow_revision + 1)
            outcome = await steps.reload()
            assert outcome.status is ReloadStatus.RELOADED, outcome.reasons
            after = await steps.open_case("tg:2003", "en", "Budi", update_id=2)
            assert after.case.flow_revision == before.case.flow_revision + 1
            # This process reloaded too: its readers know the revision the step process started.
            assert steps.service.library.current["protocol"].revision == after.case.flow_revision

    asyncio.run(main())


def test_the_step_process_is_not_started_by_hand(capsys: pytest.CaptureFixture[str]) -> None:
    assert step_worker.main([]) == 2
    assert "started by the bot" in capsys.readouterr().err


def test_stopping_answers_the_calls_already_made_and_refuses_new_ones(tmp_path: Path) -> None:
    steps, log, database = _steps(tmp_path)

    async def main() -> None:
        await steps.start()
        opened = await steps.open_case(VOLUNTEER, "en", "Ayu", update_id=1)
        call = asyncio.create_task(steps.act_open(VOLUNTEER, Answer("1"), "Ayu", update_id=2, typed=True))
        await asyncio.sleep(0)  # the call is written to the step process
        await steps.stop()
        answered = await call
        assert answered is not None and answered.case.step > opened.case.step
        with pytest.raises(StepWorkerError, match="stopping"):
            await steps.act_open(VOLUNTEER, Answer("1"), "Ayu", update_id=3, typed=True)

    asyncio.run(main())
    assert steps.pid is None


def test_steps_that_come_alone_run_here_and_steps_that_overlap_go_to_the_step_process(tmp_path: Path) -> None:
    now = [0.0]
    steps, log, database = _steps(tmp_path, alone_here=True, clock=lambda: now[0])
    volunteers = [f"tg:{4000 + index}" for index in range(8)]
    updates = iter(range(1, 1000))

    async def main() -> None:
        async with running(steps):
            for volunteer in volunteers:  # one after another: each alone
                await steps.open_case(volunteer, "en", "Ayu", update_id=next(updates))
            assert steps.stepped_here == len(volunteers) and log.back == []
            for _ in range(3):  # all at once, again and again: they overlap
                outcomes = await asyncio.gather(
                    *(steps.act_open(volunteer, Answer("1"), "Ayu", update_id=next(updates), typed=True) for volunteer in volunteers)
                )
                assert all(outcome is not None for outcome in outcomes)
            assert log.back, "overlapping steps never reached the step process"
            # Overlap is recent: even a step that comes alone now goes to the step process, until a
            # whole window of steps has come alone and none has overlapped for a quiet spell.
            assert steps.overlapping
            here = steps.stepped_here
            await steps.act_open(volunteers[0], Answer("1"), "Ayu", update_id=next(updates), typed=True)
            assert steps.stepped_here == here
            for _ in range(OVERLAP_WINDOW):  # a whole window of lone steps, but soon after the overlap
                await steps.act_open(volunteers[1], Answer("1"), "Ayu", update_id=next(updates), typed=True)
            assert steps.overlapping and steps.stepped_here == here
            now[0] += OVERLAP_QUIET_SECONDS  # the quiet spell is over: the next lone step runs here
            await steps.act_open(volunteers[1], Answer("1"), "Ayu", update_id=next(updates), typed=True)
            assert not steps.overlapping and steps.stepped_here == here + 1

    asyncio.run(main())
    with database.reading() as session:
        steps_of = {case.volunteer: case.state["step"] for case in session.scalars(select(CaseSession))}
    # Every step stored once, wherever it ran (the second volunteer's case walked on to its end).
    assert [steps_of[volunteer] for volunteer in volunteers[2:]] == [4] * (len(volunteers) - 2)
    assert steps_of[volunteers[0]] == 5 and steps_of[volunteers[1]] > 5


def test_a_failed_call_undoes_its_batch_and_every_call_of_it_then_runs_alone(tmp_path: Path, mocker: Any) -> None:
    """In the step process's own code: a batch with no failure commits once and runs no call alone;
    one with a repeated update is rolled back and each of its calls is run on its own."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    upgrade(Database(url))
    service = build_service(Settings(database_url=url, language="en"), TelegramSettings(token=DEFAULT_TOKEN))
    ride = step_worker.CarriedRide(timedelta(seconds=30))
    service.database.attach_outbox_hook(ride)
    service.register_flows()
    volunteers = [f"tg:{4000 + index}" for index in range(3)]
    opened = [
        step_worker._serve_alone(step_worker.Call(index, "open_case", (volunteer, "en", "Ayu"), {"update_id": index + 1}, []), ride, service)
        for index, volunteer in enumerate(volunteers)
    ]

    def calls(update_ids: list[int], sent: list[step_worker.Answer]) -> list[step_worker.Call]:
        """Calls carrying the news that the replies `sent` claimed went out (rows still in flight hold their chat's next ones back)."""
        carried: list[ChatResult] = [([row.id for answer in sent for row in answer.claimed], {}, [], [], None)]
        return [
            step_worker.Call(10 + index, "act_open", (volunteer, Answer("1"), "Ayu"), {"update_id": update_id, "typed": True}, carried if index == 0 else [])
            for index, (volunteer, update_id) in enumerate(zip(volunteers, update_ids))
        ]

    alone = mocker.spy(step_worker, "_serve_alone")
    together = step_worker._serve_batch(calls([101, 102, 103], opened), ride, service)
    assert [answer.ok for answer in together] == [True, True, True] and alone.call_count == 0
    # One transaction: its claim of the three replies comes back with the first answer only.
    assert len(together[0].claimed) == 3 and together[1].claimed == together[2].claimed == []

    undone = step_worker._serve_batch(calls([201, 101, 203], together), ride, service)  # 101 was handled before
    assert [answer.ok for answer in undone] == [True, False, True] and isinstance(undone[1].value, DuplicateUpdate)
    assert alone.call_count == 3
    assert [len(answer.claimed) for answer in undone] == [1, 0, 1]
    with Database(url).reading() as session:
        stored = {row.volunteer: row.state["step"] for row in session.execute(select(CaseSession.volunteer, CaseSession.state))}
    assert stored == {volunteers[0]: 3, volunteers[1]: 2, volunteers[2]: 3}

    # A call that fails before any transaction of its own still undoes its batch, and every call,
    # the ones after it included, gets its answer.
    def broken(service: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("failed before its transaction")

    mocker.patch.dict(step_worker.OPERATIONS, {"broken": broken})
    alone.reset_mock()
    mixed = calls([301, 302, 303], undone)
    mixed[1] = replace(mixed[1], operation="broken")
    answered = step_worker._serve_batch(mixed, ride, service)
    assert [answer.call_id for answer in answered] == [call.call_id for call in mixed]
    assert [answer.ok for answer in answered] == [True, False, True] and isinstance(answered[1].value, RuntimeError)
    assert alone.call_count == 3
