"""Follow-ups that fall due remind the volunteer and the supervisor on duty, once, on both databases."""

from __future__ import annotations

from datetime import timedelta

from bot.local_time import load_zone
from bot.reminders import FollowUpReminders
from storage import events_of, follow_ups_of, schedule_follow_up
from storage.models import CaseSession
from tests.test_escalation import TIERS, desk_for, rows


def _follow_up_in(service, database, minutes: int, kind: str = "callback", language: str = "en"):
    case = service.open_case("v1", language).case
    with database.transaction() as session:
        row = session.get(CaseSession, case.id)
        schedule_follow_up(session, row, kind=kind, due_at=service.clock() + timedelta(minutes=minutes), now=service.clock())
    return case


def test_a_due_follow_up_reminds_the_volunteer_and_the_supervisor_on_duty_once(database, clock):
    service, _ = desk_for(database, clock)
    case = _follow_up_in(service, database, minutes=120)
    reminders = FollowUpReminders(service)
    assert reminders.sweep() == 0  # not yet
    clock.advance(120 * 60)
    assert reminders.sweep() == 1
    assert reminders.sweep() == 0  # once
    notices = rows(database, kind="notice")
    assert [row.recipient for row in notices] == ["volunteer:v1", *TIERS[0]]
    assert notices[0].payload["text"].startswith(f"⏰ Case {case.case_code}: the callback agreed for ")
    assert "the volunteer has been reminded" in notices[1].payload["text"]
    with database.transaction() as session:
        [follow_up] = follow_ups_of(session, case.id)
        assert follow_up.status == "due"
        assert events_of(session, case.id)[-1].type == "follow_up_due"


def test_the_volunteer_is_reminded_in_the_case_language(database, clock):
    service, _ = desk_for(database, clock)
    case = _follow_up_in(service, database, minutes=0, kind="monitoring_3_months", language="id")
    assert FollowUpReminders(service).sweep() == 1
    volunteer, *_ = rows(database, kind="notice")
    assert volunteer.payload["text"].startswith(f"⏰ Kasus {case.case_code}: pemantauan tiga bulan yang disepakati")


def test_with_nobody_on_call_the_next_tier_is_told(database, clock):
    service, _ = desk_for(database, clock, tiers={1: ("supervisor:backup",)})
    _follow_up_in(service, database, minutes=0)
    FollowUpReminders(service).sweep()
    assert [row.recipient for row in rows(database, kind="notice")] == ["volunteer:v1", "supervisor:backup"]


def test_the_due_time_is_shown_in_the_hotlines_time_zone(database, clock):
    service, _ = desk_for(database, clock)
    service.zone = load_zone("Asia/Jayapura")  # a hotline in eastern Indonesia (WIT, UTC+9)
    _follow_up_in(service, database, minutes=0)
    FollowUpReminders(service).sweep()
    volunteer, _supervisor = rows(database, kind="notice")
    shown = (clock() + timedelta(hours=9)).strftime("%Y-%m-%d %H:%M")
    assert f"agreed for {shown} WIT is due now" in volunteer.payload["text"]
