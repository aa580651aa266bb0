"""The escalation ladder in storage: tiers, deadlines, the review queue, and a Take that only one wins."""

from __future__ import annotations

import threading
from datetime import timedelta

from storage import (
    add_member,
    create_case,
    due_escalations,
    open_escalation,
    queue,
    resolve_escalation,
    set_availability,
    supervisors_for_tier,
    take_escalation,
)


def escalation(database, now, **options):
    with database.transaction() as session:
        case = create_case(session, volunteer="v", language="id", flow_id="f", flow_revision=1, state={"status": "active"}, now=now)
        return open_escalation(session, case, level="P0", flags=["danger"], reason="r", node="n", now=now, **options).alert_code


def test_two_supervisors_pressing_take_at_once_one_wins(database, now):
    code = escalation(database, now)
    barrier = threading.Barrier(8)
    results = []

    def press(name: str) -> None:
        barrier.wait()
        with database.transaction() as session:
            results.append((name, take_escalation(session, code, name, now)))

    threads = [threading.Thread(target=press, args=(f"supervisor-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, result in results if result.won]
    assert len(winners) == 1
    assert all(result.taken_by == winners[0] for _, result in results)
    with database.transaction() as session:
        again = take_escalation(session, code, winners[0], now)  # pressing again is harmless
        assert again.won and again.taken_by == winners[0]
        assert take_escalation(session, "A-NOPE0", "x", now) is None


def test_due_escalations_are_open_ones_past_their_deadline(database, now):
    late = escalation(database, now, deadline_at=now + timedelta(seconds=120))
    escalation(database, now, deadline_at=now + timedelta(seconds=600))
    review = escalation(database, now, status="review")
    with database.transaction() as session:
        assert due_escalations(session, now + timedelta(seconds=60)) == []
        assert [e.alert_code for e in due_escalations(session, now + timedelta(seconds=121))] == [late]
        take_escalation(session, late, "sari", now + timedelta(seconds=121))
        assert due_escalations(session, now + timedelta(seconds=700))[0].alert_code != late
        assert review in [e.alert_code for e in queue(session)]


def test_resolved_escalations_leave_the_queue(database, now):
    code = escalation(database, now)
    with database.transaction() as session:
        assert resolve_escalation(session, code, "referred to police", now).status == "resolved"
        assert resolve_escalation(session, code, "again", now) is None
        assert code not in [e.alert_code for e in queue(session)]


def test_tiers_pick_on_call_then_backup_then_everyone(database, now):
    with database.transaction() as session:
        for user, name in ((1, "Sari"), (2, "Tono"), (3, "Umi")):
            add_member(session, telegram_user_id=user, role="supervisor", display_name=name, now=now)
        add_member(session, telegram_user_id=9, role="volunteer", display_name="Ayu", now=now)
        set_availability(session, 1, on_call=True)
        set_availability(session, 2, backup=True)
        assert set_availability(session, 9, on_call=True) is None  # volunteers are never on call
    with database.transaction() as session:
        names = [[m.display_name for m in supervisors_for_tier(session, tier)] for tier in (0, 1, 2)]
    assert names == [["Sari"], ["Tono"], ["Sari", "Tono", "Umi"]]
