"""Case service: runs one engine step and stores all it produced in a single transaction.

The session state, the event log, the escalations and every outbox row of a step commit together or
not at all. Nothing is sent from here: the dispatcher delivers the outbox after commit, so a reply is
never sent for a step that was not stored, and a stored alert is delivered even after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.directory import Directory
from bot.answers import to_answer
from bot.engine import Answer, EscalationRequested, Level, Event, Flow, FollowUpScheduled, Input, SessionState, Start, step
from bot.engine.machine import FlowMachine
from bot.i18n import translator
from bot.ladder import Ladder, fixed_tiers
from bot.library import FlowLibrary
from bot.local_time import DEFAULT_ZONE
from bot.render import AlertFacts, alert_payload, volunteer_payloads
from storage import (
    CaseRecord,
    CaseSession,
    Database,
    case_for_step,
    create_case,
    enqueue,
    find_open_case,
    open_escalation,
    record_update,
    schedule_follow_up,
    store_step,
)

__all__ = [
    "OPEN_STATUSES",
    "CaseNotFound",
    "CaseService",
    "CaseSummary",
    "DuplicateUpdate",
    "StaleStep",
    "StepOutcome",
    "utcnow",
]

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class CaseNotFound(LookupError):
    pass


class DuplicateUpdate(RuntimeError):
    """This Telegram update was handled before; nothing was changed."""


class StaleStep(RuntimeError):
    """A button from an earlier step was pressed; nothing was changed."""


@dataclass(frozen=True)
class CaseSummary:
    id: str
    case_code: str
    node: str
    status: str
    language: str
    flow_id: str
    flow_revision: int
    step: int


@dataclass(frozen=True)
class StepOutcome:
    case: CaseSummary
    events: tuple[Event, ...]
    alert_codes: tuple[str, ...]

    @property
    def ended(self) -> bool:
        return self.case.status == "ended"


OPEN_STATUSES = ("active", "paused")


class CaseService:
    def __init__(
        self,
        database: Database,
        library: FlowLibrary,
        *,
        start_flow: str,
        supervisor_language: str,
        directory: Directory,
        ladder: Ladder = Ladder(fixed_tiers("supervisors")),
        clock: Clock = utcnow,
        zone: ZoneInfo = DEFAULT_ZONE,
    ) -> None:
        self.database = database
        self.library = library
        self.start_flow = start_flow
        self.supervisor_language = supervisor_language
        self.ladder = ladder
        self.clock = clock
        self.zone = zone  # times shown to people; everything stored stays UTC
        self.directory = directory
        library.latest(start_flow)  # fail at start-up, not on the first call, if the flow is missing

    def register_flows(self) -> list[str]:
        with self.database.transaction() as session:
            return self.library.register(session, self.clock())

    def open_case(
        self, volunteer: str, language: str, volunteer_name: str | None = None, *, update_id: int | None = None
    ) -> StepOutcome:
        now = self.clock()
        machine = self.library.latest(self.start_flow)
        result = step(machine, None, Start(), now)
        with self.database.transaction() as session:
            _once(session, update_id, now)
            case = create_case(
                session,
                volunteer=volunteer,
                language=language,
                flow_id=machine.flow.id,
                flow_revision=machine.flow.revision,
                state=result.state.to_dict(),
                now=now,
            )
            return self._store(session, case, machine, result.state, result.events, now, volunteer_name or volunteer)

    def act(
        self,
        case_id: str,
        action: Input,
        volunteer_name: str | None = None,
        *,
        update_id: int | None = None,
        expected_step: int | None = None,
        typed: bool = False,
    ) -> StepOutcome:
        """Run one step. With `expected_step`, a press of a button from another step changes nothing;
        with `typed`, an Answer is what the volunteer typed (a number, a label, "ya") and is mapped to
        the open question's answer key here, on the state the step runs on."""
        now = self.clock()
        with self.database.transaction() as session:
            _once(session, update_id, now)
            case = case_for_step(session, case_id)
            if case is None:
                raise CaseNotFound(case_id)
            return self._step_case(session, case, action, now, volunteer_name, expected_step, typed)

    def act_open(
        self, volunteer: str, action: Input, volunteer_name: str | None = None, *, update_id: int | None = None, typed: bool = False
    ) -> StepOutcome | None:
        """Run one step on the volunteer's unfinished case, found and stepped in one transaction;
        None (and nothing recorded) when there is no such case."""
        now = self.clock()
        with self.database.transaction() as session:
            case = find_open_case(session, volunteer, lock=True)
            if case is None:
                return None
            _once(session, update_id, now)
            return self._step_case(session, case, action, now, volunteer_name, None, typed)

    def _step_case(
        self,
        session: Session,
        case: CaseRecord,
        action: Input,
        now: datetime,
        volunteer_name: str | None,
        expected_step: int | None,
        typed: bool,
    ) -> StepOutcome:
        state = SessionState.from_dict(case.state)
        if expected_step is not None and state.step != expected_step:
            raise StaleStep(f"case {case.case_code} is at step {state.step}, the button was for {expected_step}")
        machine = self.library.machine(session, case.flow_id, case.flow_revision)
        if typed and isinstance(action, Answer):
            action = Answer(to_answer(action.value, _typing_prompt(machine.flow, state, case.language)))
        result = step(machine, state, action, now)
        return self._store(session, case, machine, result.state, result.events, now, volunteer_name or case.volunteer)

    def flow_of(self, case: CaseSummary) -> Flow:
        """The flow revision a case runs on (for listing its flags, for example)."""
        with self.database.reading() as session:
            return self.library.machine(session, case.flow_id, case.flow_revision).flow

    def unfinished_case(self, volunteer: str) -> CaseSummary | None:
        with self.database.reading() as session:
            case = find_open_case(session, volunteer)
            return _summary(case) if case is not None else None

    def _store(
        self,
        session: Session,
        case: CaseSession | CaseRecord,
        machine: FlowMachine,
        state: SessionState,
        events: tuple[Event, ...],
        now: datetime,
        volunteer_name: str,
    ) -> StepOutcome:
        flow = machine.flow
        stored = state.to_dict()
        records: list[tuple[str, dict[str, Any]]] = [(event.type, event.payload()) for event in events]
        alert_codes: dict[int, str] = {}
        alert_notes: dict[int, str] = {}
        for index, event in enumerate(events):
            if isinstance(event, FollowUpScheduled):
                schedule_follow_up(session, case, kind=event.kind, due_at=datetime.fromisoformat(event.due_at), now=now)
                continue
            if not isinstance(event, EscalationRequested):
                continue
            page = self.ladder.first(session, Level(event.level), now)
            escalation = open_escalation(
                session,
                case,
                level=event.level,
                flags=list(event.flags),
                reason=event.reason,
                node=event.node,
                now=now,
                status=page.status,
                tier=page.tier,
                deadline_at=page.deadline_at,
            )
            alert_codes[index] = escalation.alert_code
            records.append(("escalation_opened", {"alert_code": escalation.alert_code, "level": event.level, "status": page.status, "tier": page.tier}))
            if page.status == "review":
                alert_notes[index] = "review"  # P2/P3: the review queue, nobody paged
                continue
            facts = AlertFacts(
                alert_code=escalation.alert_code,
                case_code=case.case_code,
                level=event.level,
                flag_labels=tuple(flow.flags[flag].label for flag in event.flags if flag in flow.flags),
                reason=event.reason,
                flow_title=flow.title,
                node=event.node,
                volunteer_name=volunteer_name,
            )
            payload = alert_payload(facts, translator(self.supervisor_language))
            if not page.recipients:
                # Nobody to page: the volunteer must know at once, and the log must show it.
                records.append(("alert_unroutable", {"alert_code": escalation.alert_code}))
                alert_notes[index] = "unroutable"
            for recipient in page.recipients:
                enqueue(session, kind="alert", recipient=recipient, payload=payload, now=now, case_id=case.id)
                records.append(("alert_queued", {"alert_code": escalation.alert_code, "recipient": recipient}))
        store_step(session, case, stored, records, now)
        messages = volunteer_payloads(
            events, translator(case.language), flow, case.case_code, state.step, alert_codes, self.directory, alert_notes, self.zone
        )
        for message in messages:
            enqueue(session, kind="message", recipient=f"volunteer:{case.volunteer}", payload=message, now=now, case_id=case.id)
        return StepOutcome(_summary(case), events, tuple(alert_codes.values()))


def _typing_prompt(flow: Flow, state: SessionState, language: str) -> dict[str, Any] | None:
    node = flow.nodes.get(state.node)
    if node is None or node.input is None:
        return None
    labels = translator(language)
    options = [{"key": option.key, "label": labels.text(option.label)} for option in node.input.options]
    return {"type": node.input.type.value, "options": options}


def _once(session: Session, update_id: int | None, now: datetime) -> None:
    if update_id is not None and not record_update(session, update_id, now):
        raise DuplicateUpdate(f"update {update_id} was handled before")


def _summary(case: CaseSession | CaseRecord) -> CaseSummary:
    state = case.state
    return CaseSummary(
        id=case.id,
        case_code=case.case_code,
        node=str(state.get("node")),
        status=case.status,
        language=case.language,
        flow_id=case.flow_id,
        flow_revision=case.flow_revision,
        step=int(state.get("step", 0)),
    )
