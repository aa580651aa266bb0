"""The case service stores every step in one transaction; cases finish on the revision they started on."""

from __future__ import annotations

import threading

import pytest

from bot.cases import CaseService
from bot.ladder import Ladder
from bot.directory import Directory
from bot.engine import Answer, Back, load_flow_text
from bot.library import FlowLibrary
from storage import Database, FlowRevisionConflict, escalations_of, events_of, lock_case
from storage.models import OutboxMessage
from tests.conftest import DEMO_FLOW


def service_for(database: Database, clock, flow_text: str = DEMO_FLOW, recipients=("supervisors",)) -> CaseService:
    recipients = tuple(recipients)
    library = FlowLibrary({"demo": load_flow_text(flow_text, "demo.yaml")})
    service = CaseService(
        database, library, start_flow="demo", supervisor_language="en", directory=Directory([]),
        ladder=Ladder(lambda session, tier: recipients), clock=clock,
    )
    service.register_flows()
    return service


def outbox(database: Database) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(session.query(OutboxMessage).order_by(OutboxMessage.id))


def test_a_p0_answer_stores_escalation_alerts_and_reply_together(database, clock):
    service = service_for(database, clock, recipients=("supervisor:a", "supervisor:b"))
    opened = service.open_case("v1", "en")
    outcome = service.act(opened.case.id, Answer("no"))
    assert len(outcome.alert_codes) == 1
    with database.transaction() as session:
        [escalation] = escalations_of(session, opened.case.id)
        types = [event.type for event in events_of(session, opened.case.id)]
    assert (escalation.level, escalation.flags, escalation.status) == ("P0", ["danger"], "open")
    assert escalation.alert_code == outcome.alert_codes[0]
    assert types.count("escalation_opened") == 1 and types.count("alert_queued") == 2
    rows = outbox(database)
    alerts = [row for row in rows if row.kind == "alert"]
    assert [row.recipient for row in alerts] == ["supervisor:a", "supervisor:b"]
    assert escalation.alert_code in alerts[0].payload["text"] and "P0" in alerts[0].payload["text"]
    reply = rows[-1]
    assert reply.kind == "message" and reply.recipient == "volunteer:v1"
    assert "Call 112 now." in reply.payload["text"] and escalation.alert_code in reply.payload["text"]
    assert reply.payload["prompt"]["node"] == "age"


def test_alerts_name_no_caller_and_carry_no_free_text(database, clock):
    service = service_for(database, clock)
    case = service.open_case("v1", "en").case
    for answer in ("yes", "30", "family", "Siti from Jalan Mawar 12"):
        service.act(case.id, Answer(answer))
    # Ending with no flag sends no alert; force one through a P1 path with the note typed first.
    second = service.open_case("v2", "en").case
    for answer in ("yes", "15"):
        service.act(second.id, Answer(answer))
    alerts = [row.payload["text"] for row in outbox(database) if row.kind == "alert"]
    assert alerts and all("Siti" not in text and "Mawar" not in text for text in alerts)


def test_a_step_that_fails_to_store_leaves_no_trace(database, clock, mocker):
    service = service_for(database, clock)
    case = service.open_case("v1", "en").case
    before = len(outbox(database))
    real_enqueue = __import__("bot.cases", fromlist=["enqueue"]).enqueue

    def fail_on_reply(session, **kwargs):
        if kwargs["kind"] == "message":
            raise RuntimeError("disk full")
        return real_enqueue(session, **kwargs)

    mocker.patch("bot.cases.enqueue", side_effect=fail_on_reply)
    with pytest.raises(RuntimeError, match="disk full"):
        service.act(case.id, Answer("no"))
    with database.transaction() as session:
        row = lock_case(session, case.id)
        assert row.state["node"] == "safe" and row.state["flags"] == []
        assert escalations_of(session, case.id) == []
        assert [event.type for event in events_of(session, case.id)] == ["session_started", "msg_created", "msg_created"]
    assert len(outbox(database)) == before


def test_a_case_finishes_on_the_revision_it_started_on(database, clock):
    old = service_for(database, clock)
    case = old.open_case("v1", "en").case
    old.act(case.id, Answer("yes"))
    revised = DEMO_FLOW.replace("revision: 1", "revision: 2").replace("Screen complete.", "All done, revised.")
    new = service_for(database, clock, revised)
    for answer in ("30", "family", "note"):
        outcome = new.act(case.id, Answer(answer))
    assert outcome.case.flow_revision == 1 and outcome.ended
    assert "Screen complete." in outbox(database)[-1].payload["text"]
    fresh = new.open_case("v2", "en").case
    assert fresh.flow_revision == 2


def test_a_changed_flow_must_raise_its_revision(database, clock):
    service_for(database, clock)
    with pytest.raises(FlowRevisionConflict):
        service_for(database, clock, DEMO_FLOW.replace("Screen complete.", "Changed without a new revision."))


def test_replies_are_in_the_volunteers_language(database, clock):
    service = service_for(database, clock)
    service.open_case("v1", "id")
    text = outbox(database)[-1].payload["text"]
    assert text.startswith("Kasus baru K-")


def test_concurrent_steps_on_one_case_are_serialised(database, clock):
    service = service_for(database, clock)
    case = service.open_case("v1", "en").case
    service.act(case.id, Answer("yes"))  # now at the number question
    errors: list[BaseException] = []

    def press(action) -> None:
        try:
            service.act(case.id, action)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=press, args=(Back() if i % 2 else Answer("abc"),)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with database.transaction() as session:
        row = lock_case(session, case.id)
        seqs = [event.seq for event in events_of(session, case.id)]
    assert seqs == list(range(1, len(seqs) + 1)) and row.version == len(seqs)


def test_an_alert_with_nobody_to_receive_it_warns_the_volunteer_and_is_logged(database, clock):
    service = service_for(database, clock, recipients=())
    case = service.open_case("v1", "en").case
    service.act(case.id, Answer("no"))
    reply = outbox(database)[-1].payload["text"]
    assert "No supervisor is registered to receive this alert" in reply
    with database.transaction() as session:
        assert "alert_unroutable" in [event.type for event in events_of(session, case.id)]
        assert len(escalations_of(session, case.id)) == 1  # the escalation itself is still stored


def test_a_repeated_update_id_changes_nothing(database, clock):
    from bot.cases import DuplicateUpdate

    service = service_for(database, clock)
    case = service.open_case("v1", "en", update_id=10).case
    service.act(case.id, Answer("yes"), update_id=11)
    before = len(outbox(database))
    with pytest.raises(DuplicateUpdate):
        service.act(case.id, Answer("yes"), update_id=11)
    with pytest.raises(DuplicateUpdate):
        service.open_case("v1", "en", update_id=10)
    assert len(outbox(database)) == before


def test_a_button_from_an_earlier_step_changes_nothing(database, clock):
    from bot.cases import StaleStep

    service = service_for(database, clock)
    opened = service.open_case("v1", "en")
    moved = service.act(opened.case.id, Answer("yes"), expected_step=opened.case.step)
    with pytest.raises(StaleStep):
        service.act(opened.case.id, Answer("no"), expected_step=opened.case.step)
    with database.transaction() as session:
        assert lock_case(session, opened.case.id).state["step"] == moved.case.step


def test_typed_answers_are_mapped_to_the_open_question(database, clock):
    service = service_for(database, clock)
    case = service.open_case("v1", "id").case
    at_age = service.act(case.id, Answer("ya"), typed=True)  # Indonesian "yes" typed by hand
    assert at_age.case.node == "age"
    at_caller = service.act(case.id, Answer("30"), typed=True)
    assert service.act(at_caller.case.id, Answer("2"), typed=True).case.node == "note"  # option 2: family


def test_act_open_steps_the_volunteers_open_case_or_returns_none(database, clock):
    service = service_for(database, clock)
    assert service.act_open("v1", Answer("yes"), update_id=5) is None
    assert service.open_case("v1", "en", update_id=5).case  # the refused update id was not recorded
    moved = service.act_open("v1", Answer("ya"), typed=True, update_id=6)
    assert moved is not None and moved.case.node == "age"
