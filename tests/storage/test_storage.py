"""Storage on SQLite and PostgreSQL: migrations, round trips, the outbox protocol, flow revisions."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from storage import (
    BatchUndone,
    CaseRecord,
    Database,
    DatabaseUrlError,
    FlowRevisionConflict,
    append_events,
    case_for_step,
    claim_pending,
    claim_queued,
    create_case,
    current_revision,
    enqueue,
    escalations_of,
    events_of,
    find_open_case,
    flow_source,
    head_revision,
    lock_case,
    open_escalation,
    pending_count,
    record_failure,
    record_sent,
    register_flow_revision,
    release,
    store_step,
)
from storage.database import SQLITE_BUSY_TIMEOUT_MS
from storage.models import Base, CaseSession, OutboxMessage


def new_case(db: Database, now, volunteer: str = "v1"):
    with db.transaction() as session:
        return create_case(
            session, volunteer=volunteer, language="id", flow_id="demo", flow_revision=1,
            state={"node": "safe", "status": "active", "answers": {"age": 15}}, now=now,
        )


def test_migrations_reach_head_and_match_the_models(database: Database):
    assert current_revision(database) == head_revision() is not None
    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_case_state_and_events_round_trip(database: Database, now):
    case = new_case(database, now)
    assert case.case_code.startswith("K-") and len(case.case_code) == 8
    later = now + timedelta(seconds=5)
    with database.transaction() as session:
        row = lock_case(session, case.id)
        events = [("answer_recorded", {"node": "note", "value": "ok"}), ("session_ended", {"outcome": "completed"})]
        store_step(session, row, {"node": "done", "status": "ended", "answers": {"age": 15, "note": "ok"}}, events, later)
        # Written at once: the loaded case reads as stored and leaves nothing for the ORM to flush.
        assert (row.status, row.version, row.ended_at) == ("ended", 2, later) and not session.is_modified(row)
    with database.transaction() as session:
        row = lock_case(session, case.id)
        assert row.state == {"node": "done", "status": "ended", "answers": {"age": 15, "note": "ok"}}
        assert (row.status, row.version, row.ended_at, row.updated_at) == ("ended", 2, later, later)
        assert row.created_at == now and row.created_at.tzinfo is not None
        events = events_of(session, case.id)
        assert [(event.seq, event.type, event.payload) for event in events] == [
            (1, "answer_recorded", {"node": "note", "value": "ok"}),
            (2, "session_ended", {"outcome": "completed"}),
        ]


def test_a_step_reads_its_case_as_a_record_and_stores_it_back(database: Database, now):
    case = new_case(database, now)
    later = now + timedelta(seconds=5)
    with database.transaction() as session:
        record = case_for_step(session, case.id)
        assert isinstance(record, CaseRecord)
        assert (record.case_code, record.state, record.version, record.created_at) == (case.case_code, {"node": "safe", "status": "active", "answers": {"age": 15}}, 0, now)
        store_step(session, record, {"node": "done", "status": "ended"}, [("answer_recorded", {"n": 1}), ("session_ended", {"n": 2})], later)
        assert (record.status, record.version, record.ended_at, record.updated_at) == ("ended", 2, later, later)
        store_step(session, record, {"node": "done", "status": "ended"}, [("note_added", {"n": 3})], later)  # numbered on from the record
        assert case_for_step(session, "no-such-case") is None
    with database.transaction() as session:
        stored = lock_case(session, case.id)
        assert (stored.state, stored.status, stored.version, stored.ended_at) == ({"node": "done", "status": "ended"}, "ended", 3, later)
        assert [event.seq for event in events_of(session, case.id)] == [1, 2, 3]
        # The ORM would never store the version a record's events advance, so append_events refuses one.
        with pytest.raises(TypeError, match="CaseSession"):
            append_events(session, case_for_step(session, case.id), [("relay_sent", {})], later)  # type: ignore[arg-type]


def test_steps_stored_in_one_transaction_number_their_events_on(database: Database, now):
    """A step stored after another in the same transaction (a relay, then an answer, say) continues
    the event numbers, and ORM changes to the case made alongside still reach the database."""
    case = new_case(database, now)
    with database.transaction() as session:
        row = lock_case(session, case.id)
        store_step(session, row, {"node": "a", "status": "active"}, [("answer_recorded", {"n": 1})], now)
        append_events(session, row, [("relay_sent", {"n": 2})], now)
        store_step(session, row, {"node": "b", "status": "ended"}, [("session_ended", {"n": 3})], now + timedelta(seconds=1))
        store_step(session, row, {"node": "b", "status": "ended"}, [], now + timedelta(seconds=2))
        row.language = "en"
    with database.transaction() as session:
        row = lock_case(session, case.id)
        assert [(event.seq, event.payload["n"]) for event in events_of(session, case.id)] == [(1, 1), (2, 2), (3, 3)]
        assert (row.state["node"], row.version, row.language) == ("b", 3, "en")
        assert (row.ended_at, row.updated_at) == (now + timedelta(seconds=1), now + timedelta(seconds=2))


def test_find_open_case_returns_the_volunteers_latest_active_or_paused_case(database: Database, now):
    first = new_case(database, now)
    second = new_case(database, now + timedelta(minutes=1))
    new_case(database, now + timedelta(minutes=2), volunteer="someone else")
    with database.transaction() as session:
        assert find_open_case(session, "v1").id == second.id
        store_step(session, lock_case(session, second.id), {"status": "ended"}, [], now + timedelta(minutes=3))
    with database.transaction() as session:
        assert find_open_case(session, "v1").id == first.id
        assert find_open_case(session, "nobody") is None
        store_step(session, lock_case(session, first.id), {"status": "paused"}, [], now + timedelta(minutes=4))
    with database.transaction() as session:
        assert find_open_case(session, "v1", lock=True).id == first.id  # paused is still unfinished
        store_step(session, lock_case(session, first.id), {"status": "ended"}, [], now + timedelta(minutes=5))
    with database.transaction() as session:
        assert find_open_case(session, "v1") is None


def test_a_failed_transaction_leaves_nothing_behind(database: Database, now):
    case = new_case(database, now)
    with pytest.raises(RuntimeError):
        with database.transaction() as session:
            row = lock_case(session, case.id)
            store_step(session, row, {"node": "x", "status": "active"}, [("answer_recorded", {})], now)
            enqueue(session, kind="message", recipient="volunteer:v1", payload={"text": "hi"}, now=now, case_id=case.id)
            raise RuntimeError("crash before commit")
    with database.transaction() as session:
        row = lock_case(session, case.id)
        assert row.state["node"] == "safe" and row.version == 0
        assert events_of(session, case.id) == []
        assert pending_count(session) == 0


def test_a_batch_commits_its_blocks_once(database: Database, now):
    first, second = new_case(database, now), new_case(database, now)
    with database.batch():
        for case in (first, second):
            with database.transaction() as session:
                store_step(session, lock_case(session, case.id), {"node": "stored", "status": "active"}, [("answer_recorded", {})], now)
        with pytest.raises(RuntimeError, match="re-entrant"):
            with database.batch():
                pass
        with database.reading() as reader:  # another connection: nothing is visible before the commit
            assert reader.get(CaseSession, first.id).state["node"] == "safe"
    with database.reading() as session:
        for case in (first, second):
            assert session.get(CaseSession, case.id).state["node"] == "stored" and len(events_of(session, case.id)) == 1


def test_a_block_that_raises_undoes_the_whole_batch_even_when_its_error_is_caught(database: Database, now):
    kept, refused = new_case(database, now), new_case(database, now)
    with pytest.raises(BatchUndone):
        with database.batch():
            with database.transaction() as session:
                store_step(session, lock_case(session, kept.id), {"node": "kept", "status": "active"}, [("answer_recorded", {})], now)
            with pytest.raises(RuntimeError):
                with database.transaction() as session:
                    # Half of this block's work is written before it fails.
                    store_step(session, lock_case(session, refused.id), {"node": "half", "status": "active"}, [("answer_recorded", {})], now)
                    raise RuntimeError("refused")
    with database.reading() as session:
        for case in (kept, refused):
            assert session.get(CaseSession, case.id).state["node"] == "safe" and events_of(session, case.id) == []
    with database.transaction() as session:  # the next transaction is an ordinary one again
        store_step(session, lock_case(session, kept.id), {"node": "kept", "status": "active"}, [("answer_recorded", {})], now)
    with database.reading() as session:
        assert session.get(CaseSession, kept.id).state["node"] == "kept"


def test_a_batch_that_fails_stores_none_of_its_blocks(database: Database, now):
    case = new_case(database, now)
    with pytest.raises(RuntimeError):
        with database.batch():
            with database.transaction() as session:
                store_step(session, lock_case(session, case.id), {"node": "x", "status": "active"}, [("answer_recorded", {})], now)
            raise RuntimeError("the batch fails after the block")
    with database.reading() as session:
        assert session.get(CaseSession, case.id).state["node"] == "safe" and events_of(session, case.id) == []


def test_outbox_claim_send_and_record(database: Database, now):
    with database.transaction() as session:
        for number in range(3):
            enqueue(session, kind="message", recipient="volunteer:v1", payload={"n": number}, now=now)
    lease = timedelta(seconds=30)
    with database.transaction() as session:
        claimed = claim_pending(session, now, lease)
    assert [delivery.payload["n"] for delivery in claimed] == [0, 1, 2]
    with database.transaction() as session:
        assert claim_pending(session, now + timedelta(seconds=29), lease) == []  # hidden by the lease
    with database.transaction() as session:
        record_sent(session, [claimed[0].id], now)
        record_failure(session, claimed[1].id, "Timeout", now + timedelta(seconds=2))
        release(session, [claimed[2].id], now + timedelta(seconds=2))
    with database.transaction() as session:
        again = claim_pending(session, now + timedelta(seconds=2), lease)
        assert [delivery.payload["n"] for delivery in again] == [1, 2]
        assert again[0].attempts == 1
        assert pending_count(session) == 2
        failed = session.get(OutboxMessage, claimed[1].id)
        assert failed.last_error == "Timeout"


def test_a_transaction_claims_the_rows_it_queued_behind_its_recipients_earlier_rows(database: Database, now):
    lease = timedelta(seconds=30)
    with database.transaction() as session:
        enqueue(session, kind="message", recipient="volunteer:a", payload={"n": 1}, now=now)
        enqueue(session, kind="message", recipient="volunteer:b", payload={"n": 2}, now=now)
    with database.transaction() as session:
        [in_flight] = [row for row in claim_pending(session, now, lease) if row.recipient == "volunteer:a"]
    with database.transaction() as session:
        assert claim_queued(session, lease) == []  # it queued nothing
        enqueue(session, kind="message", recipient="volunteer:a", payload={"n": 3}, now=now)  # behind n=1, in flight
        enqueue(session, kind="message", recipient="volunteer:c", payload={"n": 4}, now=now)
        assert [row.payload["n"] for row in claim_queued(session, lease)] == [4]  # not b's row: another recipient
    with database.transaction() as session:
        record_sent(session, [in_flight.id], now)
        enqueue(session, kind="message", recipient="volunteer:a", payload={"n": 5}, now=now)
        assert [row.payload["n"] for row in claim_queued(session, lease)] == [3, 5]  # the earlier one first


def test_an_expired_lease_makes_a_claimed_row_due_again(database: Database, now):
    with database.transaction() as session:
        enqueue(session, kind="alert", recipient="supervisors", payload={"text": "P0"}, now=now)
    with database.transaction() as session:
        [claimed] = claim_pending(session, now, timedelta(seconds=30))
    # The sender died here: nothing was recorded. After the lease the row is claimed again.
    with database.transaction() as session:
        [again] = claim_pending(session, now + timedelta(seconds=31), timedelta(seconds=30))
    assert again.id == claimed.id


def test_escalations_get_unique_alert_codes(database: Database, now):
    case = new_case(database, now)
    with database.transaction() as session:
        row = lock_case(session, case.id)
        for _ in range(5):
            open_escalation(session, row, level="P0", flags=["danger"], reason="r", node="n", now=now)
    with database.transaction() as session:
        escalations = escalations_of(session, case.id)
    assert len({escalation.alert_code for escalation in escalations}) == 5
    assert escalations[0].flags == ["danger"] and escalations[0].status == "open"


def test_flow_revisions_are_stored_once_and_guarded(database: Database, now):
    arguments = dict(flow_id="demo", revision=1, spec_version=1, checksum="a" * 64, source="source one", now=now)
    with database.transaction() as session:
        assert register_flow_revision(session, **arguments) is True
    with database.transaction() as session:
        assert register_flow_revision(session, **arguments) is False
        assert flow_source(session, "demo", 1) == "source one"
        assert flow_source(session, "demo", 2) is None
    with pytest.raises(FlowRevisionConflict, match="raise its revision number"):
        with database.transaction() as session:
            register_flow_revision(session, **{**arguments, "checksum": "b" * 64})


def test_sqlite_runs_in_wal_with_full_sync(sqlite_database: Database):
    with sqlite_database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_bookkeeping_commits_skip_the_fsync_and_steps_do_not(sqlite_database: Database):
    with sqlite_database.transaction() as session:
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    with sqlite_database.transaction(durable=False) as session:
        assert session.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    with sqlite_database.reading() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_a_read_does_not_wait_for_a_step_holding_the_write_lock(sqlite_database: Database, now):
    case_id = new_case(sqlite_database, now).id
    with sqlite_database.transaction() as writer:
        writer.execute(text("UPDATE case_sessions SET status = 'paused'"))  # holds the write lock
        started = time.monotonic()
        with sqlite_database.reading() as reader:
            status = reader.execute(text("SELECT status FROM case_sessions WHERE id = :id"), {"id": case_id}).scalar()
        waited = time.monotonic() - started
    assert status == "active"  # the snapshot before the step commits
    assert waited < SQLITE_BUSY_TIMEOUT_MS / 1000 / 2  # a locking read would wait out the busy timeout and fail


def test_a_read_only_session_writes_nothing(sqlite_database: Database, now):
    new_case(sqlite_database, now)
    with sqlite_database.reading() as session:
        session.execute(text("UPDATE case_sessions SET status = 'paused'"))
    with sqlite_database.reading() as session:
        assert session.execute(text("SELECT status FROM case_sessions")).scalar() == "active"


def test_a_malformed_database_url_is_named():
    with pytest.raises(DatabaseUrlError, match="DATABASE_URL"):
        Database("not a url")


def test_plain_postgresql_urls_use_the_installed_driver():
    assert Database("postgresql://u@127.0.0.1:1/x").url.drivername == "postgresql+psycopg"


def test_naive_datetimes_are_refused(database: Database, now):
    with pytest.raises(Exception, match="naive datetime"):
        new_case(database, now.replace(tzinfo=None))


def test_a_later_row_never_overtakes_an_earlier_one_backing_off(database, now):
    with database.transaction() as session:
        enqueue(session, kind="message", recipient="volunteer:a", payload={"n": 0}, now=now)
    lease = timedelta(seconds=30)
    with database.transaction() as session:
        [first] = claim_pending(session, now, lease)
        record_failure(session, first.id, "429", now + timedelta(seconds=5))
    with database.transaction() as session:
        enqueue(session, kind="message", recipient="volunteer:a", payload={"n": 1}, now=now)
        enqueue(session, kind="message", recipient="volunteer:b", payload={"n": 2}, now=now)
    with database.transaction() as session:
        assert [d.payload["n"] for d in claim_pending(session, now + timedelta(seconds=1), lease)] == [2]
    with database.transaction() as session:
        assert [d.payload["n"] for d in claim_pending(session, now + timedelta(seconds=6), lease)] == [0, 1]
