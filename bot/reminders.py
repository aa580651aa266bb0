"""Follow-ups fall due: the volunteer who agreed one, and the supervisor on duty, are told.

A callback agreed with a caller who could not talk safely is a promise with a time on it, and the
only record of it is the case. The sweeper that fires escalation deadlines calls `sweep` too, so a
follow-up due while the bot was down is reminded of at the next start.
"""

from __future__ import annotations

from bot.cases import CaseService
from bot.i18n import N_, translator
from bot.local_time import date_and_time
from bot.render import follow_up_label
from storage import CaseSession, append_events, due_follow_ups, enqueue

__all__ = ["FollowUpReminders"]


class FollowUpReminders:
    def __init__(self, service: CaseService) -> None:
        self.service = service

    def sweep(self) -> int:
        """Remind of every follow-up that has fallen due, once each; returns how many."""
        now = self.service.clock()
        with self.service.database.transaction() as session:
            due = due_follow_ups(session, now)
            # The same supervisors are on duty for every follow-up of one sweep.
            on_duty = self.service.ladder.on_duty(session) if due else ()
            supervisors = translator(self.service.supervisor_language)
            for follow_up in due:
                follow_up.status = "due"
                case = session.get(CaseSession, follow_up.session_id)
                if case is None:
                    continue
                facts = {"case_code": case.case_code, "due": date_and_time(follow_up.due_at, self.service.zone)}
                volunteer = translator(case.language)
                text = volunteer.text(
                    N_("⏰ Case {case_code}: the {kind} agreed for {due} is due now. Use only the time and the way the caller agreed; if you cannot do it, tell your supervisor."),
                    kind=follow_up_label(follow_up.kind, volunteer), **facts,
                )
                enqueue(session, kind="notice", recipient=f"volunteer:{case.volunteer}", payload={"text": text}, now=now, case_id=case.id)
                copy = supervisors.text(
                    N_("⏰ Case {case_code}: a {kind} agreed for {due} is due now; the volunteer has been reminded."),
                    kind=follow_up_label(follow_up.kind, supervisors), **facts,
                )
                for recipient in on_duty:
                    enqueue(session, kind="notice", recipient=recipient, payload={"text": copy}, now=now, case_id=case.id)
                append_events(session, case, [("follow_up_due", {"kind": follow_up.kind, "due_at": follow_up.due_at.isoformat(), "supervisors": len(on_duty)})], now)
        return len(due)
