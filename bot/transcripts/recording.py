"""Runs a scenario through the real case service on a fresh database, and records what came of it.

The inputs go through the console runner, so a scenario takes exactly what the console takes (option
keys, numbers, labels, /back, /note, /flag ID, /take ...). What is recorded is the outbox, per
input: what the bot decided to send and to whom, not how one adapter prints it. Flags and
escalations come from the event log and the escalations table, the records a supervisor would audit.
"""

from __future__ import annotations

import io
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases import CaseService
from bot.console import ConsoleRunner, ConsoleSender
from bot.directory import Directory
from bot.dispatch import Dispatcher
from bot.i18n import N_, Translator, translator
from bot.ladder import Ladder
from bot.library import FlowLibrary
from bot.transcripts.scenario import wait_minutes
from storage import CaseSession, Database, Delivery, escalations_of, events_of, upgrade

__all__ = ["START", "TIER_RECIPIENTS", "VOLUNTEER", "Transcript", "record_transcript"]

# Every run starts at the same moment, so follow-up due times and "taken at" times never change.
START = datetime(2026, 11, 24, 2, 30, tzinfo=timezone.utc)
VOLUNTEER = "volunteer"
# Named tiers instead of the console's single "supervisors", so a transcript shows the ladder
# moving on (`/wait`) from the on-call supervisors to the backups to everyone.
TIER_RECIPIENTS = {0: ("on-call",), 1: ("backup",), 2: ("all supervisors",)}


@dataclass(frozen=True)
class Transcript:
    messages: str
    flags: tuple[str, ...]
    escalations: tuple[str, ...]


class ManualClock:
    """Stands still except when a scenario says `/wait`."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class OutboxRecorder:
    """A dispatcher's sender that writes each delivery into the transcript, under the input that caused it."""

    def __init__(self, console: ConsoleSender, labels: Translator) -> None:
        self.console = console
        self.labels = labels
        self.blocks: list[tuple[str | None, list[str]]] = [(None, [])]

    def begin(self, line: str) -> None:
        self.blocks.append((line, []))

    def note(self, text: str) -> None:
        """What the console printed by itself (help, the flag list, the queue), marked as such."""
        if text.strip():
            self.blocks[-1][1].append("\n".join(f"[console] {line}" for line in text.rstrip("\n").splitlines()))

    def send(self, delivery: Delivery) -> None:
        text = str(delivery.payload.get("text", ""))
        if not delivery.recipient.startswith("volunteer:"):
            self.blocks[-1][1].append("\n".join(f"[{delivery.recipient}] {line}" for line in text.splitlines()))
            return
        lines = [text]
        prompt = delivery.payload.get("prompt")
        if prompt:
            # The console maps a typed number or label through the last question shown, as it does live.
            self.console.prompt = prompt
            lines.extend(self.prompt_lines(prompt))
        self.blocks[-1][1].append("\n".join(lines))

    def prompt_lines(self, prompt: dict[str, Any]) -> list[str]:
        # Option keys are shown because they are what a scenario's inputs are written with.
        lines = [f"  [{option['key']}] {option['label']}" for option in prompt.get("options") or []]
        if prompt.get("hint"):
            lines.append(str(prompt["hint"]))
        elif prompt.get("type") == "number":
            lines.append(self.labels.text(N_("(Type a number.)")))
        elif prompt.get("type") == "text":
            lines.append(self.labels.text(N_("(Type your answer.)")))
        return lines

    def text(self) -> str:
        blocks = []
        for line, deliveries in self.blocks:
            parts = [] if line is None else [f">>> {line}"]
            if deliveries:
                parts.append("\n\n".join(deliveries))
            blocks.append("\n".join(parts))
        return "\n\n".join(block for block in blocks if block) + "\n"


def record_transcript(
    inputs: Sequence[str], *, flow: str, language: str, library: FlowLibrary, directory: Directory
) -> Transcript:
    """One scenario in one language, on a database of its own that is thrown away afterwards."""
    with tempfile.TemporaryDirectory(prefix="pendamping-transcript-") as folder:
        database = Database(f"sqlite:///{Path(folder) / 'transcript.db'}")
        try:
            upgrade(database)
            return _record(database, inputs, flow, language, library, directory)
        finally:
            database.dispose()


def _record(
    database: Database, inputs: Sequence[str], flow: str, language: str, library: FlowLibrary, directory: Directory
) -> Transcript:
    clock = ManualClock(START)
    service = CaseService(
        database, library, start_flow=flow, supervisor_language=language, directory=directory,
        ladder=Ladder(lambda session, tier: TIER_RECIPIENTS.get(tier, ())), clock=clock,
    )
    service.register_flows()
    printed = io.StringIO()
    labels = translator(language)
    runner = ConsoleRunner(service, io.StringIO(), printed, labels, volunteer=VOLUNTEER)
    recorder = OutboxRecorder(runner.sender, labels)
    runner.dispatcher = Dispatcher(database, recorder, clock)
    case_ids: list[str] = []

    def settle() -> None:
        recorder.note(printed.getvalue())
        printed.seek(0)
        printed.truncate()
        if runner.case is not None and runner.case.id not in case_ids:
            case_ids.append(runner.case.id)

    # ConsoleRunner.run() would read stdin itself; the scenario drives it one input at a time instead,
    # so each delivery is filed under the input that caused it.
    runner.record(service.open_case(VOLUNTEER, language))
    settle()
    for line in inputs:
        recorder.begin(line)
        if line == "/quit":
            break
        minutes = wait_minutes(line)
        if minutes is not None:
            clock.now += timedelta(minutes=minutes)
            runner.desk.sweep()
            runner.reminders.sweep()
            runner.deliver()
        else:
            runner.handle(line)
        settle()
    with database.reading() as session:
        flags = [entry for case_id in case_ids for entry in _flags(session, case_id)]
        escalations = [entry for case_id in case_ids for entry in _escalations(session, case_id)]
        codes = {code: "K" for code in session.scalars(select(CaseSession.case_code).where(CaseSession.id.in_(case_ids)))}
        codes.update({escalation.alert_code: "A" for case_id in case_ids for escalation in escalations_of(session, case_id)})
    return Transcript(_stable_codes(recorder.text(), codes), tuple(flags), tuple(escalations))


def _flags(session: Session, case_id: str) -> list[str]:
    """`P0 immediate_danger`, in the order raised; `(withdrawn)` when the volunteer overrode it."""
    raised: list[list[str]] = []
    for event in events_of(session, case_id):
        if event.type == "flag_raised":
            raised.append([f"{event.payload['level']} {event.payload['flag']}"])
        elif event.type == "flag_overridden":
            for entry in reversed(raised):
                if entry[0].split()[1] == event.payload["flag"] and len(entry) == 1:
                    entry.append("(withdrawn)")
                    break
    return [" ".join(entry) for entry in raised]


def _escalations(session: Session, case_id: str) -> list[str]:
    """`P0 immediate_danger at flag_danger_now → on-call`, then who took it and how it ended."""
    events = events_of(session, case_id)
    found = []
    for escalation in escalations_of(session, case_id):
        code = escalation.alert_code
        paged = list(dict.fromkeys(
            str(event.payload["recipient"]) for event in events
            if event.type == "alert_queued" and event.payload.get("alert_code") == code
        ))
        if paged:
            route = ", then ".join(paged)
        elif any(event.type == "alert_unroutable" and event.payload.get("alert_code") == code for event in events):
            route = "nobody to page"
        else:
            route = "review queue"
        what = " ".join([escalation.level, ", ".join(escalation.flags)]).strip()
        parts = [f"{what} at {escalation.node} → {route}"]
        if escalation.taken_by:
            parts.append(f"taken by {escalation.taken_by}")
        if escalation.resolved_at is not None:
            parts.append(f"resolved ({escalation.outcome})")
        found.append("; ".join(parts))
    return found


def _stable_codes(text: str, codes: dict[str, str]) -> str:
    """Case and alert codes are random by design; number them in order of appearance instead, so the
    reader can still tell which alert a message is about."""
    if not codes:
        return text
    names: dict[str, str] = {}
    pattern = re.compile("(?<![0-9A-Z])(" + "|".join(re.escape(code) for code in codes) + ")(?![0-9A-Z])")

    def name(match: re.Match[str]) -> str:
        code = match.group(1)
        if code not in names:
            prefix = codes[code]
            number = sum(1 for given in names.values() if given.startswith(prefix)) + 1
            names[code] = f"{prefix}-{number:0{6 if prefix == 'K' else 5}d}"
        return names[code]

    return pattern.sub(name, text)
