"""Escalation latency: the flag-raising update to the first alert request, and the deadline to the
re-escalated alert. The real Application runs in-process against the fake Bot API (tests/telegram)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bench.timing import Summary, summarise
from bot.cases import utcnow
from bot.ladder import Deadlines
from storage import add_member, escalations_of, find_open_case, set_availability
from tests.telegram.harness import SUPERVISOR, Harness, running_bot

__all__ = ["EscalationResult", "measure_escalation"]

BACKUP = SUPERVISOR + 1
FIRST_VOLUNTEER = 50_000


@dataclass(frozen=True)
class EscalationResult:
    alert: Summary  # P0 answer handed to the bot -> first sendMessage of the alert reaching the fake
    reescalation: Summary  # escalation deadline -> the backup's alert reaching the fake


def _alert_times(bot: Harness, chat: int, case_code: str) -> list[float]:
    """When each alert about one case reached `chat`. Earlier runs' cases keep climbing the ladder
    while later runs are measured, so their alerts must not be counted."""
    return [
        call.time for call in bot.api.calls_to("sendMessage")
        if call.params.get("chat_id") == chat and "🚨" in (text := str(call.params.get("text", ""))) and case_code in text
    ]


async def _keyboard(bot: Harness, user: int) -> None:
    await bot.until(lambda: any((m.get("reply_markup") or {}).get("inline_keyboard") for m in bot.api.sent(user)), timeout=10)


async def _raise_p0(bot: Harness, user: int) -> float:
    """Drive a volunteer to the P0 answer; returns the monotonic time the P0 press was handed over."""
    await bot.say(user, "/new")
    await _keyboard(bot, user)
    count = len(bot.api.sent(user))
    await bot.press(user, "Ya")
    await bot.until(lambda: len(bot.api.sent(user)) > count, timeout=10)
    await _keyboard(bot, user)
    started = time.monotonic()
    await bot.press(user, "Ya")
    return started


def _case_of(bot: Harness, user: int) -> tuple[str, datetime] | None:
    """The open case's code and its escalation's deadline, once the P0 step has committed."""
    with bot.database.transaction() as session:
        case = find_open_case(session, f"tg:{user}")
        escalations = escalations_of(session, case.id) if case is not None else []
        if case is None or not escalations:
            return None
        [escalation] = escalations
        assert escalation.deadline_at is not None
        return case.case_code, escalation.deadline_at


async def _run(runs: int, deadline_seconds: float) -> EscalationResult:
    alert: list[int] = []
    reescalation: list[int] = []
    with tempfile.TemporaryDirectory() as directory:
        deadlines = Deadlines(p0=timedelta(seconds=deadline_seconds), p1=timedelta(seconds=deadline_seconds))
        async with running_bot(Path(directory), deadlines=deadlines) as bot:
            with bot.database.transaction() as session:
                add_member(session, telegram_user_id=BACKUP, role="supervisor", display_name="Tono", now=utcnow())
                set_availability(session, SUPERVISOR, on_call=True)
                set_availability(session, BACKUP, backup=True)
                for index in range(runs):
                    add_member(session, telegram_user_id=FIRST_VOLUNTEER + index, role="volunteer", display_name=f"V{index}", now=utcnow())
            for index in range(runs):
                user = FIRST_VOLUNTEER + index
                started = await _raise_p0(bot, user)
                await bot.until(lambda: _case_of(bot, user) is not None, timeout=10)
                found = _case_of(bot, user)
                assert found is not None
                code, deadline = found
                await bot.until(lambda: bool(_alert_times(bot, SUPERVISOR, code)), timeout=10)
                alert.append(int((_alert_times(bot, SUPERVISOR, code)[0] - started) * 1e9))
                # Nobody takes it: the sweeper must page the backup soon after the deadline.
                await bot.until(lambda: bool(_alert_times(bot, BACKUP, code)), timeout=deadline_seconds + 10)
                arrived_wall = utcnow() - timedelta(seconds=time.monotonic() - _alert_times(bot, BACKUP, code)[0])
                reescalation.append(int((arrived_wall - deadline).total_seconds() * 1e9))
    return EscalationResult(summarise(alert), summarise(reescalation))


def measure_escalation(runs: int = 20, deadline_seconds: float = 1.0) -> EscalationResult:
    return asyncio.run(_run(runs, deadline_seconds))
