"""The supervisor's side of an escalation: take, relay, resolve, the queue, and the ladder's sweeper.

Every change is one transaction with its events on the case's log and its messages in the outbox,
like a volunteer's step. Deadlines live in the escalations table; `sweep` is the only thing that
fires them, so nothing depends on a timer surviving in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.cases import CaseService
from bot.engine import Level
from bot.i18n import N_, translator
from bot.local_time import clock_time
from bot.render import AlertFacts, alert_payload
from storage import (
    Database,
    CaseSession,
    Escalation,
    append_events,
    due_escalations,
    enqueue,
    escalation_by_code,
    events_of,
    forget_processed_updates,
    purge_sent,
    lock_case,
    queue,
    resolve_escalation,
    sent_copies,
    take_escalation,
    taken_for_volunteer,
)

__all__ = ["EscalationDesk", "QueueEntry", "TakeOutcome"]

# What the volunteer does while nobody has taken the alert: the caller never waits on the bot.
FALLBACK = N_(
    "No supervisor has taken alert {alert_code} yet; it has gone to {tier}. Meanwhile: if anyone is in "
    "danger now, call 112 (police 110, ambulance 119) with the caller's consent where possible, stay "
    "with the caller if it is safe, and keep following the guidance above."
)
TIER_NAMES = {1: N_("the backup supervisors"), 2: N_("every supervisor")}


@dataclass(frozen=True)
class TakeOutcome:
    won: bool
    alert_code: str
    taken_by: str | None
    case_code: str | None
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueEntry:
    alert_code: str
    case_code: str
    level: str
    status: str
    tier: int
    waiting_seconds: int
    time_to_take_seconds: int | None
    taken_by: str | None


class EscalationDesk:
    def __init__(self, service: CaseService) -> None:
        self.service = service

    @property
    def database(self) -> Database:
        return self.service.database

    def take(self, alert_code: str, supervisor: str, supervisor_key: str) -> TakeOutcome:
        """The first Take wins; the volunteer and the other supervisors paged are told who has it."""
        now = self.service.clock()
        with self.database.transaction() as session:
            result = take_escalation(session, alert_code, supervisor, now)
            escalation = escalation_by_code(session, alert_code)
            if result is None or escalation is None:
                return TakeOutcome(False, alert_code, None, None)
            case = lock_case(session, escalation.session_id)
            assert case is not None
            if not result.changed:
                return TakeOutcome(result.won, alert_code, result.taken_by, case.case_code)
            waited = int((now - escalation.requested_at).total_seconds())
            recipients = self._paged(session, case, alert_code)
            append_events(session, case, [("escalation_taken", {
                "alert_code": alert_code, "by": supervisor, "by_key": supervisor_key, "time_to_take_seconds": waited,
            })], now)
            volunteer = translator(case.language)
            text = volunteer.text(N_("{name} has taken case {case_code} (alert {alert_code}). Messages with /msg reach them."),
                                  name=supervisor, case_code=case.case_code, alert_code=alert_code)
            self._to_volunteer(session, case, text, now)
            notice = translator(self.service.supervisor_language).text(
                N_("Alert {alert_code} (case {case_code}) was taken by {name} at {time}."),
                alert_code=alert_code, case_code=case.case_code, name=supervisor, time=clock_time(now, self.service.zone))
            # Each paged copy is edited where the adapter can (Telegram), so nobody else presses Take.
            copies = {recipient: (ref, payload) for recipient, ref, payload in sent_copies(session, case.id, "alert", alert_code)}
            for recipient in recipients:
                payload: dict[str, Any] = {"text": notice, "alert_code": alert_code}
                if recipient in copies:
                    ref, original = copies[recipient]
                    payload["edit"] = {"ref": ref, "text": f"{original.get('text', '')}\n\n✅ {notice}"}
                enqueue(session, kind="alert_taken", recipient=recipient, payload=payload, now=now, case_id=case.id)
            return TakeOutcome(True, alert_code, supervisor, case.case_code, recipients)

    def resolve(self, alert_code: str, supervisor: str, outcome: str) -> str | None:
        """Close an escalation with its outcome; returns the case code, or None if there was nothing open."""
        now = self.service.clock()
        with self.database.transaction() as session:
            escalation = resolve_escalation(session, alert_code, outcome or "resolved", now)
            if escalation is None:
                return None
            case = lock_case(session, escalation.session_id)
            assert case is not None
            append_events(session, case, [("escalation_resolved", {"alert_code": alert_code, "by": supervisor, "outcome": outcome})], now)
            text = translator(case.language).text(N_("{name} closed alert {alert_code}: {outcome}"),
                                                   name=supervisor, alert_code=alert_code, outcome=outcome or "-")
            self._to_volunteer(session, case, text, now)
            return case.case_code

    def relay_to_volunteer(self, alert_code: str, supervisor: str, text: str) -> bool:
        """A supervisor's message to the volunteer of a case they took."""
        now = self.service.clock()
        with self.database.transaction() as session:
            escalation = escalation_by_code(session, alert_code)
            if escalation is None or escalation.status != "taken" or escalation.taken_by != supervisor:
                return False
            case = lock_case(session, escalation.session_id)
            assert case is not None
            append_events(session, case, [("relay_sent", {"alert_code": alert_code, "from": supervisor, "text": text})], now)
            self._to_volunteer(session, case, f"💬 {supervisor}: {text}", now)
            return True

    def relay_to_supervisor(self, volunteer: str, volunteer_name: str, text: str) -> str | None:
        """A volunteer's message to whoever took their open case; returns that supervisor's key."""
        now = self.service.clock()
        with self.database.transaction() as session:
            escalation = taken_for_volunteer(session, volunteer)
            if escalation is None:
                return None
            case = lock_case(session, escalation.session_id)
            assert case is not None
            taker = self._taker_key(session, case, escalation.alert_code)
            if taker is None:
                return None
            append_events(session, case, [("relay_sent", {"alert_code": escalation.alert_code, "from": volunteer_name, "text": text})], now)
            enqueue(session, kind="relay", recipient=taker,
                    payload={"text": f"💬 {volunteer_name} · {case.case_code}: {text}"}, now=now, case_id=case.id)
            return taker

    def summary(self, alert_code: str) -> str | None:
        """What a supervisor may see of an alert's case before or after taking it: no free text."""
        now = self.service.clock()
        _ = translator(self.service.supervisor_language).text
        with self.database.transaction() as session:
            escalation = escalation_by_code(session, alert_code)
            case = session.get(CaseSession, escalation.session_id) if escalation is not None else None
            if escalation is None or case is None:
                return None
            flow = self.service.library.machine(session, case.flow_id, case.flow_revision).flow
            flags = [f"{flag['level']} {_(flow.flags[flag['flag']].label)}" for flag in case.state.get("flags", []) if flag["flag"] in flow.flags]
            lines = [
                _(N_("Alert {alert_code} · case {case_code} · {level} · {status}"),
                  alert_code=alert_code, case_code=case.case_code, level=escalation.level, status=escalation.status),
                _(N_("Flags: {flags}"), flags=", ".join(flags) or "-"),
                _(N_("Stage: {flow} › {node}"), flow=_(flow.title), node=str(case.state.get("node"))),
                _(N_("Waiting: {minutes} min"), minutes=int((now - escalation.requested_at).total_seconds() // 60)),
            ]
            if escalation.taken_by:
                lines.append(_(N_("Taken by {name}"), name=escalation.taken_by))
            return "\n".join(lines)

    def entries(self) -> list[QueueEntry]:
        now = self.service.clock()
        with self.database.transaction() as session:
            found = []
            for escalation in queue(session):
                case = session.get(CaseSession, escalation.session_id)
                taken = int((escalation.taken_at - escalation.requested_at).total_seconds()) if escalation.taken_at else None
                found.append(QueueEntry(
                    escalation.alert_code, case.case_code if case else "?", escalation.level, escalation.status, escalation.tier,
                    int((now - escalation.requested_at).total_seconds()), taken, escalation.taken_by,
                ))
            return found

    def purge(self, keep: timedelta = timedelta(days=7)) -> int:
        """Remove delivered outbox rows and remembered update ids past their use; the event log stays."""
        now = self.service.clock()
        with self.database.transaction() as session:
            return purge_sent(session, now - keep) + forget_processed_updates(session, now - timedelta(days=2))

    def sweep(self) -> int:
        """Move every escalation past its deadline one tier up; returns how many moved."""
        now = self.service.clock()
        moved = 0
        with self.database.transaction() as session:
            for escalation in due_escalations(session, now):
                self._advance(session, escalation, now)
                moved += 1
        return moved

    def _advance(self, session: Session, escalation: Escalation, now: datetime) -> None:
        case = lock_case(session, escalation.session_id)
        assert case is not None
        page = self.service.ladder.next(session, Level(escalation.level), escalation.tier, now)
        escalation.tier, escalation.deadline_at = page.tier, page.deadline_at
        flow = self.service.library.machine(session, case.flow_id, case.flow_revision).flow
        facts = AlertFacts(
            alert_code=escalation.alert_code, case_code=case.case_code, level=escalation.level,
            flag_labels=tuple(flow.flags[flag].label for flag in escalation.flags if flag in flow.flags),
            reason=escalation.reason, flow_title=flow.title, node=escalation.node, volunteer_name=case.volunteer,
        )
        supervisors = translator(self.service.supervisor_language)
        payload = alert_payload(facts, supervisors)
        payload["text"] = supervisors.text(N_("⏰ Not taken yet, passed on to you.")) + "\n" + payload["text"]
        for recipient in page.recipients:
            enqueue(session, kind="alert", recipient=recipient, payload=payload, now=now, case_id=case.id)
        records: list[tuple[str, dict[str, Any]]] = [("escalation_advanced", {"alert_code": escalation.alert_code, "tier": page.tier})]
        records += [("alert_queued", {"alert_code": escalation.alert_code, "recipient": r}) for r in page.recipients]
        if not page.recipients:
            records.append(("alert_unroutable", {"alert_code": escalation.alert_code}))
        append_events(session, case, records, now)
        volunteer = translator(case.language)
        tier = volunteer.text(TIER_NAMES.get(page.tier, TIER_NAMES[2]))
        self._to_volunteer(session, case, volunteer.text(FALLBACK, alert_code=escalation.alert_code, tier=tier), now)

    @staticmethod
    def _to_volunteer(session: Session, case: CaseSession, text: str, now: datetime) -> None:
        enqueue(session, kind="notice", recipient=f"volunteer:{case.volunteer}", payload={"text": text}, now=now, case_id=case.id)

    @staticmethod
    def _paged(session: Session, case: CaseSession, alert_code: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(
            event.payload["recipient"] for event in events_of(session, case.id)
            if event.type == "alert_queued" and event.payload.get("alert_code") == alert_code
        ))

    @staticmethod
    def _taker_key(session: Session, case: CaseSession, alert_code: str) -> str | None:
        keys = [event.payload.get("by_key") for event in events_of(session, case.id)
                if event.type == "escalation_taken" and event.payload.get("alert_code") == alert_code]
        return str(keys[-1]) if keys and keys[-1] else None
