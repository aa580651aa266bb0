"""The supervisor's side: the ladder, take, relay, resolve and the queue, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from bot.cases import CaseService
from bot.directory import Directory
from bot.engine import Answer, load_flow_text
from bot.escalation import EscalationDesk
from bot.ladder import Deadlines, Ladder
from bot.library import FlowLibrary
from storage import escalations_of, events_of
from storage.models import OutboxMessage
from tests.conftest import DEMO_FLOW

TIERS = {0: ("supervisor:oncall",), 1: ("supervisor:backup",), 2: ("supervisor:oncall", "supervisor:backup", "supervisor:other")}


def desk_for(database, clock, tiers=TIERS) -> tuple[CaseService, EscalationDesk]:
    library = FlowLibrary({"demo": load_flow_text(DEMO_FLOW, "demo.yaml")})
    ladder = Ladder(lambda session, tier: tiers.get(tier, ()), Deadlines(p0=timedelta(minutes=2), p1=timedelta(minutes=10)))
    service = CaseService(database, library, start_flow="demo", supervisor_language="en", directory=Directory([]), ladder=ladder, clock=clock)
    service.register_flows()
    return service, EscalationDesk(service)


def rows(database, **where) -> list[OutboxMessage]:
    with database.transaction() as session:
        return [row for row in session.query(OutboxMessage).order_by(OutboxMessage.id) if all(getattr(row, k) == v for k, v in where.items())]


def p0_case(service):
    case = service.open_case("v1", "en").case
    outcome = service.act(case.id, Answer("no"))  # P0: immediate danger
    return case, outcome.alert_codes[0]


def test_a_p0_alert_goes_to_the_on_call_tier_first(database, clock):
    service, _ = desk_for(database, clock)
    case, code = p0_case(service)
    assert [row.recipient for row in rows(database, kind="alert")] == ["supervisor:oncall"]
    with database.transaction() as session:
        [escalation] = escalations_of(session, case.id)
    assert (escalation.status, escalation.tier) == ("open", 0)
    assert escalation.deadline_at == clock.now + timedelta(minutes=2)


def test_the_first_take_wins_and_everyone_is_told(database, clock):
    service, desk = desk_for(database, clock)
    case, code = p0_case(service)
    clock.advance(40)
    first = desk.take(code, "Sari", "supervisor:oncall")
    second = desk.take(code, "Tono", "supervisor:backup")
    again = desk.take(code, "Sari", "supervisor:oncall")
    assert first.won and not second.won and again.won and second.taken_by == "Sari"
    assert [row.recipient for row in rows(database, kind="alert_taken")] == ["supervisor:oncall"]  # no duplicates
    told = rows(database, kind="notice")[-1].payload["text"]
    assert told.startswith(f"Sari has taken case {case.case_code}")
    with database.transaction() as session:
        taken = [e.payload for e in events_of(session, case.id) if e.type == "escalation_taken"]
    assert taken == [{"alert_code": code, "by": "Sari", "by_key": "supervisor:oncall", "time_to_take_seconds": 40}]
    [entry] = desk.entries()
    assert (entry.status, entry.time_to_take_seconds, entry.taken_by) == ("taken", 40, "Sari")


def test_an_alert_nobody_takes_climbs_the_ladder_and_the_volunteer_gets_fallback(database, clock):
    service, desk = desk_for(database, clock)
    case, code = p0_case(service)
    clock.advance(119)
    assert desk.sweep() == 0
    clock.advance(2)
    assert desk.sweep() == 1
    assert [row.recipient for row in rows(database, kind="alert")][-1] == "supervisor:backup"
    assert rows(database, kind="alert")[-1].payload["text"].startswith("⏰ Not taken yet")
    fallback = rows(database, kind="notice")[-1].payload["text"]
    assert "has gone to the backup supervisors" in fallback and "112" in fallback
    clock.advance(121)
    assert desk.sweep() == 1
    assert {row.recipient for row in rows(database, kind="alert")[-3:]} == set(TIERS[2])
    clock.advance(121)
    assert desk.sweep() == 1  # past the last tier, everyone is paged again at every deadline
    assert desk.take(code, "Umi", "supervisor:other").won
    clock.advance(600)
    assert desk.sweep() == 0


def test_empty_tiers_are_skipped(database, clock):
    service, desk = desk_for(database, clock, tiers={1: ("supervisor:backup",), 2: ("supervisor:backup",)})
    p0_case(service)
    assert [row.recipient for row in rows(database, kind="alert")] == ["supervisor:backup"]


REVIEW_FLOW = """\
spec_version: 1
id: review
revision: 1
title: Review
start: flag_it
flags:
  past:
    level: P2
    label: Past trafficking, now safe
    guidance: Offer legal aid.
nodes:
  flag_it:
    flag: past
    next: review_it
  review_it:
    escalate: A supervisor should review this case.
    next: done_question
  done_question:
    ask: yes_no
    text: Done?
    next: finished
  finished:
    end: completed
"""


def test_p2_goes_to_the_review_queue_and_pages_nobody(database, clock):
    library = FlowLibrary({"review": load_flow_text(REVIEW_FLOW, "review.yaml")})
    service = CaseService(database, library, start_flow="review", supervisor_language="en", directory=Directory([]),
                          ladder=Ladder(lambda session, tier: TIERS.get(tier, ())), clock=clock)
    service.register_flows()
    case = service.open_case("v1", "en").case
    assert rows(database, kind="alert") == []
    assert "review queue (P2" in rows(database, kind="message")[-1].payload["text"]
    desk = EscalationDesk(service)
    [entry] = desk.entries()
    assert (entry.status, entry.level, entry.case_code) == ("review", "P2", case.case_code)
    clock.advance(3600)
    assert desk.sweep() == 0  # a review item has no deadline: nobody is paged, ever
    assert desk.take(entry.alert_code, "Sari", "supervisor:oncall").won  # a supervisor picks it up


def test_relay_both_ways_and_resolve(database, clock):
    service, desk = desk_for(database, clock)
    case, code = p0_case(service)
    assert not desk.relay_to_volunteer(code, "Sari", "before taking")  # only the taker may relay
    desk.take(code, "Sari", "supervisor:oncall")
    assert desk.relay_to_volunteer(code, "Sari", "Call 112 now, I am phoning the police unit.")
    assert rows(database, kind="notice")[-1].payload["text"] == "💬 Sari: Call 112 now, I am phoning the police unit."
    assert desk.relay_to_supervisor("v1", "Ayu", "Police are on the way.") == "supervisor:oncall"
    assert rows(database, kind="relay")[-1].payload["text"] == f"💬 Ayu · {case.case_code}: Police are on the way."
    assert desk.relay_to_supervisor("nobody", "X", "hello") is None
    assert desk.resolve(code, "Sari", "police took over") == case.case_code
    assert desk.resolve(code, "Sari", "again") is None
    assert desk.entries() == []
    with database.transaction() as session:
        kinds = [e.type for e in events_of(session, case.id)]
    assert kinds.count("relay_sent") == 2 and "escalation_resolved" in kinds


def test_purging_keeps_undelivered_messages_and_the_event_log(database, clock):
    from storage import events_of as log_of

    service, desk = desk_for(database, clock)
    case, code = p0_case(service)
    from bot.dispatch import Dispatcher

    class Quiet:
        def send(self, delivery) -> None:
            if delivery.recipient == "supervisor:oncall":
                raise ConnectionError("still down")

    Dispatcher(database, Quiet(), clock).deliver_pending()
    clock.advance(8 * 24 * 3600)
    assert desk.purge() >= 1
    remaining = rows(database)
    assert [row.recipient for row in remaining] == ["supervisor:oncall"]  # the undelivered alert stays
    with database.transaction() as session:
        assert len(log_of(session, case.id)) > 0


def test_agreed_follow_ups_are_stored_as_due_dates(database, clock):
    from bot.engine import load_flow_text as load
    from storage import follow_ups_of
    from tests.engine.test_actions import PLAN_FLOW

    library = FlowLibrary({"plan": load(PLAN_FLOW, "plan.yaml")})
    service = CaseService(database, library, start_flow="plan", supervisor_language="en", directory=Directory([]), clock=clock)
    service.register_flows()
    case = service.open_case("v1", "en").case
    for answer in ("What happened", "legal", "dki_jakarta", "24"):
        service.act(case.id, Answer(answer))
    with database.transaction() as session:
        stored = [(row.kind, row.due_at, row.status) for row in follow_ups_of(session, case.id)]
    assert stored == [
        ("callback", clock.now + timedelta(hours=24), "scheduled"),
        ("monitoring", clock.now + timedelta(days=90), "scheduled"),
    ]
